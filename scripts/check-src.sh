#!/bin/sh
# Source checks run by the test suite (docs/STYLE.md 10): banned functions,
# raw allocation outside common/mem.c, and dead references to files and
# names in comments and docs (scripts/check-refs.py).
set -eu
cd "$(dirname "$0")/.."

files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
status=0
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|rand)[[:space:]]*\('
alloc='\b(malloc|calloc|realloc|strdup|strndup)[[:space:]]*\('
for f in $files; do
    case "$f" in
    tests/fuzz/*) continue ;;
    esac
    if grep -nE "$banned" "$f" | grep -v 'check-src: allow'; then
        echo "$f: banned function (see docs/STYLE.md 10)" >&2
        status=1
    fi
    case "$f" in
    common/mem.c | tests/*) ;;
    *)
        if grep -nE "$alloc" "$f" | grep -vE '(^|[^_a-z])x(malloc|calloc|realloc|strdup|strndup)' \
            | grep -vE 'OPENSSL_|ldns_|json_|curl_|ares_|yaml_|idn2_|pcre2_|MHD_' \
            | grep -v 'check-src: allow'; then
            echo "$f: raw allocation outside common/mem.c (use x* from common/mem.h)" >&2
            status=1
        fi
        ;;
    esac
done
if ! python3 scripts/check-refs.py; then
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "check-src: ok"
fi
exit "$status"
