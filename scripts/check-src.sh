#!/bin/sh
# Source checks run by the test suite (docs/STYLE.md 10): banned functions,
# raw allocation outside common/mem.c, dead references to files and names
# in comments and docs (scripts/check-refs.py), the layout
# (scripts/check-includes.py), and the format (.clang-format, checked with
# Debian 12's clang-format 14: other versions format a few constructs
# differently, so the check wants that one).
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
# The layout: no circles of includes or calls, common/ shared-only.
if ! python3 scripts/check-includes.py; then
    status=1
fi
# The format: every C file as clang-format 14 writes it with .clang-format.
# Fix with: git ls-files '*.c' '*.h' | xargs clang-format-14 -i
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
    echo "check-src: clang-format not found (scripts/install-deps.sh installs it)" >&2
    status=1
elif ! "$cf" --version | grep -q 'version 14\.'; then
    echo "check-src: $cf is not clang-format 14 ($("$cf" --version)); the format check needs 14" >&2
    status=1
else
    bad=$(for f in $files; do
        "$cf" --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
    done)
    if [ -n "$bad" ]; then
        echo "check-src: not formatted as .clang-format says (fix: clang-format-14 -i FILE):" >&2
        echo "$bad" | sed 's/^/  /' >&2
        status=1
    fi
fi
if [ "$status" -eq 0 ]; then
    echo "check-src: ok"
fi
exit "$status"
