#!/bin/sh
# Makes the Secrets' source files the overlays read (never commit them):
#   overlays/coordinator/secrets/{hash_secret,api_keys,checkers-ca.crt,
#                                 coordinator.crt,coordinator.key}
#   overlays/perspective-<code>/secrets/{caa,dcv}.{crt,key},coordinators-ca.crt
# The CAs stay in deploy/kubernetes/pki/ (keep the *-ca.key files offline).
# Existing files are kept, so running it again is harmless.
#
#   deploy/kubernetes/gen-secrets.sh [KUSTOMIZE_DIR]   (default: its own dir)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$here}
gen=$(cd "$here/../.." && pwd)/scripts/gen-certs.sh
umask 077
pki=$root/pki
set --
for o in "$root"/overlays/perspective-*; do
    code=${o##*/perspective-}
    for k in caa dcv; do
        svc=$k.mpic-$code
        set -- "$@" "$k-$code=$svc.svc.cluster.local,$svc.svc,$svc"
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
echo "gen-secrets: API key for /mpic is in $c/api_keys"
