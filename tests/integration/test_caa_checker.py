#!/usr/bin/env python3
"""POST /caa straight to mpic-caa-checker: every zone case of
tests/integration/zones, the reference wire shapes, bad bodies, and lookup
failures (SERVFAIL, REFUSED, timeouts, garbage, no server)."""

import copy
import sys
import threading
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

R = h.Runner()
LOOKUP = "mpic_error:caa_checker:lookup"
REF_ABSENT = h.load_fixture("caa-response-absent.json")


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster()
        c = self.cluster
        # Through unbound -> nsd / stubs.
        self.main = c.start_checker("us-east-1", name="caa-main")
        # Straight at the fault server (modes chosen by query name).
        self.fault = c.start_checker(
            "eu-west-1", resolvers=["127.0.0.1:%d" % c.dns.fault.port],
            name="caa-fault")
        # Straight at nsd: an authoritative server hands back CNAME loops
        # and cut chains as NOERROR answers (a resolver may too).
        self.nsd = c.start_checker(
            "us-west-2", resolvers=["127.0.0.1:%d" % c.dns.nsd_port],
            name="caa-nsd")
        # caa.rfc8657: lenient.
        self.lenient = c.start_checker(
            "eu-central-1", name="caa-lenient", extra="  rfc8657: lenient\n")
        # At a port where nothing listens: no usable nameserver.
        self.dead = c.start_checker(
            "ap-northeast-1", resolvers=["127.0.0.1:%d" % h.free_port()],
            name="caa-dead")


def caa(ctx, target, checker=None, params=None, raw=None):
    d = checker or ctx.main
    body = raw if raw is not None else {
        "domain_or_ip_target": target,
        "trace_identifier": "integ-" + str(target),
        "caa_check_parameters": params,
    }
    return h.post(d.base + "/caa", body)


# With allow_lookup_failure, a lookup failure's details also say why it was
# or was not permitted (open-mpic-api.md 5.2).
LF_KEYS = {"lookup_failure_permitted", "lookup_failure_denied"}


def assert_shape(resp, allow=False):
    """Same keys as the reference's check response, right types."""
    check(isinstance(resp, dict), "response is not a JSON object: %r" % resp)
    eq(set(resp), set(REF_ABSENT), "response keys")
    keys = set(resp["details"])
    if allow:
        keys -= LF_KEYS
    eq(keys, set(REF_ABSENT["details"]), "details keys")
    eq(resp["check_type"], "caa", "check_type")
    check(isinstance(resp["check_passed"], bool), "check_passed not bool")
    check(isinstance(resp["check_completed"], bool), "check_completed not bool")
    ts = resp["timestamp_ns"]
    check(isinstance(ts, int) and ts > 10**18, "timestamp_ns %r" % ts)
    errs = resp["errors"]
    check(errs is None or isinstance(errs, list), "errors %r" % errs)
    for e in errs or []:
        eq(set(e), {"error_type", "error_message"}, "error keys")
        check(isinstance(e["error_message"], str) and e["error_message"],
              "empty error_message")


def expect(ctx, target, passed, found_at=None, records=None, present=None,
           params=None, checker=None):
    """A completed check with the given verdict. present defaults to
    found_at is not None; records None means "do not compare"."""
    status, resp = caa(ctx, target, checker, params)
    eq(status, 200, "HTTP status for %s" % target)
    assert_shape(resp)
    det = resp["details"]
    what = "%s %s" % (target, params)
    eq(resp["check_completed"], True, what + " check_completed")
    eq(resp["errors"], None, what + " errors")
    eq(resp["check_passed"], passed, what + " check_passed (details %r)" % det)
    if present is None:
        present = found_at is not None
    eq(det["caa_record_present"], present, what + " caa_record_present")
    eq(det["found_at"], found_at, what + " found_at")
    if not present:
        check(det["records_seen"] in (None, []),
              "%s records_seen %r" % (what, det["records_seen"]))
    elif records is not None:
        eq(det["records_seen"], records, what + " records_seen")
    return resp


def expect_lookup_error(ctx, target, checker=None, params=None,
                        denied_because=None):
    """A lookup error; with allow_lookup_failure in params, the details say
    why the failure was not permitted (denied_because is in the reason)."""
    allow = bool(params and params.get("allow_lookup_failure"))
    status, resp = caa(ctx, target, checker, params)
    eq(status, 200, "HTTP status for %s" % target)
    assert_shape(resp, allow)
    eq(resp["check_completed"], False, target + " check_completed")
    eq(resp["check_passed"], False, target + " check_passed")
    types = [e["error_type"] for e in resp["errors"] or []]
    eq(types, [LOOKUP], target + " error types")
    eq(resp["details"]["caa_record_present"], None, "caa_record_present")
    check("lookup_failure_permitted" not in resp["details"],
          target + ": permitted %r" % resp["details"])
    if allow:
        why = resp["details"].get("lookup_failure_denied")
        check(isinstance(why, str), target + ": no reason in %r" %
              resp["details"])
        if denied_because is not None:
            check(denied_because in why, "%s: %r not in %r" % (
                target, denied_because, why))
    return resp


Z = "caa.test"
DENY = ['0 issue "ca.invalid"']
PERMIT = ['0 issue "ca.example"']

# ---------------------------------------------------------------- basics


@R.case
def test_no_caa_anywhere_passes(ctx):
    expect(ctx, "empty." + Z, True)


@R.case
def test_nxdomain_without_caa_passes(ctx):
    expect(ctx, "does-not-exist." + Z, True)


@R.case
def test_deny(ctx):
    expect(ctx, "deny." + Z, False, "deny." + Z, DENY)


@R.case
def test_permit(ctx):
    expect(ctx, "permit." + Z, True, "permit." + Z, PERMIT)


@R.case
def test_target_is_case_insensitive(ctx):
    expect(ctx, "PERMIT.Caa.Test", True, "permit." + Z, PERMIT)
    expect(ctx, "DENY.CAA.TEST", False, "deny." + Z, DENY)


@R.case
def test_tag_case_is_ignored(ctx):
    for name, passed in [("deny-uppercase", False), ("permit-uppercase", True),
                         ("deny-mixedcase", False), ("permit-mixedcase", True)]:
        resp = expect(ctx, "%s.%s" % (name, Z), passed, "%s.%s" % (name, Z))
        seen = resp["details"]["records_seen"]
        eq(len(seen), 1, name + " records_seen")
        want = ('0 issue "ca.example"' if passed else '0 issue "ca.invalid"')
        eq(seen[0].lower(), want, name + " record (case-folded)")


@R.case
def test_critical_unknown_tag_denies(ctx):
    for name in ("critical1", "critical2"):
        resp = expect(ctx, "%s.%s" % (name, Z), False, "%s.%s" % (name, Z))
        eq(len(resp["details"]["records_seen"]), 2, name + " records")


@R.case
def test_noncritical_unknown_tag_is_ignored(ctx):
    expect(ctx, "noncritical." + Z, True, "noncritical." + Z)


@R.case
def test_climbs_to_parent(ctx):
    expect(ctx, "sub1.deny." + Z, False, "deny." + Z, DENY)
    expect(ctx, "sub2.sub1.deny." + Z, False, "deny." + Z, DENY)
    expect(ctx, "nx.sub1.deny." + Z, False, "deny." + Z, DENY)


@R.case
def test_closest_rrset_wins(ctx):
    expect(ctx, "deny.permit." + Z, False, "deny.permit." + Z, DENY)
    expect(ctx, "permit.deny." + Z, True, "permit.deny." + Z, PERMIT)


@R.case
def test_nxdomain_climbs_to_apex(ctx):
    want = ['0 issue "ca.invalid"', '0 iodef "mailto:security@apex.test"']
    resp = expect(ctx, "nx.deep.apex.test", False, "apex.test")
    eq(sorted(resp["details"]["records_seen"]), sorted(want), "records")
    expect(ctx, "apex.test", False, "apex.test")


# ---------------------------------------------------------------- aliases


@R.case
def test_cname_to_deny(ctx):
    expect(ctx, "cname-deny." + Z, False, "cname-deny." + Z, DENY)


@R.case
def test_cname_cname_to_deny(ctx):
    expect(ctx, "cname-cname-deny." + Z, False, "cname-cname-deny." + Z, DENY)


@R.case
def test_cname_to_permit(ctx):
    expect(ctx, "cname-permit." + Z, True, "cname-permit." + Z, PERMIT)


@R.case
def test_cname_to_nxdomain_climbs_original_name(ctx):
    expect(ctx, "cname-nx." + Z, True)
    expect(ctx, "cname-nx.deny." + Z, False, "deny." + Z, DENY)


@R.case
def test_cname_target_ancestors_are_not_climbed(ctx):
    # b.other.test has no CAA, other.test denies: RFC 8659 says pass.
    expect(ctx, "cname-other." + Z, True)


@R.case
def test_name_under_cname_climbs_to_cname_owner(ctx):
    expect(ctx, "x.cname-deny." + Z, False, "cname-deny." + Z, DENY)


@R.case
def test_dname_rewrites_names_below_owner(ctx):
    expect(ctx, "www.dname-deny." + Z, False, "www.dname-deny." + Z, DENY)


@R.case
def test_dname_does_not_apply_to_owner(ctx):
    expect(ctx, "dname-deny." + Z, True)


# ---------------------------------------------------------------- values


@R.case
def test_big_rrset_over_tcp(ctx):
    resp = expect(ctx, "big." + Z, True, "big." + Z)
    seen = resp["details"]["records_seen"]
    eq(len(seen), 1000, "records_seen count")
    check('0 issue "ca.example"' in seen, "ca.example record missing")
    check('0 issue "ca0500.invalid"' in seen, "ca0500.invalid missing")


@R.case
def test_unparsable_values_permit_nobody(ctx):
    for name in ("html-in-value", "empty-issuer", "bad-params"):
        expect(ctx, "%s.%s" % (name, Z), False, "%s.%s" % (name, Z))


@R.case
def test_iodef_only_passes_with_record_present(ctx):
    expect(ctx, "iodef-only." + Z, True, "iodef-only." + Z,
           ['0 iodef "mailto:security@caa.test"'])


@R.case
def test_request_caa_domains_override_defaults(ctx):
    expect(ctx, "deny." + Z, True, "deny." + Z, DENY,
           params={"caa_domains": ["ca.invalid"]})
    expect(ctx, "permit." + Z, False, "permit." + Z, PERMIT,
           params={"caa_domains": ["other-ca.example"]})
    # Empty list: the checker's defaults.
    expect(ctx, "permit." + Z, True, "permit." + Z, PERMIT,
           params={"caa_domains": []})


# ---------------------------------------------------------------- wildcards


@R.case
def test_issuewild_permits_wildcard_only(ctx):
    expect(ctx, "*.wild-permit." + Z, True, "wild-permit." + Z)
    expect(ctx, "wild-permit." + Z, False, "wild-permit." + Z)


@R.case
def test_issuewild_denies_wildcard_only(ctx):
    expect(ctx, "*.wild-deny." + Z, False, "wild-deny." + Z)
    expect(ctx, "wild-deny." + Z, True, "wild-deny." + Z)


@R.case
def test_wildcard_without_issuewild_uses_issue(ctx):
    expect(ctx, "*.wild-issue-only." + Z, True, "wild-issue-only." + Z)
    expect(ctx, "*.sub1.deny." + Z, False, "deny." + Z)
    expect(ctx, "*.empty." + Z, True)


# ---------------------------------------------------------------- s-mime


@R.case
def test_smime_uses_issuemail(ctx):
    smime = {"certificate_type": "s-mime"}
    expect(ctx, "mail-permit." + Z, True, "mail-permit." + Z, params=smime)
    expect(ctx, "mail-permit." + Z, False, "mail-permit." + Z)
    expect(ctx, "mail-deny." + Z, False, "mail-deny." + Z, params=smime)
    expect(ctx, "mail-deny." + Z, True, "mail-deny." + Z)
    # No issuemail record at all: s-mime passes whatever issue says.
    expect(ctx, "deny." + Z, True, "deny." + Z, params=smime)


# ---------------------------------------------------------------- RFC 8657


ACCT1 = "https://ca.example/acct/1"


@R.case
def test_accounturi_strict(ctx):
    name = "accounturi." + Z
    # Strict (the default): no account_uri, no permission from the record.
    expect(ctx, name, False, name)
    expect(ctx, name, False, name, params={"validation_method": "acme-dns-01"})
    expect(ctx, name, True, name, params={"account_uri": ACCT1})
    expect(ctx, name, False, name,
           params={"account_uri": "https://ca.example/acct/2"})
    expect(ctx, name, False, name, params={"account_uri": ACCT1 + "/"})
    expect(ctx, name, False, name,
           params={"account_uri": "HTTPS://CA.EXAMPLE/acct/1"})


@R.case
def test_validationmethods_strict(ctx):
    name = "validationmethods." + Z  # validationmethods=dns-01
    expect(ctx, name, False, name)
    expect(ctx, name, False, name, params={"account_uri": ACCT1})
    expect(ctx, name, False, name,
           params={"validation_method": "acme-http-01"})
    expect(ctx, name, False, name,
           params={"validation_method": "dns-change"})
    expect(ctx, name, True, name,
           params={"validation_method": "acme-dns-01"})
    # A raw RFC 8657 label is taken as given.
    expect(ctx, name, True, name, params={"validation_method": "dns-01"})
    expect(ctx, name, True, name, params={"validation_method": "DNS-01"})


@R.case
def test_validationmethods_sc098_labels(ctx):
    name = "validationmethods-tbr." + Z  # ca-tbr-7,ca-tbr-18
    for method, passed in [("dns-change", True), ("website-change", True),
                           ("acme-dns-01", False), ("ip-address", False),
                           ("ca-tbr-7", True)]:
        expect(ctx, name, passed, name, params={"validation_method": method})


@R.case
def test_accounturi_and_validationmethods_together(ctx):
    name = "accounturi-methods." + Z
    both = {"account_uri": ACCT1, "validation_method": "acme-http-01"}
    expect(ctx, name, True, name, params=both)
    expect(ctx, name, False, name, params={"account_uri": ACCT1})
    expect(ctx, name, False, name,
           params={"validation_method": "acme-http-01"})
    expect(ctx, name, False, name,
           params={"account_uri": ACCT1, "validation_method": "acme-dns-01"})


@R.case
def test_rfc8657_lenient(ctx):
    lax = ctx.lenient
    name = "accounturi." + Z
    expect(ctx, name, True, name, checker=lax)
    expect(ctx, name, True, name, params={"account_uri": ACCT1}, checker=lax)
    expect(ctx, name, False, name,
           params={"account_uri": "https://ca.example/acct/2"}, checker=lax)
    name = "validationmethods." + Z
    expect(ctx, name, True, name, checker=lax)
    expect(ctx, name, True, name,
           params={"validation_method": "acme-dns-01"}, checker=lax)
    expect(ctx, name, False, name,
           params={"validation_method": "acme-http-01"}, checker=lax)


@R.case
def test_rfc8657_setting_in_configz(ctx):
    for d, want in ((ctx.main, "strict"), (ctx.lenient, "lenient")):
        status, cfg = h.http_request(d.base + "/configz")
        eq(status, 200, "/configz status")
        eq(cfg["caa"]["rfc8657"], want, "/configz caa.rfc8657")


# ---------------------------------------------------------------- tags


@R.case
def test_nul_tag_is_not_issue(ctx):
    # 0 "issue\0" "ca.example" next to 0 issue "ca.invalid": denies.
    expect(ctx, "nul-tag." + Z, False, "nul-tag." + Z)
    # 0 "issue\0" "ca.invalid" alone: an unknown tag, ignored.
    expect(ctx, "nul-tag-alone." + Z, True, "nul-tag-alone." + Z)
    # 128 "issue\0" "ca.example" next to 0 issue "ca.example": denies.
    expect(ctx, "nul-tag-critical." + Z, False, "nul-tag-critical." + Z)


@R.case
def test_non_alnum_critical_tag_denies(ctx):
    expect(ctx, "hyphen-tag-critical." + Z, False, "hyphen-tag-critical." + Z)
    expect(ctx, "hyphen-tag." + Z, True, "hyphen-tag." + Z)


# ---------------------------------------------------------------- CNAME loops


CHAINS = ["loop-self.permit", "loop-a.permit", "loop-x.permit",
          "chain0.permit", "xchain0.permit"]


@R.case
def test_cname_loop_and_long_chain_are_lookup_errors(ctx):
    # Every name sits under permit.caa.test, whose CAA permits ca.example:
    # reading the loop as "no CAA here" would climb there and pass.
    for n in CHAINS:
        for d in (ctx.main, ctx.nsd):
            expect_lookup_error(ctx, "%s.%s" % (n, Z), checker=d)


@R.case
def test_cname_loop_error_names_the_problem(ctx):
    # nsd answers loop-a with both CNAMEs (NOERROR); chain0 with the first
    # 21 hops only.
    for n, words in (("loop-a.permit", "CNAME loop"),
                     ("chain0.permit", "longer than 16")):
        resp = expect_lookup_error(ctx, "%s.%s" % (n, Z), checker=ctx.nsd)
        msg = resp["errors"][0]["error_message"]
        check(words in msg, "%s: %r lacks %r" % (n, msg, words))


@R.case
def test_short_cname_chain_climbs_to_permit(ctx):
    # chain30 -> ... -> chain40 (10 hops, no CAA at the end): climbs the
    # original name's ancestors to permit.caa.test.
    for d in (ctx.main, ctx.nsd):
        expect(ctx, "chain30.permit." + Z, True, "permit." + Z, PERMIT,
               checker=d)


# ---------------------------------------------------------------- targets


@R.case
def test_ip_targets_have_no_caa(ctx):
    for t in ("192.0.2.1", "2001:db8::1", "[2001:db8::1]"):
        expect(ctx, t, True)


@R.case
def test_unicode_target_is_encoded(ctx):
    expect(ctx, "bücher." + Z, False, "xn--bcher-kva." + Z, DENY)


# ---------------------------------------------------------------- wire


@R.case
def test_reference_request_fixture_accepted(ctx):
    body = h.load_fixture("caa-request.json")
    # The fixture names example.com; tests never leave 127.0.0.0/8.
    body["domain_or_ip_target"] = "permit." + Z
    status, resp = caa(ctx, None, raw=body)
    eq(status, 200, "status")
    assert_shape(resp)
    eq(resp["check_passed"], True, "check_passed")
    eq(resp["details"]["found_at"], "permit." + Z, "found_at")
    body["domain_or_ip_target"] = "deny." + Z
    status, resp = caa(ctx, None, raw=body)
    eq((status, resp["check_passed"]), (200, False), "deny with fixture")


@R.case
def test_reference_minimal_request_fixture_accepted(ctx):
    body = h.load_fixture("caa-request-minimal.json")
    eq(body["caa_check_parameters"], None, "fixture")
    body["domain_or_ip_target"] = "*.wild-permit." + Z
    status, resp = caa(ctx, None, raw=body)
    eq(status, 200, "status")
    assert_shape(resp)
    eq(resp["check_passed"], True, "check_passed (defaults from config)")
    body["domain_or_ip_target"] = "*.wild-deny." + Z
    status, resp = caa(ctx, None, raw=body)
    eq((status, resp["check_passed"]), (200, False), "wild-deny")


@R.case
def test_reference_coordinator_style_request_accepted(ctx):
    # The reference coordinator sends every field, defaults filled in.
    body = {"domain_or_ip_target": "permit." + Z,
            "trace_identifier": None,
            "caa_check_parameters": {"certificate_type": "tls-server",
                                     "caa_domains": None,
                                     "allow_lookup_failure": False}}
    status, resp = caa(ctx, None, raw=body)
    eq((status, resp.get("check_passed")), (200, True), "status, passed")


def assert_400(status, resp, what):
    eq(status, 400, what + " status")
    check(isinstance(resp, dict), what + ": body not JSON: %r" % (resp,))
    eq(resp.get("error"), "request-validation-failed", what + " error")
    issues = resp.get("validation_issues")
    check(isinstance(issues, list) and issues,
          what + ": no validation_issues in %r" % resp)
    for i in issues:
        check(isinstance(i, dict) and "issue_type" in i and "message" in i,
              what + ": bad issue %r" % (i,))


@R.case
def test_bad_bodies_are_400(ctx):
    good = {"domain_or_ip_target": "permit." + Z,
            "caa_check_parameters": {"certificate_type": "tls-server"}}
    cases = [("not JSON", b"{not json"),
             ("array", b"[]"),
             ("string", b'"permit.caa.test"'),
             ("empty object", b"{}")]
    mutations = [
        ("missing target", lambda b: b.pop("domain_or_ip_target")),
        ("target a number",
         lambda b: b.__setitem__("domain_or_ip_target", 42)),
        ("empty label", lambda b: b.__setitem__("domain_or_ip_target",
                                                "a..b")),
        ("label of 64", lambda b: b.__setitem__("domain_or_ip_target",
                                                "a" * 64 + ".test")),
        # BR 4.2.2, and numeric forms some resolvers read as IPv4.
        ("in-addr.arpa name",
         lambda b: b.__setitem__("domain_or_ip_target",
                                 "1.2.0.192.in-addr.arpa")),
        ("ip6.arpa wildcard",
         lambda b: b.__setitem__("domain_or_ip_target", "*.IP6.ARPA.")),
        ("decimal IPv4 form",
         lambda b: b.__setitem__("domain_or_ip_target", "2130706433")),
        ("hex IPv4 form",
         lambda b: b.__setitem__("domain_or_ip_target", "0x7f000001")),
        ("'_' in the name",
         lambda b: b.__setitem__("domain_or_ip_target", "_x.permit." + Z)),
        # BR 7.1.2.7.12: a Reserved LDH label that is no A-label.
        ("Reserved LDH label",
         lambda b: b.__setitem__("domain_or_ip_target", "ab--cd." + Z)),
        ("bad certificate_type",
         lambda b: b["caa_check_parameters"].__setitem__(
             "certificate_type", "code-signing")),
        ("caa_domains not a list",
         lambda b: b["caa_check_parameters"].__setitem__(
             "caa_domains", "ca.example")),
        ("parameters not an object",
         lambda b: b.__setitem__("caa_check_parameters", [1])),
    ]
    for what, mut in mutations:
        b = copy.deepcopy(good)
        mut(b)
        cases.append((what, b))
    for what, body in cases:
        status, resp = caa(ctx, None, raw=body)
        assert_400(status, resp, what)
    # and the unmutated body is fine
    status, resp = caa(ctx, None, raw=good)
    eq((status, resp.get("check_passed")), (200, True), "good body")


@R.case
def test_wrong_method_and_path(ctx):
    status, _ = h.http_request(ctx.main.base + "/caa", method="GET")
    eq(status, 405, "GET /caa")
    status, _ = h.post(ctx.main.base + "/nope", {"domain_or_ip_target": "x"})
    eq(status, 404, "POST /nope")


@R.case
def test_configured_by_environment_only(ctx):
    c = ctx.cluster
    d = c.start_checker_env({
        "MPIC_DNS_RESOLVERS": c.dns.resolver,
        "MPIC_PERSPECTIVE_CODE": "eu-central-1",
        "MPIC_DEFAULT_CAA_DOMAINS": "other-ca.example|ca.invalid",
        "MPIC_LOG_LEVEL": "debug"}, name="caa-env")
    # ca.invalid is a default now: deny permits, permit (ca.example) denies.
    expect(ctx, "deny." + Z, True, "deny." + Z, DENY, checker=d)
    expect(ctx, "permit." + Z, False, "permit." + Z, PERMIT, checker=d)
    eq(c.stop_daemon(d), 0, "exit status on SIGTERM")


@R.case
def test_healthz(ctx):
    status, body = h.http_request(ctx.main.base + "/healthz")
    eq((status, body), (200, {"status": "healthy"}), "healthz")


# ---------------------------------------------------------------- failures


@R.case
def test_refused_is_lookup_error(ctx):
    expect_lookup_error(ctx, "x.refused.test")
    # An ancestor refusing before any record hides the answer too.
    expect_lookup_error(ctx, "a.b.refused.test")


@R.case
def test_servfail_is_lookup_error(ctx):
    expect_lookup_error(ctx, "servfail.fault.test")
    expect_lookup_error(ctx, "x.servfail.fault.test")


@R.case
def test_timeout_through_resolver_is_lookup_error(ctx):
    expect_lookup_error(ctx, "x.timeout.test")


@R.case
def test_direct_servfail_refused_garbage_truncated(ctx):
    for mode in ("servfail", "refused", "garbage", "truncated"):
        expect_lookup_error(ctx, "%s.x.test" % mode, checker=ctx.fault)
    # Control: the same checker passes when the server answers no data.
    expect(ctx, "fine.x.test", True, checker=ctx.fault)


@R.case
def test_hostile_transport_answers_are_lookup_errors(ctx):
    # A reply for another question says "no records" (which would pass) but
    # answers nothing we asked; a TC reply whose TCP retry never answers.
    # Both are lookup errors, never "no CAA here".
    for mode in ("otherq", "tcphang"):
        expect_lookup_error(ctx, "%s.x.test" % mode, checker=ctx.fault)
    # The hung TCP retry was really tried, not given up before TCP.
    queries = ctx.cluster.dns.fault.queries
    check(("tcphang.x.test", h.TYPE_CAA, "tcp") in queries,
          "no TCP retry seen: %r" % queries[-10:])
    # Control: the same checker passes when the server answers no data.
    expect(ctx, "fine.x.test", True, checker=ctx.fault)


@R.case
def test_truncated_part_of_an_rrset_never_counts(ctx):
    # The truncated UDP answer holds only the record that would permit; the
    # whole RRset (over TCP) also has a critical unknown tag, which denies.
    # With TCP failing, the part is no verdict; with TCP, the whole decides.
    expect_lookup_error(ctx, "tcpartial.x.test", checker=ctx.fault)
    expect(ctx, "tcfull.x.test", False, "tcfull.x.test",
           ['0 issue "ca.example"', '128 tbs "x"'], checker=ctx.fault)


@R.case
def test_other_rcodes_are_lookup_errors(ctx):
    # An RCODE that is no answer says nothing about the records: a lookup
    # error, never "no CAA here" (which would pass).
    for mode in sorted(h.OTHER_RCODES):
        expect_lookup_error(ctx, "%s.x.test" % mode, checker=ctx.fault)
        # Also at an ancestor, before any RRset.
        expect_lookup_error(ctx, "ok.%s.test" % mode, checker=ctx.fault)
    expect(ctx, "fine.x.test", True, checker=ctx.fault)


@R.case
def test_caa_at_the_tld_counts(ctx):
    # The climb goes up to the TLD (the root excluded): a CAA RRset there
    # is the relevant one when nothing below has one.
    expect(ctx, "www.example.deny", False, "deny", DENY, checker=ctx.fault)
    expect(ctx, "deny", False, "deny", DENY, checker=ctx.fault)
    expect(ctx, "www.example.permit", True, "permit", PERMIT,
           checker=ctx.fault)
    # A closer RRset still wins over the TLD's.
    expect(ctx, "permit.deny", True, "permit.deny", PERMIT,
           checker=ctx.fault)


@R.case
def test_hung_tcp_retry_does_not_stall_other_checks(ctx):
    # While one check waits on a TCP retry that never answers, the checker
    # serves other checks: the hung one is still out when they are done.
    # A long DNS timeout keeps the hung check out long after the others.
    slow = ctx.cluster.start_checker(
        "sa-east-1", resolvers=["127.0.0.1:%d" % ctx.cluster.dns.fault.port],
        name="caa-fault-slow", timeout_ms=8000, tries=1)
    out = {}

    def hung():
        out["hung"] = caa(ctx, "tcphang.y.test", slow)

    t = threading.Thread(target=hung)
    t.start()
    try:
        deadline = time.monotonic() + 60
        while (("tcphang.y.test", h.TYPE_CAA, "tcp")
               not in ctx.cluster.dns.fault.queries):
            check(time.monotonic() < deadline and t.is_alive(),
                  "the TCP retry never came")
            time.sleep(0.02)
        for i in range(5):
            expect(ctx, "fine%d.y.test" % i, True, checker=slow)
        check(t.is_alive(), "the hung check ended before the others")
    finally:
        t.join(120)
        ctx.cluster.stop_daemon(slow)
    check(not t.is_alive(), "the hung check never ended")
    status, resp = out["hung"]
    eq((status, resp["check_completed"], resp["check_passed"]),
       (200, False, False), "hung check")


@R.case
def test_direct_nxdomain_passes(ctx):
    expect(ctx, "nxdomain.x.test", True, checker=ctx.fault)


@R.case
def test_timeout_is_lookup_error(ctx):
    expect_lookup_error(ctx, "blackhole.x.test", checker=ctx.fault)


@R.case
def test_error_at_ancestor_is_lookup_error(ctx):
    # The name answers (no data) but its parent times out: records could
    # hide there, so no verdict.
    expect_lookup_error(ctx, "ok.blackhole.test", checker=ctx.fault)
    expect_lookup_error(ctx, "ok.servfail.test", checker=ctx.fault)


@R.case
def test_error_above_found_rrset_does_not_matter(ctx):
    # The closest non-empty RRset wins even if an ancestor fails.
    expect(ctx, "permit.servfail.test", True, "permit.servfail.test",
           PERMIT, checker=ctx.fault)
    expect(ctx, "permit.blackhole.test", True, "permit.blackhole.test",
           PERMIT, checker=ctx.fault)


@R.case
def test_no_server_is_lookup_error(ctx):
    expect_lookup_error(ctx, "permit." + Z, checker=ctx.dead)


ALLOW = {"allow_lookup_failure": True}


# allow_lookup_failure passes a failure only for a DNSSEC-insecure name
# behind a validating resolver (BR 3.2.2.8; test_dnssec_caa.py has the
# passing cases). None of these resolvers validates: no failure passes.


@R.case
def test_allow_lookup_failure_denies_timeout_without_dnssec(ctx):
    # The fault server is this checker's resolver: its silence is ours,
    # and it never proves anything with AD.
    expect_lookup_error(ctx, "blackhole.x.test", ctx.fault, ALLOW,
                        "DNSSEC-indeterminate")


@R.case
def test_allow_lookup_failure_denies_no_server(ctx):
    expect_lookup_error(ctx, "permit." + Z, ctx.dead, ALLOW,
                        "could not be reached")


@R.case
def test_allow_lookup_failure_does_not_pass_servfail(ctx):
    expect_lookup_error(ctx, "servfail.x.test", ctx.fault, ALLOW,
                        "DNSSEC-indeterminate")
    expect_lookup_error(ctx, "servfail.fault.test", None, ALLOW,
                        "DNSSEC-indeterminate")


@R.case
def test_allow_lookup_failure_does_not_pass_refused(ctx):
    expect_lookup_error(ctx, "refused.x.test", ctx.fault, ALLOW,
                        "refused the query")
    expect_lookup_error(ctx, "x.refused.test", None, ALLOW,
                        "refused the query")


@R.case
def test_allow_lookup_failure_keeps_deny(ctx):
    expect(ctx, "deny." + Z, False, "deny." + Z, DENY, params=ALLOW)


@R.case
def test_lookup_error_shape_matches_reference(ctx):
    ref = h.load_fixture("caa-response-lookup-error.json")
    resp = expect_lookup_error(ctx, "x.refused.test")
    eq(set(resp), set(ref), "keys")
    eq(resp["details"], ref["details"], "details on lookup error")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
