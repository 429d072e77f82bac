#!/usr/bin/env python3
"""The cost of tracing (docs/tracing.md): the same MPIC CAA load through a
coordinator and 3 CAA checkers with tracing off, then through a second
coordinator and 3 checkers exporting every span (OTLP/HTTP JSON) to a
receiver on loopback (a Python http.server in this process, which counts
spans and is not part of the CPU figures). Prints requests/s, p50/p99 and
CPU per request (coordinator + its checkers), plus the spans received and
dropped. Writes bench/results/tracing.json.

Environment: BENCH_DURATION (seconds per run, default 8), BENCH_CONNS (wrk
connections, default 64). BENCH_LIGHT=N: no wrk, N sequential requests on
one connection per side instead (for a shared machine: CPU per request
still means something, requests/s much less).
"""

import http.client
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

h = b.h
DUR = int(os.environ.get("BENCH_DURATION", "8"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
LIGHT = int(os.environ.get("BENCH_LIGHT", "0"))
N = 3


class Receiver:
    """Accepts POST /v1/traces and counts the spans."""

    def __init__(self):
        outer = self
        self.port = h.free_port(udp_too=False)
        self.spans = 0
        self.posts = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                doc = json.loads(self.rfile.read(n))
                k = sum(len(ss["spans"]) for rs in doc["resourceSpans"]
                        for ss in rs["scopeSpans"])
                with outer.lock:
                    outer.spans += k
                    outer.posts += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.srv = Server((h.LOOPBACK, self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://%s:%d/v1/traces" % (h.LOOPBACK, self.port)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def traced_side(stack, rx):
    """3 CAA checkers and a coordinator, all exporting to rx."""
    tracing = "tracing:\n  otlp_endpoint: \"%s\"\n" % rx.url
    checkers = []
    for code, _ in b.PERSPECTIVES[:N]:
        port = h.free_port(udp_too=False)
        d = h.Daemon("caa-traced-%s" % code, "mpic-caa-checker",
                     b.checker_yaml(code, port, stack.dns.resolver, "caa") +
                     tracing, stack.workdir, port)
        stack.cluster.daemons.append(d)
        d.wait_healthy()
        checkers.append(d)
    port = h.free_port(udp_too=False)
    sub = os.path.join(stack.workdir, "coord-traced")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
        f.write(b.available_yaml())
    persp = [(b.PERSPECTIVES[i][0], d.base + "/caa", None)
             for i, d in enumerate(checkers)]
    coord = h.Daemon("coord-traced", "mpic-coordinator",
                     b.coordinator_yaml(port, persp) + tracing, sub, port)
    stack.cluster.daemons.append(coord)
    coord.wait_healthy()
    return coord, checkers


def light_run(coord, n):
    """n sequential MPIC requests on one keep-alive connection."""
    conn = http.client.HTTPConnection(h.LOOPBACK, coord.port, timeout=20)
    lat = []
    ok = 0
    t0 = time.monotonic()
    for i in range(n):
        body = json.dumps(b.mpic_body(N, target="n%d.bench.test" % (i % 256)))
        s = time.monotonic()
        conn.request("POST", "/mpic", body,
                     {"content-type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        lat.append((time.monotonic() - s) * 1e6)
        ok += r.status == 200 and b'"is_valid":true' in data
    dur = time.monotonic() - t0
    conn.close()
    lat.sort()
    return {"requests": n, "rps": n / dur, "ok": ok, "bad": n - ok,
            "p50_us": lat[len(lat) // 2],
            "p99_us": lat[int(len(lat) * 0.99)]}


def measure(coord, checkers):
    pids = {d.name: d.proc.pid for d in [coord] + checkers}
    meter = b.CpuMeter(pids).start()
    if LIGHT:
        r = light_run(coord, LIGHT)
    else:
        r = b.wrk_mpic(coord.base, N, CONNS, DUR)
    used = meter.stop()
    reqs = max(r["requests"], 1)
    r["cpu_us_per_req"] = 1e6 * sum(used.values()) / reqs
    r["cpu_us_per_req_coordinator"] = 1e6 * used[coord.name] / reqs
    return r


def dropped(d):
    _, body = h.http_request(d.base + "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("mpic_trace_spans_dropped_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    rx = Receiver()
    stack = b.Stack(n_caa=N, coordinator=N)
    try:
        coord_t, checkers_t = traced_side(stack, rx)
        off = measure(stack.coord, stack.caa)
        on = measure(coord_t, checkers_t)
        time.sleep(2.5)  # the last batches (flushed every second)
        drops = sum(dropped(d) for d in [coord_t] + checkers_t)
        out = {"mode": "light %d sequential" % LIGHT if LIGHT else
               "wrk -c%d %ds" % (CONNS, DUR), "off": off, "on": on,
               "spans_received": rx.spans, "export_posts": rx.posts,
               "spans_dropped": drops}
        print("tracing cost, CAA at %d perspectives (%s)" % (N, out["mode"]))
        for k in ("off", "on"):
            r = out[k]
            print("  tracing %-3s  %8.0f req/s  p50 %s  p99 %s  CPU/req "
                  "%.0f us (coordinator %.0f us)  ok %d bad %d" % (
                      k, r["rps"], b.fmt_us(r["p50_us"]), b.fmt_us(r["p99_us"]),
                      r["cpu_us_per_req"], r["cpu_us_per_req_coordinator"],
                      r.get("ok", 0), r.get("bad", 0)))
        print("  spans received %d in %d POSTs, dropped %d" % (
            rx.spans, rx.posts, drops))
        b.write_result("tracing", out)
    finally:
        stack.close()
        rx.close()


if __name__ == "__main__":
    main()
