#!/usr/bin/env python3
"""Multi-region simulation: MPIC latency when the perspectives are on
several continents (issue 12).

A coordinator and six perspectives (a CAA and a DCV checker each, over three
RIRs), every perspective with its own unbound; one nsd and one web server
(nginx) for the targets. The coordinator, nsd and the web server are placed
in us-east-1. Every link between regions goes through a delaying relay
(bench/relay.py; this kernel has no netem):

  coordinator -> each checker                   TCP
  each perspective's unbound -> nsd             UDP and TCP
  each DCV checker -> the web server            TCP (acme-http-01, port 80)

One-way delay = half the round trip of the table REGIONS (see
bench/README.md for the figures and their source). Everything listens on
127.0.0.0/8 only: ports from BENCH_REGION_PORTS (default 26000-26999), and
the per-perspective web relays on 127.0.22.11-16:80 (acme-http-01 fixes port
80, so each perspective's view of the web server needs its own address;
its DNS relay rewrites the target's A record 127.0.22.1 to that address).

Prints, per scenario and check, p50/p99 latency over sequential and a few
concurrent requests, the floor the links allow (model in bench/README.md),
measured/floor, new TCP connections per request per link class, DNS
datagrams and drops, and an attribution of the gap. Writes
bench/results/regions.txt and regions.json. Not a test: nothing fails on
timing. Bounded (--budget, default 270 s of measurement) and stops every
process it started, also on Ctrl-C or SIGTERM.

  python3 bench/bench_regions.py            # about 3-4 minutes
  python3 bench/bench_regions.py --quick    # fewer requests, about 1.5 min
"""

import argparse
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib as b  # noqa: E402
import relay as R  # noqa: E402

h = b.h
_lo, _hi = os.environ.get("BENCH_REGION_PORTS", "26000-26999").split("-")
h.PORT_LO, h.PORT_HI = int(_lo), int(_hi)

HOME = "us-east-1"  # coordinator, nsd and the web server
# code, name, RIR, round trip to us-east-1 in ms (approximate p50 of public
# AWS inter-region measurements; bench/README.md names the source). The
# us-east-1 figure is the cross-AZ round trip inside the region.
REGIONS = [
    ("us-east-1", "US East (N. Virginia)", "arin", 1.0),
    ("us-west-2", "US West (Oregon)", "arin", 65.0),
    ("eu-west-1", "Europe (Ireland)", "ripe ncc", 68.0),
    ("eu-central-1", "Europe (Frankfurt)", "ripe ncc", 90.0),
    ("ap-northeast-1", "Asia Pacific (Tokyo)", "apnic", 145.0),
    ("ap-southeast-2", "Asia Pacific (Sydney)", "apnic", 200.0),
]
RTT_MS = {c: r for c, _, _, r in REGIONS}  # scaled by --rtt-scale in main
RIR = {c: rir for c, _, rir, _ in REGIONS}
BLACKHOLED = "eu-central-1"
COUNT = 5
QUORUM = 4  # Open MPIC default for 5 perspectives: count - 1
# Round trips to the home region a check needs after the coordinator's
# call arrives, with a cold resolver cache for the target name.
CHECK_RTTS = {"caa": 1, "acme-dns-01": 1, "acme-http-01": 3}
CHECKS = ["caa", "acme-dns-01", "acme-http-01"]
WEB_PLACEHOLDER = "127.0.22.1"  # the A record nsd serves for the targets
WEB_BASE = 11                   # perspective i's web relay: 127.0.22.(11+i)
NAME_SUFFIX = "regions.test"

ZONE = """$ORIGIN test.
$TTL 3600
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600
@ IN NS ns.test.
ns IN A 127.0.0.1
; Every rN.regions.test (and _acme-challenge.rN.regions.test) has one
; permitting CAA record, the acme-dns-01 value and the web server's address;
; each request asks a new N, so resolver caches are cold for it.
*.regions IN CAA 0 issue "ca.example"
*.regions IN TXT "{hash}"
*.regions IN A {web}
"""

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {w}/cb;
  proxy_temp_path {w}/px;
  fastcgi_temp_path {w}/fc;
  uwsgi_temp_path {w}/uw;
  scgi_temp_path {w}/sc;
  default_type text/plain;
  server {{
    listen 127.0.0.1:{port};
    server_name _;
    root {root};
  }}
}}
"""


def log(msg):
    b.log(msg)


def pctl(v, p):
    """Nearest-rank percentile (for n < 100, p99 is the maximum)."""
    if not v:
        return None
    v = sorted(v)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 1)) - 1))
    return v[k]


def median(v):
    return pctl(v, 0.5)


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", b.REPO, "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", b.REPO, "diff", "--quiet",
                                "HEAD"], timeout=10).returncode != 0
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


# ---------------------------------------------------------------- floor


def floor_s(codes, check, straggler_ms, blackholed=()):
    """(floor, decided) in seconds for one request: perspective c can
    answer at (1 + k) * RTT(c): one round trip coordinator -> checker on a
    warm connection, k round trips checker/resolver -> home region for the
    check itself. decided: the first time quorum and the 2-RIR rule are
    met; the coordinator answers when every call is back or straggler_ms
    after that, whichever is first (straggler 0: waits for all)."""
    k = CHECK_RTTS[check]
    inf = float("inf")
    times = sorted(((inf if c in blackholed else (1 + k) * RTT_MS[c] / 1e3),
                    RIR[c]) for c in codes)
    passes, rirs, decided = 0, set(), inf
    for t, rir in times:
        if t == inf:
            break
        passes += 1
        rirs.add(rir)
        if passes >= QUORUM and (len(codes) <= 2 or len(rirs) >= 2):
            decided = t
            break
    last = times[-1][0] if times else inf
    if straggler_ms > 0:
        return min(last, decided + straggler_ms / 1e3), decided
    return last, decided


def call_floor_s(code, check):
    return (1 + CHECK_RTTS[check]) * RTT_MS[code] / 1e3


# ---------------------------------------------------------------- stack


class RegionStack:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="mpic-regions-")
        self.procs = []  # stopped in reverse order
        self.bad_exits = []
        self.hub = R.RelayHub(seed=args.seed)
        self.hub_started = False
        self.coord = None
        self.coord_notes = []
        self.http01 = True
        self.links = {}  # (class, code[, kind]) -> Link
        self.procs_seen = []  # coordinator log files, for the audit lines
        self._closed = False
        atexit.register(self.close)

    # -- processes

    def _proc(self, p):
        self.procs.append(p)
        return p

    def start(self):
        a = self.args
        self._start_nsd()
        self.web_port = h.free_port(udp_too=False)
        if not self._port80_ok():
            self.http01 = False
        self.ports = {}
        for i, (code, _, _, rtt) in enumerate(REGIONS):
            rtt_s = RTT_MS[code] / 1e3
            dport = h.free_port(udp_too=True)
            rw = R.rewrite_a(WEB_PLACEHOLDER, "127.0.22.%d" % (WEB_BASE + i))
            for kind in ("udp", "tcp"):
                self.links[("dns", code, kind)] = self.hub.add(R.Link(
                    "dns-%s-%s" % (kind, code), kind,
                    (h.LOOPBACK, dport), (h.LOOPBACK, self.nsd_port), rtt_s,
                    rewrite=rw, tags={"class": "dns", "code": code}))
            if self.http01:
                self.links[("web", code)] = self.hub.add(R.Link(
                    "web-%s" % code, "tcp",
                    ("127.0.22.%d" % (WEB_BASE + i), 80),
                    (h.LOOPBACK, self.web_port), rtt_s,
                    tags={"class": "web", "code": code}))
            for kind in ("caa", "dcv"):
                cport = h.free_port(udp_too=False)
                rport = h.free_port(udp_too=False)
                self.ports[(kind, code)] = (cport, rport)
                self.links[("coord", code, kind)] = self.hub.add(R.Link(
                    "coord-%s-%s" % (kind, code), "tcp", (h.LOOPBACK, rport),
                    (h.LOOPBACK, cport), rtt_s,
                    handshake_rtts=a.coord_handshake_rtts,
                    tags={"class": "coord", "code": code}))
            self.ports[("dns", code)] = dport
        self.apply_impairments({})
        self.hub.start()
        self.hub_started = True
        self.unbound_ports = {}
        for code, _, _, _ in REGIONS:
            self.unbound_ports[code] = self._start_unbound(code)
        if self.http01:
            self._start_nginx()
        for code, _, _, _ in REGIONS:
            resolver = "%s:%d" % (h.LOOPBACK, self.unbound_ports[code])
            for kind in ("caa", "dcv"):
                port = self.ports[(kind, code)][0]
                d = h.Daemon("%s-%s" % (kind, code), "mpic-%s-checker" % kind,
                             b.checker_yaml(code, port, resolver, kind),
                             self.workdir, port)
                self._proc(d)
        for p in self.procs:
            if isinstance(p, h.Daemon):
                p.wait_healthy()

    def _start_nsd(self):
        zd = os.path.join(self.workdir, "zones")
        os.makedirs(zd)
        with open(os.path.join(zd, "test.zone"), "w") as f:
            f.write(ZONE.format(hash=b.HASH, web=WEB_PLACEHOLDER))
        d = os.path.join(self.workdir, "nsd")
        os.makedirs(d)
        self.nsd_port = h.free_port(udp_too=True)
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "server:",
                "  ip-address: %s@%d" % (h.LOOPBACK, self.nsd_port),
                "  port: %d" % self.nsd_port, "  do-ip6: no",
                "  server-count: 1", '  zonesdir: "%s"' % zd,
                '  zonelistfile: "%s/zone.list"' % d,
                '  xfrdfile: "%s/xfrd.state"' % d, '  xfrdir: "%s"' % d,
                '  pidfile: "%s/nsd.pid"' % d, '  username: ""',
                '  chroot: ""', '  database: ""', "  verbosity: 1",
                "remote-control:", "  control-enable: no",
                "zone:", "  name: test.",
                '  zonefile: "%s/test.zone"' % zd]) + "\n")
        p = self._proc(h.Proc("nsd", ["nsd", "-d", "-c", conf], self.workdir))
        h.wait_dns(self.nsd_port, "test.", proc=p.proc)

    def _start_unbound(self, code):
        """This perspective's own resolver; its only upstream is its DNS
        relay to nsd."""
        port = h.free_port(udp_too=True)
        d = os.path.join(self.workdir, "unbound-" + code)
        os.makedirs(d)
        conf = os.path.join(d, "unbound.conf")
        lines = [
            "server:",
            "  interface: %s@%d" % (h.LOOPBACK, port), "  port: %d" % port,
            "  do-ip6: no", "  interface-automatic: no", "  so-reuseport: no",
            "  num-threads: 1", '  username: ""', '  chroot: ""',
            '  directory: "%s"' % d, '  pidfile: "%s/unbound.pid"' % d,
            "  use-syslog: no", '  logfile: ""', "  verbosity: 0",
            '  module-config: "iterator"', "  do-not-query-localhost: no",
            "  qname-minimisation: no",
            "  access-control: 127.0.0.0/8 allow",
            '  local-zone: "." refuse', '  local-zone: "test." transparent',
            "stub-zone:", '  name: "test."',
            "  stub-addr: %s@%d" % (h.LOOPBACK, self.ports[("dns", code)]),
            "remote-control:", "  control-enable: no"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = self._proc(h.Proc("unbound-" + code,
                              ["unbound", "-d", "-c", conf], self.workdir))
        h.wait_dns(port, "test.", proc=p.proc)
        return port

    def _port80_ok(self):
        if not b.have("nginx"):
            log("nginx missing: acme-http-01 skipped")
            return False
        for i in range(len(REGIONS)):
            s = socket.socket()
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.22.%d" % (WEB_BASE + i), 80))
            except OSError as e:
                log("cannot bind 127.0.22.%d:80 (%s): acme-http-01 skipped"
                    % (WEB_BASE + i, e))
                return False
            finally:
                s.close()
        return True

    def _start_nginx(self):
        w = os.path.join(self.workdir, "nginx")
        root = os.path.join(w, "root")
        ch = os.path.join(root, ".well-known", "acme-challenge")
        os.makedirs(ch)
        with open(os.path.join(ch, b.TOKEN), "w") as f:
            f.write(b.KEYAUTH + "\n")
        conf = os.path.join(w, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(w=w, root=root, port=self.web_port))
        p = self._proc(h.Proc("nginx", ["nginx", "-c", conf, "-p", w], w))
        h.wait_tcp(self.web_port, proc=p.proc)

    # -- coordinator

    def coordinator_yaml(self, port, straggler_ms, compliance, straggler):
        lines = ['listen: "%s:%d"' % (h.LOOPBACK, port),
                 "log_level: info",
                 "available_perspectives_file: available_perspectives.yaml",
                 "perspectives:"]
        for code, _, _, _ in REGIONS:
            lines += ["  - code: %s" % code,
                      '    caa_url: "http://%s:%d/caa"'
                      % (h.LOOPBACK, self.ports[("caa", code)][1]),
                      '    dcv_url: "http://%s:%d/dcv"'
                      % (h.LOOPBACK, self.ports[("dcv", code)][1])]
        lines += ["default_perspective_count: %d" % COUNT,
                  "absolute_max_attempts: 3",
                  'hash_secret: "bench-regions-secret"',
                  "remote_timeout_ms: 10000"]
        if straggler:
            lines += ["straggler_timeout_ms: %d" % straggler_ms]
        lines += ["api_keys: []", "max_request_bytes: 65536"]
        if compliance:
            lines += ["compliance:", "  min_perspective_count: %d" % COUNT]
        return "\n".join(lines) + "\n"

    def _config_ok(self, text, sub, optional):
        """Whether the coordinator takes this configuration with every key
        of `optional` understood: it refuses unknown keys in some versions
        and only warns ("KEY: unknown key (ignored)") in others."""
        path = os.path.join(sub, "probe.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.binary("mpic-coordinator"), "--config", path,
                            "--check-config"], capture_output=True, text=True,
                           env=h.clean_env(), timeout=30)
        out = (p.stdout + p.stderr).strip()
        if p.returncode != 0:
            return False, out
        for key in optional:
            if "%s: unknown key" % key in out:
                return False, out
        return True, out

    def start_coordinator(self, straggler_ms):
        """(Re)starts the coordinator. compliance.min_perspective_count and
        straggler_timeout_ms are left out if this binary does not know
        them (checked with --check-config)."""
        if self.coord is not None:
            code = self.coord.stop()
            if code != 0:
                self.bad_exits.append((self.coord.name, code))
            self.procs.remove(self.coord)
            self.coord = None
        name = "coordinator-s%d" % straggler_ms
        sub = os.path.join(self.workdir, name)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        port = h.free_port(udp_too=False)
        notes = []
        chosen = None
        for compliance, straggler in ((True, True), (False, True),
                                      (True, False), (False, False)):
            text = self.coordinator_yaml(port, straggler_ms, compliance,
                                         straggler)
            optional = ((["compliance"] if compliance else []) +
                        (["straggler_timeout_ms"] if straggler else []))
            ok, out = self._config_ok(text, sub, optional)
            if ok:
                chosen = (text, compliance, straggler)
                break
            last_err = out
        if chosen is None:
            raise RuntimeError("coordinator refuses every configuration: %s"
                               % last_err)
        text, compliance, straggler = chosen
        if not compliance:
            notes.append("compliance.min_perspective_count unknown to this "
                         "coordinator: left out")
        if not straggler:
            notes.append("straggler_timeout_ms unknown to this coordinator: "
                         "left out")
        self.coord_notes = notes
        self.straggler_supported = straggler
        self.compliance_used = compliance
        d = h.Daemon(name, "mpic-coordinator", text, sub, port)
        self._proc(d)
        d.wait_healthy()
        self.coord = d
        return d

    # -- impairments and counters

    def apply_impairments(self, extra_loss, blackhole=()):
        """Sets loss/jitter of every link from the command line flags plus
        extra_loss {class: p}, and blackholes the coordinator links of the
        perspectives in `blackhole`."""
        a = self.args
        for key, link in self.links.items():
            cls, code = key[0], key[1]
            link.loss = _spec_value(a.loss, cls, code) + \
                extra_loss.get(cls, 0.0)
            link.jitter_s = _spec_value(a.jitter, cls, code) / 1e3
            link.blackhole = cls == "coord" and code in blackhole

    def counters(self):
        """Sums per link class (coordinator links split by blackholed), and
        per link: cc:KIND:CODE new coordinator connections, dq:CODE DNS
        queries and dd:CODE DNS datagrams dropped."""
        out = {"coord_conns": 0, "coord_conns_bh": 0, "web_conns": 0,
               "dns_tcp_conns": 0, "dns_queries": 0, "dns_dropped": 0,
               "tcp_rto": 0}
        for key, link in self.links.items():
            cls, code = key[0], key[1]
            if cls == "coord":
                out["coord_conns_bh" if link.blackhole else "coord_conns"] += \
                    link.new_conns
                out["cc:%s:%s" % (key[2], code)] = link.new_conns
            elif cls == "web":
                out["web_conns"] += link.new_conns
            elif cls == "dns":
                if link.kind == "tcp":
                    out["dns_tcp_conns"] += link.new_conns
                else:
                    out["dns_queries"] += link.dgrams_up
                    out["dq:" + code] = link.dgrams_up
                out["dns_dropped"] += link.dropped
                out["dd:" + code] = out.get("dd:" + code, 0) + link.dropped
            out["tcp_rto"] += link.rto_events
        return out

    def close(self):
        if self._closed:
            return
        self._closed = True
        for p in reversed(self.procs):
            if p.exit_code is None:
                code = p.stop()
                if isinstance(p, h.Daemon) and code != 0:
                    self.bad_exits.append((p.name, code))
        self.procs = []
        if self.hub_started:
            self.hub.stop()
        for name, code in self.bad_exits:
            log("WARNING: %s exited with %s on SIGTERM (logs kept in %s)"
                % (name, code, self.workdir))
        if not self.bad_exits and not os.environ.get("MPIC_KEEP_WORKDIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def _spec_value(specs, cls, code):
    """--loss/--jitter specs: CLASS[:REGION]=VALUE, CLASS one of coord,
    dns, web, all; the most specific match wins."""
    best, rank = 0.0, -1
    for s in specs or []:
        k, _, v = s.partition("=")
        c, _, r = k.partition(":")
        if c not in (cls, "all") or (r and r != code):
            continue
        rk = (1 if c == cls else 0) + (2 if r else 0)
        if rk > rank:
            best, rank = float(v), rk
    return best


# ---------------------------------------------------------------- client


_seq = [0]
_seq_lock = threading.Lock()


def next_name():
    with _seq_lock:
        _seq[0] += 1
        return "r%d.%s" % (_seq[0], NAME_SUFFIX), "regions-%d" % _seq[0]


def mpic_body(check, target, trace):
    body = {"check_type": "caa" if check == "caa" else "dcv",
            "domain_or_ip_target": target, "trace_identifier": trace,
            "orchestration_parameters": {"perspective_count": COUNT}}
    if check == "caa":
        body["caa_check_parameters"] = {"certificate_type": "tls-server",
                                        "caa_domains": ["ca.example"]}
    elif check == "acme-dns-01":
        body["dcv_check_parameters"] = {"validation_method": "acme-dns-01",
                                        "key_authorization_hash": b.HASH}
    else:
        body["dcv_check_parameters"] = {"validation_method": "acme-http-01",
                                        "token": b.TOKEN,
                                        "key_authorization": b.KEYAUTH}
    return json.dumps(body).encode()


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def post(self, check):
        target, trace = next_name()
        data = mpic_body(check, target, trace)
        rec = {"check": check, "target": target, "trace": trace,
               "status": None, "valid": False, "codes": [], "attempts": 0,
               "not_awaited": 0, "error": None}
        t0 = time.monotonic()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(h.LOOPBACK, self.port,
                                                       timeout=60)
            self.conn.request("POST", "/mpic", data,
                              {"content-type": "application/json"})
            r = self.conn.getresponse()
            raw = r.read()
            rec["status"] = r.status
        except (OSError, http.client.HTTPException) as e:
            rec["error"] = str(e)
            rec["dt"] = time.monotonic() - t0
            self.close()
            return rec
        rec["dt"] = time.monotonic() - t0
        try:
            o = json.loads(raw)
        except ValueError:
            rec["error"] = "not JSON"
            return rec
        rec["valid"] = o.get("is_valid") is True
        act = o.get("actual_orchestration_parameters") or {}
        rec["attempts"] = act.get("attempt_count", 1)
        for p in o.get("perspectives") or []:
            rec["codes"].append(p.get("perspective_code"))
            cr = p.get("check_response") or {}
            for e in cr.get("errors") or []:
                if "not_awaited" in str(e.get("error_type")):
                    rec["not_awaited"] += 1
        return rec

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------- runs


class Bench:
    def __init__(self, args, stack):
        self.args = args
        self.s = stack
        self.t_start = time.monotonic()
        self.rows = []
        self.records = []
        self.skipped = []
        self.lateness = []  # relay deliveries during the measured blocks
        self.cpu = 0.0      # this process (relays + client) during them
        self.wall = 0.0

    def left(self):
        return self.args.budget - (time.monotonic() - self.t_start)

    def warm(self, check, blackholed=()):
        """Requests (at least 2, at most 8) until the coordinator holds a
        connection to every reachable checker of this check type, so the
        measurement starts from warm connections."""
        kind = "caa" if check == "caa" else "dcv"
        links = [l for (cls, code, *rest), l in self.s.links.items()
                 if cls == "coord" and rest == [kind] and code not in
                 blackholed]
        c = Client(self.s.coord.port)
        for i in range(8):
            c.post(check)
            if i >= 1 and all(l.open_conns > 0 for l in links):
                break
        c.close()

    def block(self, scen, check, n_seq, conc, per_thread, straggler_ms,
              blackholed=(), warm=True):
        if check == "acme-http-01" and not self.s.http01:
            return
        if self.left() <= 0:
            self.skipped.append("%s/%s" % (scen, check))
            log("time budget used up: %s %s skipped" % (scen, check))
            return
        log("%s: %s, %d sequential + %dx%d concurrent" % (
            scen, check, n_seq, conc, per_thread))
        if warm:
            self.warm(check, blackholed)
        self.s.hub.call(self.s.hub.clear_lateness)
        cpu0, wall0 = b.cpu_seconds(os.getpid()), time.monotonic()
        recs = []
        cl = Client(self.s.coord.port)
        for _ in range(n_seq):
            if self.left() <= 0:
                break
            c0 = self.s.counters()
            mark = self.s.hub.mark()
            rec = cl.post(check)
            c1 = self.s.counters()
            rec["relay_late_max"] = self.s.hub.late_since(mark)
            rec["delta"] = {k: c1[k] - c0[k] for k in c0}
            rec["mode"] = "seq"
            recs.append(rec)
        cl.close()
        seq_counters = _sum_deltas(recs)
        burst_recs, burst_delta = [], None
        conc_recs, conc_delta = [], None
        if conc > 1 and self.left() > 0:
            # The first burst after sequential use finds one warm
            # connection per checker and opens the others (the pool
            # follows the peak concurrency of the last minute): measured
            # apart as "burst", then the steady state as "conc".
            burst_recs, burst_delta = self._concurrent(check, conc, 1,
                                                       "burst")
            conc_recs, conc_delta = self._concurrent(check, conc,
                                                     per_thread, "conc")
        self.cpu += b.cpu_seconds(os.getpid()) - cpu0
        self.wall += time.monotonic() - wall0
        self.lateness.extend(self.s.hub.call(self.s.hub.lateness))
        for r in recs + burst_recs + conc_recs:
            r["scenario"] = scen
            r["floor"], r["decided"] = floor_s(r["codes"], check,
                                               straggler_ms, blackholed)
            r["blackholed_in"] = any(c in blackholed for c in r["codes"])
        self.records.extend(recs + burst_recs + conc_recs)
        for mode, rs, delta in (("seq", recs, seq_counters),
                                ("burst %d" % conc, burst_recs, burst_delta),
                                ("conc %d" % conc, conc_recs, conc_delta)):
            if rs:
                self.rows.append(_row(scen, check, mode, rs, delta))

    def _concurrent(self, check, conc, per_thread, mode):
        """conc clients posting per_thread requests each at once."""
        c0 = self.s.counters()
        out = [[] for _ in range(conc)]

        def worker(i):
            c = Client(self.s.coord.port)
            for _ in range(per_thread):
                r = c.post(check)
                r["mode"] = mode
                out[i].append(r)
            c.close()

        ths = [threading.Thread(target=worker, args=(i,))
               for i in range(conc)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(300)
        c1 = self.s.counters()
        recs = [r for o in out for r in o]
        return recs, {k: c1[k] - c0[k] for k in c0}

    def audit(self):
        """Per-call durations from the coordinator's audit lines, matched
        to our requests by trace_identifier."""
        by_trace = {r["trace"]: r for r in self.records}
        for p in self.s.procs_seen:
            try:
                with open(p, "rb") as f:
                    lines = f.readlines()
            except OSError:
                continue
            for line in lines:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("event") != "mpic_audit":
                    continue
                r = by_trace.get(o.get("trace_identifier"))
                if r is None:
                    continue
                atts = o.get("attempts") or []
                if not atts:
                    continue
                calls = atts[-1].get("perspectives") or []
                # A call cut as a straggler carries a not_awaited error
                # (and "answered" true): it is not an answer.
                r["calls"] = [(c.get("code"), c.get("duration_ms"),
                               c.get("answered") and not any(
                                   "not_awaited" in str(t)
                                   for t in c.get("error_types") or []),
                               c.get("error_types"))
                              for c in calls]
                r["coord_ms"] = o.get("duration_ms")


def _sum_deltas(recs):
    out = {}
    for r in recs:
        for k, v in r.get("delta", {}).items():
            out[k] = out.get(k, 0) + v
    return out


def _row(scen, check, mode, rs, delta):
    ok = [r for r in rs if r["status"] == 200]
    dts = [r["dt"] for r in ok]
    floors = [r["floor"] for r in ok if r["floor"] != float("inf")]
    excess = [r["dt"] - r["floor"] for r in ok
              if r["floor"] != float("inf")]
    n = len(rs)
    d = delta or {}
    return {
        "scenario": scen, "check": check, "mode": mode, "n": n,
        "valid": sum(1 for r in rs if r["valid"]),
        "errors": sum(1 for r in rs if r["status"] != 200),
        "p50": median(dts), "p99": pctl(dts, 0.99),
        "floor_p50": median(floors), "floor_p99": pctl(floors, 0.99),
        "excess_p50": median(excess), "excess_p99": pctl(excess, 0.99),
        "ratio_p50": (median(dts) / median(floors)
                      if floors and dts else None),
        "coord_conns": d.get("coord_conns", 0) / n,
        "coord_conns_bh": d.get("coord_conns_bh", 0) / n,
        "web_conns": d.get("web_conns", 0) / n,
        "dns_tcp_conns": d.get("dns_tcp_conns", 0) / n,
        "dns_queries": d.get("dns_queries", 0) / n,
        "dns_dropped": d.get("dns_dropped", 0),
        "tcp_rto": d.get("tcp_rto", 0),
        "not_awaited": sum(r["not_awaited"] for r in rs) / n,
        "bh_in": sum(1 for r in rs if r.get("blackholed_in")),
        "retried": sum(1 for r in rs if r["attempts"] > 1),
    }


def ms(x):
    if x is None:
        return "-"
    if x == float("inf"):
        return "inf"
    return "%.0f" % (x * 1000)


def attribution(records):
    """Sequential requests by what they met (from the relay counters of
    their own duration): excess over their floor, median and max."""
    out = []
    groups = {}
    for r in records:
        if r.get("mode") != "seq" or r["status"] != 200:
            continue
        d = r["delta"]
        causes = []
        if d["coord_conns"]:
            causes.append("new coord conn")
        if d["dns_dropped"]:
            causes.append("DNS datagram lost")
        if r["not_awaited"]:
            causes.append("straggler cut")
        if r["attempts"] > 1:
            causes.append("retry attempt")
        if d.get("dns_queries", 0) > len(r["codes"]) and not d["dns_dropped"]:
            causes.append("DNS resent w/o loss")
        if r.get("relay_late_max", 0) > 0.005:
            causes.append("relay late >5ms")
        key = (r["scenario"], r["check"], " + ".join(causes) or "clean")
        groups.setdefault(key, []).append(r["dt"] - r["floor"])
    for (scen, check, cause), ex in sorted(groups.items()):
        out.append((scen, check, cause, len(ex), median(ex), max(ex)))
    return out


def call_events(records, blackholed=(BLACKHOLED,)):
    """Calls of sequential requests that met an event on their own links
    (relay counters during the request): a new coordinator connection, a
    lost DNS datagram, more than one DNS query. Each with the call's excess
    over its floor and the request's excess over its floor."""
    out = []
    for r in records:
        if r.get("mode") != "seq" or not r.get("calls"):
            continue
        d = r["delta"]
        kind = "caa" if r["check"] == "caa" else "dcv"
        for code, dur, answered, _ in r["calls"]:
            if code not in RTT_MS:
                continue
            ev = []
            if d.get("cc:%s:%s" % (kind, code)) and not (
                    code in blackholed and r["scenario"].startswith("bh")):
                ev.append("new coord conn")
            if d.get("dd:" + code):
                ev.append("DNS lost x%d" % d["dd:" + code])
            if d.get("dq:" + code, 0) > 1:
                ev.append("%d DNS queries" % d["dq:" + code])
            bh = code in blackholed and r["scenario"].startswith("bh")
            if not answered and not bh:
                ev.append("cut (not awaited)")
            ex = (dur / 1e3 - call_floor_s(code, r["check"])
                  if dur is not None else None)
            if not ev and answered and ex is not None and ex > 0.025:
                ev.append("none seen (relay late %.0f)"
                          % (r.get("relay_late_max", 0) * 1e3))
            if not ev:
                continue
            out.append((r["scenario"], r["check"], code, " + ".join(ev), ex,
                        RTT_MS[code] / 1e3, r["dt"] - r["floor"]))
    return out


def call_excess(records):
    """Per perspective call (audit log): duration minus the call's own
    floor (1 + k) * RTT, by scenario and check, answered calls only."""
    agg = {}
    for r in records:
        for code, dur, answered, _ in r.get("calls") or []:
            if not answered or dur is None or code not in RTT_MS:
                continue
            ex = dur / 1e3 - call_floor_s(code, r["check"])
            agg.setdefault((r["scenario"], r["check"]), []).append(ex)
    return {k: (len(v), median(v), pctl(v, 0.99)) for k, v in agg.items()}


def coord_added(records):
    agg = {}
    for r in records:
        calls = [c[1] for c in r.get("calls") or []
                 if c[2] and c[1] is not None]
        if calls and r.get("coord_ms") is not None and not r["not_awaited"]:
            agg.setdefault((r["scenario"], r["check"]), []).append(
                (r["coord_ms"] - max(calls)) / 1e3)
    return {k: (median(v), max(v)) for k, v in agg.items()}


# ---------------------------------------------------------------- main


def report(args, stack, bench, t_total):
    out = []
    p = out.append
    p("# open-mpic-c multi-region simulation (bench/bench_regions.py), %s"
      % time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()))
    p("# %s, %d cores, commit %s; coordinator, nsd and web server in %s"
      % (" ".join(os.uname()[::2][:2]), os.cpu_count(), git_rev(), HOME))
    p("# perspective_count %d (quorum %d), remote_timeout_ms 10000; %s" % (
        COUNT, QUORUM, "; ".join(stack.coord_notes) or
        "compliance.min_perspective_count %d" % COUNT))
    imp = []
    if args.loss:
        imp.append("loss " + ",".join(args.loss))
    if args.jitter:
        imp.append("jitter(ms) " + ",".join(args.jitter))
    p("# links: RTT to %s (ms): %s; rtt scale %.2f; coordinator handshake "
      "%d RTT%s" % (HOME, ", ".join("%s %g" % (c, RTT_MS[c])
                                    for c, _, _, _ in REGIONS),
                    args.rtt_scale, args.coord_handshake_rtts,
                    ("; " + "; ".join(imp)) if imp else ""))
    p("")
    p("Latency in ms (client side). floor: when the links let the "
      "coordinator answer at the earliest (bench/README.md); excess = "
      "measured - floor per request. conns/req: new TCP connections per "
      "request seen by the relays (coord: coordinator->checker; bh: to the "
      "blackholed perspective; web: DCV checker->web server). dnsq/req: "
      "UDP queries resolvers->nsd per request. n/a = not awaited calls per "
      "request; bh-in: requests whose cohort held the blackholed "
      "perspective.")
    p("")
    hdr = ("%-14s %-12s %-6s %3s %5s %5s %5s %5s %5s %5s %5s %5s %5s %5s "
           "%5s %5s %5s %4s %4s %5s" % (
               "scenario", "check", "mode", "n", "valid", "p50", "p99",
               "floor", "ratio", "ex50", "ex99", "coord", "bh", "web",
               "dnsq", "drop", "rto", "n/a", "bhin", "retry"))
    p(hdr)
    p("-" * len(hdr))
    for r in bench.rows:
        p("%-14s %-12s %-6s %3d %5d %5s %5s %5s %5s %5s %5s %5.2f %5.2f "
          "%5.2f %5.2f %5d %5d %4.2f %4d %5d" % (
              r["scenario"], r["check"], r["mode"], r["n"], r["valid"],
              ms(r["p50"]), ms(r["p99"]), ms(r["floor_p50"]),
              "%.2f" % r["ratio_p50"] if r["ratio_p50"] else "-",
              ms(r["excess_p50"]), ms(r["excess_p99"]), r["coord_conns"],
              r["coord_conns_bh"], r["web_conns"], r["dns_queries"],
              r["dns_dropped"], r["tcp_rto"], r["not_awaited"], r["bh_in"],
              r["retried"]))
    p("DNS over TCP connections resolvers->nsd, all runs: %d" % sum(
        r["dns_tcp_conns"] * r["n"] for r in bench.rows))
    p("")
    p("Per perspective call (coordinator audit log, 1 ms resolution): "
      "duration - (1 + k) * RTT of that perspective, answered calls; and the "
      "coordinator's own time (request duration - slowest call, requests "
      "without cut calls).")
    ce = call_excess(bench.records)
    ca = coord_added(bench.records)
    p("%-14s %-12s %6s %8s %8s %10s %10s" % ("scenario", "check", "calls",
                                            "ex50", "ex99", "coord50",
                                            "coordmax"))
    seen = []
    for r in bench.rows:
        k = (r["scenario"], r["check"])
        if k in seen:
            continue
        seen.append(k)
        n, e50, e99 = ce.get(k, (0, None, None))
        a50, amax = ca.get(k, (None, None))
        p("%-14s %-12s %6d %8s %8s %10s %10s" % (k[0], k[1], n, ms(e50),
                                                 ms(e99), ms(a50), ms(amax)))
    p("")
    p("Attribution (sequential requests, by what the relays saw during "
      "each): count, excess over floor median / max (ms)")
    for scen, check, cause, n, e50, emax in attribution(bench.records):
        p("  %-14s %-12s %-40s %3d %6s %6s" % (scen, check, cause, n,
                                               ms(e50), ms(emax)))
    ev = call_events(bench.records)
    p("")
    p("Calls that met an event on their own links (sequential requests): "
      "call excess over (1 + k) * RTT, that perspective's RTT, and the "
      "request's excess over its floor (ms)")
    if not ev:
        p("  none")
    for scen, check, code, what, ex, rtt, rex in ev:
        p("  %-14s %-12s %-15s %-28s call %6s  rtt %4s  request %5s" % (
            scen, check, code, what, ms(ex), ms(rtt), ms(rex)))
    late = bench.lateness
    p("")
    p("Relay self-check (measured blocks only): %d deliveries, lateness "
      "p50 %.2f ms, p99 %.2f ms, max %.2f ms (how long after its due time "
      "the Python relay actually sent); the relay and client process used "
      "%.1f%% of one core over %.0f s." % (
          len(late), (median(late) or 0) * 1e3,
          (pctl(late, 0.99) or 0) * 1e3, (max(late) if late else 0) * 1e3,
          100.0 * bench.cpu / bench.wall if bench.wall else 0, bench.wall))
    try:
        p("Load average at the end: %s" % " ".join(
            "%.2f" % x for x in os.getloadavg()))
    except OSError:
        pass
    if bench.skipped:
        p("Skipped for the time budget: %s" % ", ".join(bench.skipped))
    bad = [r for r in bench.records if not r["valid"]]
    if bad:
        p("Not valid: %d requests; first: %s" % (
            len(bad), {k: bad[0].get(k) for k in ("scenario", "check",
                                                   "status", "error",
                                                   "codes", "calls")}))
    p("# total %.0f s" % t_total)
    return "\n".join(out) + "\n"


def _finite(o):
    """o for regions.json: infinite floats as None (strict JSON), floats
    rounded to 0.1 ms, zero counters of the per-request deltas left out."""
    if isinstance(o, float):
        if o in (float("inf"), float("-inf")):
            return None
        return round(o, 4)
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()
                if not (k[:3] in ("cc:", "dq:", "dd:") and not v)}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20,
                    help="sequential requests per check (default 20)")
    ap.add_argument("--conc", type=int, default=4,
                    help="concurrent clients (default 4)")
    ap.add_argument("--per-client", type=int, default=4,
                    help="requests per concurrent client (default 4)")
    ap.add_argument("--n-blackhole", type=int, default=8,
                    help="sequential requests per check, blackhole runs")
    ap.add_argument("--n-loss", type=int, default=24,
                    help="sequential requests per check, DNS loss run")
    ap.add_argument("--dns-loss", type=float, default=0.01,
                    help="loss on the DNS links in the loss run (0.01)")
    ap.add_argument("--short-straggler", type=int, default=300,
                    help="straggler_timeout_ms of the second blackhole run")
    ap.add_argument("--loss", action="append", default=[],
                    help="CLASS[:REGION]=P extra loss, all runs; CLASS coord,"
                         " dns, web or all (repeatable)")
    ap.add_argument("--jitter", action="append", default=[],
                    help="CLASS[:REGION]=MS jitter, all runs (repeatable)")
    ap.add_argument("--rtt-scale", type=float, default=1.0,
                    help="multiply every RTT (default 1)")
    ap.add_argument("--coord-handshake-rtts", type=int, default=1,
                    help="RTTs a new coordinator->checker connection costs "
                         "before its first byte (1: TCP; 2: TCP + TLS 1.3)")
    ap.add_argument("--scenarios", default="base,dnsloss,blackhole,"
                    "blackhole-short,idle",
                    help="comma separated subset")
    ap.add_argument("--idle", type=int, default=32,
                    help="seconds without requests in the idle run (32: "
                         "beyond the checkers' 30 s keep-alive timeout)")
    ap.add_argument("--budget", type=float, default=270,
                    help="seconds of measurement before skipping the rest")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--quick", action="store_true",
                    help="-n 8, 2x3 concurrent, 4 per blackhole run, 10 "
                         "with DNS loss")
    ap.add_argument("--out", default=os.path.join(b.RESULTS, "regions.txt"),
                    help="where to write the table ('' for nowhere)")
    a = ap.parse_args()
    if a.quick:  # smaller counts, where not given explicitly
        for attr, quick in (("n", 8), ("conc", 2), ("per_client", 3),
                            ("n_blackhole", 4), ("n_loss", 10)):
            if getattr(a, attr) == ap.get_default(attr):
                setattr(a, attr, quick)
    return a


def main():
    args = parse_args()
    # The relays and the client share this interpreter: hand the GIL over
    # quickly so neither waits the default 5 ms for the other.
    sys.setswitchinterval(0.0005)
    t0 = time.monotonic()
    for c in RTT_MS:
        RTT_MS[c] *= args.rtt_scale

    def on_term(signum, frame):
        raise SystemExit("terminated by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the run even when started in the background of a script
    # (where SIGINT arrives ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for tool in ("nsd", "unbound"):
        if not b.have(tool):
            log("%s missing" % tool)
            return 1
    if not os.path.exists(h.binary("mpic-coordinator")):
        log("no binaries in %s (set MPIC_BUILD_DIR)" % h.build_dir())
        return 1
    stack = RegionStack(args)
    try:
        log("starting nsd, 6 unbound, nginx, 12 checkers and relays in %s"
            % stack.workdir)
        stack.start()
        bench = Bench(args, stack)
        scen = [s.strip() for s in args.scenarios.split(",") if s.strip()]

        def coord(straggler_ms):
            d = stack.start_coordinator(straggler_ms)
            stack.procs_seen.append(d.log_path)
            for n in stack.coord_notes:
                log(n)

        coord(2000)
        stg = 2000 if stack.straggler_supported else 0
        if "base" in scen:
            stack.apply_impairments({})
            for c in CHECKS:
                bench.block("base", c, args.n, args.conc, args.per_client,
                            stg)
        if "dnsloss" in scen:
            stack.apply_impairments({"dns": args.dns_loss})
            name = "dns-loss-%g%%" % (args.dns_loss * 100)
            for c in CHECKS:
                bench.block(name, c, args.n_loss, 0, 0, stg)
        if "blackhole" in scen:
            stack.apply_impairments({}, blackhole=(BLACKHOLED,))
            for c in CHECKS:
                bench.block("bh-s%d" % stg, c, args.n_blackhole, 0, 0, stg,
                            blackholed=(BLACKHOLED,))
        if "blackhole-short" in scen and stack.straggler_supported:
            stack.apply_impairments({}, blackhole=(BLACKHOLED,))
            coord(args.short_straggler)
            for c in CHECKS:
                bench.block("bh-s%d" % args.short_straggler, c,
                            args.n_blackhole, 0, 0, args.short_straggler,
                            blackholed=(BLACKHOLED,))
        if "idle" in scen and bench.left() > args.idle + 10:
            # Every keep-alive connection idle longer than the checkers'
            # idle timeout (30 s): what the next request pays.
            stack.apply_impairments({})
            for c in ("caa", "acme-dns-01"):
                bench.warm(c)
            log("idle: %d s without requests" % args.idle)
            time.sleep(args.idle)
            cur = args.short_straggler if "blackhole-short" in scen and \
                stack.straggler_supported else stg
            for c in ("caa", "acme-dns-01"):
                bench.block("idle-%ds" % args.idle, c, 1, 0, 0, cur,
                            warm=False)
        elif "idle" in scen:
            bench.skipped.append("idle")
        stack.apply_impairments({})
        bench.audit()
        text = report(args, stack, bench, time.monotonic() - t0)
        sys.stdout.write(text)
        sys.stdout.flush()
        if args.out:
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
            with open(args.out, "w") as f:
                f.write(text)
            with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
                # One row or request per line.
                for i, (key, items) in enumerate((("rows", bench.rows),
                                                  ("records",
                                                   bench.records))):
                    f.write(("{" if i == 0 else ",\n") + '"%s": [\n' % key)
                    f.write(",\n".join(json.dumps(_finite(x), sort_keys=True)
                                        for x in items))
                    f.write("\n]")
                f.write("}\n")
        return 0
    finally:
        stack.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; every process started was stopped")
        sys.exit(130)
