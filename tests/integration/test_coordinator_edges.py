#!/usr/bin/env python3
"""Orchestration semantics of mpic-coordinator (open-mpic-api.md section 3)
against a scripted fake checker: attempts and retries after slow or hung
perspectives (never a 504: every attempt ends inside the request deadline),
quorum and RIR diversity, mpic_completed, the shape of
previous_attempt_results, the BR 5.4.1 audit line, API keys, /configz
redaction and the forwarded check request. Checker faults as such (down,
500, bodies, restarts, SIGTERM) are covered by test_faults_*.py.

No real checker or resolver runs here: the coordinator talks only to the
fake on 127.0.0.1."""

import http.server
import json
import os
import socket
import sys
import threading
import time
import uuid

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

# This suite's own port range.
h.PORT_LO, h.PORT_HI = 24000, 24999

R = h.Runner()
REMOTE = "mpic_error:coordinator:remote_check"
CODES = [c for c, _, _ in h.PERSPECTIVES]
HASH_SECRET = "edge-hash-secret-3c8f1e"
CHECKER_TOKEN = "checker-bearer-token-9d41"
API_KEYS = ("api-key-one-77aa", "api-key-two-88bb")
# Only these ever make a coordinator wait for a timeout.
REMOTE_TIMEOUT_MS = 600


def passed_response(passed=True, completed=True):
    return {"check_type": "caa", "check_passed": passed,
            "check_completed": completed, "timestamp_ns": time.time_ns(),
            "errors": None,
            "details": {"caa_record_present": False, "found_at": None,
                        "records_seen": None}}


class ScriptedChecker:
    """One HTTP server standing in for every perspective: POST /<code>.
    What a call gets is decided by the scenario registered for the
    request's trace_identifier: fn(code, n) -> behaviour, n counting the
    calls of that trace from 0. Behaviours: "pass", "fail" (completed, not
    passed), "hang" (never answers), ("slow", seconds, behaviour)."""

    def __init__(self):
        outer = self
        self.port = h.free_port(udp_too=False)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.scenarios = {}
        self.calls = {}  # trace -> [(code, headers, body)]

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                code = self.path.strip("/")
                trace = body.get("trace_identifier")
                with outer.lock:
                    lst = outer.calls.setdefault(trace, [])
                    idx = len(lst)
                    lst.append((code, {k.lower(): v for k, v in
                                       self.headers.items()}, body))
                    fn = outer.scenarios.get(trace, lambda c, i: "pass")
                what = fn(code, idx)
                while isinstance(what, tuple) and what[0] == "slow":
                    outer.stop.wait(what[1])
                    what = what[2]
                if what == "hang":
                    outer.stop.wait(30)
                    self.close_connection = True
                    return
                resp = passed_response(passed=(what == "pass"))
                data = json.dumps(resp).encode()
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the coordinator gave up on us: expected

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server((h.LOOPBACK, self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, code):
        return "http://%s:%d/%s" % (h.LOOPBACK, self.port, code)

    def scenario(self, fn):
        trace = "edge-" + uuid.uuid4().hex
        with self.lock:
            self.scenarios[trace] = fn
        return trace

    def calls_of(self, trace):
        with self.lock:
            return list(self.calls.get(trace, []))

    def close(self):
        self.stop.set()
        self.srv.shutdown()
        self.srv.server_close()


def available_yaml(regions):
    out = ["available_regions:"]
    for code, rir in regions:
        out += ["  - code: %s" % code, "    name: %s" % json.dumps(code),
                "    rir: %s" % json.dumps(rir), "    too_close_codes: []"]
    return "\n".join(out) + "\n"


def coordinator_yaml(port, persp, default_count, absolute_max_attempts=3,
                     remote_timeout_ms=REMOTE_TIMEOUT_MS, api_keys=()):
    """persp: list of (code, url, headers dict)."""
    lines = ["listen: %s" % json.dumps("%s:%d" % (h.LOOPBACK, port)),
             "log_level: info",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url, hdrs in persp:
        lines += ["  - code: %s" % code, "    caa_url: %s" % json.dumps(url)]
        if hdrs:
            lines += ["    headers: %s" % json.dumps(hdrs)]
    lines += ["default_perspective_count: %d" % default_count,
              "absolute_max_attempts: %d" % absolute_max_attempts,
              "hash_secret: %s" % json.dumps(HASH_SECRET),
              "remote_timeout_ms: %d" % remote_timeout_ms,
              "api_keys: [%s]" % ", ".join(json.dumps(k) for k in api_keys),
              "max_request_bytes: 65536"]
    lines += h.compliance_yaml()
    return "\n".join(lines) + "\n"


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster(dns=False)
        self.fake = ScriptedChecker()
        std = [(c, self.fake.url(c),
                {"Authorization": "Bearer " + CHECKER_TOKEN,
                 "X-Edge-Test": "yes"} if c == "us-east-1" else None)
               for c in CODES]
        std_regions = [(c, r) for c, _, r in h.PERSPECTIVES]
        self.main = self.start("coord-main", std, std_regions, 3)
        self.keyed = self.start("coord-keyed", std, std_regions, 3,
                                api_keys=API_KEYS)
        # Four perspectives, three of them in one RIR: RIR diversity rules.
        rir_regions = [("a1", "arin"), ("a2", "arin"), ("a3", "arin"),
                       ("r1", "ripe ncc")]
        self.rir = self.start(
            "coord-rir", [(c, self.fake.url(c), None) for c, _ in rir_regions],
            rir_regions, 4)
        # Deadline = 500 * 3 + 2000 ms (coordinator/main.c).
        self.short = self.start("coord-short", std, std_regions, 3,
                                remote_timeout_ms=500)

    def start(self, name, persp, regions, default_count, **kw):
        port = h.free_port(udp_too=False)
        sub = os.path.join(self.cluster.workdir, name)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(available_yaml(regions))
        d = h.Daemon(name, "mpic-coordinator",
                     coordinator_yaml(port, persp, default_count, **kw), sub,
                     port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d


def mpic(coord, target, trace=None, orch=None, headers=None):
    body = {"check_type": "caa", "domain_or_ip_target": target}
    if trace is not None:
        body["trace_identifier"] = trace
    if orch is not None:
        body["orchestration_parameters"] = orch
    return h.post(coord.base + "/mpic", body, headers=headers)


def audit_lines(coord, trace=None, target=None):
    out = []
    for line in coord.read_log().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if not isinstance(o, dict) or o.get("event") != "mpic_audit":
            continue
        if trace is not None and o.get("trace_identifier") != trace:
            continue
        if target is not None and o.get("target") != target:
            continue
        out.append(o)
    return out


def one_audit(coord, **kw):
    lines = audit_lines(coord, **kw)
    eq(len(lines), 1, "audit lines for %r" % (kw,))
    return lines[0]


def codes_of(persp_list):
    return [p["perspective_code"] for p in persp_list]


def assert_remote_errors(persp_list, where):
    for p in persp_list:
        cr = p["check_response"]
        eq(cr["check_passed"], False, where + " check_passed")
        eq(cr["check_completed"], False, where + " check_completed")
        check(isinstance(cr["timestamp_ns"], int), where + " timestamp_ns")
        eq([e["error_type"] for e in cr["errors"]], [REMOTE],
           where + " error types")
        check(cr["errors"][0]["error_message"], where + ": empty message")


def assert_attempt_list(lst, n, where):
    check(isinstance(lst, list), where + ": not a list")
    eq(len(lst), n, where + " length")
    codes = codes_of(lst)
    eq(len(set(codes)), n, where + " distinct codes")
    for p in lst:
        eq(set(p), {"perspective_code", "check_response"}, where + " keys")
        eq(p["check_response"]["check_type"], "caa", where + " check_type")


# ---------------------------------------------------------------- cases


@R.case
def test_first_attempt_valid(ctx):
    trace = ctx.fake.scenario(lambda c, i: "pass")
    st, r = mpic(ctx.main, "first.example", trace)
    eq(st, 200, "status")
    eq(r["is_valid"], True, "is_valid")
    eq(r["mpic_completed"], True, "mpic_completed")
    eq(r["previous_attempt_results"], None, "previous_attempt_results")
    eq(r["actual_orchestration_parameters"],
       {"perspective_count": 3, "quorum_count": 2, "attempt_count": 1},
       "actual orchestration")
    eq(r["trace_identifier"], trace, "trace echoed")
    assert_attempt_list(r["perspectives"], 3, "perspectives")
    # What the checkers answered is what the caller sees, per code.
    calls = ctx.fake.calls_of(trace)
    eq(sorted(c for c, _, _ in calls), sorted(codes_of(r["perspectives"])),
       "called perspectives")
    # Cohort choice is deterministic for a target (keyed hash), order too.
    st2, r2 = mpic(ctx.main, "first.example",
                   ctx.fake.scenario(lambda c, i: "pass"))
    eq(st2, 200, "second status")
    eq(codes_of(r2["perspectives"]), codes_of(r["perspectives"]),
       "perspective order for the same target")


@R.case
def test_forwarded_request_and_headers(ctx):
    trace = ctx.fake.scenario(lambda c, i: "pass")
    st, r = mpic(ctx.main, "fwd.example", trace,
                 orch={"perspective_count": 6})
    eq(st, 200, "status")
    calls = ctx.fake.calls_of(trace)
    eq(sorted(c for c, _, _ in calls), sorted(CODES), "all six called")
    for code, hdrs, body in calls:
        eq(body.get("domain_or_ip_target"), "fwd.example", code + " target")
        eq(body.get("trace_identifier"), trace, code + " trace")
        check(set(body) <= {"domain_or_ip_target", "trace_identifier",
                            "caa_check_parameters"},
              "%s: unexpected fields %r" % (code, sorted(body)))
        if code == "us-east-1":
            eq(hdrs.get("authorization"), "Bearer " + CHECKER_TOKEN,
               "configured Authorization header")
            eq(hdrs.get("x-edge-test"), "yes", "configured extra header")
        else:
            check("authorization" not in hdrs,
                  code + ": got another perspective's header")
    eq(r["actual_orchestration_parameters"]["quorum_count"], 4,
       "default quorum for 6")


@R.case
def test_slow_first_attempt_then_second_attempt(ctx):
    # The first cohort's calls take longer than remote_timeout_ms; the
    # retry goes to the other cohort, which answers at once.
    trace = ctx.fake.scenario(
        lambda c, i: ("slow", 2.0, "pass") if i < 3 else "pass")
    st, r = mpic(ctx.main, "slow.example", trace, orch={"max_attempts": 2})
    eq(st, 200, "status (never a 504)")
    eq(r["is_valid"], True, "is_valid")
    eq(r["mpic_completed"], True, "mpic_completed (of the last attempt)")
    eq(r["actual_orchestration_parameters"]["attempt_count"], 2,
       "attempt_count")
    prev = r["previous_attempt_results"]
    check(isinstance(prev, list) and len(prev) == 1,
          "previous_attempt_results: %r" % (prev,))
    assert_attempt_list(prev[0], 3, "attempt 1")
    assert_remote_errors(prev[0], "attempt 1")
    assert_attempt_list(r["perspectives"], 3, "attempt 2")
    check(not set(codes_of(prev[0])) & set(codes_of(r["perspectives"])),
          "attempt 2 must use the other cohort")

    a = one_audit(ctx.main, trace=trace)
    eq(len(a["attempts"]), 2, "audit attempts")
    eq(a["attempts"][0]["quorum_result"], "0/3", "audit attempt 1 quorum")
    eq(a["attempts"][0]["is_valid"], False, "audit attempt 1 is_valid")
    eq(a["attempts"][1]["quorum_result"], "3/3", "audit attempt 2 quorum")
    eq(a["quorum_result"], "3/3", "audit quorum_result")
    eq(a["is_valid"], True, "audit is_valid")
    for p in a["attempts"][0]["perspectives"]:
        eq(p["error_types"], [REMOTE], "audit attempt 1 error types")
        eq(p["check_completed"], False, "audit attempt 1 completed")
    eq(codes_of(prev[0]),
       [p["code"] for p in a["attempts"][0]["perspectives"]],
       "audit and response list attempt 1 in the same order")


@R.case
def test_hung_checkers_every_attempt_answered_not_504(ctx):
    trace = ctx.fake.scenario(lambda c, i: "hang")
    st, r = mpic(ctx.main, "hang.example", trace, orch={"max_attempts": 3})
    eq(st, 200, "status (never a 504)")
    eq(r["is_valid"], False, "is_valid")
    eq(r["mpic_completed"], False, "mpic_completed")
    eq(r["actual_orchestration_parameters"]["attempt_count"], 3,
       "attempt_count")
    prev = r["previous_attempt_results"]
    eq(len(prev), 2, "previous attempts")
    for k, lst in enumerate(prev + [r["perspectives"]]):
        assert_attempt_list(lst, 3, "attempt %d" % (k + 1))
        assert_remote_errors(lst, "attempt %d" % (k + 1))
    # Six perspectives make two cohorts of three: attempt 3 cycles back.
    eq(sorted(codes_of(r["perspectives"])), sorted(codes_of(prev[0])),
       "attempt 3 reuses cohort 1")
    check(not set(codes_of(prev[0])) & set(codes_of(prev[1])),
          "attempts 1 and 2 use different cohorts")
    a = one_audit(ctx.main, trace=trace)
    eq(a["outcome"], "answered", "audit outcome")
    eq([x["cohort"] for x in a["attempts"]], [a["attempts"][0]["cohort"],
                                             a["attempts"][1]["cohort"],
                                             a["attempts"][0]["cohort"]],
       "audit cohorts cycle")


@R.case
def test_failed_attempts_previous_results_shape(ctx):
    trace = ctx.fake.scenario(lambda c, i: "fail")
    st, r = mpic(ctx.main, "fail.example", trace, orch={"max_attempts": 2})
    eq(st, 200, "status")
    eq(r["is_valid"], False, "is_valid")
    # Every check ran to a verdict: the MPIC completed, it just failed.
    eq(r["mpic_completed"], True, "mpic_completed")
    prev = r["previous_attempt_results"]
    check(isinstance(prev, list) and len(prev) == 1 and
          isinstance(prev[0], list), "shape [[...]]: %r" % (prev,))
    assert_attempt_list(prev[0], 3, "attempt 1")
    for p in prev[0] + r["perspectives"]:
        eq(p["check_response"]["check_completed"], True, "completed")
        eq(p["check_response"]["check_passed"], False, "passed")
    eq(len(ctx.fake.calls_of(trace)), 6, "calls made")


@R.case
def test_cohort_for_single_attempt_forces_one_attempt(ctx):
    trace = ctx.fake.scenario(lambda c, i: "fail")
    st, r = mpic(ctx.main, "forced.example", trace,
                 orch={"max_attempts": 3, "cohort_for_single_attempt": 2})
    eq(st, 200, "status")
    eq(r["actual_orchestration_parameters"]["attempt_count"], 1,
       "attempt_count")
    eq(r["previous_attempt_results"], None, "previous_attempt_results")
    eq(one_audit(ctx.main, trace=trace)["attempts"][0]["cohort"], 2,
       "audit cohort number (1-based)")


def rir_case(ctx, target, behaviour):
    trace = ctx.fake.scenario(lambda c, i: behaviour.get(c, "pass"))
    st, r = mpic(ctx.rir, target, trace)
    eq(st, 200, target + " status")
    eq(r["actual_orchestration_parameters"]["quorum_count"], 3,
       target + " quorum")
    return r, one_audit(ctx.rir, trace=trace)


@R.case
def test_quorum_with_two_rirs_is_valid(ctx):
    r, a = rir_case(ctx, "q1.example", {"a3": "fail"})
    eq(r["is_valid"], True, "is_valid")
    eq(a["quorum_result"], "3/4", "audit quorum_result")


@R.case
def test_quorum_from_one_rir_is_not_valid(ctx):
    # Three of four pass, but all three are ARIN: BR 3.2.2.9 wants two RIRs.
    r, a = rir_case(ctx, "q2.example", {"r1": "fail"})
    eq(r["is_valid"], False, "is_valid")
    eq(r["mpic_completed"], True, "mpic_completed")
    eq(a["quorum_result"], "3/4", "audit quorum_result")
    eq(a["is_valid"], False, "audit is_valid")
    rirs = {p["code"]: p["rir"] for p in a["attempts"][0]["perspectives"]}
    eq(len(rirs), 4, "audit perspectives")
    eq(rirs["r1"] != rirs["a1"], True, "audit RIRs differ")
    eq(rirs["a1"], rirs["a2"], "audit RIRs of a1/a2")


@R.case
def test_below_quorum_is_not_valid(ctx):
    r, a = rir_case(ctx, "q3.example", {"a2": "fail", "a3": "fail"})
    eq(r["is_valid"], False, "is_valid")
    eq(a["quorum_result"], "2/4", "audit quorum_result")


@R.case
def test_mpic_completed_counts_unfinished_checks(ctx):
    # n=4, quorum 3: one unfinished check is tolerated, two are not.
    r, _ = rir_case(ctx, "c1.example", {"a3": "hang"})
    eq(r["is_valid"], True, "one hung: is_valid")
    eq(r["mpic_completed"], True, "one hung: mpic_completed")
    r, _ = rir_case(ctx, "c2.example", {"a3": "hang", "r1": "hang"})
    eq(r["is_valid"], False, "two hung: is_valid")
    eq(r["mpic_completed"], False, "two hung: mpic_completed")


@R.case
def test_audit_record_fields(ctx):
    trace = ctx.fake.scenario(lambda c, i: "fail" if i == 0 else "pass")
    st, r = mpic(ctx.main, "audit.example", trace)
    eq(st, 200, "status")
    a = one_audit(ctx.main, trace=trace)
    for k in ("ts", "level", "msg", "trace_identifier", "target",
              "check_type", "perspective_count", "quorum_count",
              "quorum_result", "is_valid", "mpic_completed", "attempts",
              "duration_ms", "outcome"):
        check(k in a, "audit line lacks %r: %r" % (k, a))
    eq(a["target"], "audit.example", "target")
    eq(a["check_type"], "caa", "check_type")
    eq(a["allow_lookup_failure"], False, "allow_lookup_failure")
    eq(a["is_valid"], r["is_valid"], "is_valid agrees with the reply")
    eq(a["mpic_completed"], r["mpic_completed"], "mpic_completed agrees")
    passed = sum(1 for p in r["perspectives"]
                 if p["check_response"]["check_passed"])
    eq(a["quorum_result"], "%d/3" % passed, "quorum_result x/y")
    att = a["attempts"]
    eq(len(att), 1, "attempts")
    ps = att[0]["perspectives"]
    eq([p["code"] for p in ps], codes_of(r["perspectives"]), "codes, order")
    for p in ps:
        for k in ("code", "rir", "check_passed", "check_completed",
                  "error_types", "duration_ms"):
            check(k in p, "audit perspective lacks %r: %r" % (k, p))
        eq(p["rir"].lower(), h.RIR_OF[p["code"]], p["code"] + " rir")
        check(isinstance(p["duration_ms"], int), "duration_ms")
    by_code = {p["perspective_code"]: p["check_response"]
               for p in r["perspectives"]}
    for p in ps:
        eq(p["check_passed"], by_code[p["code"]]["check_passed"],
           p["code"] + " check_passed agrees")


@R.case
def test_trace_identifier_absent_is_null(ctx):
    st, r = mpic(ctx.main, "notrace.example")
    eq(st, 200, "status")
    eq(r["trace_identifier"], None, "trace_identifier in the reply")
    a = one_audit(ctx.main, target="notrace.example")
    check("trace_identifier" in a, "audit line names the trace field")
    eq(a["trace_identifier"], None, "audit trace_identifier")


@R.case
def test_slow_client_upload_still_answered_in_time(ctx):
    # The HTTP deadline counts from the request's headers. A client that
    # takes most of it to send the body leaves the attempts less than
    # remote_timeout_ms; they must shrink to fit rather than run into the
    # deadline's 504.
    trace = ctx.fake.scenario(lambda c, i: "hang")
    body = json.dumps({"check_type": "caa",
                       "domain_or_ip_target": "upload.example",
                       "trace_identifier": trace,
                       "orchestration_parameters": {"max_attempts": 3}}
                      ).encode()
    head = ("POST /mpic HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % len(body)).encode()
    with socket.create_connection((h.LOOPBACK, ctx.short.port),
                                  timeout=20) as s:
        s.sendall(head)
        # Not a synchronisation sleep: it is the slow client under test
        # (deadline 3500 ms, remote_timeout_ms 500).
        time.sleep(3.1)
        s.sendall(body)
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    status_line = raw.split(b"\r\n", 1)[0].decode()
    eq(status_line.split()[1], "200", "status line %r" % status_line)
    r = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    eq(r["is_valid"], False, "is_valid")
    eq(r["mpic_completed"], False, "mpic_completed")
    assert_remote_errors(r["perspectives"], "perspectives")
    check(r["actual_orchestration_parameters"]["attempt_count"] >= 1,
          "attempt_count")
    eq(one_audit(ctx.short, trace=trace)["outcome"], "answered",
       "audit outcome")


@R.case
def test_api_keys(ctx):
    def call(headers):
        return mpic(ctx.keyed, "auth.example",
                    ctx.fake.scenario(lambda c, i: "pass"),
                    headers=headers)[0]

    eq(call(None), 401, "no key")
    eq(call({"x-api-key": "wrong"}), 401, "wrong x-api-key")
    eq(call({"Authorization": "Bearer wrong"}), 401, "wrong bearer")
    eq(call({"Authorization": API_KEYS[0]}), 401, "key without Bearer")
    eq(call({"Authorization": "Basic " + API_KEYS[0]}), 401, "Basic")
    eq(call({"x-api-key": API_KEYS[0][:-1]}), 401, "key prefix")
    eq(call({"x-api-key": API_KEYS[0] + "x"}), 401, "key plus a byte")
    eq(call({"x-api-key": API_KEYS[0]}), 200, "x-api-key one")
    eq(call({"x-api-key": API_KEYS[1]}), 200, "x-api-key two")
    eq(call({"Authorization": "Bearer " + API_KEYS[1]}), 200, "Bearer")
    eq(call({"Authorization": "bearer " + API_KEYS[0]}), 200,
       "scheme is case-insensitive")
    # A refused request never reaches a checker nor the audit log.
    trace = ctx.fake.scenario(lambda c, i: "pass")
    st, _ = mpic(ctx.keyed, "auth2.example", trace)
    eq(st, 401, "no key")
    eq(ctx.fake.calls_of(trace), [], "no checker call when unauthorized")
    eq(audit_lines(ctx.keyed, trace=trace), [], "no audit line")


@R.case
def test_configz_has_no_secrets(ctx):
    for d in (ctx.main, ctx.keyed):
        st, body = h.http_request(d.base + "/configz")
        eq(st, 200, d.name + " /configz status")
        text = json.dumps(body)
        for secret in (HASH_SECRET, CHECKER_TOKEN) + API_KEYS:
            check(secret not in text,
                  "%s /configz shows a secret: %s" % (d.name, secret))
    log = ctx.main.read_log() + ctx.keyed.read_log()
    for secret in (HASH_SECRET, CHECKER_TOKEN) + API_KEYS:
        check(secret not in log, "a secret reached the log")


@R.case
def test_metrics_count_outcomes(ctx):
    st, text = h.http_request(ctx.rir.base + "/metrics")
    eq(st, 200, "metrics status")
    text = text.decode() if isinstance(text, bytes) else str(text)
    vals = {}
    for line in text.splitlines():
        if line.startswith("mpic_requests_total{"):
            k, v = line.rsplit(" ", 1)
            vals[k] = int(v)
    valid = vals.get('mpic_requests_total{check_type="caa",result="valid"}')
    invalid = vals.get(
        'mpic_requests_total{check_type="caa",result="invalid"}')
    check(valid is not None and invalid is not None, "counters: %r" % vals)
    audits = audit_lines(ctx.rir)
    eq(valid, sum(1 for a in audits if a["is_valid"]), "valid count")
    eq(invalid, sum(1 for a in audits if not a["is_valid"]), "invalid count")
    eq(vals.get('mpic_requests_total{check_type="any",result="cancelled"}'),
       0, "cancelled count")


def main():
    ctx_holder = []

    def factory():
        ctx = Ctx()
        ctx_holder.append(ctx)
        return ctx

    try:
        return R.run(factory)
    finally:
        for ctx in ctx_holder:
            ctx.fake.close()


if __name__ == "__main__":
    sys.exit(main())
