#!/bin/sh
# Runs every libFuzzer target (tests/fuzz) for longer than CI does.
#   scripts/fuzz.sh [seconds-per-target]     (default 600)
# Builds build-fuzz with clang (-DMPIC_FUZZ=ON) and runs the targets one
# after the other, each over build-fuzz's copy of its seed corpus (which
# grows). A crash stops the run; the input is saved under
# build-fuzz/tests/fuzz/artifacts/. Add a reproducer to
# tests/fuzz/corpus/<target>/ as repro-<what> once the bug is fixed.
set -eu
cd "$(dirname "$0")/.."

secs=${1:-600}
jobs=$(nproc 2>/dev/null || echo 2)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMPIC_FUZZ=ON \
    -DMPIC_BUILD_TESTS=ON -DMPIC_FUZZ_SECONDS="$secs"
cmake --build build-fuzz -j "$jobs" --target mpic_fuzz
cd build-fuzz
ctest --output-on-failure -L fuzz -j "$jobs" --timeout $((secs + 300))
