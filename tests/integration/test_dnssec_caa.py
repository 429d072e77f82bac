#!/usr/bin/env python3
"""allow_lookup_failure and DNSSEC (BR 3.2.2.8, open-mpic-api.md 5.2,
docs/compliance.md) against the DNSSEC lab (dnssec_lab.py): a CAA lookup
failure passes only when the checker proves every condition itself: the
failure is outside its own infrastructure, it was retried, and the name is
DNSSEC-insecure through the perspective's validating resolver. Each rule
has a case that passes and one that must not; two go end to end through
the coordinator."""

import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import dnssec_lab  # noqa: E402

R = h.Runner()
LOOKUP = "mpic_error:caa_checker:lookup"
ALLOW = {"allow_lookup_failure": True}
REF_ERROR = h.load_fixture("caa-response-lookup-error.json")


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster(dns=False)
        self.lab = dnssec_lab.DNSSECLab(self.cluster.workdir)
        # The lab's servers stop with the cluster.
        self.cluster.dns = self.lab
        v = [self.lab.resolver(True)]
        start = self.cluster.start_checker
        self.v = start("us-east-1", v, name="caa-validating")
        self.plain = start("us-east-1", [self.lab.resolver(False)],
                           name="caa-plain")
        self.never = start("us-east-1", v, name="caa-never",
                           extra="  lookup_failure: never\n")
        self.tries1 = start("us-east-1", v, name="caa-tries1", tries=1)
        # The checker's own resolver: gone, silent, refusing.
        dead = "%s:%d" % (h.LOOPBACK, h.free_port())
        self.dead = start("us-east-1", [dead], name="caa-dead-resolver")
        self.silent = start(
            "us-east-1",
            ["%s:%d" % (h.LOOPBACK, self.lab.faults["silent"].port)],
            name="caa-silent-resolver")
        # SERVFAIL once per name and type ("flaky." names), then answers.
        self.flaky = start(
            "us-east-1",
            ["%s:%d" % (h.LOOPBACK, self.lab.faults["servfail"].port)],
            name="caa-flaky-resolver")
        self.refusing = start(
            "us-east-1",
            ["%s:%d" % (h.LOOPBACK, self.lab.faults["refused"].port)],
            name="caa-refusing-resolver")
        # Three validating perspectives behind a coordinator.
        codes = ["us-east-1", "eu-west-1", "ap-northeast-1"]
        self.persp = [start(c, v, name="caa-e2e-" + c) for c in codes]
        self.coord = self.cluster.start_coordinator(
            [(c, d.base + "/caa") for c, d in zip(codes, self.persp)],
            remote_timeout_ms=10000)


def caa(checker, target, params=None):
    body = {"check_type": "caa", "domain_or_ip_target": target}
    if params is not None:
        body["caa_check_parameters"] = params
    status, resp = h.post(checker.base + "/caa", body, timeout=30)
    eq(status, 200, "status for %s (body %r)" % (target, resp))
    check(isinstance(resp, dict), "body not an object: %r" % (resp,))
    return resp


def lookup_errors(resp, target):
    errs = resp["errors"]
    check(isinstance(errs, list) and len(errs) == 1,
          "%s: one error expected, got %r" % (target, errs))
    eq(errs[0]["error_type"], LOOKUP, target + " error_type")
    check(target in errs[0]["error_message"],
          "%s: error names the target: %r" % (target, errs[0]))
    return errs[0]


def expect_permitted(checker, target, *reason_has):
    """The failure passes, the evidence stays in the record."""
    resp = caa(checker, target, ALLOW)
    det = resp["details"]
    eq(resp["check_completed"], True, target + " check_completed (%r)" % det)
    eq(resp["check_passed"], True, target + " check_passed (%r)" % det)
    eq(det["caa_record_present"], None, target + " caa_record_present")
    eq(det["found_at"], None, target + " found_at")
    lookup_errors(resp, target)
    why = det.get("lookup_failure_permitted")
    check(isinstance(why, str), target + ": no lookup_failure_permitted in %r"
          % det)
    check("lookup_failure_denied" not in det, target + ": denied too")
    for s in ("BR 3.2.2.8", "DNSSEC-insecure") + reason_has:
        check(s in why, "%s: %r not in the reason %r" % (target, s, why))
    return resp


def expect_denied(checker, target, *reason_has):
    """allow_lookup_failure is set, and the failure still does not pass."""
    resp = caa(checker, target, ALLOW)
    det = resp["details"]
    eq(resp["check_completed"], False, target + " check_completed (%r)" % det)
    eq(resp["check_passed"], False, target + " check_passed (%r)" % det)
    eq(det["caa_record_present"], None, target + " caa_record_present")
    lookup_errors(resp, target)
    check("lookup_failure_permitted" not in det,
          target + ": permitted in %r" % det)
    why = det.get("lookup_failure_denied")
    check(isinstance(why, str), target + ": no lookup_failure_denied in %r"
          % det)
    for s in reason_has:
        check(s in why, "%s: %r not in the reason %r" % (target, s, why))
    return resp


# ---------------------------------------------------------------- baseline


@R.case
def test_signed_zone_permit_is_validated(ctx):
    resp = caa(ctx.v, "good.lab")
    eq(resp["check_completed"], True, "check_completed")
    eq(resp["check_passed"], True, "check_passed")
    eq(resp["errors"], None, "errors")
    eq(resp["details"]["found_at"], "good.lab", "found_at")
    eq(resp["details"]["records_seen"], ['0 issue "ca.example"'], "records")
    # The details keep the reference's shape; the AD bit is in the log.
    eq(set(resp["details"]), {"caa_record_present", "found_at",
                              "records_seen"}, "details keys")
    log = ctx.v.read_log()
    check("CAA at good.lab permits issuance" in log and
          "DNSSEC-validated, AD set" in log, "AD not reported in the log")
    resp = caa(ctx.plain, "good.lab")
    eq(resp["check_passed"], True, "plain resolver check_passed")
    check("not DNSSEC-validated, AD clear" in ctx.plain.read_log(),
          "AD clear not reported in the log of the plain resolver's checker")


@R.case
def test_signed_zone_deny_stays_deny(ctx):
    resp = caa(ctx.v, "deny.good.lab", ALLOW)
    eq(resp["check_completed"], True, "check_completed")
    eq(resp["check_passed"], False, "check_passed")
    eq(resp["errors"], None, "errors")


@R.case
def test_lookup_error_without_allow_is_unchanged(ctx):
    resp = caa(ctx.v, "ins-servfail.lab")
    eq(resp["check_completed"], False, "check_completed")
    eq(resp["check_passed"], False, "check_passed")
    lookup_errors(resp, "ins-servfail.lab")
    eq(resp["details"], REF_ERROR["details"], "details (reference shape)")


# ---------------------------------------------------------------- DNSSEC


@R.case
def test_insecure_delegation_failures_pass(ctx):
    # SERVFAIL, REFUSED and silence from the zone's own servers, under a
    # delegation the signed parent (NSEC3) proves has no DS.
    for kind in ("servfail", "refused", "silent"):
        target = "ins-%s.lab" % kind
        expect_permitted(ctx.v, target, "NSEC3", target,
                         "insecure delegation")


@R.case
def test_insecure_proof_climbs_past_failures(ctx):
    # DS for www.ins-servfail.lab fails too (its servers are broken): the
    # proof goes on to ins-servfail.lab.
    expect_permitted(ctx.v, "www.ins-servfail.lab", "ins-servfail.lab")
    # An unsigned TLD: the root's NSEC proves plain. has no DS; the DS
    # answer for sf.plain is not validated (no AD) and decides nothing.
    expect_permitted(ctx.v, "sf.plain", "NSEC", "at plain without DS")


@R.case
def test_opt_out_insecure_delegation_passes(ctx):
    # As under com.: no NSEC3 of its own, an opt-out NSEC3 covers it, and
    # the resolver answers its DS without AD (RFC 5155 9.2); the parent's
    # validated DS RRset shows that the resolver validates that zone.
    expect_permitted(ctx.v, "ins-servfail.opt", "opt-out",
                     "validated the parent zone", "validated DS RRset at opt")
    # The same answer from a resolver that validates nothing proves
    # nothing.
    expect_denied(ctx.plain, "ins-servfail.opt", "DNSSEC-indeterminate")


@R.case
def test_alias_into_a_secure_zone_is_denied(ctx):
    # alias.plain lives in an insecure zone, but its CAA RRset is that of
    # its CNAME target in a signed zone whose servers fail.
    expect_denied(ctx.v, "alias.plain", "alias", "sec-servfail.lab")


@R.case
def test_secure_delegation_failures_are_denied(ctx):
    for kind in ("servfail", "refused", "silent"):
        target = "sec-%s.lab" % kind
        expect_denied(ctx.v, target, "DNSSEC-secure",
                      "validated DS RRset at " + target)


@R.case
def test_bogus_zones_are_denied(ctx):
    # Expired signatures, and a DS for a zone that is not signed: the
    # resolver answers SERVFAIL (bogus), and the DS makes them Secure.
    expect_denied(ctx.v, "expired.lab", "DNSSEC-secure",
                  "validated DS RRset at expired.lab")
    expect_denied(ctx.v, "dsonly.lab", "DNSSEC-secure",
                  "validated DS RRset at dsonly.lab")
    resp = caa(ctx.v, "expired.lab")
    eq(resp["check_completed"], False, "expired.lab without allow")


@R.case
def test_non_validating_resolver_is_indeterminate(ctx):
    # No trust anchor: the same insecure name cannot be proven insecure.
    expect_denied(ctx.plain, "ins-servfail.lab", "DNSSEC-indeterminate")
    # ...and the secure one is not permitted either.
    expect_denied(ctx.plain, "sec-servfail.lab", "DNSSEC-indeterminate")


# ---------------------------------------------------------------- settings


@R.case
def test_setting_never_switches_the_carve_out_off(ctx):
    expect_denied(ctx.never, "ins-servfail.lab", "caa.lookup_failure",
                  "never")
    status, cfg = h.http_request(ctx.never.base + "/configz")
    eq(status, 200, "/configz status")
    check("never" in str(cfg), "/configz shows caa.lookup_failure: %r" % cfg)
    status, cfg = h.http_request(ctx.v.base + "/configz")
    check("dnssec-insecure" in str(cfg), "/configz default: %r" % cfg)


@R.case
def test_failure_that_does_not_persist_is_not_permission(ctx):
    # The retry of the SERVFAIL gets an answer: the failure did not
    # persist (BR 3.2.2.8 wants it retried and still failing).
    expect_denied(ctx.flaky, "flaky.x.lab", "did not persist")


@R.case
def test_one_try_is_not_a_retry(ctx):
    expect_denied(ctx.tries1, "ins-servfail.lab", "dns.tries is 1")
    expect_permitted(ctx.v, "ins-servfail.lab")  # the same with tries: 2


# ---------------------------------------------------------------- our side


@R.case
def test_own_resolver_down_is_not_permission(ctx):
    expect_denied(ctx.dead, "ins-servfail.lab", "could not be reached")


@R.case
def test_own_resolver_silent_is_not_permission(ctx):
    expect_denied(ctx.silent, "ins-servfail.lab", "answered none")


@R.case
def test_own_resolver_refusing_is_not_permission(ctx):
    expect_denied(ctx.refusing, "ins-servfail.lab", "refused the query")


# ---------------------------------------------------------------- end to end


def mpic(ctx, target):
    body = {"check_type": "caa", "domain_or_ip_target": target,
            "caa_check_parameters": ALLOW}
    status, resp = h.post(ctx.coord.base + "/mpic", body, timeout=60)
    eq(status, 200, "status (%r)" % (resp,))
    return resp


@R.case
def test_metrics_count_the_verdicts(ctx):
    status, body = h.http_request(ctx.v.base + "/metrics")
    eq(status, 200, "/metrics status")
    text = body.decode() if isinstance(body, bytes) else str(body)
    for verdict in ("permitted", "denied"):
        line = [ln for ln in text.splitlines() if ln.startswith(
            'mpic_caa_lookup_failures_total{verdict="%s"}' % verdict)]
        eq(len(line), 1, verdict + " metric")
        check(int(line[0].split()[-1]) > 0, "no %s failure counted: %r"
              % (verdict, line))


@R.case
def test_mpic_insecure_failure_is_valid(ctx):
    resp = mpic(ctx, "ins-servfail.lab")
    eq(resp["is_valid"], True, "is_valid (%r)" % resp["perspectives"])
    eq(resp["caa_check_parameters"]["allow_lookup_failure"], True,
       "allow_lookup_failure echoed")
    for p in resp["perspectives"]:
        cr = p["check_response"]
        eq(cr["check_passed"], True, p["perspective_code"] + " passed")
        eq(cr["errors"][0]["error_type"], LOOKUP,
           p["perspective_code"] + " error kept")
        check("DNSSEC-insecure" in
              cr["details"].get("lookup_failure_permitted", ""),
              p["perspective_code"] + " reason: %r" % cr["details"])


@R.case
def test_mpic_secure_failure_is_not_valid(ctx):
    resp = mpic(ctx, "sec-servfail.lab")
    eq(resp["is_valid"], False, "is_valid (%r)" % resp["perspectives"])
    for p in resp["perspectives"]:
        cr = p["check_response"]
        eq(cr["check_passed"], False, p["perspective_code"] + " passed")
        eq(cr["check_completed"], False, p["perspective_code"] + " completed")
        check("DNSSEC-secure" in
              cr["details"].get("lookup_failure_denied", ""),
              p["perspective_code"] + " reason: %r" % cr["details"])


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
