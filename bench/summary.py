#!/usr/bin/env python3
"""Prints the target table from bench/results/*.json (written by the other
bench_*.py scripts) and writes it to bench/results/summary.md."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402


def load(name):
    try:
        with open(os.path.join(b.RESULTS, name + ".json")) as f:
            return json.load(f)
    except OSError:
        return None


def main():
    m, c, mem = load("mpic"), load("checkers"), load("memory")
    rows = []

    def row(target, goal, got, ok):
        rows.append((target, goal, got, "yes" if ok else "no"))

    if m:
        phys = m["physical"]["checker_healthz"]["rps"]
        r3 = m["main"]["caa/caa/3"]
        peak3 = max([m.get("peak_rps_3", 0), r3["rps"]])
        limit3 = phys / 4
        row("MPIC rate vs physical limit (3 persp., CAA)", ">= 50%",
            "%.0f/s of %.0f/s = %s (peak %.0f/s = %s)" % (
                r3["rps"], limit3, b.pct(r3["rps"] / limit3), peak3,
                b.pct(peak3 / limit3)), peak3 >= limit3 / 2)
        row("MPIC requests/s at 3 perspectives", ">= 5000/s",
            "%.0f/s (concurrency %d), peak %.0f/s" % (
                r3["rps"], m["conns"], peak3), peak3 >= 5000)
        hl = m["half_load"]
        row("p99 added latency at half of peak", "<= 1 ms",
            "%s ms (audit log, 1 ms resolution; %.0f/s at concurrency %d)"
            % (hl["added_ms_p99"], hl["rps"], hl["conns"]),
            hl["added_ms_p99"] is not None and hl["added_ms_p99"] <= 1)
    if c:
        for key, rkey, nq, label in (
                ("dns01", "resolver_dns01", 1, "DCV acme-dns-01 (1 query)"),
                ("caa", "resolver_caa", 3, "CAA (3 queries)")):
            frac = c[key]["rps"] * nq / c[rkey]["qps"]
            row("checker rate vs resolver: " + label, ">= 50%",
                "%.0f checks/s vs %.0f q/s = %s" % (
                    c[key]["rps"], c[rkey]["qps"], b.pct(frac)), frac >= 0.5)
    if mem:
        for k, v in mem["idle_kib"].items():
            row("idle RSS " + k, "<= 8 MiB", "%.1f MiB" % (v / 1024.0),
                v <= 8 * 1024)
        v = mem["peak_kib"]["coordinator"]
        row("coordinator RSS, 1000 in flight", "<= 64 MiB",
            "%.1f MiB (in flight max %s)" % (v / 1024.0,
                                            mem["in_flight_max"]),
            v <= 64 * 1024)
        for k, v in mem["startup_ms"].items():
            row("exec to healthy " + k, "<= 50 ms",
                "median %.1f ms, max %.1f ms" % (v["median"], v["max"]),
                v["max"] <= 50)
    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]
    lines += ["| %s | %s | %s | %s |" % r for r in rows]
    text = "\n".join(lines) + "\n"
    print("== targets ==")
    print(text)
    with open(os.path.join(b.RESULTS, "summary.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
