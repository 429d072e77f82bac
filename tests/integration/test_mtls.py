#!/usr/bin/env python3
"""Mutual TLS between the coordinator and the checkers, on 127.0.0.1.

A throwaway PKI is made here with scripts/gen-certs.sh and the openssl
CLI: the deployment's two CAs, a second unrelated PKI, and an expired
coordinator certificate. Real CAA and DCV checkers serve HTTPS and require
a client certificate from the coordinators' CA; coordinators present
various client certificates and trust various anchors. Every refusal must
become that perspective's remote_check error in a well-formed MPIC answer,
never a crash or a hang, and every daemon must still exit 0 on SIGTERM."""

import os
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(22000, 22399)

R = h.Runner()
REMOTE = "mpic_error:coordinator:remote_check"
GOOD = ["us-east-1", "eu-west-1", "ap-northeast-1", "ap-southeast-2"]
ROGUE = "us-west-2"        # certificate from another CA
WRONG_NAME = "eu-central-1"  # right CA, name does not match the URL
HAVE_DCV = os.path.exists(h.binary("mpic-dcv-checker"))


class Ctx:
    def __init__(self):
        self.cluster = u.cluster_with_dcv_zones()
        w = self.cluster.workdir
        self.pki = u.gen_certs(os.path.join(w, "pki"),
                               "checker=127.0.0.1,localhost",
                               "wrongname=wrong-name.example")
        self.other = u.gen_certs(os.path.join(w, "other-pki"),
                                 "checker=127.0.0.1,localhost")
        self.expired = u.expired_cert(self.pki, "coordinators-ca",
                                      "coordinator-expired")
        p = self.pki
        self.ca = os.path.join(p, "checkers-ca.crt")
        self.client_ca = os.path.join(p, "coordinators-ca.crt")
        self.coord_cert = (os.path.join(p, "coordinator.crt"),
                           os.path.join(p, "coordinator.key"))
        self.other_cert = (os.path.join(self.other, "coordinator.crt"),
                           os.path.join(self.other, "coordinator.key"))
        # A Python client with the coordinator's own credentials.
        self.good_ctx = u.tls_context(self.ca, *self.coord_cert)
        self.caa = {}
        self.dcv = {}
        for code in GOOD:
            self.caa[code] = self.start_checker("caa", code, p, "checker")
            if HAVE_DCV:
                self.dcv[code] = self.start_checker("dcv", code, p, "checker")
        self.caa[ROGUE] = self.start_checker("caa", ROGUE, self.other,
                                             "checker")
        self.caa[WRONG_NAME] = self.start_checker("caa", WRONG_NAME, p,
                                                  "wrongname")
        self.coords = {}

    def start_checker(self, kind, code, pki, leaf):
        port = h.free_port(udp_too=False)
        extra = u.tls_yaml(os.path.join(pki, leaf + ".crt"),
                           os.path.join(pki, leaf + ".key"), self.client_ca)
        if kind == "dcv":
            extra += "targets:\n  allow_private_addresses: true\n"
        text = h.checker_config(code, port, [self.cluster.dns.resolver],
                                extra=extra)
        d = u.start_daemon(self.cluster, "%s-%s" % (kind, code),
                           "mpic-%s-checker" % kind, text, port,
                           "https://127.0.0.1:%d/healthz" % port,
                           ctx=self.good_ctx if leaf == "checker" and
                           pki == self.pki else
                           u.tls_context(None, *self.coord_cert))
        d.url = "https://localhost:%d/%s" % (port, kind)
        d.https = "https://127.0.0.1:%d" % port
        return d

    def coordinator(self, key, codes, checker_tls, count=3):
        if key not in self.coords:
            persp = [(c, self.dcv[c].url if c in self.dcv else None,
                      self.caa[c].url) for c in codes]
            self.coords[key] = u.start_coordinator(
                self.cluster, "coord-" + key, persp, count=count,
                extra=checker_tls)
        return self.coords[key]

    def good_coordinator(self):
        return self.coordinator("good", GOOD[:3], u.checker_tls_yaml(
            self.ca, *self.coord_cert))


def mpic(coord, target, check_type="caa", params=None):
    body = {"check_type": check_type, "domain_or_ip_target": target,
            "trace_identifier": "mtls-" + target}
    if params is not None:
        body[check_type + "_check_parameters"] = params
    status, resp = h.post(coord.base + "/mpic", body)
    eq(status, 200, "status (%r)" % (resp,))
    return resp


def assert_all_refused(ctx, coord, what, want_in="403"):
    resp = mpic(coord, "permit.caa.test")
    eq(resp["is_valid"], False, what + ": is_valid")
    eq(resp["mpic_completed"], False, what + ": mpic_completed")
    eq(len(resp["perspectives"]), 3, what + ": perspectives")
    for code, cr in u.by_code(resp).items():
        eq((cr["check_passed"], cr["check_completed"]), (False, False),
           what + ": verdict of " + code)
        eq([e["error_type"] for e in cr["errors"]], [REMOTE],
           what + ": errors of " + code)
        msg = cr["errors"][0]["error_message"]
        check(want_in in msg, "%s: %s: message %r lacks %r" % (
            what, code, msg, want_in))
    # Still alive and serving, and so are the checkers.
    eq(h.http_request(coord.base + "/healthz")[0], 200, "coordinator alive")
    for code in GOOD[:3]:
        eq(u.request(ctx.caa[code].https + "/healthz", ctx=ctx.good_ctx)[0],
           200, "checker %s alive" % code)
    return resp


# ---------------------------------------------------------------- success


@R.case
def test_mpic_caa_over_mtls(ctx):
    coord = ctx.good_coordinator()
    resp = mpic(coord, "permit.caa.test")
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "permit over mTLS (%r)" % resp)
    for code, cr in u.by_code(resp).items():
        eq(cr["check_passed"], True, code + " passed")
        eq(cr["details"]["found_at"], "permit.caa.test", code + " found_at")
    # A real answer, not a constant: deny is completed and invalid.
    resp = mpic(coord, "deny.caa.test")
    eq((resp["is_valid"], resp["mpic_completed"]), (False, True),
       "deny over mTLS")
    for cr in u.by_code(resp).values():
        eq(cr["errors"], None, "no errors on deny")


@R.case
def test_mpic_dcv_over_mtls(ctx):
    if not HAVE_DCV:
        raise AssertionError("mpic-dcv-checker not built")
    coord = ctx.good_coordinator()
    resp = mpic(coord, "ok.dcv.test", "dcv", u.dns01_params())
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "dns-01 over mTLS (%r)" % resp)
    resp = mpic(coord, "wrong.dcv.test", "dcv", u.dns01_params())
    eq((resp["is_valid"], resp["mpic_completed"]), (False, True),
       "wrong dns-01 value over mTLS")


def checker_metrics(coord):
    """{(name, perspective, check_type, kind/result): value} of the
    per-checker connection metrics."""
    import re
    st, text = h.http_request(coord.base + "/metrics")
    eq(st, 200, "/metrics status")
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    out = {}
    pat = re.compile(r'^(mpic_checker_\w+)\{perspective="([^"]*)",'
                     r'check_type="(\w+)"(?:,(?:kind|result)="(\w+)")?\} '
                     r'(\d+)$')
    for line in text.splitlines():
        m = pat.match(line)
        if m:
            out[m.group(1, 2, 3, 4)] = int(m.group(5))
    return out


def wait_for(fn, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


@R.case
def test_connections_are_warm_reused_and_resumed(ctx):
    # A coordinator of its own, so the counts start at zero.
    codes = GOOD[:3]
    coord = ctx.coordinator("warm", codes, u.checker_tls_yaml(
        ctx.ca, *ctx.coord_cert))
    conns = "mpic_checker_connections_total"
    hs = "mpic_checker_tls_handshakes_total"

    # At start every checker is pinged: one connection, one full handshake
    # each, before any request.
    def warmed():
        m = checker_metrics(coord)
        ok = all(m.get(("mpic_checker_pings_total", c, "caa", "ok"), 0) >= 1
                 for c in codes)
        return m if ok else None
    m0 = wait_for(warmed, "the first keep-alive pings")
    for c in codes:
        eq(m0[(conns, c, "caa", None)], 1, c + " connections after warm-up")
        eq(m0[(hs, c, "caa", "full")], 1, c + " full handshakes")
        eq(m0[(hs, c, "caa", "resumed")], 0, c + " resumed handshakes")
    # Sequential requests reuse the warm connection: no new connection.
    for i in range(3):
        resp = mpic(coord, "permit.caa.test")
        eq(resp["is_valid"], True, "request %d valid" % i)
    m1 = checker_metrics(coord)
    for c in codes:
        eq(m1[(conns, c, "caa", None)], 1, c + " connections after 3 "
           "sequential requests")
    # Concurrent requests need more connections: they resume the TLS
    # session of the first one instead of full handshakes.
    results = []

    def one():
        results.append(mpic(coord, "permit.caa.test")["is_valid"])
    ts = [threading.Thread(target=one) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    eq(results, [True] * 8, "concurrent verdicts")
    m2 = checker_metrics(coord)
    new = sum(m2[(conns, c, "caa", None)] - 1 for c in codes)
    resumed = sum(m2[(hs, c, "caa", "resumed")] for c in codes)
    full = sum(m2[(hs, c, "caa", "full")] for c in codes)
    print("     8 concurrent requests: %d new connections, %d resumed, "
          "%d full handshakes in all" % (new, resumed, full))
    check(new >= 1, "8 concurrent requests opened no new connection")
    # Concurrent new connections may race for one stored session (a TLS
    # 1.3 ticket is used once), so some still do a full handshake; but
    # sessions are shared across handles and resumed.
    check(resumed >= 1, "no new connection resumed a TLS session")
    eq(resumed + full, new + len(codes), "every connection's handshake is "
       "counted once")
    # After a quiet spell the pings keep as many connections open as calls
    # ran at once: each checker gets a round of as many pings at once as
    # it had connections after the burst, and they ride on those same
    # connections (none is opened). (How many a second burst would open
    # depends on how its calls overlap on a loaded machine, so the pool is
    # checked through the pings instead.)
    pings = "mpic_checker_pings_total"

    def rewarmed():
        m = checker_metrics(coord)
        ok = all(m.get((pings, c, "caa", "ok"), 0) >=
                 m2.get((pings, c, "caa", "ok"), 0) +
                 m2[(conns, c, "caa", None)] for c in codes)
        return m if ok else None
    m3 = wait_for(rewarmed, "the keep-alive pings of the warm pool", 40)
    for c in codes:
        eq(m3[(conns, c, "caa", None)], m2[(conns, c, "caa", None)],
           "%s: connections opened by the pings of the warm pool (the "
           "pool was not kept warm)" % c)
    results.clear()
    ts = [threading.Thread(target=one) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    eq(results, [True] * 8, "concurrent verdicts after the quiet spell")
    m4 = checker_metrics(coord)
    again = sum(m4[(conns, c, "caa", None)] - m3[(conns, c, "caa", None)]
                for c in codes)
    print("     the same burst after a quiet spell: %d new connections" % again)


@R.case
def test_checker_accepts_coordinator_certificate(ctx):
    c = ctx.caa[GOOD[0]]
    eq(u.request(c.https + "/healthz", ctx=ctx.good_ctx)[0], 200, "healthz")
    body = h.load_fixture("caa-request.json")
    body["domain_or_ip_target"] = "permit.caa.test"
    body["caa_check_parameters"]["caa_domains"] = ["ca.example"]
    status, resp = u.request(c.https + "/caa", body, ctx=ctx.good_ctx)
    eq(status, 200, "POST /caa with the coordinator's certificate")
    eq(resp["check_passed"], True, "check_passed")


# ---------------------------------------------------------------- checker refuses


def direct(ctx, client_ctx):
    return u.request(ctx.caa[GOOD[0]].https + "/caa",
                     {"domain_or_ip_target": "permit.caa.test"},
                     ctx=client_ctx)


@R.case
def test_checker_refuses_client_without_certificate(ctx):
    status, body = direct(ctx, u.tls_context(ctx.ca))
    eq(status, 403, "status without a client certificate (%r)" % (body,))
    coord = ctx.coordinator("nocert", GOOD[:3],
                            u.checker_tls_yaml(ctx.ca))
    assert_all_refused(ctx, coord, "no client certificate")


@R.case
def test_healthz_needs_no_client_certificate(ctx):
    # Probes (compose, Kubernetes) have no client certificate: /healthz is
    # served anyway, every other path still needs one.
    c = ctx.caa[GOOD[0]]
    eq(u.request(c.https + "/healthz", ctx=u.tls_context(ctx.ca))[0], 200,
       "healthz without a client certificate")
    eq(u.request(c.https + "/configz", ctx=u.tls_context(ctx.ca))[0], 403,
       "configz without a client certificate")
    eq(u.request(c.https + "/metrics", ctx=u.tls_context(ctx.ca))[0], 403,
       "metrics without a client certificate")


@R.case
def test_checker_refuses_certificate_from_another_ca(ctx):
    status, body = direct(ctx, u.tls_context(ctx.ca, *ctx.other_cert))
    eq(status, 403, "status with another CA's certificate (%r)" % (body,))
    coord = ctx.coordinator("othercert", GOOD[:3],
                            u.checker_tls_yaml(ctx.ca, *ctx.other_cert))
    assert_all_refused(ctx, coord, "certificate from another CA")


@R.case
def test_checker_refuses_expired_certificate(ctx):
    status, body = direct(ctx, u.tls_context(ctx.ca, *ctx.expired))
    eq(status, 403, "status with an expired certificate (%r)" % (body,))
    coord = ctx.coordinator("expired", GOOD[:3],
                            u.checker_tls_yaml(ctx.ca, *ctx.expired))
    assert_all_refused(ctx, coord, "expired certificate")


@R.case
def test_checker_refuses_plain_http(ctx):
    c = ctx.caa[GOOD[0]]
    try:
        status, _ = h.http_request(c.https.replace("https:", "http:") +
                                   "/healthz", timeout=5)
    except OSError:
        status = None
    check(status != 200, "plain HTTP to a TLS checker answered 200")


# ---------------------------------------------------------------- coordinator refuses


@R.case
def test_coordinator_refuses_checker_from_another_ca(ctx):
    # The checker is fine with the coordinator; the coordinator is not with
    # the checker.
    rogue = ctx.caa[ROGUE]
    eq(u.request(rogue.https + "/healthz",
                 ctx=u.tls_context(None, *ctx.coord_cert))[0], 200,
       "rogue checker accepts the coordinator's certificate")
    with_anchor = u.tls_context(ctx.ca, *ctx.coord_cert)
    with_anchor.check_hostname = False
    try:
        u.request(rogue.https + "/healthz", ctx=with_anchor)
        raise AssertionError("rogue certificate verified against the anchor")
    except (ssl.SSLError, OSError) as e:
        check("CERTIFICATE_VERIFY_FAILED" in str(e) or
              "certificate verify failed" in str(e), "error: %s" % e)
    # Four good perspectives and two bad: quorum 4 of 6 still holds, and the
    # two bad ones carry their own errors.
    coord = ctx.coordinator("mixed", GOOD + [ROGUE, WRONG_NAME],
                            u.checker_tls_yaml(ctx.ca, *ctx.coord_cert),
                            count=6)
    resp = mpic(coord, "permit.caa.test")
    eq(resp["actual_orchestration_parameters"]["quorum_count"], 4, "quorum")
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "4 of 6 corroborate (%r)" % resp)
    got = u.by_code(resp)
    for code in GOOD:
        eq((got[code]["check_passed"], got[code]["errors"]), (True, None),
           "good perspective " + code)
    for code in (ROGUE, WRONG_NAME):
        cr = got[code]
        eq((cr["check_passed"], cr["check_completed"]), (False, False),
           "refused perspective " + code)
        eq([e["error_type"] for e in cr["errors"]], [REMOTE],
           "errors of " + code)
        check("SSL" in cr["errors"][0]["error_message"],
              "TLS failure named: %r" % cr["errors"])


@R.case
def test_coordinator_refuses_checker_name_mismatch(ctx):
    coord = ctx.coordinator("wrongname", GOOD[:2] + [WRONG_NAME],
                            u.checker_tls_yaml(ctx.ca, *ctx.coord_cert))
    resp = mpic(coord, "permit.caa.test")
    got = u.by_code(resp)
    eq([e["error_type"] for e in got[WRONG_NAME]["errors"]], [REMOTE],
       "name mismatch is refused")
    for code in GOOD[:2]:
        eq(got[code]["check_passed"], True, "good perspective " + code)
    check("name" in got[WRONG_NAME]["errors"][0]["error_message"],
          "mismatch named: %r" % got[WRONG_NAME]["errors"])
    # 2 of 3 pass and quorum is 2: valid, with the mismatch refused.
    eq(resp["is_valid"], True, "2 of 3 corroborate")


@R.case
def test_coordinator_without_anchor_refuses_private_ca(ctx):
    # No checker_tls.ca_file: the system trust store, which does not hold
    # our throwaway CA.
    coord = ctx.coordinator("noanchor", GOOD[:3], u.checker_tls_yaml(
        None, *ctx.coord_cert))
    assert_all_refused(ctx, coord, "no trust anchor", want_in="SSL")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
