#!/bin/bash
# Runs every benchmark of bench/ and prints its figures; the JSON, the
# scaling table and plot land in bench/results/. Traffic stays on 127.0.0.1
# (ports 21000-21999, or BENCH_PORTS=LO-HI; the acme-http-01 web server on
# 127.0.21.1:80; bench_regions.py: 26000-26999 or BENCH_REGION_PORTS, and
# 127.0.22.11-16:80).
# Nothing here fails on timing: a benchmark fails only if it cannot run.
#
#   bench/run-all.sh                  build (RelWithDebInfo) into build-bench/, run all
#   MPIC_BUILD_DIR=dir bench/run-all.sh   use binaries already built in dir
#   BENCH_DURATION=8 BENCH_STEP=3 BENCH_CONNS=64   seconds per run / per
#                                     scaling point, wrk connections
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${MPIC_BUILD_DIR:=$repo/build-bench}"
export MPIC_BUILD_DIR

for tool in wrk dnsperf gnuplot nsd unbound; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-all: $tool missing; run scripts/install-deps.sh bench" >&2
        exit 1
    fi
done

if [ ! -x "$MPIC_BUILD_DIR/bin/mpic-coordinator" ] || [ "${BENCH_REBUILD:-1}" = 1 ]; then
    cmake -S "$repo" -B "$MPIC_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DMPIC_SANITIZE=OFF >/dev/null
    cmake --build "$MPIC_BUILD_DIR" -j2 --target mpic-coordinator \
        mpic-caa-checker mpic-dcv-checker >/dev/null
fi

mkdir -p "$here/results"
out="$here/results/latest.txt"
{
    echo "# open-mpic-c benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# $(uname -sr), $(nproc) cores, $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet 2>/dev/null || echo '+dirty')"
    start=$(date +%s)
    python3 "$here/bench_checkers.py"
    python3 "$here/bench_memory.py"
    python3 "$here/bench_mpic.py"
    python3 "$here/bench_regions.py"
    python3 "$here/summary.py"
    echo "# total $(($(date +%s) - start)) s"
} 2>&1 | tee "$out"
