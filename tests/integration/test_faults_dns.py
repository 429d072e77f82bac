#!/usr/bin/env python3
"""Resolver faults seen through the coordinator (issue 4): the CAA
checkers' resolver is down, silent (slow), or answers SERVFAIL, REFUSED,
truncated or garbage. Each perspective must report the checker's own
lookup error (never a coordinator timeout), the quorum must refuse, and
the answer must come within the checkers' DNS budget: timeout_ms x tries
(dns.c's overall query deadline; c-ares alone would double each round:
1 + 2 + 4 s here), well inside the coordinator's remote_timeout_ms.

Ports: 127.0.0.1:20000-20999."""

import sys
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 20000, 20999

R = h.Runner()
CODES = [c for c, _, _ in h.PERSPECTIVES][:3]
LOOKUP = "mpic_error:caa_checker:lookup"
REMOTE = "mpic_error:coordinator:remote_check"
DNS_TIMEOUT_MS, DNS_TRIES = 1000, 3
REMOTE_TIMEOUT_MS = 6000
SLACK_S = 3.0


class Ctx:
    def __init__(self):
        self.cluster = c = h.Cluster()
        fault = ["127.0.0.1:%d" % c.dns.fault.port]
        dead = ["127.0.0.1:%d" % h.free_port()]
        kw = dict(timeout_ms=DNS_TIMEOUT_MS, tries=DNS_TRIES)
        self.fault = self._coord("fault", fault, kw)
        self.dead = self._coord("dead", dead, kw)

    def _coord(self, key, resolvers, kw):
        checkers = [self.cluster.start_checker(code, resolvers=resolvers,
                                               name="caa-%s-%s" % (key, code),
                                               **kw)
                    for code in CODES]
        urls = [(code, d.base + "/caa") for code, d in zip(CODES, checkers)]
        return self.cluster.start_coordinator(
            urls, name="coord-" + key, default_count=3,
            remote_timeout_ms=REMOTE_TIMEOUT_MS)


def mpic(coord, target, params=None):
    body = {"check_type": "caa", "domain_or_ip_target": target}
    if params is not None:
        body["caa_check_parameters"] = params
    t0 = time.monotonic()
    status, resp = h.post(coord.base + "/mpic", body, timeout=60)
    el = time.monotonic() - t0
    eq(status, 200, "status for %s (%r)" % (target, resp))
    return resp, el


def expect_lookup_errors(coord, target, params=None, valid=False):
    resp, el = mpic(coord, target, params)
    budget = DNS_TIMEOUT_MS * DNS_TRIES / 1000.0 + SLACK_S
    check(el < budget, "%s: answered after %.1fs, budget %.1fs" % (
        target, el, budget))
    eq(resp["is_valid"], valid, target + " is_valid")
    for p in resp["perspectives"]:
        cr = p["check_response"]
        types = [e["error_type"] for e in cr["errors"] or []]
        check(REMOTE not in types,
              "%s %s: coordinator gave up first: %r" % (
                  target, p["perspective_code"], cr["errors"]))
        if not valid:
            eq(types, [LOOKUP], target + " " + p["perspective_code"])
            eq(cr["check_completed"], False, target + " check_completed")
    print("     %-28s answered in %.2fs" % (target, el))
    return resp


@R.case
def test_fault_resolver_permit_is_valid(ctx):
    resp, _ = mpic(ctx.fault, "permit.x.test")
    eq(resp["is_valid"], True, "is_valid")


@R.case
def test_resolver_silent_is_lookup_error_within_dns_budget(ctx):
    expect_lookup_errors(ctx.fault, "blackhole.x.test")


@R.case
def test_resolver_silent_with_allow_lookup_failure_is_lookup_error(ctx):
    # The checkers' own resolver is silent: never permission (BR 3.2.2.8,
    # open-mpic-api.md 5.2), and the DNSSEC proof, run alongside the
    # lookup, keeps the answer within the same DNS budget.
    resp = expect_lookup_errors(ctx.fault, "blackhole.y.test",
                                {"allow_lookup_failure": True})
    for p in resp["perspectives"]:
        why = p["check_response"]["details"].get("lookup_failure_denied")
        check(isinstance(why, str), "no reason: %r" % p["check_response"])


@R.case
def test_resolver_servfail_is_lookup_error(ctx):
    expect_lookup_errors(ctx.fault, "servfail.x.test")
    # allow_lookup_failure never turns SERVFAIL into a pass.
    expect_lookup_errors(ctx.fault, "servfail.y.test",
                         {"allow_lookup_failure": True})


@R.case
def test_resolver_refused_is_lookup_error(ctx):
    expect_lookup_errors(ctx.fault, "refused.x.test")


@R.case
def test_resolver_truncated_is_lookup_error(ctx):
    expect_lookup_errors(ctx.fault, "truncated.x.test")


@R.case
def test_resolver_garbage_is_lookup_error(ctx):
    expect_lookup_errors(ctx.fault, "garbage.x.test")


@R.case
def test_resolver_down_is_lookup_error(ctx):
    expect_lookup_errors(ctx.dead, "permit.x.test")


@R.case
def test_checkers_still_serve_after_faults(ctx):
    resp, _ = mpic(ctx.fault, "permit.z.test")
    eq(resp["is_valid"], True, "is_valid after faults")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
