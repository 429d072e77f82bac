#!/bin/sh
# Line and branch coverage of the unit and integration tests (README: "Test
# coverage"), and the floors of scripts/coverage.txt.
#
#   scripts/coverage.sh [--report-only] [BUILD_DIR]
#
#   1. configure BUILD_DIR (default build-coverage) with -DMPIC_COVERAGE=ON
#      (gcc --coverage, Debug: no optimisation merging lines) and build it
#   2. delete the counters of earlier runs and run every test but the fuzz
#      targets (ctest -LE fuzz); the daemons the integration tests start
#      write their counters when they exit on SIGTERM
#   3. gcovr: in BUILD_DIR/coverage/ an HTML report (index.html, per file,
#      line by line), a JSON one, and uncovered-decision.txt (the decision
#      code's lines never run and branches never taken)
#   4. scripts/coverage_report.py prints the table per directory and for the
#      decision code, and fails (exit 1) when a figure is below its floor
#
# --report-only: steps 3 and 4 on the counters BUILD_DIR holds already.
# A build with -DMPIC_SANITIZE=ON reports lines only: UBSan adds a branch for
# every check it makes, never taken in a clean run.
# Needs gcc and gcovr (scripts/install-deps.sh).
set -eu
cd "$(dirname "$0")/.."

report_only=
build=
for a in "$@"; do
    case "$a" in
    --report-only) report_only=1 ;;
    -*)
        echo "usage: $0 [--report-only] [BUILD_DIR]" >&2
        exit 2
        ;;
    *) build=$a ;;
    esac
done
build=${build:-build-coverage}
jobs=$(nproc 2>/dev/null || echo 2)

if ! command -v gcovr >/dev/null 2>&1; then
    echo "coverage: gcovr not found (apt-get install gcovr)" >&2
    exit 2
fi

if [ -z "$report_only" ]; then
    echo "== build with coverage ($build)"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMPIC_WERROR=ON \
        -DMPIC_COVERAGE=ON
    cmake --build "$build" -j "$jobs"
    find "$build" -name '*.gcda' -delete
    echo "== tests with coverage (unit + integration)"
    (cd "$build" && ctest --output-on-failure -j 1 -LE fuzz)
fi

if ! grep -q '^MPIC_COVERAGE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "coverage: $build is not a -DMPIC_COVERAGE=ON build" >&2
    exit 2
fi
if [ -z "$(find "$build" -name '*.gcda' | head -n 1)" ]; then
    echo "coverage: no counters (*.gcda) in $build: run the tests first" >&2
    exit 2
fi
# Counters of an object rebuilt since the tests ran count for nothing.
stale=$(find "$build" -name '*.gcno' | while read -r gcno; do
    gcda=${gcno%.gcno}.gcda
    if [ -e "$gcda" ] && [ "$gcno" -nt "$gcda" ]; then echo "$gcda"; fi
done | head -n 1)
if [ -n "$stale" ]; then
    echo "coverage: $build was rebuilt after its tests ran ($stale):" \
        "run scripts/coverage.sh without --report-only" >&2
    exit 2
fi
branches=--branches
if grep -q '^MPIC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
    branches=
    echo "coverage: $build has UBSan: lines only (its checks are branches)"
fi

out=$build/coverage
rm -rf "$out"
mkdir -p "$out"
echo "== coverage report ($out/index.html)"
# Our sources only (not tests/, not generated files in the build directory).
gcovr --root . -j "$jobs" --exclude-unreachable-branches \
    --filter '(common|coordinator|dcv-checker|caa-checker|cli)/' \
    --json "$out/coverage.json" \
    --html-details "$out/index.html" --html-title "open-mpic-c coverage" \
    "$build"
python3 scripts/coverage_report.py "$out/coverage.json" scripts/coverage.txt \
    $branches --uncovered "$out/uncovered-decision.txt"
