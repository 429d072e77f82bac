#!/bin/sh
# Makes the Secrets' source files the overlays read (never commit them):
#   overlays/coordinator/secrets/{hash_secret,api_keys,checkers-ca.crt,
#       coordinator.crt,coordinator.key,ingress.crt,ingress.key}
#   overlays/perspective-<code>/secrets/{caa,dcv}.{crt,key},coordinators-ca.crt
#   overlays/monitoring/secrets/{prometheus.crt,prometheus.key,checkers-ca.crt}
# The CAs stay in deploy/kubernetes/pki/ (keep the *-ca.key files offline).
# Existing files are kept, so running it again is harmless.
#
# Each checker certificate names the Service in the namespace-relative form
# (caa.mpic-<code>.svc, the single-cluster URLs) and the region's ingress
# host (caa.<code>.$MPIC_PERSPECTIVES_DOMAIN, default
# perspectives.mpic.example: overlays/multicluster). Prometheus gets a
# client certificate from the coordinators' CA so it may read the checkers'
# /metrics. ingress.crt is a self-signed placeholder for the coordinator's
# Ingress host ($MPIC_INGRESS_HOST, default mpic.ca.example): replace it.
#
#   deploy/kubernetes/gen-secrets.sh [KUSTOMIZE_DIR]   (default: its own dir)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$here}
gen=$(cd "$here/../.." && pwd)/scripts/gen-certs.sh
domain=${MPIC_PERSPECTIVES_DOMAIN:-perspectives.mpic.example}
ingress_host=${MPIC_INGRESS_HOST:-mpic.ca.example}
umask 077
pki=$root/pki
set --
for o in "$root"/overlays/perspective-*; do
    code=${o##*/perspective-}
    for k in caa dcv; do
        set -- "$@" "$k-$code=$k.mpic-$code.svc,$k.mpic-$code,$k.$code.$domain"
    done
done
sh "$gen" "$pki" "$@"

put() { # src dst
    [ -e "$2" ] || cp "$1" "$2"
}
c=$root/overlays/coordinator/secrets
mkdir -p "$c"
[ -e "$c/hash_secret" ] || openssl rand -hex 32 | tr -d '\n' >"$c/hash_secret"
[ -e "$c/api_keys" ] || openssl rand -hex 24 | tr -d '\n' >"$c/api_keys"
put "$pki/checkers-ca.crt" "$c/checkers-ca.crt"
put "$pki/coordinator.crt" "$c/coordinator.crt"
put "$pki/coordinator.key" "$c/coordinator.key"
if [ ! -e "$c/ingress.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -sha256 -days 90 -subj "/O=open-mpic-c/CN=$ingress_host" \
        -addext "subjectAltName=DNS:$ingress_host" \
        -addext "extendedKeyUsage=serverAuth" \
        -keyout "$c/ingress.key" -out "$c/ingress.crt" 2>/dev/null
fi
for o in "$root"/overlays/perspective-*; do
    code=${o##*/perspective-}
    s=$o/secrets
    mkdir -p "$s"
    for k in caa dcv; do
        put "$pki/$k-$code.crt" "$s/$k.crt"
        put "$pki/$k-$code.key" "$s/$k.key"
    done
    put "$pki/coordinators-ca.crt" "$s/coordinators-ca.crt"
done

# Prometheus's client certificate, signed by the coordinators' CA (the CA
# the checkers' tls.client_ca_file trusts).
m=$root/overlays/monitoring/secrets
mkdir -p "$m"
if [ ! -e "$pki/prometheus.crt" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$pki/prometheus.key" 2>/dev/null
    openssl req -new -key "$pki/prometheus.key" \
        -subj "/O=open-mpic-c/CN=prometheus" -out "$tmp/prometheus.csr"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth" \
        >"$tmp/prometheus.ext"
    openssl x509 -req -sha256 -days 397 -in "$tmp/prometheus.csr" \
        -CA "$pki/coordinators-ca.crt" -CAkey "$pki/coordinators-ca.key" \
        -CAcreateserial -CAserial "$tmp/ca.srl" -extfile "$tmp/prometheus.ext" \
        -out "$pki/prometheus.crt" 2>/dev/null
fi
put "$pki/prometheus.crt" "$m/prometheus.crt"
put "$pki/prometheus.key" "$m/prometheus.key"
put "$pki/checkers-ca.crt" "$m/checkers-ca.crt"
echo "gen-secrets: API key for /mpic is in $c/api_keys"
