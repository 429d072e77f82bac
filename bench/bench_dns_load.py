#!/usr/bin/env python3
"""DNS under load: one CAA checker against a warm unbound, driven with wrk
at several concurrencies. Per step it prints checks/s, p50/p99 latency,
the UDP datagrams the kernel dropped for a full receive buffer on this
machine during the step (Udp RcvbufErrors in /proc/net/snmp: every socket,
the checker's and unbound's) and the checker's early retransmissions
(mpic_dns_retransmits_total). A dropped answer used to cost a whole
per-try timeout (2 s); with the early retransmission it costs 400 ms.

Binaries come from $MPIC_BUILD_DIR (default build/), so two builds can be
compared: MPIC_BUILD_DIR=build-old bench/bench_dns_load.py.

Environment: BENCH_DURATION (seconds per step, default 8),
BENCH_STEPS (comma separated concurrencies, default 16,64,256).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

DUR = int(os.environ.get("BENCH_DURATION", "8"))
STEPS = [int(x) for x in
         os.environ.get("BENCH_STEPS", "16,64,256").split(",")]
BODY = {"check_type": "caa", "domain_or_ip_target": "n1.bench.test",
        "caa_check_parameters": {"certificate_type": "tls-server",
                                 "caa_domains": ["ca.example"]}}


def udp_rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        lines = [ln.split() for ln in f if ln.startswith("Udp:")]
    head, vals = lines[0], lines[1]
    return int(vals[head.index("RcvbufErrors")])


def checker_metric(d, name):
    import urllib.request
    with urllib.request.urlopen(d.base + "/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def main():
    if not b.have("wrk"):
        print("wrk is missing: scripts/install-deps.sh bench")
        return 1
    stack = b.Stack(n_caa=1, n_dcv=0, coordinator=0)
    rows = []
    try:
        chk = stack.caa[0]
        for conns in STEPS:
            drops0 = udp_rcvbuf_errors()
            rx0 = checker_metric(chk, "mpic_dns_retransmits_total")
            r = b.wrk_post(chk.base + "/caa", BODY, conns, DUR, '"check_passed"')
            drops = udp_rcvbuf_errors() - drops0
            rx1 = checker_metric(chk, "mpic_dns_retransmits_total")
            retrans = (rx1 - rx0) if rx0 is not None else None
            rows.append((conns, r["rps"], r["p50_us"], r["p99_us"], r.get("max_us"),
                         drops, retrans, r.get("errors")))
    finally:
        stack.close()
    print("binaries: %s" % os.environ.get("MPIC_BUILD_DIR", "build"))
    print("%6s %10s %10s %10s %10s %8s %10s" % (
        "conns", "checks/s", "p50", "p99", "max", "drops", "retransmit"))
    for conns, rps, p50, p99, mx, drops, retrans, errs in rows:
        print("%6d %10.0f %10s %10s %10s %8d %10s" % (
            conns, rps, b.fmt_us(p50), b.fmt_us(p99), b.fmt_us(mx), drops,
            "-" if retrans is None else retrans))
    return 0


if __name__ == "__main__":
    sys.exit(main())
