#!/usr/bin/env python3
"""The failover deployment (deploy/failover, docs/failover.md) on 127.0.0.1.

Debian's nginx runs the shipped load balancer site (TLS, API key map) in
front of two coordinators, each started from deploy/failover/coordinator.yaml
(TLS towards nginx, mutual TLS towards the checkers), and five perspectives
each have two CAA checker replicas started from
deploy/failover/caa-checker.yaml. Only addresses, file paths and the rate
limit are substituted (the rate limit is per client address, and here every
client is 127.0.0.1); the DCV replicas are left out (CAA carries the load).

Twenty client threads send a fixed number of requests through nginx with
the API key, a permitting and a denying name in turn. When a third of them
are answered, one coordinator and one checker replica are killed with
SIGKILL. Every request must still get a 200 with the right verdict and an
answer from every perspective of its cohort: nginx moves requests of the dead
coordinator to the other one, and the coordinators move calls of the dead
replica to the other replica of its perspective, so no perspective reports a
remote_check error. A cohort member cut off as a straggler (not_awaited,
open-mpic-api.md 3) is a matter of load, not of the kill, and is tolerated
and counted. Afterwards the remaining coordinator still serves, holds the
dead replica out of its rotation (/metrics), and its audit records name the
replica that answered and the one that failed."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(25500, 25999)

REPO = h.REPO
DEPLOY = os.path.join(REPO, "deploy", "failover")
R = h.Runner()
API_KEY = "failover-test-key-0123456789abcdef0123456789abcdef"
CODES = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1",
         "sa-east-1"]
KILLED_CODE = "eu-west-1"  # its replica "a" is killed
THREADS = 20
REQUESTS = 600
KILL_AFTER = REQUESTS // 3
PERMIT, DENY = "permit.caa.test", "deny.caa.test"


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster()
        w = self.w = self.cluster.workdir
        # Coordinator <-> checker mTLS; every replica gets the same host
        # certificate here (they all are 127.0.0.1).
        self.pki = u.gen_certs(os.path.join(w, "pki"),
                               "checker=127.0.0.1,localhost")
        # nginx -> coordinators: their server certificates name
        # coordinators.mpic.internal, which nginx verifies.
        self.lb_pki = u.gen_certs(
            os.path.join(w, "lb-pki"),
            "coordinator-server=coordinators.mpic.internal,127.0.0.1")
        # The clients' side of nginx.
        self.api_pki = u.gen_certs(os.path.join(w, "api-pki"),
                                   "api=127.0.0.1,localhost")
        self.creds = os.path.join(w, "credentials")
        for unit, files in [
                ("mpic-coordinator", [
                    (self.pki, "checkers-ca.crt", "checkers-ca.crt"),
                    (self.pki, "coordinator.crt", "coordinator.crt"),
                    (self.pki, "coordinator.key", "coordinator.key"),
                    (self.lb_pki, "coordinator-server.crt",
                     "coordinator-server.crt"),
                    (self.lb_pki, "coordinator-server.key",
                     "coordinator-server.key")]),
                ("mpic-caa-checker", [
                    (self.pki, "checker.crt", "checker.crt"),
                    (self.pki, "checker.key", "checker.key"),
                    (self.pki, "coordinators-ca.crt",
                     "coordinators-ca.crt")])]:
            d = os.path.join(self.creds, unit + ".service")
            os.makedirs(d)
            for src_dir, src, dst in files:
                shutil.copy(os.path.join(src_dir, src), os.path.join(d, dst))
        self.client_ctx = u.tls_context(
            os.path.join(self.pki, "checkers-ca.crt"),
            os.path.join(self.pki, "coordinator.crt"),
            os.path.join(self.pki, "coordinator.key"))
        self.coord_ctx = u.tls_context(
            os.path.join(self.lb_pki, "checkers-ca.crt"))
        self.api_ctx = u.tls_context(
            os.path.join(self.api_pki, "checkers-ca.crt"))

        # Two replicas per perspective, "a" and "b".
        self.replicas = {}  # (code, "a"|"b") -> (daemon, port)
        for code in CODES:
            for r in ("a", "b"):
                self.replicas[(code, r)] = self.start_checker(code, r)
        self.coords = [self.start_coordinator(n) for n in ("a", "b")]
        self.start_nginx()

    # ------------------------------------------------------------ daemons

    def start_checker(self, code, r):
        port = h.free_port(udp_too=False)
        text = read(os.path.join(DEPLOY, "caa-checker.yaml"))
        text = text.replace("/run/credentials/", self.creds + "/")
        text = re.sub(r"^listen:.*$", "listen: 127.0.0.1:%d" % port, text,
                      flags=re.M)
        text = text.replace('"127.0.0.1:53"', '"%s"' % self.cluster.dns.resolver)
        name = "caa-%s-%s" % (code, r)
        cfg = write(os.path.join(self.w, name + ".yaml"), text)
        d = u.start_daemon(self.cluster, name, "mpic-caa-checker", None, port,
                           "https://127.0.0.1:%d/healthz" % port,
                           ctx=self.client_ctx,
                           env_extra={"MPIC_PERSPECTIVE_CODE": code},
                           args=["--config", cfg])
        return d, port

    def replica_url(self, code, r):
        return "https://127.0.0.1:%d/caa" % self.replicas[(code, r)][1]

    def start_coordinator(self, n):
        port = h.free_port(udp_too=False)
        sub = os.path.join(self.w, "coordinator-" + n)
        os.makedirs(sub)
        shutil.copy(os.path.join(DEPLOY, "available_perspectives.yaml"), sub)
        text = read(os.path.join(DEPLOY, "coordinator.yaml"))
        text = text.replace("/run/credentials/", self.creds + "/")
        text = re.sub(r"^listen:.*$", "listen: 127.0.0.1:%d" % port, text,
                      flags=re.M)
        # CAA only: the DCV replicas are not started (their names must not
        # be looked up either).
        text, k = re.subn(r"^    dcv_url:\n(?:      - .*\n)+", "", text,
                          flags=re.M)
        eq(k, len(CODES), "dcv_url lists removed")
        for code in CODES:
            for r in ("a", "b"):
                text = text.replace(
                    "https://%s-%s.perspectives.mpic.example:8444/caa" % (
                        code, r), self.replica_url(code, r))
        check("mpic.example" not in text.split("perspectives:")[1],
              "every replica URL substituted")
        cfg = write(os.path.join(sub, "coordinator.yaml"), text)
        env = {"MPIC_HASH_SECRET": "failover-test-secret",
               "MPIC_API_KEYS": API_KEY}
        pre = subprocess.run([h.binary("mpic-coordinator"), "--check-config",
                              "--config", cfg], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             env=h.clean_env(env), timeout=60)
        eq(pre.returncode, 0, "--check-config: " + pre.stdout.decode())
        d = u.start_daemon(self.cluster, "coordinator-" + n,
                           "mpic-coordinator", None, port,
                           "https://127.0.0.1:%d/healthz" % port,
                           ctx=self.coord_ctx, env_extra=env, workdir=sub,
                           args=["--config", cfg])
        d.https_base = "https://127.0.0.1:%d" % port
        return d

    def start_nginx(self):
        w = os.path.join(self.w, "nginx")
        os.makedirs(w)
        site = read(os.path.join(DEPLOY, "nginx", "mpic-lb.conf"))
        self.https_port = h.free_port(udp_too=False)
        self.http_port = h.free_port(udp_too=False)
        site = re.sub(r"^\s*listen \[::\]:\d+.*$", "", site, flags=re.M)
        site = site.replace("listen 443 ", "listen 127.0.0.1:%d " %
                            self.https_port)
        site = site.replace("listen 80;", "listen 127.0.0.1:%d;" %
                            self.http_port)
        for n, d in zip(("a", "b"), self.coords):
            old = "coordinator-%s.mpic.internal:8000" % n
            check(old in site, old + " in the site")
            site = site.replace(old, "127.0.0.1:%d" % d.port)
        # Every client here is 127.0.0.1: the per-address rate limit would
        # refuse the test's load, which is not what is tested.
        old = "rate=50r/s"
        check(old in site, "rate limit in the site")
        site = site.replace(old, "rate=100000r/s")
        keys = write(os.path.join(w, "mpic-api-keys.map"),
                     '"%s" 1;\n' % API_KEY)
        for a, b in [("/etc/mpic/tls/api.crt",
                      os.path.join(self.api_pki, "api.crt")),
                     ("/etc/mpic/tls/api.key",
                      os.path.join(self.api_pki, "api.key")),
                     ("/etc/mpic/tls/coordinators-server-ca.crt",
                      os.path.join(self.lb_pki, "checkers-ca.crt")),
                     ("/etc/nginx/mpic-api-keys.map", keys)]:
            check(a in site, a + " in the site")
            site = site.replace(a, b)
        write(os.path.join(w, "site.conf"), site)
        conf = write(os.path.join(w, "nginx.conf"),
                     h.nginx_conf_text(w, os.path.join(w, "site.conf"),
                                       worker_connections=1024))
        ok, out = h.nginx_test(conf, w)
        if not ok:
            raise RuntimeError("nginx -t: " + out)
        p = h.Proc("nginx", ["nginx", "-c", conf, "-p", w], w)
        self.cluster.dns.procs.append(p)  # stopped and dumped with DNS
        h.wait_tcp(self.https_port, proc=p.proc)
        self.base = "https://localhost:%d" % self.https_port

    def kill(self, d):
        """SIGKILL, and tell the cluster this exit is the test's doing."""
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(h.STOP_TIMEOUT)
        d.exit_code = d.proc.returncode
        d.log.close()
        eq(d.exit_code, -signal.SIGKILL, d.name + " killed")

    # ------------------------------------------------------------ requests

    def mpic(self, target, trace, bearer=False):
        headers = ({"authorization": "Bearer " + API_KEY} if bearer else
                   {"x-api-key": API_KEY})
        body = {"check_type": "caa", "domain_or_ip_target": target,
                "trace_identifier": trace}
        return u.request(self.base + "/mpic", body, method="POST",
                         headers=headers, ctx=self.api_ctx, timeout=120)


def verdict_problems(status, resp, target):
    """What is wrong with one answer: [] if it is right. Also returns the
    number of not_awaited perspectives."""
    want_valid = target == PERMIT
    if status != 200 or not isinstance(resp, dict):
        return ["status %s: %r" % (status, resp)], 0
    out = []
    if resp.get("is_valid") is not want_valid:
        out.append("is_valid %r" % resp.get("is_valid"))
    if resp.get("mpic_completed") is not True:
        out.append("mpic_completed %r" % resp.get("mpic_completed"))
    persp = resp.get("perspectives") or []
    if len(persp) != 5 or len({p["perspective_code"] for p in persp}) != 5:
        out.append("perspectives %r" % persp)
    not_awaited = 0
    for p in persp:
        cr = p["check_response"]
        types = [e.get("error_type") for e in (cr.get("errors") or [])]
        if types == ["mpic_error:coordinator:not_awaited"]:
            not_awaited += 1
            continue
        if types:
            out.append("%s: errors %r" % (p["perspective_code"],
                                          cr.get("errors")))
        elif (cr["check_passed"], cr["check_completed"]) != (want_valid,
                                                              True):
            out.append("%s: passed %r completed %r" % (
                p["perspective_code"], cr["check_passed"],
                cr["check_completed"]))
    return out, not_awaited


def metrics(ctx, d):
    status, raw = u.request(d.https_base + "/metrics", ctx=ctx.coord_ctx)
    eq(status, 200, d.name + " /metrics")
    return raw.decode() if isinstance(raw, bytes) else json.dumps(raw)


def metric(text, name, labels):
    """The value of name{labels...}; labels a dict that must all match."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no %s%r in /metrics" % (name, labels))


def audit_records(d):
    out = []
    for line in d.read_log().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict) and o.get("event") == "mpic_audit":
            out.append(o)
        elif isinstance(o, dict) and isinstance(o.get("mpic_audit"), dict):
            out.append(o["mpic_audit"])
    return out


# ---------------------------------------------------------------- cases


@R.case
def test_every_replica_named_in_configz(ctx):
    """Both coordinators list both replicas of every perspective."""
    for d in ctx.coords:
        status, conf = u.request(d.https_base + "/configz", ctx=ctx.coord_ctx)
        eq(status, 200, "/configz")
        got = {p["code"]: p["caa_url"] for p in conf["perspectives"]}
        for code in CODES:
            eq(got[code], [ctx.replica_url(code, "a"),
                           ctx.replica_url(code, "b")], code + " caa_url")


@R.case
def test_load_through_kills(ctx):
    lock = threading.Lock()
    done = [0]
    results = []  # (i, target, status, resp or exception)
    killed = threading.Event()
    next_i = [0]

    def worker():
        while True:
            with lock:
                i = next_i[0]
                if i >= REQUESTS:
                    return
                next_i[0] += 1
            target = PERMIT if i % 2 == 0 else DENY
            try:
                status, resp = ctx.mpic(target, "failover-%d" % i,
                                        bearer=i % 3 == 0)
            except Exception as e:  # a transport failure is a result too
                status, resp = None, repr(e)
            with lock:
                results.append((i, target, status, resp,
                                killed.is_set()))
                done[0] += 1

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(THREADS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 600
    while done[0] < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.01)
    check(done[0] >= KILL_AFTER, "no progress before the kill")
    ctx.kill(ctx.coords[0])
    ctx.kill(ctx.replicas[(KILLED_CODE, "a")][0])
    killed.set()
    for t in threads:
        t.join(max(1, deadline - time.monotonic()))
    check(not any(t.is_alive() for t in threads),
          "requests still running after 600 s: %d of %d answered" % (
              done[0], REQUESTS))
    eq(len(results), REQUESTS, "answers")

    problems, not_awaited, after = [], 0, 0
    for i, target, status, resp, after_kill in sorted(
            results, key=lambda r: r[0]):
        bad, na = verdict_problems(status, resp, target)
        not_awaited += na
        after += after_kill
        if bad:
            problems.append("request %d (%s): %s" % (i, target, "; ".join(
                bad)))
    print("    %d requests, %d answered after the kill, %d perspectives "
          "not awaited (stragglers)" % (REQUESTS, after, not_awaited))
    eq(problems[:10], [], "wrong answers (%d)" % len(problems))
    check(after > 0, "no request answered after the kill")


@R.case
def test_remaining_coordinator_serves(ctx):
    """After the load: the other coordinator answers everything, the dead
    replica is out of its rotation and its calls went to the other one."""
    check(not ctx.coords[0].alive(), "coordinator-a is dead")
    for i in range(10):
        target = PERMIT if i % 2 == 0 else DENY
        status, resp = ctx.mpic(target, "after-%d" % i)
        bad, _ = verdict_problems(status, resp, target)
        eq(bad, [], "request after the load")
    b = ctx.coords[1]
    text = metrics(ctx, b)
    lab = {"perspective": KILLED_CODE, "check_type": "caa"}
    eq(metric(text, "mpic_checker_replica_up", dict(lab, replica="0")), 0.0,
       "the killed replica held out")
    eq(metric(text, "mpic_checker_replica_up", dict(lab, replica="1")), 1.0,
       "the other replica in rotation")
    check(metric(text, "mpic_checker_failovers_total", lab) >= 1,
          "calls moved to the other replica")
    check(metric(text, "mpic_checker_replica_calls_total",
                 dict(lab, replica="0", result="failed")) >= 1,
          "failed calls to the killed replica counted")
    for code in CODES:
        if code != KILLED_CODE:
            eq(metric(text, "mpic_checker_replica_up",
                      {"perspective": code, "check_type": "caa",
                       "replica": "0"}), 1.0, code + " replica 0 up")
    # The audit records say which replica answered and which failed.
    dead = ctx.replica_url(KILLED_CODE, "a")
    other = ctx.replica_url(KILLED_CODE, "b")
    records = audit_records(b)
    check(records, "no audit records in coordinator-b's log")
    moved = []
    for rec in records:
        for att in rec.get("attempts", []):
            for p in att.get("perspectives", []):
                check(p.get("checker_url") in (
                    ctx.replica_url(p["code"], "a"),
                    ctx.replica_url(p["code"], "b")),
                    "audit checker_url %r of %s" % (p.get("checker_url"),
                                                    p["code"]))
                if p.get("failed_over"):
                    eq(p["code"], KILLED_CODE, "failed over perspective")
                    check(p["failed_over"].startswith(dead + ": "),
                          "failed_over %r" % p["failed_over"])
                    eq(p["checker_url"], other, "answered by")
                    eq(p["replicas_called"], 2, "replicas called")
                    moved.append(p)
    check(moved, "no audit record of a call moved to the other replica")


@R.case
def test_both_replicas_down_is_a_perspective_error(ctx):
    """With both replicas of a perspective gone, the perspective reports
    the failure (one remote_check error naming the last replica) and the
    others still make quorum: failover never borrows another perspective's
    answer."""
    ctx.kill(ctx.replicas[(KILLED_CODE, "b")][0])
    status, resp = ctx.mpic(PERMIT, "both-down")
    eq(status, 200, "status %r" % (resp,))
    eq(resp["is_valid"], True, "4 of 5 still meet quorum")
    by = {p["perspective_code"]: p["check_response"]
          for p in resp["perspectives"]}
    errs = by[KILLED_CODE]["errors"] or []
    eq([e["error_type"] for e in errs],
       ["mpic_error:coordinator:remote_check"], "errors of " + KILLED_CODE)
    eq(by[KILLED_CODE]["check_passed"], False, KILLED_CODE + " passed")
    for code in CODES:
        if code != KILLED_CODE:
            eq(by[code]["errors"] or [], [], code + " errors")


class HalfChecker:
    """A replica that answers every POST with status and no check response:
    500 (a replica stopping, a proxy) or 404 (a wrong path or token). Its
    /healthz answers 200, but with 500 only until the first POST and 503
    after it (it is stopping), so the coordinator's pings neither hold it
    out before the test's first call nor take it back after."""

    def __init__(self, status):
        import http.server

        self.port = h.free_port(udp_too=False)
        self.posts = []
        self.stopping = False

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if outer.stopping and status >= 500:
                    self._send(503, b'{"status":"stopping"}')
                else:
                    self._send(200, b'{"status":"healthy"}')

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                self.rfile.read(n)
                outer.posts.append(self.path)
                outer.stopping = True
                self._send(status, b'{"error": "no check here"}')

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@R.case
def test_what_fails_over(ctx):
    """A 5xx without a check response moves the call to the other replica
    (the answer is the other replica's); a 4xx without one does not (a
    configuration fault stays visible as the perspective's error)."""
    fake, fake404 = HalfChecker(500), HalfChecker(404)
    try:
        port = h.free_port(udp_too=False)
        sub = os.path.join(ctx.w, "coordinator-rules")
        os.makedirs(sub)
        write(os.path.join(sub, "available_perspectives.yaml"),
              h.available_perspectives_yaml())
        lines = ["listen: 127.0.0.1:%d" % port, "log_level: debug",
                 "available_perspectives_file: available_perspectives.yaml",
                 "perspectives:",
                 "  - code: us-east-1",
                 "    caa_url: [%s, %s]" % (fake.url("/500/caa"),
                                            ctx.replica_url("us-east-1", "b")),
                 "  - code: us-west-2",
                 "    caa_url: [%s, %s]" % (fake404.url("/404/caa"),
                                            ctx.replica_url("us-west-2", "b")),
                 "  - code: ap-northeast-1",
                 "    caa_url: %s" % ctx.replica_url("ap-northeast-1", "b"),
                 "default_perspective_count: 3",
                 "hash_secret: rules", "remote_timeout_ms: 10000",
                 "checker_tls:",
                 "  ca_file: %s" % os.path.join(ctx.pki, "checkers-ca.crt"),
                 "  cert_file: %s" % os.path.join(ctx.pki, "coordinator.crt"),
                 "  key_file: %s" % os.path.join(ctx.pki, "coordinator.key")]
        lines += h.compliance_yaml()
        d = u.start_daemon(ctx.cluster, "coordinator-rules",
                           "mpic-coordinator", "\n".join(lines) + "\n", port,
                           "http://127.0.0.1:%d/healthz" % port, workdir=sub)
        # The first call to each of the two perspectives goes to its first
        # replica (round robin starts there; the pings found it healthy).
        status, resp = h.post(d.base + "/mpic", {
            "check_type": "caa", "domain_or_ip_target": PERMIT,
            "trace_identifier": "rules"})
        eq(status, 200, "status %r" % (resp,))
        by = {p["perspective_code"]: p["check_response"]
              for p in resp["perspectives"]}
        eq((fake.posts, fake404.posts), (["/500/caa"], ["/404/caa"]),
           "calls to the fake replicas")
        eq(by["us-east-1"]["errors"] or [], [], "us-east-1 failed over")
        eq(by["us-east-1"]["check_passed"], True, "us-east-1 passed")
        errs = by["us-west-2"]["errors"] or []
        eq([e["error_type"] for e in errs],
           ["mpic_error:coordinator:remote_check"], "us-west-2 errors")
        check("HTTP 404 without a check response" in errs[0]["error_message"],
              errs[0]["error_message"])
        eq(resp["is_valid"], True, "2 of 3")
        text = ""
        status, raw = h.http_request(d.base + "/metrics")
        text = raw.decode()
        eq(metric(text, "mpic_checker_failovers_total",
                  {"perspective": "us-east-1", "check_type": "caa"}), 1.0,
           "us-east-1 failovers")
        eq(metric(text, "mpic_checker_failovers_total",
                  {"perspective": "us-west-2", "check_type": "caa"}), 0.0,
           "us-west-2 failovers")
        eq(metric(text, "mpic_checker_replica_up",
                  {"perspective": "us-east-1", "check_type": "caa",
                   "replica": "0"}), 0.0, "the 500 replica held out")
        eq(metric(text, "mpic_checker_replica_up",
                  {"perspective": "us-west-2", "check_type": "caa",
                   "replica": "0"}), 1.0, "a 404 holds nothing out")
        # The next call to us-east-1 goes straight to the other replica.
        fake.posts.clear()
        status, resp = h.post(d.base + "/mpic", {
            "check_type": "caa", "domain_or_ip_target": PERMIT,
            "trace_identifier": "rules-2"})
        eq(status, 200, "status %r" % (resp,))
        check("/500/caa" not in fake.posts, "held-out replica called: %r" %
              fake.posts)
        ctx.cluster.stop_daemon(d)
        rec = [r for r in audit_records(d) if r["trace_identifier"] == "rules"]
        eq(len(rec), 1, "audit record of the first request")
        ps = {p["code"]: p for p in rec[0]["attempts"][0]["perspectives"]}
        eq(ps["us-east-1"]["checker_url"], ctx.replica_url("us-east-1", "b"),
           "us-east-1 answered by")
        check(ps["us-east-1"]["failed_over"].startswith(
            fake.url("/500/caa") + ": checker answered HTTP 500"),
            ps["us-east-1"]["failed_over"])
        eq(ps["us-west-2"]["checker_url"], fake404.url("/404/caa"),
           "us-west-2 recorded from")
        check("failed_over" not in ps["us-west-2"], "us-west-2 not moved")
    finally:
        fake.close()
        fake404.close()


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
