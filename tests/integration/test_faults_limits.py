#!/usr/bin/env python3
"""Limits and abuse (issue 4): slowloris against the coordinator (it still
answers /healthz and a real /mpic; the times are printed), the body limit
(413), header limits, the bounded total time of an MPIC request over
several attempts, and authentication: api_keys on the coordinator and
bearer_tokens on the checkers (missing, wrong, right), with the secrets
never in a daemon's log nor in /configz.

Ports: 127.0.0.1:20000-20999."""

import json
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 20000, 20999

R = h.Runner()
Z = "caa.test"
CODES = [c for c, _, _ in h.PERSPECTIVES][:3]
REMOTE = "mpic_error:coordinator:remote_check"
API_KEY = "ak-7f3e9b21-secret-api-key"
TOKEN = "bt-a1c94e0d-secret-bearer"
HASH_SECRET = "hs-5d2b8c77-secret-hash"
# A secret in a header whose name says nothing of secrets: /configz
# redacts every perspective header value, whatever the name.
XAUTH = "xa-91e0c4d3-secret-x-auth"
SLOWLORIS_CONNS = 200


class Hang:
    """Accepts, reads the request, never answers."""

    def __init__(self):
        self.port = h.free_port(udp_too=False)
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((h.LOOPBACK, self.port))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._hold, args=(c,),
                             daemon=True).start()

    def _hold(self, c):
        self.stop.wait(60)
        c.close()

    def url(self, code=None):
        """One path per perspective it stands in for: two perspective
        codes may not share a checker URL."""
        return "http://%s:%d/caa%s" % (h.LOOPBACK, self.port,
                                       "/" + code if code else "")

    def close(self):
        self.stop.set()
        self.sock.close()


def coord_yaml(port, perspectives, api_keys=(), remote_timeout_ms=4000,
               max_request_bytes=65536):
    """perspectives: (code, url, headers dict or None)."""
    lines = ["listen: %s" % json.dumps("%s:%d" % (h.LOOPBACK, port)),
             "log_level: trace",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url, hdrs in perspectives:
        lines += ["  - code: %s" % code, "    caa_url: %s" % json.dumps(url)]
        if hdrs:
            lines.append("    headers: %s" % json.dumps(hdrs))
    lines += ["default_perspective_count: 3", "absolute_max_attempts: 3",
              "hash_secret: %s" % json.dumps(HASH_SECRET),
              "remote_timeout_ms: %d" % remote_timeout_ms,
              "api_keys: %s" % json.dumps(list(api_keys)),
              "max_request_bytes: %d" % max_request_bytes]
    lines += h.compliance_yaml()
    return "\n".join(lines) + "\n"


class Ctx:
    def __init__(self):
        self.cluster = c = h.Cluster()
        self.hang = Hang()
        h.atexit.register(self.hang.close)
        self.checkers = [c.start_checker(code, name="caa-" + code)
                         for code in CODES]
        self.plain = self.coordinator(
            "plain", [(code, d.base + "/caa", None)
                      for code, d in zip(CODES, self.checkers)])
        # Checkers that want a bearer token, and a coordinator with keys
        # that sends the token (trace logging: the most verbose level).
        extra = "auth:\n  bearer_tokens: [%s]\n" % (
            json.dumps(TOKEN))
        self.authed = [c.start_checker(code, name="caa-auth-" + code,
                                       extra=extra) for code in CODES]
        hdr = {"Authorization": "Bearer " + TOKEN, "X-Auth": XAUTH}
        self.keyed = self.coordinator(
            "keyed", [(code, d.base + "/caa", hdr)
                      for code, d in zip(CODES, self.authed)],
            api_keys=(API_KEY,))
        # The same checkers without the token: every call is refused.
        self.tokenless = self.coordinator(
            "tokenless", [(code, d.base + "/caa", None)
                          for code, d in zip(CODES, self.authed)])
        # Every perspective hangs: each attempt waits remote_timeout_ms.
        self.hanging = self.coordinator(
            "hanging", [(code, self.hang.url(code), None) for code in CODES],
            remote_timeout_ms=1000)

    def coordinator(self, name, perspectives, **kw):
        c = self.cluster
        port = h.free_port(udp_too=False)
        sub = os.path.join(c.workdir, "coord-" + name)
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        d = h.Daemon("coord-" + name, "mpic-coordinator",
                     coord_yaml(port, perspectives, **kw), sub, port)
        c.daemons.append(d)
        d.wait_healthy()
        return d


def mpic(coord, target="permit." + Z, orch=None, headers=None, timeout=30):
    body = {"check_type": "caa", "domain_or_ip_target": target}
    if orch:
        body["orchestration_parameters"] = orch
    t0 = time.monotonic()
    status, resp = h.post(coord.base + "/mpic", body, headers=headers,
                          timeout=timeout)
    return status, resp, time.monotonic() - t0


def raw_exchange(port, data, timeout=10):
    """Sends raw bytes; returns the status code of the answer, or None if
    the connection closed without one."""
    s = socket.create_connection((h.LOOPBACK, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may close while we still send
        buf = b""
        while b"\r\n" not in buf:
            try:
                chunk = s.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        if not buf.startswith(b"HTTP/1."):
            return None
        return int(buf.split(b" ", 2)[1])
    finally:
        s.close()


# ---------------------------------------------------------------- abuse


@R.case
def test_slowloris_does_not_starve_the_coordinator(ctx):
    coord = ctx.plain
    stop = threading.Event()
    socks = []
    try:
        for i in range(SLOWLORIS_CONNS):
            s = socket.create_connection((h.LOOPBACK, coord.port), timeout=5)
            s.sendall(b"POST /mpic HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
            socks.append(s)

        def drip():
            # One more header byte per connection every ~0.2 s: never
            # finished, never idle long enough to time out.
            while not stop.is_set():
                for s in socks:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
                stop.wait(0.2)

        t = threading.Thread(target=drip, daemon=True)
        t.start()
        time.sleep(0.5)  # let every connection be mid-headers
        t0 = time.monotonic()
        status, body = h.http_request(coord.base + "/healthz", timeout=10)
        t_health = time.monotonic() - t0
        eq(status, 200, "/healthz under slowloris")
        status, resp, t_mpic = mpic(coord, timeout=20)
        eq(status, 200, "/mpic under slowloris")
        eq(resp["is_valid"], True, "is_valid under slowloris")
        print("     %d slowloris connections: /healthz %.3fs, /mpic %.3fs"
              % (len(socks), t_health, t_mpic))
        check(coord.alive(), "coordinator died")
    finally:
        stop.set()
        for s in socks:
            s.close()


@R.case
def test_body_over_limit_is_413(ctx):
    big = b'{"check_type": "caa", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    req = (b"POST /mpic HTTP/1.1\r\nHost: x\r\nContent-Type: "
           b"application/json\r\nContent-Length: %d\r\n\r\n" % len(big))
    # The answer may come before the body is sent (and the connection
    # close under our feet): a 413 or a close, never a 200.
    st = raw_exchange(ctx.plain.port, req + big)
    check(st in (413, None), "2 MB body: %r" % st)
    # Chunked, so no length is announced: the cap applies while reading.
    chunked = req.replace(b"Content-Length: %d" % len(big),
                          b"Transfer-Encoding: chunked")
    body = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]),
                                         big[i:i + 65536])
                    for i in range(0, len(big), 65536)) + b"0\r\n\r\n"
    st = raw_exchange(ctx.plain.port, chunked + body)
    check(st in (413, None), "2 MB chunked body: %r" % st)
    print("     over-limit bodies: answered %r" % st)
    # Announced but not sent: refused from the header alone.
    req = (b"POST /mpic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
           b"\r\nContent-Length: 1000000000\r\n\r\n")
    eq(raw_exchange(ctx.plain.port, req), 413, "1 GB content-length")
    status, resp, _ = mpic(ctx.plain)
    eq((status, resp["is_valid"]), (200, True), "still serving")


@R.case
def test_header_limits(ctx):
    port = ctx.plain.port
    huge = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
            b"a" * (512 * 1024) + b"\r\n\r\n")
    st = raw_exchange(port, huge)
    check(st is None or 400 <= st < 500, "one 512 KB header: %r" % st)
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: v\r\n" % i for i in range(20000)) + b"\r\n"
    st = raw_exchange(port, many)
    check(st is None or 400 <= st < 500, "20000 headers: %r" % st)
    long_url = b"GET /" + b"a" * (512 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    st = raw_exchange(port, long_url)
    check(st is None or 400 <= st < 500, "512 KB request line: %r" % st)
    status, _ = h.http_request(ctx.plain.base + "/healthz")
    eq(status, 200, "healthz after header abuse")


@R.case
def test_total_time_bounded_over_attempts(ctx):
    status, resp, el = mpic(ctx.hanging, orch={"perspective_count": 3,
                                               "max_attempts": 3})
    eq(status, 200, "status")
    eq(resp["is_valid"], False, "is_valid")
    n = resp["actual_orchestration_parameters"]["attempt_count"]
    check(1 <= n <= 3, "attempt_count %r" % n)
    bound = n * 1.0 + 3.0
    print("     %d attempts x remote_timeout_ms 1000: answered in %.2fs"
          % (n, el))
    check(el < bound, "answered after %.1fs (bound %.1fs)" % (el, bound))
    for p in resp["perspectives"]:
        eq([e["error_type"] for e in p["check_response"]["errors"]],
           [REMOTE], p["perspective_code"])


# ---------------------------------------------------------------- auth


@R.case
def test_coordinator_api_keys(ctx):
    c = ctx.keyed
    eq(mpic(c)[0], 401, "no key")
    eq(mpic(c, headers={"x-api-key": "wrong"})[0], 401, "wrong key")
    eq(mpic(c, headers={"x-api-key": API_KEY + "x"})[0], 401, "longer key")
    eq(mpic(c, headers={"x-api-key": API_KEY[:-1]})[0], 401, "prefix")
    eq(mpic(c, headers={"authorization": "Bearer " + TOKEN})[0], 401,
       "the checkers' token is not an API key")
    status, resp, _ = mpic(c, headers={"x-api-key": API_KEY})
    eq((status, resp["is_valid"]), (200, True), "right x-api-key")
    status, resp, _ = mpic(c, headers={"authorization": "Bearer " + API_KEY})
    eq((status, resp["is_valid"]), (200, True), "right bearer")
    # /healthz stays open (probes carry no key).
    eq(h.http_request(c.base + "/healthz")[0], 200, "healthz without key")


@R.case
def test_checker_bearer_tokens(ctx):
    d = ctx.authed[0]
    body = {"domain_or_ip_target": "permit." + Z,
            "caa_check_parameters": {"caa_domains": ["ca.example"]}}
    eq(h.post(d.base + "/caa", body)[0], 401, "no token")
    eq(h.post(d.base + "/caa", body,
              headers={"authorization": "Bearer nope"})[0], 401, "wrong")
    eq(h.post(d.base + "/caa", body,
              headers={"authorization": "Bearer " + TOKEN + "x"})[0], 401,
       "longer")
    eq(h.post(d.base + "/caa", body,
              headers={"authorization": "Basic " + TOKEN})[0], 401,
       "other scheme")
    status, resp = h.post(d.base + "/caa", body,
                          headers={"authorization": "Bearer " + TOKEN})
    eq((status, resp.get("check_passed")), (200, True), "right token")
    # Through the coordinator: with the header configured it passes,
    # without it every perspective is a remote_check error.
    status, resp, _ = mpic(ctx.keyed, headers={"x-api-key": API_KEY})
    eq((status, resp["is_valid"]), (200, True), "coordinator sends token")
    status, resp, _ = mpic(ctx.tokenless)
    eq((status, resp["is_valid"]), (200, False), "no token configured")
    for p in resp["perspectives"]:
        eq([e["error_type"] for e in p["check_response"]["errors"]],
           [REMOTE], p["perspective_code"])


@R.case
def test_secrets_never_in_logs_or_configz(ctx):
    secrets = [API_KEY, TOKEN, HASH_SECRET, XAUTH]
    daemons = [ctx.keyed, ctx.tokenless] + ctx.authed
    status, body = h.http_request(ctx.keyed.base + "/configz")
    eq(status, 200, "keyed /configz")
    for p in body["perspectives"]:
        eq(p["headers"], {"Authorization": "<redacted>",
                          "X-Auth": "<redacted>"}, p["code"])
    for d in daemons:
        status, body = h.http_request(d.base + "/configz")
        eq(status, 200, d.name + " /configz")
        text = json.dumps(body) if not isinstance(body, bytes) else \
            body.decode("utf-8", "replace")
        for s in secrets:
            check(s not in text, "%s /configz shows a secret" % d.name)
    # Something was logged at trace level (so the grep means something).
    for d in daemons:
        log = d.read_log()
        check(len(log) > 0, d.name + ": empty log")
        for s in secrets:
            check(s not in log, "%s log holds a secret" % d.name)
    # Also not in the replies the coordinator builds from checker answers.
    status, resp, _ = mpic(ctx.keyed, headers={"x-api-key": API_KEY})
    for s in secrets:
        check(s not in json.dumps(resp), "secret in an /mpic reply")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
