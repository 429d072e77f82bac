#!/usr/bin/env python3
"""Benchmarks 1, 2 and 5: coordinator throughput and latency, the physical
limit of the same machine in the same run, and scaling.

One stack: nsd + unbound (warm), 10 CAA checkers, 6 DCV checkers, nginx for
acme-http-01 (optional), a coordinator over 6 perspectives and one over 10.
Load comes from wrk with bench/wrk-mpic.lua. Prints its figures and writes
bench/results/mpic.json, scaling.dat and scaling.png (gnuplot).

Environment: BENCH_DURATION (seconds per main run, default 8),
BENCH_STEP (seconds per scaling point, default 3), BENCH_CONNS (default 64).
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

DUR = int(os.environ.get("BENCH_DURATION", "8"))
STEP = int(os.environ.get("BENCH_STEP", "3"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
CONCURRENCY = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]


def ours(pids):
    return {k: v for k, v in pids.items()
            if k not in ("unbound", "nginx")}


def measured_run(stack, coord, n, conns, dur, check="caa", method=None):
    """wrk against coord with CPU accounting for every process."""
    pids = stack.pids()
    meter = b.CpuMeter(pids).start()
    r = b.wrk_mpic(coord.base, n, conns, dur, check=check, method=method)
    used = meter.stop()
    reqs = max(r["requests"], 1)
    ours_s = sum(v for k, v in used.items() if k in ours(pids))
    r["cpu_us_per_req_total"] = 1e6 * sum(used.values()) / reqs
    r["cpu_us_per_req_ours"] = 1e6 * ours_s / reqs
    r["cpu_us_per_req_coordinator"] = 1e6 * used.get(coord.name, 0) / reqs
    r["cpu_s"] = {k: round(v, 2) for k, v in used.items() if v > 0}
    if r["bad"] or r["errors"]["timeout"] or r["errors"]["connect"]:
        b.log("WARNING: %d bad replies, errors %s, first: %s"
              % (r["bad"], r["errors"], r["first_bad"]))
    return r


def added_latency(stack, coord, n, conns, dur):
    """Runs at `conns` and reads the coordinator's audit lines: per request,
    its duration minus its slowest perspective call (both in ms as the
    audit log records them)."""
    logp = coord.log_path
    start = os.path.getsize(logp)
    r = measured_run(stack, coord, n, conns, dur)
    added, slowest = [], []
    with open(logp, "rb") as f:
        f.seek(start)
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("event") != "mpic_audit":
                continue
            calls = [p.get("duration_ms", 0) for a in o.get("attempts", [])
                     for p in a.get("perspectives", [])]
            if not calls:
                continue
            added.append(o.get("duration_ms", 0) - max(calls))
            slowest.append(max(calls))
    added.sort()
    slowest.sort()

    def q(v, p):
        return v[min(len(v) - 1, int(len(v) * p))] if v else None

    r["audit_lines"] = len(added)
    r["added_ms_p50"] = q(added, 0.50)
    r["added_ms_p99"] = q(added, 0.99)
    r["added_ms_max"] = added[-1] if added else None
    r["slowest_call_ms_p99"] = q(slowest, 0.99)
    return r


def plot(res):
    dat = os.path.join(b.RESULTS, "scaling.dat")
    with open(dat, "w") as f:
        f.write("# perspectives rps p99_ms (concurrency %d)\n" % CONNS)
        for n, r in sorted(res["by_perspectives"].items(), key=lambda x:
                           int(x[0])):
            f.write("%s %.1f %.3f\n" % (n, r["rps"], r["p99_us"] / 1000.0))
        f.write("\n\n# concurrency rps p99_ms (3 perspectives)\n")
        for c, r in sorted(res["by_concurrency"].items(), key=lambda x:
                           int(x[0])):
            f.write("%s %.1f %.3f\n" % (c, r["rps"], r["p99_us"] / 1000.0))
    if not b.have("gnuplot"):
        b.log("gnuplot missing: no PNG (scripts/install-deps.sh bench)")
        return None
    png = os.path.join(b.RESULTS, "scaling.png")
    gp = """
set terminal pngcairo size 1200,500 font ",10"
set output '{png}'
set multiplot layout 1,2 title "open-mpic-c coordinator scaling (CAA, warm unbound, 2 cores)"
set grid
set ytics nomirror
set y2tics
set ylabel "MPIC requests/s"
set y2label "p99 latency (ms)"
set key top left
set title "by perspective count (concurrency {conns})"
set xlabel "perspectives"
plot '{dat}' index 0 using 1:2 with linespoints title "requests/s" axes x1y1, \\
     '' index 0 using 1:3 with linespoints title "p99 ms" axes x1y2
set title "by concurrency (3 perspectives)"
set xlabel "concurrent requests"
set logscale x
set logscale y2
plot '{dat}' index 1 using 1:2 with linespoints title "requests/s" axes x1y1, \\
     '' index 1 using 1:3 with linespoints title "p99 ms" axes x1y2
unset multiplot
""".format(png=png, dat=dat, conns=CONNS)
    p = subprocess.run(["gnuplot"], input=gp, text=True,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        b.log("gnuplot failed: %s" % p.stderr)
        return None
    return png


def main():
    for tool in ("wrk",):
        if not b.have(tool):
            sys.exit("%s missing: run scripts/install-deps.sh bench" % tool)
    res = {"duration_s": DUR, "conns": CONNS, "main": {}, "physical": {}}
    b.log("starting stack (10 CAA + 6 DCV checkers, unbound, nsd)")
    st = b.Stack(n_caa=10, n_dcv=6, coordinator=6)
    try:
        http01 = st.start_nginx()
        c10 = st.start_coordinator(10, name="coordinator10")
        c6 = st.coord

        # 2. physical limit: keep-alive exchanges on loopback.
        b.log("physical limit: wrk on a checker's /healthz")
        phys = b.wrk(st.caa[0].base + "/healthz", conns=CONNS, duration=DUR)
        res["physical"]["checker_healthz"] = phys
        res["physical"]["coordinator_healthz"] = b.wrk(
            c6.base + "/healthz", conns=CONNS, duration=DUR)

        # 1. throughput and latency.
        runs = [("caa", None, 3), ("caa", None, 6)]
        if st.dcv:
            runs += [("dcv", "acme-dns-01", 3)]
        if http01 and st.dcv:
            runs += [("dcv", "acme-http-01", 3), ("dcv", "acme-http-01", 6)]
        for check, method, n in runs:
            key = "%s/%s/%d" % (check, method or "caa", n)
            b.log("MPIC %s at %d perspectives, %d connections"
                  % (method or check, n, CONNS))
            res["main"][key] = measured_run(st, c6, n, CONNS, DUR,
                                            check=check, method=method)

        # 5. scaling.
        res["by_concurrency"] = {}
        for c in CONCURRENCY:
            b.log("scaling: concurrency %d" % c)
            res["by_concurrency"][str(c)] = measured_run(st, c6, 3, c, STEP)
        res["by_perspectives"] = {}
        for n in range(2, 11):
            b.log("scaling: %d perspectives" % n)
            res["by_perspectives"][str(n)] = measured_run(st, c10, n, CONNS,
                                                          STEP)

        # Added latency at half of peak load (3 perspectives).
        peak = max(r["rps"] for r in res["by_concurrency"].values())
        half_c = min((int(c) for c, r in res["by_concurrency"].items()
                      if r["rps"] >= peak / 2), default=CONNS)
        b.log("added latency at concurrency %d (>= half of peak %.0f/s)"
              % (half_c, peak))
        res["half_load"] = added_latency(st, c6, 3, half_c, DUR)
        res["half_load"]["conns"] = half_c
        res["peak_rps_3"] = peak
        # The same at concurrency 1: coordinator vs one direct check.
        direct = b.wrk_post(st.caa[0].base + "/caa",
                            {"domain_or_ip_target": "n1.bench.test",
                             "caa_check_parameters": {
                                 "caa_domains": ["ca.example"]}},
                            1, STEP, '"check_passed":%s*true')
        res["direct_caa_c1"] = direct
    finally:
        st.close()
    res["png"] = plot(res)
    path = b.write_result("mpic", res)
    report(res)
    b.log("wrote %s" % path)


def report(res):
    phys = res["physical"]["checker_healthz"]["rps"]
    print("== 2. physical limit (same run) ==")
    print("keep-alive GET /healthz on a checker: %.0f exchanges/s "
          "(coordinator /healthz: %.0f/s)"
          % (phys, res["physical"]["coordinator_healthz"]["rps"]))
    print("== 1. coordinator throughput (%d connections, %ds) =="
          % (res["conns"], res["duration_s"]))
    print("%-22s %9s %9s %9s %8s %13s %13s %9s" % (
        "run", "req/s", "p50", "p99", "ok/bad", "cpu/req all",
        "cpu/req coord", "of limit"))
    for key, r in res["main"].items():
        n = int(key.rsplit("/", 1)[1])
        limit = phys / (1 + n)
        print("%-22s %9.0f %9s %9s %8s %10.0f us %10.0f us %9s" % (
            key, r["rps"], b.fmt_us(r["p50_us"]), b.fmt_us(r["p99_us"]),
            "%d/%d" % (r["ok"], r["bad"]), r["cpu_us_per_req_total"],
            r["cpu_us_per_req_coordinator"], b.pct(r["rps"] / limit)))
    print("== 5. scaling ==")
    print("%-14s %9s %9s %9s" % ("perspectives", "req/s", "p99", "of limit"))
    for n, r in sorted(res["by_perspectives"].items(),
                       key=lambda x: int(x[0])):
        print("%-14s %9.0f %9s %9s" % (n, r["rps"], b.fmt_us(r["p99_us"]),
                                       b.pct(r["rps"] * (1 + int(n)) / phys)))
    print("%-14s %9s %9s %9s" % ("concurrency", "req/s", "p99", "p50"))
    for c, r in sorted(res["by_concurrency"].items(),
                       key=lambda x: int(x[0])):
        print("%-14s %9.0f %9s %9s" % (c, r["rps"], b.fmt_us(r["p99_us"]),
                                       b.fmt_us(r["p50_us"])))
    hl = res["half_load"]
    print("== added latency at half of peak (peak %.0f/s; concurrency %d: "
          "%.0f/s) ==" % (res["peak_rps_3"], hl["conns"], hl["rps"]))
    print("end-to-end p50 %s p99 %s; audit log (ms resolution): coordinator "
          "minus slowest perspective p50 %s ms, p99 %s ms, max %s ms over "
          "%d requests" % (b.fmt_us(hl["p50_us"]), b.fmt_us(hl["p99_us"]),
                           hl["added_ms_p50"], hl["added_ms_p99"],
                           hl["added_ms_max"], hl["audit_lines"]))
    d = res["direct_caa_c1"]
    c1 = res["by_concurrency"]["1"]
    print("concurrency 1: MPIC (3 perspectives) p50 %s vs one direct CAA "
          "check p50 %s: added %s" % (
              b.fmt_us(c1["p50_us"]), b.fmt_us(d["p50_us"]),
              b.fmt_us(c1["p50_us"] - d["p50_us"])))
    if res.get("png"):
        print("plot: %s" % os.path.relpath(res["png"], b.REPO))


if __name__ == "__main__":
    main()
