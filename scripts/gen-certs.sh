#!/bin/sh
# One-shot TLS material for coordinator <-> checker mutual TLS.
#
#   scripts/gen-certs.sh [--days N] [--chown UID[:GID]] OUTDIR [CHECKER[=SAN,SAN...] ...]
#
# Makes, in OUTDIR (created 0700; keys 0600):
#   checkers-ca.crt/.key       CA that signs the checkers' server certificates;
#                              the coordinator trusts it (checker_tls.ca_file)
#   coordinators-ca.crt/.key   CA that signs coordinator client certificates;
#                              the checkers trust it (tls.client_ca_file)
#   coordinator.crt/.key       the coordinator's client certificate
#                              (checker_tls.cert_file / key_file)
#   CHECKER.crt/.key           one server certificate per CHECKER name
#                              (tls.cert_file / key_file of that checker)
#
# Each CHECKER gets the subjectAltNames after "=" (DNS names or IP
# addresses), or its own name when none are given. The name the
# coordinator uses in a checker URL must be one of them: the coordinator
# verifies it. Existing CAs in OUTDIR are reused, so running it again with
# new names adds certificates; existing leaf files are never overwritten.
#
# --chown UID[:GID] hands the leaf keys to the user the daemons run as
# (10001 in our container images; needs root), so they can stay 0600.
#
# Keep the two *-ca.key files offline after this: only the .crt files and the
# leaf keys are deployed. Example (what compose.yaml expects):
#
#   scripts/gen-certs.sh deploy/compose/tls caa-us-east-1 dcv-us-east-1 ...
set -eu

days=397
owner=
usage() {
    sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
    case "$1" in
    --days)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        days=$2
        shift 2
        ;;
    --chown)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        owner=$2
        shift 2
        ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$days" in '' | *[!0-9]*) echo "gen-certs: --days wants a number" >&2; exit 2 ;; esac
command -v openssl >/dev/null 2>&1 || { echo "gen-certs: openssl not found" >&2; exit 1; }

out=$1
shift
umask 077
mkdir -p "$out"
chmod 700 "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { # file
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    chmod 600 "$1"
}

make_ca() { # name common-name
    if [ -f "$out/$1.crt" ] && [ -f "$out/$1.key" ]; then
        echo "gen-certs: reusing $out/$1.crt"
        return 0
    fi
    newkey "$out/$1.key"
    openssl req -new -x509 -sha256 -days $((days * 3)) -key "$out/$1.key" \
        -subj "/O=open-mpic-c/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$out/$1.crt"
    chmod 644 "$out/$1.crt"
    echo "gen-certs: made $out/$1.crt"
}

sign() { # ca leaf-name common-name extended-key-usage san-list
    if [ -f "$out/$2.crt" ]; then
        echo "gen-certs: keeping existing $out/$2.crt"
        return 0
    fi
    newkey "$out/$2.key"
    openssl req -new -sha256 -key "$out/$2.key" -subj "/O=open-mpic-c/CN=$3" \
        -out "$tmp/$2.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$4"
        echo "subjectKeyIdentifier=hash"
        echo "authorityKeyIdentifier=keyid"
        [ -z "$5" ] || echo "subjectAltName=$5"
    } >"$tmp/$2.ext"
    openssl x509 -req -sha256 -days "$days" -in "$tmp/$2.csr" \
        -CA "$out/$1.crt" -CAkey "$out/$1.key" -CAcreateserial \
        -CAserial "$tmp/$1.srl" -extfile "$tmp/$2.ext" \
        -out "$out/$2.crt" 2>/dev/null
    chmod 644 "$out/$2.crt"
    [ -z "$owner" ] || chown "$owner" "$out/$2.key"
    echo "gen-certs: made $out/$2.crt"
}

san_list() { # comma separated names -> DNS:a,IP:b
    printf '%s\n' "$1" | tr ',' '\n' | while IFS= read -r s; do
        [ -n "$s" ] || continue
        case "$s" in
        *[!0-9.]*)
            case "$s" in
            *:*) printf 'IP:%s\n' "$s" ;; # IPv6
            *) printf 'DNS:%s\n' "$s" ;;
            esac
            ;;
        *) printf 'IP:%s\n' "$s" ;;
        esac
    done | paste -sd, -
}

[ -z "$owner" ] || chmod 711 "$out"
make_ca checkers-ca "mpic checkers CA"
make_ca coordinators-ca "mpic coordinators CA"
sign coordinators-ca coordinator "mpic-coordinator" clientAuth ""

for spec in "$@"; do
    name=${spec%%=*}
    case "$name" in
    '' | *[!A-Za-z0-9._-]*)
        echo "gen-certs: bad checker name: $name" >&2
        exit 2
        ;;
    checkers-ca | coordinators-ca | coordinator)
        echo "gen-certs: reserved name: $name" >&2
        exit 2
        ;;
    esac
    if [ "$spec" = "$name" ]; then
        sans=$name
    else
        sans=${spec#*=}
    fi
    sign checkers-ca "$name" "$name" serverAuth "$(san_list "$sans")"
done
