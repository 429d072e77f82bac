"""Shared plumbing for the open-mpic-c benchmarks.

Starts nsd + unbound (warm cache), our checkers and the coordinator on
127.0.0.1 through the integration harness (tests/integration/mpic_harness.py),
runs wrk / dnsperf against them and reads CPU time and RSS from /proc.
Every port is on 127.0.0.1 in 21000-21999, except the acme-http-01 web
server, which must listen on port 80 (BR 3.2.2.4.19 fixes it) and therefore
gets its own loopback address, 127.0.21.1, and is optional.

Nothing here asserts on timing: the benchmarks print numbers.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("MPIC_BUILD_DIR", os.path.join(REPO, "build-bench"))

import mpic_harness as h  # noqa: E402

# BENCH_PORTS="LO-HI" moves every port (default 21000-21999).
_lo, _hi = os.environ.get("BENCH_PORTS", "21000-21999").split("-")
h.PORT_LO, h.PORT_HI = int(_lo), int(_hi)
LOOPBACK = h.LOOPBACK
WEB_ADDR = "127.0.21.1"
RESULTS = os.path.join(HERE, "results")
HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOG_LEVEL = os.environ.get("MPIC_BENCH_LOG_LEVEL", "info")

# Ten perspectives over five RIRs (two each), none too close to another,
# so every perspective count 2..10 forms diverse cohorts.
PERSPECTIVES = [
    ("us-east-1", "arin"), ("eu-west-1", "ripe ncc"),
    ("ap-northeast-1", "apnic"), ("sa-east-1", "lacnic"),
    ("af-south-1", "afrinic"), ("us-west-2", "arin"),
    ("eu-central-1", "ripe ncc"), ("ap-southeast-2", "apnic"),
    ("sa-west-1", "lacnic"), ("af-north-1", "afrinic"),
]


def log(msg):
    sys.stderr.write("[bench] %s\n" % msg)
    sys.stderr.flush()


def have(tool):
    return shutil.which(tool) is not None


# ---------------------------------------------------------------- /proc


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def anon_kib(pid):
    """Anonymous (private, non-file) memory of a process in KiB, from
    /proc/PID/smaps_rollup: RSS minus the shared libraries' pages."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0: write 5 to
    clear_refs). Returns False if not permitted."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class CpuMeter:
    """CPU seconds used by a set of named processes between start and
    stop."""

    def __init__(self, procs):
        self.procs = procs  # name -> pid
        self.t0 = {}
        self.used = {}

    def start(self):
        self.t0 = {n: cpu_seconds(p) for n, p in self.procs.items()}
        return self

    def stop(self):
        self.used = {n: cpu_seconds(p) - self.t0[n]
                     for n, p in self.procs.items()}
        return self.used


# ---------------------------------------------------------------- wrk


def wrk(url, lua=None, conns=64, threads=1, duration=10, env=None,
        timeout_s=10):
    """Runs wrk; returns the JSON object the Lua done() printed (see
    bench/wrk-*.lua) with requests, duration_s, rps, p50/p90/p99/max in
    microseconds, errors, non_2xx and the script's own counters."""
    conns = max(conns, threads)
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration,
            "--timeout", "%ds" % timeout_s,
            "-s", lua or os.path.join(HERE, "wrk-get.lua"), url]
    e = dict(os.environ)
    e["BENCH_DIR"] = HERE
    e.update(env or {})
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, text=True, timeout=duration + 60)
    for line in p.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON "):])
    raise RuntimeError("wrk gave no result (rc %d): %s %s"
                       % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))


def mpic_body(n, check="caa", target="n0.bench.test"):
    body = {"check_type": check, "domain_or_ip_target": target,
            "orchestration_parameters": {"perspective_count": n}}
    if check == "caa":
        body["caa_check_parameters"] = {"certificate_type": "tls-server",
                                        "caa_domains": ["ca.example"]}
    return body


def wrk_mpic(url, n, conns, duration, check="caa", method=None,
             threads=1, names=256):
    """wrk posting MPIC requests at n perspectives over `names` distinct
    targets (so cohorts vary like in production)."""
    env = {"MPIC_N": str(n), "MPIC_CHECK": check, "MPIC_NAMES": str(names),
           "MPIC_METHOD": method or ""}
    return wrk(url + "/mpic", os.path.join(HERE, "wrk-mpic.lua"), conns,
               threads, duration, env)


def wrk_post(url, body, conns, duration, expect, threads=1):
    """wrk posting one fixed JSON body; `expect` is a substring counted in
    response bodies (the "ok" counter)."""
    env = {"WRK_BODY": json.dumps(body, separators=(",", ":")),
           "WRK_EXPECT": expect}
    return wrk(url, os.path.join(HERE, "wrk-post.lua"), conns, threads,
               duration, env)


# ---------------------------------------------------------------- DNS


class BenchDNS(h.DNSStack):
    """nsd with the test zones plus bench/zones, unbound recursing to it with
    a cache that stays warm for the whole run (the harness's unbound expires
    negative answers after 1 s on purpose; we do not)."""

    def __init__(self, workdir):
        zd = os.path.join(workdir, "zones")
        os.makedirs(zd)
        for src in (h.ZONES_DIR, os.path.join(HERE, "zones")):
            for f in os.listdir(src):
                if f.endswith(".zone") or f.endswith(".inc"):
                    shutil.copy(os.path.join(src, f), zd)
        h.ZONES_DIR = zd
        h.ZONES = sorted(f[:-5] for f in os.listdir(zd) if f.endswith(".zone"))
        super().__init__(workdir)

    def _start_unbound(self):
        d = os.path.join(self.workdir, "unbound")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "unbound.conf")
        lines = [
            "server:",
            "  interface: %s@%d" % (LOOPBACK, self.unbound_port),
            "  port: %d" % self.unbound_port,
            "  do-ip6: no", "  interface-automatic: no", "  so-reuseport: no",
            "  num-threads: 1", '  username: ""', '  chroot: ""',
            '  directory: "%s"' % d, '  pidfile: "%s/unbound.pid"' % d,
            "  use-syslog: no", '  logfile: ""', "  verbosity: 0",
            '  module-config: "iterator"', "  do-not-query-localhost: no",
            "  qname-minimisation: no",
            "  access-control: 127.0.0.0/8 allow",
            "  msg-cache-size: 32m", "  rrset-cache-size: 64m",
            "  num-queries-per-thread: 4096",
            "  outgoing-range: 8192",
            "  so-rcvbuf: 4m", "  so-sndbuf: 4m",
            '  local-zone: "." refuse', '  local-zone: "test." transparent',
        ]
        for z in h.ZONES:
            lines += ["stub-zone:", '  name: "%s."' % z,
                      "  stub-addr: %s@%d" % (LOOPBACK, self.nsd_port)]
        lines += ["stub-zone:", '  name: "timeout.test."',
                  "  stub-addr: %s@%d" % (LOOPBACK, self.dead_port),
                  "stub-zone:", '  name: "fault.test."',
                  "  stub-addr: %s@%d" % (LOOPBACK, self.fault.port),
                  "remote-control:", "  control-enable: no"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = h.Proc("unbound", ["unbound", "-d", "-c", conf], self.workdir)
        self.procs.append(p)
        h.wait_dns(self.unbound_port, "bench.test.", proc=p.proc)
        self.unbound = p


# ---------------------------------------------------------------- stack


def checker_yaml(code, port, resolver, kind):
    extra = ""
    if kind == "dcv":
        extra = ("http:\n  timeout_ms: 4000\n"
                 "targets:\n  allow_private_addresses: true\n")
    text = h.checker_config(code, port, [resolver], timeout_ms=2000, tries=2,
                            extra=extra)
    return text.replace("log_level: debug", "log_level: %s" % LOG_LEVEL)


def available_yaml():
    out = ["available_regions:"]
    for code, rir in PERSPECTIVES:
        out += ["  - code: %s" % code, '    name: "%s"' % code,
                '    rir: "%s"' % rir, "    too_close_codes: []"]
    return "\n".join(out) + "\n"


def coordinator_yaml(port, persp, default_count=3):
    """persp: list of (code, caa_url, dcv_url or None)."""
    lines = ["listen: \"%s:%d\"" % (LOOPBACK, port),
             "log_level: %s" % LOG_LEVEL,
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, caa_url, dcv_url in persp:
        lines += ["  - code: %s" % code, '    caa_url: "%s"' % caa_url]
        if dcv_url:
            lines += ['    dcv_url: "%s"' % dcv_url]
    lines += ["default_perspective_count: %d" % default_count,
              "absolute_max_attempts: 3",
              'hash_secret: "bench-secret"',
              "remote_timeout_ms: 10000",
              "api_keys: []",
              "max_request_bytes: 65536",
              # Cohorts from 2 up (bench_mpic.py), whatever the BR minimum
              # of the day (docs/compliance.md).
              "compliance:", "  min_perspective_count: 2"]
    return "\n".join(lines) + "\n"


class Stack:
    """DNS + n CAA checkers (+ n DCV checkers if dcv) + one coordinator."""

    def __init__(self, n_caa=6, n_dcv=0, coordinator=6):
        """coordinator: perspective count of the first coordinator (0:
        none); more come from start_coordinator()."""
        self.cluster = h.Cluster(dns=False)
        c = self.cluster
        self.workdir = c.workdir
        c.dns = BenchDNS(c.workdir)
        self.dns = c.dns
        self.caa = []
        self.dcv = []
        self.coord = None
        self.nginx = None
        for i, (code, _) in enumerate(PERSPECTIVES[:max(n_caa, n_dcv)]):
            if i < n_caa:
                self.caa.append(self.start_checker("caa", code))
            if i < n_dcv:
                self.dcv.append(self.start_checker("dcv", code))
        if coordinator:
            self.coord = self.start_coordinator(coordinator)
        self.warm()

    def start_checker(self, kind, code):
        port = h.free_port(udp_too=False)
        name = "%s-%s" % (kind, code)
        d = h.Daemon(name, "mpic-%s-checker" % kind,
                     checker_yaml(code, port, self.dns.resolver, kind),
                     self.workdir, port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d

    def start_coordinator(self, n, name="coordinator"):
        """A coordinator over the first n perspectives (CAA checkers, and
        DCV checkers where started)."""
        port = h.free_port(udp_too=False)
        sub = os.path.join(self.workdir, name)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(available_yaml())
        persp = []
        for i, d in enumerate(self.caa[:n]):
            dcv_url = self.dcv[i].base + "/dcv" if i < len(self.dcv) else None
            persp.append((PERSPECTIVES[i][0], d.base + "/caa", dcv_url))
        d = h.Daemon(name, "mpic-coordinator",
                     coordinator_yaml(port, persp), sub, port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d

    def warm(self, names=256):
        """Fills unbound's cache with every name the benchmarks ask."""
        for i in range(names):
            for q in ("n%d.bench.test" % i,
                      "_acme-challenge.n%d.bench.test" % i):
                for t in (h.TYPE_CAA, h.TYPE_TXT):
                    self._query(q, t)
        for q in ("bench.test", "test", "web.bench.test"):
            self._query(q, h.TYPE_CAA)

    def _query(self, name, qtype, tries=3):
        """One warm-up query; a lost UDP datagram on a busy machine is
        retried rather than failing the whole run."""
        for attempt in range(tries):
            try:
                return h.dns_query(self.dns.unbound_port, name, qtype)
            except socket.timeout:
                if attempt == tries - 1:
                    raise

    def start_nginx(self):
        """nginx serving the acme-http-01 token on WEB_ADDR:80. Returns
        False (and explains) when that address or port is unavailable."""
        if not have("nginx"):
            log("nginx missing: acme-http-01 skipped")
            return False
        s = socket.socket()
        try:
            s.bind((WEB_ADDR, 80))
        except OSError as e:
            log("cannot bind %s:80 (%s): acme-http-01 skipped" % (WEB_ADDR, e))
            return False
        finally:
            s.close()
        w = os.path.join(self.workdir, "nginx")
        root = os.path.join(w, "root")
        ch = os.path.join(root, ".well-known", "acme-challenge")
        os.makedirs(ch)
        with open(os.path.join(ch, TOKEN), "w") as f:
            f.write(KEYAUTH + "\n")
        conf = os.path.join(w, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(w=w, root=root, addr=WEB_ADDR))
        p = h.Proc("nginx", ["nginx", "-c", conf, "-p", w], w)
        self.dns.procs.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((WEB_ADDR, 80), timeout=0.5):
                    self.nginx = p
                    return True
            except OSError:
                time.sleep(0.05)
        log("nginx did not start: acme-http-01 skipped")
        return False

    def pids(self, with_dns=True):
        out = {}
        for d in self.cluster.daemons:
            out[d.name] = d.proc.pid
        if with_dns:
            out["unbound"] = self.dns.unbound.proc.pid
        if self.nginx:
            out["nginx"] = self.nginx.proc.pid
        return out

    def close(self):
        self.cluster.close()
        for name, code in self.cluster.bad_exits:
            log("WARNING: %s exited with %s on SIGTERM" % (name, code))


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {w}/cb;
  proxy_temp_path {w}/px;
  fastcgi_temp_path {w}/fc;
  uwsgi_temp_path {w}/uw;
  scgi_temp_path {w}/sc;
  default_type text/plain;
  keepalive_requests 100000;
  server {{
    listen {addr}:80;
    server_name _;
    root {root};
  }}
}}
"""


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def write_result(name, obj):
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, name + ".json")
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    return path


def fmt_us(us):
    return "%.2f ms" % (us / 1000.0) if us is not None else "n/a"


def pct(x):
    return "%.0f%%" % (100.0 * x)


def tmpdir():
    return tempfile.mkdtemp(prefix="mpic-bench-")
