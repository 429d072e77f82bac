#!/bin/sh
# The whole test suite, as CI runs it (README: "Run the tests").
#   1. install the Debian packages (scripts/install-deps.sh)
#   2. build with -Werror and run every test (unit + integration) with ctest
#   2b. the container stage (scripts/test-containers.sh): build the images and
#      run compose.yaml on Debian's Docker engine (about 2-4 minutes)
#   2c. the bare-host stage (scripts/test-ec2.sh): boot a Debian 12 root file
#      system with systemd-nspawn, scripts/install.sh --role all in it, the
#      units started by its systemd, /mpic through its nginx (about 10 s
#      with the root file system cached, about a minute without)
#   3. build again with AddressSanitizer + UndefinedBehaviorSanitizer and
#      run every test once more
#   3b. coverage (scripts/coverage.sh): a gcov build (build-coverage) runs
#      the unit and integration tests once more; prints line and branch
#      coverage per directory and for the decision code, and fails below
#      the floors of scripts/coverage.txt (about 3-4 minutes)
#   4. build the libFuzzer targets with clang (build-fuzz) and run each over
#      its seed corpus for MPIC_FUZZ_SECONDS (default 60; ctest label fuzz)
set -eu
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)

./scripts/install-deps.sh
./scripts/check-src.sh

echo "== build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPIC_WERROR=ON
cmake --build build -j "$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j 1)

echo "== containers (scripts/test-containers.sh)"
./scripts/test-containers.sh

echo "== bare hosts (scripts/test-ec2.sh)"
./scripts/test-ec2.sh

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMPIC_WERROR=ON \
    -DMPIC_SANITIZE=ON
cmake --build build-asan -j "$jobs"
echo "== tests under ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j 1)

echo "== coverage (scripts/coverage.sh)"
./scripts/coverage.sh build-coverage

echo "== fuzz targets (clang, libFuzzer + ASan + UBSan)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMPIC_FUZZ=ON \
    -DMPIC_BUILD_TESTS=ON -DMPIC_FUZZ_SECONDS="${MPIC_FUZZ_SECONDS:-60}"
cmake --build build-fuzz -j "$jobs" --target mpic_fuzz
(cd build-fuzz && ctest --output-on-failure -L fuzz -j "$jobs")
