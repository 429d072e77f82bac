#!/usr/bin/env python3
"""Benchmark 4: memory and start-up.

- RSS of each daemon idle (started, warm DNS, no traffic), with its Pss
  (shared pages divided among the processes mapping them) and its private
  memory (Private_Clean + Private_Dirty: pages no other process maps,
  anonymous memory included), from /proc/PID/smaps_rollup.
- Peak RSS (VmHWM, reset before the run) with 1000 concurrent MPIC requests
  (wrk -c1000 at 3 perspectives, CAA), with the coordinator's own
  mpic_http_requests_in_flight gauge sampled to show what was in flight.
- Start-up: time from exec to the first 200 from GET /healthz, 7 runs per
  daemon (median and max), polling every millisecond.

Environment: BENCH_DURATION (default 8).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

DUR = int(os.environ.get("BENCH_DURATION", "8"))
START_RUNS = 7


def rollup_kib(pid):
    """Pss and private memory (Private_Clean + Private_Dirty) of a process
    in KiB, from /proc/PID/smaps_rollup; (None, None) if unreadable."""
    fields = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    fields[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return None, None
    if "Pss" not in fields:
        return None, None
    return fields["Pss"], (fields.get("Private_Clean", 0) +
                           fields.get("Private_Dirty", 0))


def healthz_once(port):
    try:
        with socket.create_connection((b.LOOPBACK, port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = s.recv(64)
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def time_to_healthy(binary, config):
    port = b.h.free_port(udp_too=False)
    argv = [b.h.binary(binary), "--config", config, "--listen",
            "%s:%d" % (b.LOOPBACK, port)]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=os.path.dirname(config),
                         env=b.h.clean_env())
    try:
        while time.perf_counter() - t0 < 10:
            if healthz_once(port):
                return (time.perf_counter() - t0) * 1000.0
            if p.poll() is not None:
                raise RuntimeError("%s exited %s" % (binary, p.returncode))
            time.sleep(0.001)
        raise RuntimeError("%s not healthy in 10 s" % binary)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def in_flight(base):
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=2) as r:
            m = re.search(rb"mpic_http_requests_in_flight (\d+)", r.read())
            return int(m.group(1)) if m else None
    except OSError:
        return None


def main():
    if not b.have("wrk"):
        sys.exit("wrk missing: run scripts/install-deps.sh bench")
    res = {"idle_kib": {}, "peak_kib": {}, "startup_ms": {}}
    st = b.Stack(n_caa=6, n_dcv=1, coordinator=6)
    try:
        daemons = {"coordinator": st.coord, "caa-checker": st.caa[0],
                   "dcv-checker": st.dcv[0]}
        time.sleep(0.5)  # let start-up allocations settle before reading
        for k, d in daemons.items():
            res["idle_kib"][k] = b.proc_status(d.proc.pid, "VmRSS")
            res.setdefault("idle_anon_kib", {})[k] = b.anon_kib(d.proc.pid)
            pss, private = rollup_kib(d.proc.pid)
            res.setdefault("idle_pss_kib", {})[k] = pss
            res.setdefault("idle_private_kib", {})[k] = private
        hwm_ok = all(b.reset_hwm(d.proc.pid) for d in st.cluster.daemons)
        res["hwm_reset"] = hwm_ok
        samples, stop = [], threading.Event()

        def sampler():
            while not stop.is_set():
                samples.append((in_flight(st.coord.base),
                                b.proc_status(st.coord.proc.pid, "VmRSS")))
                stop.wait(0.1)

        t = threading.Thread(target=sampler, daemon=True)
        t.start()
        b.log("1000 concurrent MPIC requests for %ds" % DUR)
        r = b.wrk_mpic(st.coord.base, 3, 1000, DUR, threads=2)
        stop.set()
        t.join()
        res["load"] = r
        flights = [s[0] for s in samples if s[0] is not None]
        res["in_flight_max"] = max(flights) if flights else None
        res["in_flight_median"] = (sorted(flights)[len(flights) // 2]
                                   if flights else None)
        res["peak_kib"]["coordinator"] = b.proc_status(st.coord.proc.pid,
                                                       "VmHWM")
        res["peak_kib"]["caa-checker(max of 6)"] = max(
            b.proc_status(d.proc.pid, "VmHWM") for d in st.caa)
        for k, d in daemons.items():
            res.setdefault("after_kib", {})[k] = b.proc_status(d.proc.pid,
                                                               "VmRSS")
        for k, d in daemons.items():
            b.log("start-up time of %s" % k)
            ts = sorted(time_to_healthy(os.path.basename(d.argv[0]),
                                        d.config_path)
                        for _ in range(START_RUNS))
            res["startup_ms"][k] = {"median": ts[len(ts) // 2],
                                    "max": ts[-1], "min": ts[0]}
    finally:
        st.close()
    path = b.write_result("memory", res)
    report(res)
    b.log("wrote %s" % path)


def report(res):
    print("== 4. memory and start-up ==")
    def mib(x):
        return "%.1f MiB" % (x / 1024.0) if x else "n/a"

    for k, v in res["idle_kib"].items():
        print("idle RSS %-24s %7.1f MiB (anonymous %s, Pss %s, private %s)" % (
            k, v / 1024.0, mib(res["idle_anon_kib"].get(k)),
            mib(res.get("idle_pss_kib", {}).get(k)),
            mib(res.get("idle_private_kib", {}).get(k))))
    r = res["load"]
    print("load: wrk -c1000, %d requests, %.0f/s, ok/bad %d/%d, p99 %s; "
          "coordinator in flight: max %s, median %s" % (
              r["requests"], r["rps"], r["ok"], r["bad"],
              b.fmt_us(r["p99_us"]), res["in_flight_max"],
              res["in_flight_median"]))
    for k, v in res["peak_kib"].items():
        print("peak RSS %-24s %7.1f MiB%s" % (
            k, v / 1024.0, "" if res["hwm_reset"] else
            " (VmHWM not reset: includes start-up)"))
    for k, v in res["startup_ms"].items():
        print("exec -> healthy %-17s median %6.1f ms, max %6.1f ms" % (
            k, v["median"], v["max"]))


if __name__ == "__main__":
    main()
