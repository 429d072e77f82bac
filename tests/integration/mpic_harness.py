"""Integration test harness for open-mpic-c.

Starts real nsd (authoritative for tests/integration/zones), unbound
(recursive, stubbed to nsd), a small fault DNS server, and our daemons on
127.0.0.1, and offers a minimal test runner. Python 3 standard library only.

Binaries are found in $MPIC_BUILD_DIR/bin (default: <repo>/build/bin).
Every port we bind is on 127.0.0.1 in 18000-18999 unless the OS picks it.
"""

import atexit
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import openapi_check

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
ZONES_DIR = os.path.join(HERE, "zones")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "reference-wire")
LOOPBACK = "127.0.0.1"
PORT_LO, PORT_HI = 18000, 18999
# Daemons get this long to exit after SIGTERM before we kill them.
STOP_TIMEOUT = 10.0
START_TIMEOUT = 15.0

# Test zones served by nsd: file name minus ".zone" is the origin.
ZONES = sorted(f[:-5] for f in os.listdir(ZONES_DIR) if f.endswith(".zone"))


def build_dir():
    d = os.environ.get("MPIC_BUILD_DIR") or os.path.join(REPO, "build")
    return os.path.abspath(d)


def binary(name):
    return os.path.join(build_dir(), "bin", name)


def load_fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------- ports

_used_ports = set()


def _port_is_free(port, udp_too):
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp_too else [])
    socks = []
    try:
        for kind in kinds:
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port(udp_too=True):
    """A port in our range free for TCP (and UDP) on 127.0.0.1 right now."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(2000):
        port = rng.randint(PORT_LO, PORT_HI)
        if port in _used_ports:
            continue
        if _port_is_free(port, udp_too):
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port in %d-%d" % (PORT_LO, PORT_HI))


def port_free(addr, port):
    """True if addr:port (TCP) can be bound right now, e.g. 127.0.0.40:80
    for a target server the Baseline Requirements pin to a port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def serve_http(addr, handler):
    """A threading HTTP server for handler (a BaseHTTPRequestHandler class)
    on addr (host, port), serving from a daemon thread until its
    shutdown(); returns the server."""
    import http.server

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(addr, handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def serve_udp(addr, answer):
    """A threading UDP server on addr (host, port) that sends back
    answer(datagram) unless it is None, from a daemon thread until its
    shutdown(); returns the server."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            reply = answer(data)
            if reply:
                sock.sendto(reply, self.client_address)

    class Server(socketserver.ThreadingUDPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(addr, Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def wait_tcp_addr(addr, port, timeout=START_TIMEOUT):
    """Waits until something accepts TCP connections on addr:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %s:%d" % (addr, port))


def wait_tcp(port, timeout=START_TIMEOUT, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening on %d"
                               % (proc.returncode, port))
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d after %.0fs" % (port, timeout))


# ---------------------------------------------------------------- DNS bits

TYPE_A, TYPE_NS, TYPE_SOA, TYPE_TXT, TYPE_CAA = 1, 2, 6, 16, 257
RCODE_NOERROR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED = 0, 2, 3, 5
# RCODEs that are neither an answer nor SERVFAIL/REFUSED (RFC 1035, 2136).
OTHER_RCODES = {"formerr": 1, "notimp": 4, "yxdomain": 6, "notauth": 9}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def make_query(name, qtype, qid=None):
    qid = random.randint(0, 0xFFFF) if qid is None else qid
    hdr = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    return hdr + encode_name(name) + struct.pack("!HH", qtype, 1)


def parse_question(msg):
    """(id, flags, qname lower-case without trailing dot, qtype, end)."""
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd < 1:
        raise ValueError("no question")
    pos, labels = 12, []
    while True:
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compression in question")
        labels.append(msg[pos:pos + n].decode("ascii", "replace").lower())
        pos += n
    qtype, _ = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, pos + 4


def dns_query(port, name, qtype=TYPE_SOA, timeout=1.0):
    """Send one UDP query to 127.0.0.1:port; returns (rcode, ancount, tc)."""
    q = make_query(name, qtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (LOOPBACK, port))
        data, _ = s.recvfrom(65535)
    flags, = struct.unpack("!H", data[2:4])
    ancount, = struct.unpack("!H", data[6:8])
    return flags & 0xF, ancount, bool(flags & 0x0200)


def wait_dns(port, name, timeout=START_TIMEOUT, proc=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("DNS server exited with %s" % proc.returncode)
        try:
            rcode, _, _ = dns_query(port, name, TYPE_SOA, timeout=0.5)
            if rcode == RCODE_NOERROR:
                return
            last = "rcode %d" % rcode
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError("DNS on %d not answering %s: %s" % (port, name, last))


# ---------------------------------------------------------------- processes


class Proc:
    """A child process with stderr/stdout captured in a log file."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     cwd=workdir)
        self.exit_code = None

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL. Returns the exit
        code (negative signal number if killed)."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_code = "killed after %.0fs" % STOP_TIMEOUT
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
        self.log.close()
        return self.exit_code

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def clean_env(extra=None):
    """The environment for our daemons: no MPIC_* from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPIC_")}
    # ASan must not hide leaks; keep runs quiet and deterministic.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------- fault DNS


class FaultDNS:
    """A tiny DNS server (UDP and TCP) for failures real servers will not
    produce on demand. The mode comes from the first label of the query
    name if it names one, else from the server's default mode, so
    "ok.servfail.test" answers but its parent "servfail.test" fails:

      blackhole  never answer
      servfail   RCODE SERVFAIL
      refused    RCODE REFUSED
      garbage    random bytes
      truncated  TC bit over UDP, and TCP closes without answering
      tcphang    TC bit over UDP, and TCP reads the query and never answers
      tcpartial  TC bit over UDP with a part of the RRset (0 issue
                 "ca.example"), and TCP closes without answering
      tcfull     the same over UDP; TCP answers the whole RRset, which adds
                 128 tbs "x" (a critical unknown tag: deny)
      otherq     NOERROR, no records, but for another question (a reply a
                 client must not take as the answer to its query)
      nodata     NOERROR, no records (the default default)
      nxdomain   NXDOMAIN
      permit     one CAA record: 0 issue "ca.example"
      deny       one CAA record: 0 issue "ca.invalid"
      formerr, notimp, yxdomain, notauth
                 that RCODE (1, 4, 6, 9), no records
      flaky      SERVFAIL for the first query of each name and type, then
                 as nodata
    """

    MODES = ("blackhole", "servfail", "refused", "garbage", "truncated",
             "tcphang", "tcpartial", "tcfull", "otherq", "nodata", "nxdomain", "permit", "deny",
             "flaky") + tuple(OTHER_RCODES)

    def __init__(self, default_mode="nodata", port=None):
        self.default_mode = default_mode
        self.port = port or free_port()
        self.queries = []
        self._seen = set()
        self._lock = threading.Lock()
        outer = self

        class UDP(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                reply = outer._answer(data, tcp=False)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class TCP(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(5)
                try:
                    while True:
                        hdr = self._read(2)
                        if hdr is None:
                            return
                        n, = struct.unpack("!H", hdr)
                        data = self._read(n)
                        if data is None:
                            return
                        reply = outer._answer(data, tcp=True)
                        if reply is None:
                            # blackhole: hold the connection open silently
                            # until the client gives up.
                            self._read(1)
                            return
                        if reply == b"":
                            return
                        self.request.sendall(
                            struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return

            def _read(self, n):
                buf = b""
                while len(buf) < n:
                    chunk = self.request.recv(n - len(buf))
                    if not chunk:
                        return None
                    buf += chunk
                return buf

        class UDPServer(socketserver.ThreadingUDPServer):
            daemon_threads = True
            allow_reuse_address = True

        class TCPServer(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.udp = UDPServer((LOOPBACK, self.port), UDP)
        self.tcp = TCPServer((LOOPBACK, self.port), TCP)
        for srv in (self.udp, self.tcp):
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def mode_for(self, qname):
        first = qname.split(".")[0]
        return first if first in self.MODES else self.default_mode

    def _answer(self, data, tcp):
        try:
            qid, flags, qname, qtype, end = parse_question(data)
        except (ValueError, IndexError, struct.error):
            return None
        mode = self.mode_for(qname)
        with self._lock:
            self.queries.append((qname, qtype, "tcp" if tcp else "udp"))
            first = (qname, qtype) not in self._seen
            self._seen.add((qname, qtype))
        question = data[12:end]
        rd = flags & 0x0100

        def reply(rcode, tc=0, aa=0x0400, answers=b"", ancount=0):
            f = 0x8000 | aa | rd | 0x0080 | tc | rcode
            return (struct.pack("!HHHHHH", qid, f, 1, ancount, 0, 0) +
                    question + answers)

        if mode == "flaky":
            mode = "servfail" if first else "nodata"
        if mode == "blackhole":
            return None
        if mode == "servfail":
            return reply(RCODE_SERVFAIL, aa=0)
        if mode == "refused":
            return reply(RCODE_REFUSED, aa=0)
        if mode == "garbage":
            return bytes([qid >> 8, qid & 0xFF]) + os.urandom(29)
        if mode == "truncated":
            return b"" if tcp else reply(RCODE_NOERROR, tc=0x0200)
        if mode == "tcphang":
            return None if tcp else reply(RCODE_NOERROR, tc=0x0200)
        if mode in ("tcpartial", "tcfull") and qtype == TYPE_CAA:
            def caa_rr(rdata):
                return struct.pack("!HHHIH", 0xC00C, TYPE_CAA, 1, 60,
                                   len(rdata)) + rdata
            permit = caa_rr(b"\x00\x05issue" + b"ca.example")
            if not tcp:
                return reply(RCODE_NOERROR, tc=0x0200, answers=permit,
                             ancount=1)
            if mode == "tcpartial":
                return b""
            return reply(RCODE_NOERROR, answers=permit +
                         caa_rr(b"\x80\x03tbs" + b"x"), ancount=2)
        if mode == "otherq":
            question = encode_name("other.invalid") + data[end - 4:end]
        if mode == "nxdomain":
            return reply(RCODE_NXDOMAIN)
        if mode in OTHER_RCODES:
            return reply(OTHER_RCODES[mode], aa=0)
        if mode in ("permit", "deny") and qtype == TYPE_CAA:
            rdata = b"\x00\x05issue" + (b"ca.example" if mode == "permit"
                                        else b"ca.invalid")
            rr = struct.pack("!HHHIH", 0xC00C, TYPE_CAA, 1, 60,
                             len(rdata)) + rdata
            return reply(RCODE_NOERROR, answers=rr, ancount=1)
        return reply(RCODE_NOERROR)

    def close(self):
        for srv in (self.udp, self.tcp):
            srv.shutdown()
            srv.server_close()


# ---------------------------------------------------------------- DNS stack


class DNSStack:
    """nsd for the test zones, unbound recursing through stubs, and a fault
    server. Names:
      *.caa.test, *.other.test, *.apex.test, test.   real zones via nsd
      *.timeout.test    stub to a port where nothing answers (UDP) or a
                        blackhole (TCP) -> unbound times out / SERVFAILs
      *.fault.test      stub to the fault server (modes by label)
      *.refused.test    unbound answers REFUSED itself
    """

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self.fault = FaultDNS()
        self.dead_port = free_port()
        self.nsd_port = free_port()
        self.unbound_port = free_port()
        try:
            self._start_nsd()
            self._start_unbound()
        except Exception:
            self.close()
            raise

    def _start_nsd(self):
        d = os.path.join(self.workdir, "nsd")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "nsd.conf")
        lines = [
            "server:",
            "  ip-address: %s@%d" % (LOOPBACK, self.nsd_port),
            "  port: %d" % self.nsd_port,
            "  do-ip6: no",
            "  server-count: 1",
            '  zonesdir: "%s"' % ZONES_DIR,
            '  zonelistfile: "%s/zone.list"' % d,
            '  xfrdfile: "%s/xfrd.state"' % d,
            '  xfrdir: "%s"' % d,
            '  pidfile: "%s/nsd.pid"' % d,
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            "  verbosity: 1",
            "  hide-version: yes",
            "remote-control:",
            "  control-enable: no",
        ]
        for z in ZONES:
            lines += ["zone:", "  name: %s." % z,
                      '  zonefile: "%s/%s.zone"' % (ZONES_DIR, z)]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = Proc("nsd", ["nsd", "-d", "-c", conf], self.workdir)
        self.procs.append(p)
        for z in ZONES:
            wait_dns(self.nsd_port, z + ".", proc=p.proc)
        self.nsd = p

    def _start_unbound(self):
        d = os.path.join(self.workdir, "unbound")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "unbound.conf")
        lines = [
            "server:",
            "  interface: %s@%d" % (LOOPBACK, self.unbound_port),
            "  port: %d" % self.unbound_port,
            "  do-ip6: no",
            "  interface-automatic: no",
            "  so-reuseport: no",
            "  num-threads: 1",
            '  username: ""',
            '  chroot: ""',
            '  directory: "%s"' % d,
            '  pidfile: "%s/unbound.pid"' % d,
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 1",
            "  log-servfail: yes",
            '  module-config: "iterator"',
            "  do-not-query-localhost: no",
            "  qname-minimisation: no",
            "  access-control: 127.0.0.0/8 allow",
            # Keep failures quick and never remembered across test cases.
            "  infra-host-ttl: 1",
            "  infra-keep-probing: yes",
            "  infra-cache-max-rtt: 1000",
            "  cache-max-negative-ttl: 1",
            "  serve-expired: no",
            # Never leave loopback: everything outside test. is refused;
            # test. itself resolves through the stubs below.
            '  local-zone: "." refuse',
            '  local-zone: "test." transparent',
            '  local-zone: "refused.test." refuse',
        ]
        stubs = [(z, self.nsd_port) for z in ZONES]
        stubs += [("timeout.test", self.dead_port),
                  ("fault.test", self.fault.port)]
        for name, port in stubs:
            lines += ["stub-zone:", '  name: "%s."' % name,
                      "  stub-addr: %s@%d" % (LOOPBACK, port)]
        lines += ["remote-control:", "  control-enable: no"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = Proc("unbound", ["unbound", "-d", "-c", conf], self.workdir)
        self.procs.append(p)
        wait_dns(self.unbound_port, "caa.test.", proc=p.proc)
        self.unbound = p

    @property
    def resolver(self):
        return "%s:%d" % (LOOPBACK, self.unbound_port)

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        self.fault.close()


# ---------------------------------------------------------------- daemons


def _yaml_str(s):
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


class Daemon(Proc):
    """One of our daemons. After stop(), exit_code must be 0."""

    def __init__(self, name, binary_name, config_text, workdir, port,
                 env_extra=None, args=()):
        """config_text None: no --config, only environment and args."""
        self.port = port
        argv = [binary(binary_name)]
        if config_text is not None:
            self.config_path = os.path.join(workdir, name + ".yaml")
            with open(self.config_path, "w") as f:
                f.write(config_text)
            argv += ["--config", self.config_path]
        argv += list(args)
        super().__init__(name, argv, workdir, env=clean_env(env_extra))
        self.base = "http://%s:%d" % (LOOPBACK, port)

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError("%s exited with %s during start-up:\n%s" % (
                    self.name, self.proc.returncode, self.read_log()))
            try:
                status, body = http_request(self.base + "/healthz", timeout=1)
                if status == 200:
                    return
                last = "status %d" % status
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise RuntimeError("%s not healthy after %.0fs: %s" % (
            self.name, timeout, last))


def checker_config(code, port, resolvers, timeout_ms=500, tries=2,
                   caa_domains=("ca.example",), extra=""):
    res = ", ".join(_yaml_str(r) for r in resolvers)
    doms = ", ".join(_yaml_str(d) for d in caa_domains)
    return ("perspective_code: %s\nlisten: %s\nlog_level: debug\n"
            "dns:\n  resolvers: [%s]\n  timeout_ms: %d\n  tries: %d\n"
            "caa:\n  default_caa_domains: [%s]\n%s") % (
                _yaml_str(code), _yaml_str("%s:%d" % (LOOPBACK, port)), res,
                timeout_ms, tries, doms, extra)


# Six perspectives over three RIRs, two each.
PERSPECTIVES = [
    ("us-east-1", "US East (N. Virginia)", "arin"),
    ("us-west-2", "US West (Oregon)", "arin"),
    ("eu-west-1", "Europe (Ireland)", "RIPE NCC"),
    ("eu-central-1", "Europe (Frankfurt)", "ripe ncc"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)", "apnic"),
    ("ap-southeast-2", "Asia Pacific (Sydney)", "APNIC"),
]
RIR_OF = {c: r.lower() for c, _, r in PERSPECTIVES}


def available_perspectives_yaml():
    out = ["available_regions:"]
    for code, name, rir in PERSPECTIVES:
        out += ["  - code: %s" % code, "    name: %s" % _yaml_str(name),
                "    rir: %s" % _yaml_str(rir), "    too_close_codes: []"]
    # Extra entries without checkers are fine (INTERFACE.md).
    out += ["  - code: sa-east-1", '    name: "South America (Sao Paulo)"',
            "    rir: lacnic", "    too_close_codes: []"]
    return "\n".join(out) + "\n"


def compliance_yaml(compliance=None):
    """The compliance: section of a test coordinator (a list of lines).
    None: min_perspective_count 2, for suites that test small cohorts;
    otherwise a dict of its keys."""
    if compliance is None:
        compliance = {"min_perspective_count": 2}
    return ["compliance:"] + ["  %s: %s" % (k, _yaml_str(str(v)))
                              for k, v in compliance.items()]


def coordinator_config(port, caa_urls, default_count=3, api_keys=(),
                       max_request_bytes=65536, remote_timeout_ms=4000,
                       hash_secret="integration-secret", extra="",
                       compliance=None):
    """caa_urls: list of (code, url) in order. compliance: the lines of the
    compliance: section (default: a minimum of 2 perspectives, so the
    suites keep testing small cohorts whatever the BR calendar says)."""
    lines = ["listen: %s" % _yaml_str("%s:%d" % (LOOPBACK, port)),
             "log_level: debug",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url in caa_urls:
        lines += ["  - code: %s" % code, "    caa_url: %s" % _yaml_str(url)]
    lines += ["default_perspective_count: %d" % default_count,
              "absolute_max_attempts: 3",
              "hash_secret: %s" % _yaml_str(hash_secret),
              "remote_timeout_ms: %d" % remote_timeout_ms,
              "api_keys: [%s]" % ", ".join(_yaml_str(k) for k in api_keys),
              "max_request_bytes: %d" % max_request_bytes]
    lines += compliance_yaml(compliance)
    return "\n".join(lines) + "\n" + extra


_clusters = []


class Cluster:
    """Owns a work directory, the DNS stack and every daemon started through
    it. close() stops everything and reports daemons that did not exit 0
    on SIGTERM."""

    def __init__(self, dns=True):
        self.workdir = tempfile.mkdtemp(prefix="mpic-integ-")
        self.daemons = []
        self.dns = None
        self.bad_exits = []
        self._closed = False
        _clusters.append(self)
        atexit.register(self.close, True)
        if dns:
            self.dns = DNSStack(self.workdir)

    def start_checker(self, code, resolvers=None, name=None, **kw):
        port = free_port(udp_too=False)
        resolvers = resolvers or [self.dns.resolver]
        name = name or "caa-%s-%d" % (code, port)
        d = Daemon(name, "mpic-caa-checker",
                   checker_config(code, port, resolvers, **kw),
                   self.workdir, port)
        self.daemons.append(d)
        d.wait_healthy()
        return d

    def start_checker_env(self, env, name):
        """A checker configured only by environment and --listen."""
        port = free_port(udp_too=False)
        d = Daemon(name, "mpic-caa-checker", None, self.workdir, port,
                   env_extra=env,
                   args=["--listen", "%s:%d" % (LOOPBACK, port)])
        self.daemons.append(d)
        d.wait_healthy()
        return d

    def start_coordinator(self, caa_urls, name=None, env_extra=None, **kw):
        port = free_port(udp_too=False)
        name = name or "coordinator-%d" % port
        sub = os.path.join(self.workdir, name)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(available_perspectives_yaml())
        d = Daemon(name, "mpic-coordinator",
                   coordinator_config(port, caa_urls, **kw), sub, port,
                   env_extra=env_extra)
        self.daemons.append(d)
        d.wait_healthy()
        return d

    def stop_daemon(self, d):
        code = d.stop()
        if code != 0:
            self.bad_exits.append((d.name, code))
        return code

    def dump_logs(self, out=sys.stdout):
        procs = list(self.daemons)
        if self.dns:
            procs += self.dns.procs
        for p in procs:
            out.write("----- %s (%s) -----\n" % (p.name, p.log_path))
            text = p.read_log()
            out.write(text[-20000:] + ("\n" if text else ""))

    def close(self, keep=False):
        """Stops everything; removes the work directory unless keep, a bad
        exit, or MPIC_KEEP_WORKDIR says otherwise."""
        if not self._closed:
            self._closed = True
            for d in reversed(self.daemons):
                if d.exit_code is None:
                    self.stop_daemon(d)
            if self.dns:
                self.dns.close()
        if keep or self.bad_exits or os.environ.get("MPIC_KEEP_WORKDIR"):
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------- fake checker


def misleading_pass(kind):
    """A body that says "passed" in a way a coordinator must not count."""
    rest = ('"check_completed": true, "timestamp_ns": %d, "errors": null, '
            '"details": {"caa_record_present": false, "found_at": null, '
            '"records_seen": null}' % time.time_ns())
    bodies = {
        "as-dcv": '{"check_type": "dcv", "check_passed": true, ' + rest + "}",
        "dupkey": ('{"check_type": "caa", "check_passed": false, '
                   '"check_passed": true, ' + rest + "}"),
        "string": '{"check_type": "caa", "check_passed": "true", ' + rest + "}",
        "number": '{"check_type": "caa", "check_passed": 1, ' + rest + "}",
        # Well-formed, but a pass in a shape no checker gives: not
        # completed, or with errors while no lookup failure was allowed.
        "incomplete": ('{"check_type": "caa", "check_passed": true, ' +
                       rest.replace('"check_completed": true',
                                    '"check_completed": false') + "}"),
        "with-errors": ('{"check_type": "caa", "check_passed": true, ' +
                        rest.replace('"errors": null', '"errors": [{'
                                     '"error_type": "mpic_error:caa_checker:'
                                     'lookup", "error_message": "timeout"}]')
                        + "}"),
    }
    return bodies.get(kind, "{}").encode()


class FakeChecker:
    """An HTTP server standing in for a broken perspective. The path picks
    the behaviour:
      /hang       read the request, never answer (until the client leaves)
      /garbage    200 with a body that is not JSON
      /error500   500 with {"error": "..."} (no check response)
      /wrongshape 200 with JSON that is not a check response
      /passed500  500 with a complete, passing CAA check response (the
                  reference checkers answer errors this way: it still counts)
      /passed-as-dcv, /passed-dupkey, /passed-string, /passed-number
                  200 with a body that claims a pass but is no CAA check
                  response: check_type "dcv"; "check_passed" false then true
                  (a duplicate key); "check_passed": "true"; "check_passed": 1
      /passed-incomplete, /passed-with-errors
                  200 with a CAA check response that passes with
                  check_completed false, or with a lookup error listed
      /dcv-pass-as-METHOD
                  200 with a passing DCV check response (the reference's
                  acme-http-01 pass with our resolved_ip) whose details
                  name METHOD
    """

    def __init__(self):
        import http.server

        outer = self
        self.port = free_port(udp_too=False)
        self._stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, body, ctype="application/json"):
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                self.rfile.read(n)
                # The first path segment picks the behaviour; the rest may
                # tell perspectives apart (one URL each).
                path = "/" + self.path.lstrip("/").split("/")[0]
                if path == "/hang":
                    outer._stop.wait(60)
                    self.close_connection = True
                    return
                if path == "/garbage":
                    return self._send(200, b"<html>oops</html>", "text/html")
                if path == "/error500":
                    return self._send(500, b'{"error": "boom"}')
                if path == "/wrongshape":
                    return self._send(200, b'{"check_passed": "yes"}')
                if path == "/passed500":
                    body = {"check_type": "caa", "check_passed": True,
                            "check_completed": True,
                            "timestamp_ns": time.time_ns(), "errors": None,
                            "details": {"caa_record_present": False,
                                        "found_at": None,
                                        "records_seen": None}}
                    return self._send(500, json.dumps(body).encode())
                if path.startswith("/passed-"):
                    return self._send(200, misleading_pass(path[8:]))
                if path.startswith("/dcv-pass-as-"):
                    body = load_fixture("dcv-response-http-passed.json")
                    body["details"]["validation_method"] = path[13:]
                    body["details"]["resolved_ip"] = LOOPBACK
                    body["timestamp_ns"] = time.time_ns()
                    return self._send(200, json.dumps(body).encode())
                return self._send(404, b'{"error": "not found"}')

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server((LOOPBACK, self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://%s:%d%s" % (LOOPBACK, self.port, path)

    def close(self):
        self._stop.set()
        self.srv.shutdown()
        self.srv.server_close()


# ---------------------------------------------------------------- HTTP


def http_request(url, body=None, method=None, headers=None, timeout=20):
    """Returns (status, parsed JSON or raw bytes). Never raises on HTTP
    error statuses."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body).encode("utf-8")
        hdrs.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    # Every /mpic reply must match coordinator/openapi.json.
    path = urllib.parse.urlsplit(url).path
    if req.get_method() == "POST" and path.endswith("/mpic"):
        openapi_check.check_mpic_reply(status, raw, "POST " + path)
    try:
        return status, json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return status, raw


def post(url, body, **kw):
    return http_request(url, body=body, method="POST", **kw)


# ---------------------------------------------------------------- nginx


def nginx_conf_text(w, include, worker_connections=128, master=False):
    """An nginx.conf for `nginx -c CONF -p W` run in the foreground: its
    pid, logs and temporary files below W, its http block the file INCLUDE
    (a site). MASTER: a master process with one worker (so that SIGHUP
    reloads), else one process."""
    procs = ("master_process on;\nworker_processes 1;\n" if master
             else "master_process off;\n")
    return ("daemon off;\n" + procs + "pid %(w)s/nginx.pid;\n"
            "error_log %(w)s/error.log info;\n"
            "events { worker_connections %(wc)d; }\nhttp {\n"
            "  access_log %(w)s/access.log;\n"
            "  client_body_temp_path %(w)s/cb;\n"
            "  proxy_temp_path %(w)s/px;\n"
            "  fastcgi_temp_path %(w)s/fc;\n"
            "  uwsgi_temp_path %(w)s/uw;\n"
            "  scgi_temp_path %(w)s/sc;\n"
            "  include %(inc)s;\n}\n"
            % {"w": w, "wc": worker_connections, "inc": include})


def nginx_test(conf, prefix):
    """(passed, output) of `nginx -t -c CONF -p PREFIX`."""
    t = subprocess.run(["nginx", "-t", "-c", conf, "-p", prefix],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return t.returncode == 0, t.stdout.decode(errors="replace")


# ---------------------------------------------------------------- runner


class Runner:
    """Collects test functions; each runs on its own; prints
    "N passed, N failed" and gives the exit status."""

    def __init__(self):
        self.cases = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def run(self, cluster_factory):
        only = set(a for a in sys.argv[1:] if not a.startswith("-"))
        passed = failed = 0
        try:
            ctx = cluster_factory()
        except Exception:
            traceback.print_exc()
            print("setup failed")
            for c in list(_clusters):
                c.close(keep=True)
                c.dump_logs()
            print("0 passed, %d failed" % len(self.cases))
            return 1
        cluster = ctx if isinstance(ctx, Cluster) else ctx.cluster
        try:
            for fn in self.cases:
                if only and fn.__name__ not in only:
                    continue
                t0 = time.monotonic()
                try:
                    fn(ctx)
                    passed += 1
                    print("ok   %s (%.2fs)" % (fn.__name__,
                                               time.monotonic() - t0))
                except Exception as e:
                    failed += 1
                    print("FAIL %s: %s" % (fn.__name__, e))
                    traceback.print_exc(file=sys.stdout)
                sys.stdout.flush()
        finally:
            cluster.close(keep=True)
            for name, code in cluster.bad_exits:
                failed += 1
                print("FAIL %s exit status on SIGTERM: %s (want 0)" % (
                    name, code))
            if failed:
                cluster.dump_logs()
                print("work directory kept: %s" % cluster.workdir)
            else:
                cluster.close()
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))
