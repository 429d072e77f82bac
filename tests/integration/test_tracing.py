#!/usr/bin/env python3
"""Tracing end to end (docs/tracing.md): W3C traceparent on POST /mpic,
propagated per perspective call to real mpic-caa-checker and
mpic-dcv-checker daemons, trace_id in the log lines, and OTLP/HTTP JSON
export of the spans to a small receiver on loopback; a collector that
hangs or is down never holds a request up and its spans are counted as
dropped. The HTTP and TLS-ALPN step spans need a web server on
127.0.0.1:80 and an openssl s_server on 127.0.0.2:443 (the Baseline
Requirements fix the ports); the test fails clearly if they are taken."""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

R = h.Runner()
HERE = os.path.dirname(os.path.abspath(__file__))
DCV_ZONES = os.path.join(HERE, "dcv", "zones")
HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ALPN_HASH = "653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f"
WEB = ("127.0.0.1", 80)    # web.dcv.test in dcv/zones
ALPN = ("127.0.0.2", 443)  # alpn-ok.dcv.test in dcv/zones
# One perspective per RIR: a single cohort of three.
CODES = ["us-east-1", "eu-west-1", "ap-northeast-1"]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
SPAN_WAIT = 30.0  # generous: flushes are every second


class Receiver:
    """An OTLP/HTTP receiver: POST /v1/traces with an
    ExportTraceServiceRequest in JSON. mode "ok" keeps the spans, "hang"
    reads the request and never answers (until close)."""

    def __init__(self, mode="ok"):
        outer = self
        self.mode = mode
        self.port = h.free_port(udp_too=False)
        self.spans = []  # (service.name, span dict)
        self.posts = 0
        self.bad = []  # what a well-formed export would not have
        self.lock = threading.Lock()
        self._stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                if outer.mode == "hang":
                    outer._stop.wait(60)
                    self.close_connection = True
                    return
                ctype = self.headers.get("content-type", "")
                problems = []
                if self.path != "/v1/traces":
                    problems.append("path %s" % self.path)
                if ctype.split(";")[0].strip() != "application/json":
                    problems.append("content-type %r" % ctype)
                try:
                    doc = json.loads(raw.decode("utf-8"))
                except ValueError as e:
                    doc = None
                    problems.append("not JSON: %s" % e)
                got = []
                if doc is not None:
                    try:
                        for rs in doc["resourceSpans"]:
                            attrs = {a["key"]: a["value"] for a in
                                     rs["resource"]["attributes"]}
                            svc = attrs["service.name"]["stringValue"]
                            for ss in rs["scopeSpans"]:
                                for sp in ss["spans"]:
                                    got.append((svc, sp))
                    except (KeyError, TypeError) as e:
                        problems.append("shape: %r" % (e,))
                with outer.lock:
                    outer.posts += 1
                    outer.spans.extend(got)
                    outer.bad.extend(problems)
                body = b"{}"
                self.send_response(400 if problems else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server((h.LOOPBACK, self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://%s:%d/v1/traces" % (h.LOOPBACK, self.port)

    def of_trace(self, trace_id):
        with self.lock:
            return [(svc, s) for svc, s in self.spans
                    if s.get("traceId") == trace_id]

    def wait_for(self, trace_id, pred, what):
        deadline = time.monotonic() + SPAN_WAIT
        while time.monotonic() < deadline:
            spans = self.of_trace(trace_id)
            if pred(spans):
                return spans
            time.sleep(0.1)
        raise AssertionError("%s: spans of %s after %.0fs: %s" % (
            what, trace_id, SPAN_WAIT,
            json.dumps(self.of_trace(trace_id), indent=1)[:4000]))

    def close(self):
        self._stop.set()
        self.srv.shutdown()
        self.srv.server_close()


class Capture:
    """A stand-in checker that records the headers of every POST /caa and
    answers with a passing CAA check response."""

    def __init__(self):
        outer = self
        self.port = h.free_port(udp_too=False)
        self.calls = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with outer.lock:
                    outer.calls.append((self.path, dict(self.headers.items()),
                                        body))
                resp = json.dumps({
                    "check_type": "caa", "check_passed": True,
                    "check_completed": True, "timestamp_ns": time.time_ns(),
                    "errors": None,
                    "details": {"caa_record_present": False,
                                "found_at": None, "records_seen": None}}
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(resp)))
                self.end_headers()
                self.wfile.write(resp)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server((h.LOOPBACK, self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, code):
        return "http://%s:%d/caa/%s" % (h.LOOPBACK, self.port, code)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Web:
    """acme-http-01's well-known file on 127.0.0.1:80."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                ok = self.path == "/.well-known/acme-challenge/" + TOKEN
                body = (KEYAUTH if ok else "not here").encode()
                self.send_response(200 if ok else 404)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server(WEB, Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def alpn_server(workdir):
    """openssl s_server answering acme-tls/1 with a certificate for
    alpn-ok.dcv.test carrying the acmeIdentifier of ALPN_HASH."""
    key = os.path.join(workdir, "alpn.key")
    crt = os.path.join(workdir, "alpn.crt")
    der = "04:20:" + ":".join(ALPN_HASH[i:i + 2]
                              for i in range(0, len(ALPN_HASH), 2))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
         "-days", "2", "-subj", "/CN=alpn-ok.dcv.test",
         "-addext", "subjectAltName=DNS:alpn-ok.dcv.test",
         "-addext", "1.3.6.1.5.5.7.1.31=critical,DER:" + der],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = h.Proc("s_server-alpn",
               ["openssl", "s_server", "-quiet", "-www", "-accept",
                "%s:%d" % ALPN, "-cert", crt, "-key", key,
                "-alpn", "acme-tls/1"], workdir)
    h.wait_tcp_addr(*ALPN)
    return p


def merged_zones(workdir):
    d = os.path.join(workdir, "zones")
    os.makedirs(d)
    for src in (h.ZONES_DIR, DCV_ZONES):
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), d)
    return d


def tracing_yaml(endpoint):
    if endpoint is None:
        return ""
    return "tracing:\n  otlp_endpoint: %s\n" % json.dumps(endpoint)


def coordinator_yaml(port, perspectives, endpoint):
    """perspectives: (code, caa_url, dcv_url, headers or None)."""
    lines = ["listen: \"127.0.0.1:%d\"" % port, "log_level: debug",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, caa, dcv, hdrs in perspectives:
        lines += ["  - code: %s" % code]
        if caa:
            lines += ["    caa_url: \"%s\"" % caa]
        if dcv:
            lines += ["    dcv_url: \"%s\"" % dcv]
        if hdrs:
            lines += ["    headers: %s" % json.dumps(hdrs)]
    lines += ["default_perspective_count: 3", "absolute_max_attempts: 1",
              "hash_secret: \"tracing-secret\"", "remote_timeout_ms: 8000"]
    lines += h.compliance_yaml()
    return "\n".join(lines) + "\n" + tracing_yaml(endpoint)


class Ctx:
    def __init__(self):
        for addr, port in (WEB, ALPN):
            if not h.port_free(addr, port):
                raise RuntimeError("cannot bind %s:%d (taken, or not root): "
                                   "the HTTP and TLS-ALPN span tests need it"
                                   % (addr, port))
        self.cluster = c = h.Cluster(dns=False)
        h.ZONES_DIR = merged_zones(c.workdir)
        h.ZONES = sorted(f[:-5] for f in os.listdir(h.ZONES_DIR)
                         if f.endswith(".zone"))
        c.dns = h.DNSStack(c.workdir)
        self.web = Web()
        c.dns.procs.append(alpn_server(c.workdir))  # stopped with DNS
        self.rx = Receiver()
        self.hang = Receiver("hang")
        self.capture = Capture()
        self.caa, self.dcv = {}, {}
        for code in CODES:
            self.caa[code] = self.daemon("caa-" + code, "mpic-caa-checker",
                                         code)
            self.dcv[code] = self.daemon("dcv-" + code, "mpic-dcv-checker",
                                         code)
        both = [(code, self.caa[code].base + "/caa",
                 self.dcv[code].base + "/dcv", None) for code in CODES]
        self.coord = self.coordinator("traced", both, self.rx.url)
        self.coord_hang = self.coordinator("hang", both, self.hang.url)
        dead = "http://127.0.0.1:%d/v1/traces" % h.free_port(udp_too=False)
        self.coord_down = self.coordinator("down", both, dead)
        # Tracing off, checkers replaced by Capture (with a configured
        # header, which must still be sent next to the traceparent).
        cap = [(code, self.capture.url(code), None, {"X-Perspective": code})
               for code in CODES]
        self.coord_capture = self.coordinator("capture", cap, None)

    def daemon(self, name, binary, code):
        port = h.free_port(udp_too=False)
        d = h.Daemon(name, binary,
                     h.checker_config(code, port, [self.cluster.dns.resolver],
                                      timeout_ms=2000,
                                      extra=tracing_yaml(self.rx.url) +
                                      "targets:\n"
                                      "  allow_private_addresses: true\n"),
                     self.cluster.workdir, port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d

    def coordinator(self, name, perspectives, endpoint):
        sub = os.path.join(self.cluster.workdir, name)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        port = h.free_port(udp_too=False)
        d = h.Daemon("coord-" + name, "mpic-coordinator",
                     coordinator_yaml(port, perspectives, endpoint), sub, port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d


def caa(coord, target, trace, traceparent=None):
    hdrs = {} if traceparent is None else {"traceparent": traceparent}
    return h.post(coord.base + "/mpic",
                  {"check_type": "caa", "domain_or_ip_target": target,
                   "trace_identifier": trace}, headers=hdrs)


def dcv(coord, target, trace, traceparent=None, params=None):
    hdrs = {} if traceparent is None else {"traceparent": traceparent}
    if params is None:
        params = {"validation_method": "acme-dns-01",
                  "key_authorization_hash": HASH}
    return h.post(coord.base + "/mpic",
                  {"check_type": "dcv", "domain_or_ip_target": target,
                   "trace_identifier": trace,
                   "dcv_check_parameters": params}, headers=hdrs)


def log_lines(d):
    out = []
    for line in d.read_log().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict):
            out.append(o)
    return out


def audit(coord, trace):
    deadline = time.monotonic() + 10
    while True:
        got = [o for o in log_lines(coord) if o.get("event") == "mpic_audit"
               and o.get("trace_identifier") == trace]
        if got or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    eq(len(got), 1, "audit lines for %s" % trace)
    return got[0]


def new_ids():
    return os.urandom(16).hex(), os.urandom(8).hex()


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = next(iter(v.values())) if v else None
    return out


def metric_sum(d, name):
    status, body = h.http_request(d.base + "/metrics")
    eq(status, 200, "/metrics status")
    text = body.decode() if isinstance(body, bytes) else str(body)
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    check(found, "%s not in /metrics" % name)
    return total, text


def full_tree(n_checks, check_name):
    """Request, attempt, one call per perspective, one check per call."""
    def pred(spans):
        names = [s["name"] for _, s in spans]
        return (names.count("POST /mpic") == 1 and
                names.count("mpic attempt") == 1 and
                names.count("mpic perspective call") == n_checks and
                names.count(check_name) == n_checks)
    return pred


def with_steps(pred, step_name, n):
    """pred, and n child spans named step_name."""
    def both(spans):
        return pred(spans) and \
            [s["name"] for _, s in spans].count(step_name) >= n
    return both


def assert_steps(by_name, check_name, step_name, n, attr=None):
    """Each check span has its step spans (a DNS query, a CAA lookup, ...)
    as children, kind client, with attr set."""
    checks = {s["spanId"]: s for _, s in by_name[check_name]}
    steps = by_name.get(step_name, [])
    eq(len(steps), n, "%s spans" % step_name)
    for svc, s in steps:
        check(s.get("parentSpanId") in checks,
              "%s parent %r is not a check span" % (step_name,
                                                    s.get("parentSpanId")))
        eq(s["kind"], 3, "%s kind (client)" % step_name)
        if attr is not None:
            check(attrs(s).get(attr), "%s without %s: %r" % (step_name, attr,
                                                             attrs(s)))
    eq(sorted(s.get("parentSpanId") for _, s in steps), sorted(checks),
       "one %s per check" % step_name)


def assert_tree(spans, trace_id, parent_id, check_name, check_service):
    by_name = {}
    for svc, s in spans:
        by_name.setdefault(s["name"], []).append((svc, s))
        eq(s["traceId"], trace_id, "traceId of %s" % s["name"])
        check(HEX16.match(s["spanId"]), "spanId %r" % s["spanId"])
        check(isinstance(s["startTimeUnixNano"], str) and
              isinstance(s["endTimeUnixNano"], str), "times are strings")
        check(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]),
              "start before end in %s" % s["name"])
        check(int(s["startTimeUnixNano"]) > 1600000000 * 10**9,
              "Unix time in ns")
    (svc, req), = by_name["POST /mpic"]
    eq(svc, "mpic-coordinator", "request span service")
    eq(req["kind"], 2, "request span kind (server)")
    eq(req.get("parentSpanId"), parent_id, "request span parent")
    ra = attrs(req)
    eq(ra.get("http.response.status_code"), "200", "request status attr")
    (_, att), = by_name["mpic attempt"]
    eq(att.get("parentSpanId"), req["spanId"], "attempt parent")
    eq(att["kind"], 1, "attempt kind (internal)")
    calls = {s["spanId"]: s for _, s in by_name["mpic perspective call"]}
    eq(len(calls), len(CODES), "distinct call spans")
    codes = set()
    for s in calls.values():
        eq(s.get("parentSpanId"), att["spanId"], "call parent")
        eq(s["kind"], 3, "call kind (client)")
        codes.add(attrs(s).get("mpic.perspective_code"))
    eq(codes, set(CODES), "call span perspectives")
    parents = []
    for svc, s in by_name[check_name]:
        eq(svc, check_service, "check span service")
        eq(s["kind"], 2, "check kind (server)")
        check(s.get("parentSpanId") in calls,
              "check span parent %r is not a call span" %
              s.get("parentSpanId"))
        parents.append(s["parentSpanId"])
        a = attrs(s)
        eq(a.get("mpic.perspective_code"),
           attrs(calls[s["parentSpanId"]]).get("mpic.perspective_code"),
           "check and call perspective")
        eq(a.get("mpic.check_passed"), True, "check passed attr")
    eq(sorted(parents), sorted(calls), "one check span per call span")
    return by_name


@R.case
def test_caa_trace_continued_and_linked(ctx):
    tid, pid = new_ids()
    status, resp = caa(ctx.coord, "permit.caa.test", "tr-caa",
                       "00-%s-%s-01" % (tid, pid))
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid")
    spans = ctx.rx.wait_for(tid, with_steps(full_tree(3, "caa check"),
                                            "caa lookup", 3), "caa tree")
    by = assert_tree(spans, tid, pid, "caa check", "mpic-caa-checker")
    assert_steps(by, "caa check", "caa lookup", 3, "mpic.found_at")
    (_, s), = by["POST /mpic"][:1]
    a = attrs(s)
    eq(a.get("mpic.target"), "permit.caa.test", "target attr")
    eq(a.get("mpic.check_type"), "caa", "check_type attr")
    eq(a.get("mpic.trace_identifier"), "tr-caa", "trace_identifier attr")
    eq(a.get("mpic.is_valid"), True, "is_valid attr")
    for _, c in by["caa check"]:
        ca = attrs(c)
        eq(ca.get("mpic.target"), "permit.caa.test", "check target attr")
        eq(ca.get("mpic.check_type"), "caa", "check method attr")
    eq(ctx.rx.bad, [], "malformed exports")


@R.case
def test_dcv_trace_continued_and_linked(ctx):
    tid, pid = new_ids()
    status, resp = dcv(ctx.coord, "ok.dcv.test", "tr-dcv",
                       "00-%s-%s-01" % (tid, pid))
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid")
    spans = ctx.rx.wait_for(tid, with_steps(full_tree(3, "dcv check"),
                                            "dns query", 3), "dcv tree")
    by = assert_tree(spans, tid, pid, "dcv check", "mpic-dcv-checker")
    assert_steps(by, "dcv check", "dns query", 3, "dns.question.name")
    for _, c in by["dcv check"]:
        ca = attrs(c)
        eq(ca.get("mpic.validation_method"), "acme-dns-01", "method attr")
        eq(ca.get("mpic.target"), "ok.dcv.test", "check target attr")
    # The per-check lines of the DCV checkers carry the trace id.
    for code in CODES:
        lines = [o for o in log_lines(ctx.dcv[code])
                 if o.get("trace_id") == tid and
                 str(o.get("msg", "")).startswith("dcv: acme-dns-01")]
        eq(len(lines), 1, "dcv check line with trace_id on %s" % code)
        eq(lines[0].get("trace_identifier"), "tr-dcv", "trace_identifier")


@R.case
def test_http_fetch_step_spans(ctx):
    tid, pid = new_ids()
    status, resp = dcv(ctx.coord, "web.dcv.test", "tr-http",
                       "00-%s-%s-01" % (tid, pid),
                       {"validation_method": "acme-http-01", "token": TOKEN,
                        "key_authorization": KEYAUTH})
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid (%r)" % (resp,))
    spans = ctx.rx.wait_for(tid, with_steps(full_tree(3, "dcv check"),
                                            "http fetch", 3), "http tree")
    by = assert_tree(spans, tid, pid, "dcv check", "mpic-dcv-checker")
    assert_steps(by, "dcv check", "http fetch", 3, "url.full")
    url = "http://web.dcv.test/.well-known/acme-challenge/" + TOKEN
    for _, s in by["http fetch"]:
        a = attrs(s)
        eq(a.get("url.full"), url, "http fetch url.full")
        eq(a.get("server.address"), "127.0.0.1", "http fetch server.address")
        eq(a.get("server.port"), "80", "http fetch server.port")
        check("status" not in s or s["status"].get("code") != 2,
              "a fetch that worked is not an error span: %r" % (s,))


@R.case
def test_tls_alpn_handshake_step_spans(ctx):
    tid, pid = new_ids()
    status, resp = dcv(ctx.coord, "alpn-ok.dcv.test", "tr-alpn",
                       "00-%s-%s-01" % (tid, pid),
                       {"validation_method": "acme-tls-alpn-01",
                        "key_authorization_hash": ALPN_HASH})
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid (%r)" % (resp,))
    spans = ctx.rx.wait_for(tid, with_steps(full_tree(3, "dcv check"),
                                            "tls-alpn handshake", 3),
                            "tls-alpn tree")
    by = assert_tree(spans, tid, pid, "dcv check", "mpic-dcv-checker")
    assert_steps(by, "dcv check", "tls-alpn handshake", 3, "tls.server.name")
    for _, s in by["tls-alpn handshake"]:
        a = attrs(s)
        eq(a.get("tls.server.name"), "alpn-ok.dcv.test", "handshake SNI")
        eq(a.get("server.address"), "127.0.0.2", "handshake server.address")
        eq(a.get("server.port"), "443", "handshake server.port")


@R.case
def test_failed_check_span_has_error_type(ctx):
    tid, pid = new_ids()
    status, resp = caa(ctx.coord, "deny.caa.test", "tr-deny",
                       "00-%s-%s-01" % (tid, pid))
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], False, "is_valid")
    spans = ctx.rx.wait_for(tid, full_tree(3, "caa check"), "deny tree")
    for _, s in spans:
        if s["name"] == "caa check":
            eq(attrs(s).get("mpic.check_passed"), False, "passed attr")
            eq(attrs(s).get("mpic.check_completed"), True, "completed attr")


@R.case
def test_trace_id_in_audit_and_checker_logs(ctx):
    tid, pid = new_ids()
    status, _ = caa(ctx.coord, "permit.caa.test", "tr-logs",
                    "00-%s-%s-01" % (tid, pid))
    eq(status, 200, "status")
    a = audit(ctx.coord, "tr-logs")
    eq(a.get("trace_id"), tid, "audit trace_id")
    eq(a.get("trace_identifier"), "tr-logs", "audit trace_identifier")
    access = [o for o in log_lines(ctx.coord) if o.get("trace_id") == tid
              and "POST /mpic 200" in str(o.get("msg"))]
    eq(len(access), 1, "coordinator access line with trace_id")
    for code in CODES:
        lines = [o for o in log_lines(ctx.caa[code])
                 if o.get("trace_id") == tid]
        check(any("caa check of permit.caa.test: CAA at" in o.get("msg", "")
                  for o in lines),
              "no per-check line with trace_id on %s: %r" % (code, lines))
        check(all(o.get("trace_identifier") == "tr-logs" for o in lines),
              "trace_identifier kept: %r" % lines)


@R.case
def test_no_traceparent_starts_a_new_trace(ctx):
    status, _ = caa(ctx.coord, "permit.caa.test", "tr-new")
    eq(status, 200, "status")
    tid = audit(ctx.coord, "tr-new").get("trace_id")
    check(isinstance(tid, str) and HEX32.match(tid) and tid != "0" * 32,
          "new trace id %r" % tid)
    spans = ctx.rx.wait_for(tid, full_tree(3, "caa check"), "new tree")
    assert_tree(spans, tid, None, "caa check", "mpic-caa-checker")
    for code in CODES:
        check(any(o.get("trace_id") == tid
                  for o in log_lines(ctx.caa[code])),
              "checker %s did not log the new trace id" % code)


MALFORMED = [
    "00-%s-%s-01" % ("A" * 32, "b" * 16),          # upper-case hex
    "00-%s-%s-01" % ("0" * 32, "b" * 16),          # all-zero trace-id
    "00-%s-%s-01" % ("a" * 32, "0" * 16),          # all-zero parent-id
    "ff-%s-%s-01" % ("a" * 32, "b" * 16),          # version ff
    "00-%s-%s-01-" % ("a" * 32, "b" * 16),         # version 00 too long
    "00-%s-%s-01" % ("a" * 31, "b" * 17),          # field lengths
    "00-%s-%s" % ("a" * 32, "b" * 16),             # no flags
    "00_%s_%s_01" % ("a" * 32, "b" * 16),          # separators
    "",
    "garbage",
]


@R.case
def test_malformed_traceparent_is_replaced(ctx):
    for i, tp in enumerate(MALFORMED):
        trace = "tr-bad-%d" % i
        status, resp = caa(ctx.coord, "permit.caa.test", trace, tp)
        eq(status, 200, "status for %r (%r)" % (tp, resp))
        eq(resp["is_valid"], True, "is_valid for %r" % tp)
        tid = audit(ctx.coord, trace).get("trace_id")
        check(isinstance(tid, str) and HEX32.match(tid),
              "trace id %r for %r" % (tid, tp))
        check(tid not in (tp[3:35], "a" * 32, "0" * 32),
              "malformed %r was continued as %s" % (tp, tid))
    # The last one's request span is a root span.
    spans = ctx.rx.wait_for(tid, full_tree(3, "caa check"), "replaced tree")
    assert_tree(spans, tid, None, "caa check", "mpic-caa-checker")


@R.case
def test_later_version_is_accepted(ctx):
    # Trace Context 3.2.4: a later version is parsed by its first fields.
    tid, pid = new_ids()
    status, _ = caa(ctx.coord, "permit.caa.test", "tr-v01",
                    "01-%s-%s-01-extra" % (tid, pid))
    eq(status, 200, "status")
    eq(audit(ctx.coord, "tr-v01").get("trace_id"), tid, "continued")


@R.case
def test_unsampled_trace_propagated_not_exported(ctx):
    tid, pid = new_ids()
    status, _ = caa(ctx.coord, "permit.caa.test", "tr-unsampled",
                    "00-%s-%s-00" % (tid, pid))
    eq(status, 200, "status")
    eq(audit(ctx.coord, "tr-unsampled").get("trace_id"), tid, "continued")
    for code in CODES:
        check(any(o.get("trace_id") == tid
                  for o in log_lines(ctx.caa[code])),
              "unsampled trace id not propagated to %s" % code)
    # A sampled request after it: once its spans are in, the unsampled
    # one's would be too (one queue, exported in order).
    tid2, pid2 = new_ids()
    caa(ctx.coord, "permit.caa.test", "tr-sampled",
        "00-%s-%s-01" % (tid2, pid2))
    ctx.rx.wait_for(tid2, full_tree(3, "caa check"), "sampled tree")
    eq(ctx.rx.of_trace(tid), [], "spans of an unsampled trace")


@R.case
def test_traceparent_header_per_call(ctx):
    tid, pid = new_ids()
    status, resp = caa(ctx.coord_capture, "permit.caa.test", "tr-cap",
                       "00-%s-%s-01" % (tid, pid))
    eq(status, 200, "status (%r)" % (resp,))
    with ctx.capture.lock:
        calls = [c for c in ctx.capture.calls
                 if c[2].get("trace_identifier") == "tr-cap"]
    eq(len(calls), 3, "calls")
    span_ids = set()
    for path, hdrs, _ in calls:
        low = {k.lower(): v for k, v in hdrs.items()}
        tp = low.get("traceparent", "")
        m = re.match(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$", tp)
        check(m, "traceparent %r" % tp)
        eq(m.group(1), tid, "propagated trace id")
        check(m.group(2) != pid, "the call's own span id, not the caller's")
        span_ids.add(m.group(2))
        # The perspective's configured headers are still sent.
        eq(low.get("x-perspective"), path.rsplit("/", 1)[1],
           "configured header")
        eq(low.get("content-type"), "application/json", "content-type")
    eq(len(span_ids), 3, "one span id per call")
    # No traceparent in: a new trace still goes out to every checker.
    status, _ = caa(ctx.coord_capture, "permit.caa.test", "tr-cap2")
    eq(status, 200, "status")
    with ctx.capture.lock:
        tps = [{k.lower(): v for k, v in c[1].items()}.get("traceparent")
               for c in ctx.capture.calls
               if c[2].get("trace_identifier") == "tr-cap2"]
    eq(len(tps), 3, "calls")
    check(all(re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", t or "")
              for t in tps), "traceparents %r" % tps)
    eq(len({t[3:35] for t in tps}), 1, "one trace for the request")


def assert_drops(coord, what):
    for i in range(8):
        status, resp = caa(coord, "permit.caa.test", "tr-%s-%d" % (what, i),
                           "00-%s-%s-01" % new_ids())
        eq(status, 200, "%s: status (%r)" % (what, resp))
        eq(resp["is_valid"], True, "%s: is_valid" % what)
    deadline = time.monotonic() + 30
    while True:
        dropped, text = metric_sum(coord, "mpic_trace_spans_dropped_total")
        if dropped > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(dropped > 0, "%s: no dropped spans counted:\n%s" % (what, text))
    failed = [line for line in text.splitlines()
              if line.startswith('mpic_trace_exports_total{result="failed"}')]
    check(failed and float(failed[0].rsplit(" ", 1)[1]) > 0,
          "%s: failed exports not counted" % what)
    for name in ("mpic_trace_spans_dropped_total",
                 "mpic_trace_spans_exported_total",
                 "mpic_trace_exports_total"):
        check("# HELP %s " % name in text and
              "# TYPE %s counter" % name in text, "HELP/TYPE of %s" % name)
    # Still answering while the collector misbehaves.
    status, _ = caa(coord, "permit.caa.test", "tr-%s-after" % what)
    eq(status, 200, "%s: status after drops" % what)


@R.case
def test_collector_hanging(ctx):
    assert_drops(ctx.coord_hang, "hang")


@R.case
def test_collector_down(ctx):
    assert_drops(ctx.coord_down, "down")


@R.case
def test_exported_counter(ctx):
    exported, _ = metric_sum(ctx.coord, "mpic_trace_spans_exported_total")
    check(exported > 0, "exported spans counted")
    for code in CODES:
        n, _ = metric_sum(ctx.caa[code], "mpic_trace_spans_exported_total")
        check(n > 0, "caa checker %s exported spans" % code)


@R.case
def test_bad_endpoint_is_a_config_error(ctx):
    for binary, text in (
            ("mpic-caa-checker",
             h.checker_config("us-east-1", 1, ["127.0.0.1"]) +
             tracing_yaml("ftp://collector/v1/traces")),
            ("mpic-dcv-checker",
             h.checker_config("us-east-1", 1, ["127.0.0.1"]) +
             tracing_yaml("collector:4318")),
            ("mpic-coordinator",
             coordinator_yaml(1, [("us-east-1", "http://127.0.0.1:1/caa",
                                   None, None)], "http:///v1/traces"))):
        sub = os.path.join(ctx.cluster.workdir, "badcfg-" + binary)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        path = os.path.join(sub, "c.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.binary(binary), "--config", path,
                            "--check-config"], capture_output=True,
                           text=True, timeout=30, env=h.clean_env())
        out = p.stdout + p.stderr
        eq(p.returncode, 1, "%s --check-config exit (%s)" % (binary, out))
        check("tracing.otlp_endpoint" in out, "%s names the key: %s" %
              (binary, out))


def mapped_libcurl(d):
    with open("/proc/%d/maps" % d.proc.pid) as f:
        return "libcurl" in f.read()


@R.case
def test_caa_checker_opens_libcurl_only_for_tracing(ctx):
    # The CAA checker makes no HTTP requests of its own: without
    # tracing.otlp_endpoint it does not load libcurl at all.
    check(mapped_libcurl(ctx.caa[CODES[0]]), "traced CAA checker: libcurl")
    plain = ctx.cluster.start_checker("us-east-1", name="caa-untraced")
    try:
        check(not mapped_libcurl(plain), "untraced CAA checker maps libcurl")
        _, text = metric_sum(plain, "mpic_trace_spans_dropped_total")
        eq(metric_sum(plain, "mpic_trace_spans_exported_total")[0], 0.0,
           "untraced exports")
    finally:
        ctx.cluster.stop_daemon(plain)


def main():
    ctx_holder = []

    def factory():
        ctx = Ctx()
        ctx_holder.append(ctx)
        return ctx

    rc = R.run(factory)
    for ctx in ctx_holder:
        for x in (ctx.rx, ctx.hang, ctx.capture):
            x.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
