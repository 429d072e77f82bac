#!/usr/bin/env python3
"""Benchmark 3: checker throughput against a warm unbound, beside the
resolver's own rate for the same queries (dnsperf), in the same run.

- CAA: POST /caa for n1.bench.test. The checker sends the queries for the
  name and all its ancestors at once: CAA n1.bench.test, bench.test, test
  (3 queries per check).
- DNS-method DCV: POST /dcv acme-dns-01 for n1.bench.test: one TXT query
  (_acme-challenge.n1.bench.test) per check.
dnsperf replays exactly those queries. The fraction printed is checker
checks/s times queries per check over the resolver's queries/s.

Environment: BENCH_DURATION (default 8), BENCH_CONNS (default 64).
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

DUR = int(os.environ.get("BENCH_DURATION", "8"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
CAA_QUERIES = [("n1.bench.test", "CAA"), ("bench.test", "CAA"),
               ("test", "CAA")]
DNS01_QUERIES = [("_acme-challenge.n1.bench.test", "TXT")]


def dnsperf(port, queries, workdir, dur):
    path = os.path.join(workdir, "queries-%d.txt" % len(queries))
    with open(path, "w") as f:
        for name, qtype in queries:
            f.write("%s %s\n" % (name, qtype))
    p = subprocess.run(["dnsperf", "-s", b.LOOPBACK, "-p", str(port), "-d",
                        path, "-l", str(dur), "-q", str(CONNS), "-c", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=dur + 60)
    m = re.search(r"Queries per second:\s+([\d.]+)", p.stdout)
    lost = re.search(r"Queries lost:\s+(\d+)", p.stdout)
    lat = re.search(r"Average Latency \(s\):\s+([\d.]+)", p.stdout)
    if not m:
        raise RuntimeError("dnsperf output: %s" % p.stdout[-2000:])
    return {"qps": float(m.group(1)),
            "lost": int(lost.group(1)) if lost else None,
            "avg_latency_us": float(lat.group(1)) * 1e6 if lat else None}


def checker_run(stack, d, path, body, expect):
    pids = {"checker": d.proc.pid, "unbound": stack.dns.unbound.proc.pid}
    meter = b.CpuMeter(pids).start()
    r = b.wrk_post(d.base + path, body, CONNS, DUR, expect)
    used = meter.stop()
    reqs = max(r["requests"], 1)
    r["cpu_us_per_check_checker"] = 1e6 * used["checker"] / reqs
    r["cpu_us_per_check_unbound"] = 1e6 * used["unbound"] / reqs
    if r["bad"] or r["errors"]["timeout"]:
        b.log("WARNING: %d bad replies, first: %s" % (r["bad"],
                                                       r["first_bad"]))
    return r


def main():
    for tool in ("wrk", "dnsperf"):
        if not b.have(tool):
            sys.exit("%s missing: run scripts/install-deps.sh bench" % tool)
    res = {"duration_s": DUR, "conns": CONNS}
    st = b.Stack(n_caa=1, n_dcv=1, coordinator=0)
    try:
        port = st.dns.unbound_port
        b.log("resolver rate (dnsperf) for the CAA queries")
        res["resolver_caa"] = dnsperf(port, CAA_QUERIES, st.workdir, DUR)
        b.log("CAA checker rate")
        res["caa"] = checker_run(
            st, st.caa[0], "/caa",
            {"domain_or_ip_target": "n1.bench.test",
             "caa_check_parameters": {"caa_domains": ["ca.example"]}},
            '"check_passed":%s*true')
        b.log("resolver rate (dnsperf) for the DNS-01 query")
        res["resolver_dns01"] = dnsperf(port, DNS01_QUERIES, st.workdir, DUR)
        b.log("DCV checker acme-dns-01 rate")
        res["dns01"] = checker_run(
            st, st.dcv[0], "/dcv",
            {"domain_or_ip_target": "n1.bench.test",
             "dcv_check_parameters": {"validation_method": "acme-dns-01",
                                      "key_authorization_hash": b.HASH}},
            '"check_passed":%s*true')
    finally:
        st.close()
    path = b.write_result("checkers", res)
    report(res)
    b.log("wrote %s" % path)


def report(res):
    print("== 3. checker throughput vs resolver (%d in flight, %ds) =="
          % (res["conns"], res["duration_s"]))
    print("%-22s %10s %9s %9s %9s %11s %13s %9s" % (
        "check", "checks/s", "p50", "p99", "ok/bad", "cpu/check",
        "resolver q/s", "fraction"))
    for key, rkey, nq in (("caa", "resolver_caa", len(CAA_QUERIES)),
                          ("dns01", "resolver_dns01", len(DNS01_QUERIES))):
        r, q = res[key], res[rkey]
        print("%-22s %10.0f %9s %9s %9s %8.0f us %13.0f %9s" % (
            key + " (%d quer%s)" % (nq, "y" if nq == 1 else "ies"),
            r["rps"], b.fmt_us(r["p50_us"]), b.fmt_us(r["p99_us"]),
            "%d/%d" % (r["ok"], r["bad"]), r["cpu_us_per_check_checker"],
            q["qps"], b.pct(r["rps"] * nq / q["qps"])))


if __name__ == "__main__":
    main()
