#!/usr/bin/env python3
"""Plots bench/results/regions.json (bench_regions.py): per scenario and
check, the floor the links allow beside the measured p50 and p99, as
bench/results/regions.png (gnuplot). Run after bench_regions.py."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "results")


def main():
    with open(os.path.join(RES, "regions.json")) as f:
        rows = json.load(f)["rows"]
    dat = os.path.join(RES, "regions.dat")
    with open(dat, "w") as f:
        f.write("# label floor_ms p50_ms p99_ms\n")
        for r in rows:
            label = "%s %s %s" % (r["scenario"], r["check"], r["mode"])
            f.write('"%s" %.1f %.1f %.1f\n' % (
                label, 1000 * r["floor_p50"], 1000 * r["p50"],
                1000 * r["p99"]))
    script = """
set terminal pngcairo size 1400,700 noenhanced
set output '%s'
set title 'Multi-region simulation: latency against the floor the links allow (5 perspectives)'
set ylabel 'ms'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -45 font ',8'
set key top left
set grid ytics
plot '%s' using 2:xtic(1) title 'floor', '' using 3 title 'p50', '' using 4 title 'p99'
""" % (os.path.join(RES, "regions.png"), dat)
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("gnuplot failed: %s (scripts/install-deps.sh bench)" % e)
        return 1
    print(os.path.join(RES, "regions.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
