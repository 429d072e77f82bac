#!/usr/bin/env python3
"""POST /mpic for CAA through mpic-coordinator and six real
mpic-caa-checkers: outcomes, the response shape (open-mpic-api.md §2),
orchestration (quorum, cohorts, attempts), broken perspectives, and every
API-edge error (§4)."""

import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

R = h.Runner()
Z = "caa.test"
CODES = [c for c, _, _ in h.PERSPECTIVES]
REMOTE = "mpic_error:coordinator:remote_check"
REF_CHECK = h.load_fixture("caa-response-absent.json")


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster()
        self.fake = h.FakeChecker()
        self.checkers = {c: self.cluster.start_checker(c) for c in CODES}
        self.urls = [(c, self.checkers[c].base + "/caa") for c in CODES]
        self.full = self.cluster.start_coordinator(self.urls, name="coord-full")
        self._extra = {}

    def dead_url(self):
        return "http://127.0.0.1:%d/caa" % h.free_port(udp_too=False)

    def coordinator(self, key, urls=None, **kw):
        """A coordinator started on first use and kept for the run."""
        if key not in self._extra:
            self._extra[key] = self.cluster.start_coordinator(
                urls or self.urls, name="coord-" + key, **kw)
        return self._extra[key]

    def with_replaced(self, key, repl, **kw):
        """Same perspectives in the same order, some URLs replaced."""
        urls = [(c, repl.get(c, u)) for c, u in self.urls]
        return self.coordinator(key, urls, **kw)


def mpic(coord, target, orch=None, params=None, raw=None, headers=None,
         trace="integ-trace"):
    body = raw
    if body is None:
        body = {"check_type": "caa", "domain_or_ip_target": target,
                "trace_identifier": trace}
        if orch is not None:
            body["orchestration_parameters"] = orch
        if params is not None:
            body["caa_check_parameters"] = params
    return h.post(coord.base + "/mpic", body, headers=headers)


def assert_check_response(cr, where):
    check(isinstance(cr, dict), where + ": check_response not an object")
    eq(set(cr), set(REF_CHECK), where + " check_response keys")
    eq(cr["check_type"], "caa", where + " check_type")
    check(isinstance(cr["check_passed"], bool), where + " check_passed")
    check(isinstance(cr["check_completed"], bool), where + " check_completed")
    check(isinstance(cr["timestamp_ns"], int), where + " timestamp_ns")
    check(cr["errors"] is None or isinstance(cr["errors"], list),
          where + " errors")


def assert_perspectives(lst, n, where):
    check(isinstance(lst, list), where + ": perspectives not a list")
    eq(len(lst), n, where + " perspective count")
    codes = []
    for p in lst:
        eq(set(p), {"perspective_code", "check_response"},
           where + " perspective keys")
        check(p["perspective_code"] in CODES,
              where + ": unknown code %r" % p["perspective_code"])
        assert_check_response(p["check_response"],
                              where + "/" + p["perspective_code"])
        codes.append(p["perspective_code"])
    eq(len(set(codes)), n, where + " distinct codes")
    if n > 2:
        rirs = {h.RIR_OF[c] for c in codes}
        check(len(rirs) >= 2, where + ": cohort within one RIR: %r" % codes)
    return codes


def assert_mpic(status, resp, target, valid, completed, n, q, attempts=1,
                trace="integ-trace"):
    eq(status, 200, "status (body %r)" % (resp,))
    check(isinstance(resp, dict), "body not an object")
    for k in ("check_type", "domain_or_ip_target", "trace_identifier",
              "is_valid", "mpic_completed", "request_orchestration_parameters",
              "actual_orchestration_parameters", "caa_check_parameters",
              "perspectives", "previous_attempt_results"):
        check(k in resp, "missing key %s in %r" % (k, sorted(resp)))
    eq(resp.get("dcv_check_parameters"), None, "dcv_check_parameters")
    eq(resp["check_type"], "caa", "check_type")
    eq(resp["domain_or_ip_target"], target, "domain_or_ip_target")
    eq(resp["trace_identifier"], trace, "trace_identifier")
    eq(resp["actual_orchestration_parameters"],
       {"perspective_count": n, "quorum_count": q, "attempt_count": attempts},
       "actual_orchestration_parameters")
    codes = assert_perspectives(resp["perspectives"], n, "final attempt")
    eq(resp["is_valid"], valid, "is_valid (perspectives %r)" %
       resp["perspectives"])
    eq(resp["mpic_completed"], completed, "mpic_completed")
    prev = resp["previous_attempt_results"]
    if attempts == 1:
        eq(prev, None, "previous_attempt_results")
    else:
        check(isinstance(prev, list), "previous_attempt_results %r" % prev)
        eq(len(prev), attempts - 1, "previous attempts")
        for i, attempt in enumerate(prev):
            assert_perspectives(attempt, n, "attempt %d" % (i + 1))
    return codes


def by_code(resp):
    return {p["perspective_code"]: p["check_response"]
            for p in resp["perspectives"]}


# ---------------------------------------------------------------- outcomes


@R.case
def test_permit_is_valid_with_defaults(ctx):
    status, resp = mpic(ctx.full, "permit." + Z)
    assert_mpic(status, resp, "permit." + Z, True, True, 3, 2)
    eq(resp["request_orchestration_parameters"], None, "request orch echo")
    # Not sent: null, or the defaults.
    params = resp["caa_check_parameters"]
    if params is not None:
        eq(params.get("certificate_type"), "tls-server", "default cert type")
        eq(params.get("allow_lookup_failure"), False, "default allow")
    for cr in by_code(resp).values():
        eq(cr["check_passed"], True, "perspective passed")
        eq(cr["details"]["found_at"], "permit." + Z, "found_at")


@R.case
def test_partial_caa_parameters_echoed_with_defaults(ctx):
    status, resp = mpic(ctx.full, "permit." + Z,
                        params={"caa_domains": ["ca.example"]})
    assert_mpic(status, resp, "permit." + Z, True, True, 3, 2)
    params = resp["caa_check_parameters"]
    check(isinstance(params, dict), "caa_check_parameters echo %r" % params)
    eq(params.get("caa_domains"), ["ca.example"], "caa_domains echo")
    eq(params.get("certificate_type"), "tls-server", "default cert type")
    eq(params.get("allow_lookup_failure"), False, "default allow")


@R.case
def test_deny_is_invalid_but_completed(ctx):
    status, resp = mpic(ctx.full, "deny." + Z)
    assert_mpic(status, resp, "deny." + Z, False, True, 3, 2)
    for cr in by_code(resp).values():
        eq((cr["check_passed"], cr["check_completed"]), (False, True),
           "perspective verdict")


@R.case
def test_no_caa_is_valid(ctx):
    status, resp = mpic(ctx.full, "empty." + Z, trace=None)
    assert_mpic(status, resp, "empty." + Z, True, True, 3, 2, trace=None)


@R.case
def test_lookup_error_is_invalid_and_not_completed(ctx):
    status, resp = mpic(ctx.full, "x.refused.test")
    assert_mpic(status, resp, "x.refused.test", False, False, 3, 2)
    for cr in by_code(resp).values():
        eq([e["error_type"] for e in cr["errors"]],
           ["mpic_error:caa_checker:lookup"], "errors")


@R.case
def test_parameters_are_forwarded_and_echoed(ctx):
    params = {"certificate_type": "s-mime", "caa_domains": ["ca.example"],
              "allow_lookup_failure": False}
    status, resp = mpic(ctx.full, "mail-permit." + Z, params=params)
    assert_mpic(status, resp, "mail-permit." + Z, True, True, 3, 2)
    eq(resp["caa_check_parameters"].get("certificate_type"), "s-mime", "echo")
    eq(resp["caa_check_parameters"].get("caa_domains"), ["ca.example"], "echo")
    # tls-server on the same name denies: the parameter made the difference.
    status, resp = mpic(ctx.full, "mail-permit." + Z)
    eq(resp["is_valid"], False, "tls-server on mail-permit")
    # caa_domains reach the checkers.
    status, resp = mpic(ctx.full, "deny." + Z,
                        params={"caa_domains": ["ca.invalid"]})
    eq((status, resp["is_valid"]), (200, True), "caa_domains ca.invalid")


@R.case
def test_reverse_zone_and_numeric_targets_refused(ctx):
    for target, fragment in [
            ("1.2.0.192.in-addr.arpa", "BR 4.2.2"),
            ("IN-ADDR.ARPA.", "in-addr.arpa"),
            ("x.ip6.arpa", "ip6.arpa"),
            ("2130706433", "all digits"),
            ("0x7f000001", "hexadecimal")]:
        status, resp = mpic(ctx.full, target)
        assert_400(status, resp, target)
        issues = resp["validation_issues"]
        check(any(i["issue_type"] == "invalid-domain-or-ip-target"
                  and i["message"].startswith("$.domain_or_ip_target: ")
                  and fragment in i["message"] for i in issues),
              "%s: issues %r" % (target, issues))
    # Wildcards and addresses still work for CAA.
    status, resp = mpic(ctx.full, "*.wild-permit." + Z)
    eq((status, resp.get("is_valid")), (200, True), "CAA wildcard")
    status, resp = mpic(ctx.full, "127.0.0.1")
    eq((status, resp.get("is_valid")), (200, True), "CAA IP target")


@R.case
def test_wildcard_and_unicode_targets_echoed_as_sent(ctx):
    status, resp = mpic(ctx.full, "*.wild-permit." + Z)
    assert_mpic(status, resp, "*.wild-permit." + Z, True, True, 3, 2)
    status, resp = mpic(ctx.full, "bücher." + Z)
    assert_mpic(status, resp, "bücher." + Z, False, True, 3, 2)


# ---------------------------------------------------------------- orchestration


@R.case
def test_six_perspectives_default_quorum(ctx):
    orch = {"perspective_count": 6}
    status, resp = mpic(ctx.full, "permit." + Z, orch)
    codes = assert_mpic(status, resp, "permit." + Z, True, True, 6, 4)
    eq(sorted(codes), sorted(CODES), "all perspectives used")
    eq(resp["request_orchestration_parameters"].get("perspective_count"), 6,
       "request orch echo")


@R.case
def test_explicit_quorum(ctx):
    status, resp = mpic(ctx.full, "permit." + Z,
                        {"perspective_count": 3, "quorum_count": 3})
    assert_mpic(status, resp, "permit." + Z, True, True, 3, 3)
    status, resp = mpic(ctx.full, "permit." + Z,
                        {"perspective_count": 6, "quorum_count": 5})
    assert_mpic(status, resp, "permit." + Z, True, True, 6, 5)


@R.case
def test_selection_is_deterministic_and_case_insensitive(ctx):
    _, a = mpic(ctx.full, "permit." + Z)
    _, b = mpic(ctx.full, "permit." + Z)
    _, c = mpic(ctx.full, "PERMIT.CAA.TEST")
    sa, sb, sc = (sorted(by_code(x)) for x in (a, b, c))
    eq(sb, sa, "same target, same cohort")
    eq(sc, sa, "upper-case target, same cohort")


@R.case
def test_cohorts_are_disjoint_and_diverse(ctx):
    seen = []
    for k in (1, 2):
        status, resp = mpic(ctx.full, "permit." + Z,
                            {"perspective_count": 3,
                             "cohort_for_single_attempt": k})
        codes = assert_mpic(status, resp, "permit." + Z, True, True, 3, 2)
        seen.append(set(codes))
    eq(seen[0] & seen[1], set(), "cohorts overlap")
    eq(seen[0] | seen[1], set(CODES), "cohorts cover all perspectives")


@R.case
def test_failed_attempts_move_to_next_cohort(ctx):
    orch = {"perspective_count": 2, "quorum_count": 2, "max_attempts": 3}
    status, resp = mpic(ctx.full, "deny." + Z, orch)
    assert_mpic(status, resp, "deny." + Z, False, True, 2, 2, attempts=3)
    used = set(by_code(resp))
    for attempt in resp["previous_attempt_results"]:
        codes = {p["perspective_code"] for p in attempt}
        eq(used & codes, set(), "attempts reuse a cohort")
        used |= codes
    eq(used, set(CODES), "three attempts cover all six perspectives")


@R.case
def test_max_attempts_capped_by_absolute_max(ctx):
    orch = {"perspective_count": 2, "quorum_count": 2, "max_attempts": 9}
    status, resp = mpic(ctx.full, "deny." + Z, orch)
    assert_mpic(status, resp, "deny." + Z, False, True, 2, 2, attempts=3)


@R.case
def test_valid_first_attempt_stops(ctx):
    orch = {"perspective_count": 2, "quorum_count": 2, "max_attempts": 3}
    status, resp = mpic(ctx.full, "permit." + Z, orch)
    assert_mpic(status, resp, "permit." + Z, True, True, 2, 2, attempts=1)


@R.case
def test_second_cohort_succeeds_when_first_is_down(ctx):
    target = "permit." + Z
    first = None
    status, resp = mpic(ctx.full, target, {"perspective_count": 2,
                                           "cohort_for_single_attempt": 1})
    eq(status, 200, "status")
    first = sorted(by_code(resp))
    coord = ctx.with_replaced("cohort1-down",
                              {c: ctx.dead_url() for c in first})
    orch = {"perspective_count": 2, "quorum_count": 2, "max_attempts": 3}
    status, resp = mpic(coord, target, orch)
    assert_mpic(status, resp, target, True, True, 2, 2, attempts=2)
    prev = resp["previous_attempt_results"][0]
    eq(sorted(p["perspective_code"] for p in prev), first, "first cohort")
    for p in prev:
        cr = p["check_response"]
        eq((cr["check_passed"], cr["check_completed"]), (False, False),
           "dead perspective verdict")
        eq([e["error_type"] for e in cr["errors"]], [REMOTE], "dead errors")
    check(not set(by_code(resp)) & set(first), "second cohort reused first")


# ---------------------------------------------------------------- broken perspectives


@R.case
def test_one_checker_down_quorum_still_met(ctx):
    down = CODES[0]
    coord = ctx.with_replaced("one-down", {down: ctx.dead_url()})
    status, resp = mpic(coord, "permit." + Z, {"perspective_count": 6})
    assert_mpic(status, resp, "permit." + Z, True, True, 6, 4)
    crs = by_code(resp)
    eq((crs[down]["check_passed"], crs[down]["check_completed"]),
       (False, False), "dead perspective")
    eq([e["error_type"] for e in crs[down]["errors"]], [REMOTE], "errors")
    for c in CODES[1:]:
        eq(crs[c]["check_passed"], True, c + " passed")


@R.case
def test_too_many_checkers_down(ctx):
    coord = ctx.with_replaced("three-down",
                              {c: ctx.dead_url() for c in CODES[:3]})
    status, resp = mpic(coord, "permit." + Z, {"perspective_count": 6})
    assert_mpic(status, resp, "permit." + Z, False, False, 6, 4)
    crs = by_code(resp)
    for c in CODES[:3]:
        eq([e["error_type"] for e in crs[c]["errors"]], [REMOTE], c)


@R.case
def test_broken_checker_answers_become_remote_check_errors(ctx):
    f = ctx.fake
    bad = {CODES[0]: f.url("/garbage"), CODES[2]: f.url("/error500"),
           CODES[4]: f.url("/hang")}
    coord = ctx.with_replaced("broken", bad, remote_timeout_ms=1500)
    status, resp = mpic(coord, "permit." + Z,
                        {"perspective_count": 6, "quorum_count": 4})
    assert_mpic(status, resp, "permit." + Z, False, False, 6, 4)
    crs = by_code(resp)
    for c in bad:
        cr = crs[c]
        eq((cr["check_passed"], cr["check_completed"]), (False, False), c)
        eq([e["error_type"] for e in cr["errors"]], [REMOTE], c + " errors")
        check(cr["errors"][0]["error_message"], c + ": empty message")
    for c in set(CODES) - set(bad):
        eq(crs[c]["check_passed"], True, c + " passed")


@R.case
def test_misleading_passes_do_not_count(ctx):
    # Four perspectives answer "passed" in bodies that are no CAA check
    # response (another check type, a duplicate key, a string, a number);
    # the two real ones deny. Counted, the four would make quorum 4 of 6.
    f = ctx.fake
    bad = {CODES[0]: f.url("/passed-as-dcv"),
           CODES[1]: f.url("/passed-dupkey"),
           CODES[2]: f.url("/passed-string"),
           CODES[3]: f.url("/passed-number")}
    coord = ctx.with_replaced("misleading", bad)
    status, resp = mpic(coord, "deny." + Z,
                        {"perspective_count": 6, "quorum_count": 4})
    assert_mpic(status, resp, "deny." + Z, False, False, 6, 4)
    crs = by_code(resp)
    for c in bad:
        cr = crs[c]
        eq((cr["check_passed"], cr["check_completed"]), (False, False), c)
        eq([e["error_type"] for e in cr["errors"]], [REMOTE], c + " errors")
    # The same coordinator counts a real pass from the same fake server.
    coord = ctx.with_replaced(
        "misleading-control", dict(bad, **{CODES[4]: f.url("/passed500")}))
    status, resp = mpic(coord, "deny." + Z,
                        {"perspective_count": 6, "quorum_count": 4})
    eq(by_code(resp)[CODES[4]]["check_passed"], True, "control pass")
    eq(resp["is_valid"], False, "control verdict")


@R.case
def test_incoherent_passes_do_not_count(ctx):
    # A pass that is not completed, or that lists errors although the
    # request allowed no lookup failure, is no corroboration. Counted, the
    # four would make quorum 4 of 6 (the two real checkers deny).
    f = ctx.fake
    inc, errs = CODES[:2], CODES[2:4]
    bad = {c: f.url("/passed-incomplete/" + c) for c in inc}
    bad.update({c: f.url("/passed-with-errors/" + c) for c in errs})
    coord = ctx.with_replaced("incoherent", bad)
    status, resp = mpic(coord, "deny." + Z,
                        {"perspective_count": 6, "quorum_count": 4})
    assert_mpic(status, resp, "deny." + Z, False, False, 6, 4)
    crs = by_code(resp)
    for c in bad:
        cr = crs[c]
        eq((cr["check_passed"], cr["check_completed"]), (False, False), c)
        eq([e["error_type"] for e in cr["errors"]], [REMOTE], c + " errors")
        check("incoherent" in cr["errors"][0]["error_message"],
              c + ": %r" % cr["errors"][0])
    # With allow_lookup_failure a pass listing its lookup error is what a
    # checker gives (open-mpic-api.md 5.2): it counts, kept as sent; a pass
    # that is not completed still does not.
    status, resp = mpic(coord, "deny." + Z,
                        {"perspective_count": 6, "quorum_count": 4},
                        params={"allow_lookup_failure": True})
    eq((status, resp["is_valid"]), (200, False), "allowed: verdict")
    crs = by_code(resp)
    for c in errs:
        eq((crs[c]["check_passed"], crs[c]["check_completed"]), (True, True),
           c + " allowed")
        eq([e["error_type"] for e in crs[c]["errors"]],
           ["mpic_error:caa_checker:lookup"], c + " allowed errors")
    for c in inc:
        eq(crs[c]["check_passed"], False, c + " allowed, incomplete")
    # The coordinator answers the next request as before.
    status, resp = mpic(ctx.full, "permit." + Z)
    eq((status, resp.get("is_valid")), (200, True), "next request")


@R.case
def test_wrong_shaped_body_is_remote_check_error(ctx):
    coord = ctx.with_replaced("wrongshape",
                              {CODES[1]: ctx.fake.url("/wrongshape")})
    status, resp = mpic(coord, "permit." + Z, {"perspective_count": 6})
    assert_mpic(status, resp, "permit." + Z, True, True, 6, 4)
    cr = by_code(resp)[CODES[1]]
    eq([e["error_type"] for e in cr["errors"]], [REMOTE], "errors")


@R.case
def test_check_response_with_http_500_counts(ctx):
    coord = ctx.with_replaced("passed500",
                              {CODES[3]: ctx.fake.url("/passed500")})
    status, resp = mpic(coord, "empty." + Z,
                        {"perspective_count": 6, "quorum_count": 6})
    assert_mpic(status, resp, "empty." + Z, True, True, 6, 6)
    eq(by_code(resp)[CODES[3]]["check_passed"], True, "500 body used")


# ---------------------------------------------------------------- API edge


def assert_400(status, resp, what):
    eq(status, 400, what + " status (body %r)" % (resp,))
    check(isinstance(resp, dict), what + ": body not JSON")
    eq(resp.get("error"), "request-validation-failed", what + " error")
    issues = resp.get("validation_issues")
    check(isinstance(issues, list) and len(issues) >= 1,
          what + ": validation_issues %r" % (issues,))
    for i in issues:
        check(isinstance(i, dict) and isinstance(i.get("issue_type"), str)
              and isinstance(i.get("message"), str),
              what + ": bad issue %r" % (i,))


def base_request(**over):
    b = {"check_type": "caa", "domain_or_ip_target": "permit." + Z}
    b.update(over)
    return b


@R.case
def test_bad_requests_are_400(ctx):
    cases = [
        ("not JSON", b"{\"check_type\": "),
        ("not an object", b"[1, 2]"),
        ("missing check_type", {"domain_or_ip_target": "permit." + Z}),
        ("bad check_type", base_request(check_type="ocsp")),
        ("check_type not a string", base_request(check_type=1)),
        ("missing target", {"check_type": "caa"}),
        ("target not a string", base_request(domain_or_ip_target=["a"])),
        ("empty label", base_request(domain_or_ip_target="a..b")),
        ("label of 64", base_request(domain_or_ip_target="a" * 64 + ".test")),
        ("name over 253", base_request(
            domain_or_ip_target=".".join(["a" * 60] * 5))),
        ("space in name", base_request(domain_or_ip_target="a b.test")),
        ("IDNA2008-disallowed symbol",
         base_request(domain_or_ip_target="\u2603.test")),
        # BR 4.2.2: no names in the IP reverse zones.
        ("in-addr.arpa name",
         base_request(domain_or_ip_target="1.2.0.192.in-addr.arpa")),
        ("ip6.arpa wildcard", base_request(domain_or_ip_target="*.ip6.arpa.")),
        # Numeric forms read as IPv4 addresses: neither name nor literal.
        ("decimal IPv4 form", base_request(domain_or_ip_target="2130706433")),
        ("hex IPv4 form", base_request(domain_or_ip_target="0x7f000001")),
        ("short IPv4 form", base_request(domain_or_ip_target="127.1")),
        ("'_' in the name",
         base_request(domain_or_ip_target="_x.permit." + Z)),
    ]
    for pc in (1, 7, "3", 3.5, 0, -2, True):
        cases.append(("perspective_count %r" % (pc,), base_request(
            orchestration_parameters={"perspective_count": pc})))
    for n, q in ((3, 1), (3, 4), (3, 0), (6, 3), (6, 7), (2, 0)):
        cases.append(("quorum %d/%d" % (q, n), base_request(
            orchestration_parameters={"perspective_count": n,
                                      "quorum_count": q})))
    for k in (0, 4, -1, "1"):
        cases.append(("cohort_for_single_attempt %r" % (k,), base_request(
            orchestration_parameters={"perspective_count": 2,
                                      "cohort_for_single_attempt": k})))
    cases += [
        ("orchestration_parameters not an object",
         base_request(orchestration_parameters=[3])),
        ("max_attempts 0", base_request(
            orchestration_parameters={"max_attempts": 0})),
        ("bad certificate_type", base_request(
            caa_check_parameters={"certificate_type": "code-signing"})),
        ("caa_domains not a list", base_request(
            caa_check_parameters={"caa_domains": "ca.example"})),
        ("allow_lookup_failure not bool", base_request(
            caa_check_parameters={"allow_lookup_failure": "yes"})),
        ("dcv without parameters", base_request(check_type="dcv")),
        ("unknown validation_method", base_request(
            check_type="dcv",
            dcv_check_parameters={"validation_method": "carrier-pigeon"})),
    ]
    failures = []
    for what, body in cases:
        status, resp = mpic(ctx.full, None, raw=body)
        try:
            assert_400(status, resp, what)
        except AssertionError as e:
            failures.append(str(e))
    check(not failures, "%d of %d bad requests mishandled:\n  %s" % (
        len(failures), len(cases), "\n  ".join(failures)))
    # Control: the base request is fine.
    status, resp = mpic(ctx.full, None, raw=base_request())
    eq((status, resp.get("is_valid")), (200, True), "control request")


def raw_request(target_json, orch_json=None, extra=""):
    """A POST /mpic body as bytes, so JSON that Python would not write
    (escapes, huge numbers, -0) goes on the wire exactly as given."""
    body = '{"check_type": "caa", "domain_or_ip_target": %s' % target_json
    if orch_json is not None:
        body += ', "orchestration_parameters": %s' % orch_json
    return (body + extra + "}").encode()


@R.case
def test_hostile_json_and_names_are_400(ctx):
    """Values the parser must refuse rather than coerce, each naming what
    was wrong; and the coordinator answers the next request."""
    tgt = '"permit.%s"' % Z
    pc = '{"perspective_count": %s}'
    cases = [
        # JSON itself: NUL, lone surrogates, nesting, numbers too big to hold.
        ("NUL in the target", raw_request('"permit\\u0000.%s"' % Z), "$:"),
        ("lone high surrogate", raw_request('"\\ud800.%s"' % Z), "$:"),
        ("lone low surrogate", raw_request('"a\\udc00b.%s"' % Z), "$:"),
        ("nesting 3000 deep", raw_request(
            tgt, extra=', "x": ' + "[" * 3000 + "]" * 3000), "$:"),
        ("a second object after the first",
         raw_request(tgt) + raw_request(tgt), "$:"),
        ("text after the object", raw_request(tgt) + b" x", "$:"),
        ("perspective_count 1e400", raw_request(tgt, pc % "1e400"), "$:"),
        ("perspective_count 2^63", raw_request(
            tgt, pc % "9223372036854775808"), "$:"),
        # Numbers that parse but are no orchestration value.
        ("perspective_count 2^63-1", raw_request(
            tgt, pc % "9223372036854775807"), "perspective_count"),
        ("perspective_count -0", raw_request(tgt, pc % "-0"),
         "perspective_count"),
        ("perspective_count 3.0", raw_request(tgt, pc % "3.0"),
         "perspective_count"),
        ("perspective_count 3e0", raw_request(tgt, pc % "3e0"),
         "perspective_count"),
        ("quorum_count -1", raw_request(
            tgt, '{"perspective_count": 3, "quorum_count": -1}'),
         "quorum_count"),
        ("quorum_count 2.0", raw_request(
            tgt, '{"perspective_count": 3, "quorum_count": 2.0}'),
         "quorum_count"),
        ("max_attempts 2^62", raw_request(
            tgt, '{"max_attempts": 4611686018427387904}'), "max_attempts"),
        ("max_attempts \"2\"", raw_request(tgt, '{"max_attempts": "2"}'),
         "max_attempts"),
        ("max_attempts true", raw_request(tgt, '{"max_attempts": true}'),
         "max_attempts"),
        ("cohort_for_single_attempt 1.0", raw_request(
            tgt, '{"cohort_for_single_attempt": 1.0}'),
         "cohort_for_single_attempt"),
        ("duplicate key", raw_request(
            tgt, pc % "3", extra=', "orchestration_parameters": null'),
         "$:"),
        ("allow_lookup_failure \"true\"", base_request(
            caa_check_parameters={"allow_lookup_failure": "true"}),
         "allow_lookup_failure"),
        ("allow_lookup_failure 1", base_request(
            caa_check_parameters={"allow_lookup_failure": 1}),
         "allow_lookup_failure"),
        ("caa_domains with an empty string", base_request(
            caa_check_parameters={"caa_domains": ["ca.example", ""]}),
         "caa_domains[1]"),
        ("caa_domains with a number", base_request(
            caa_check_parameters={"caa_domains": [1]}), "caa_domains[0]"),
        # Names no certificate can carry (BR 7.1.2.7.12: P-Labels and
        # Non-Reserved LDH labels only), in every spelling.
        ("Reserved LDH label", base_request(
            domain_or_ip_target="ab--cd.permit." + Z), "domain_or_ip_target"),
        ("Reserved LDH label, upper case", base_request(
            domain_or_ip_target="AB--CD.permit." + Z),
         "domain_or_ip_target"),
        ("Reserved LDH label under a wildcard", base_request(
            domain_or_ip_target="*.r3---sn.permit." + Z),
         "domain_or_ip_target"),
        ("Reserved LDH label in fullwidth letters", base_request(
            domain_or_ip_target="\uff41\uff42--cd.permit." + Z),
         "domain_or_ip_target"),
        ("xn-- label that is not Punycode", base_request(
            domain_or_ip_target="xn--zz.permit." + Z), "domain_or_ip_target"),
        ("ZERO WIDTH JOINER", base_request(
            domain_or_ip_target="a\u200db.permit." + Z),
         "domain_or_ip_target"),
        ("fullwidth dot making an empty label", base_request(
            domain_or_ip_target="a.\u3002permit." + Z),
         "domain_or_ip_target"),
        ("IPv6 with a zone", base_request(
            domain_or_ip_target="fe80::1%lo"), "domain_or_ip_target"),
        ("wildcard on an address", base_request(
            domain_or_ip_target="*.192.0.2.1"), "domain_or_ip_target"),
        # website-change looking for nothing: "" matches every page.
        ("website-change with empty value and empty match_regex",
         base_request(check_type="dcv", dcv_check_parameters={
             "validation_method": "website-change", "challenge_value": "",
             "http_token_path": "p", "match_regex": ""}),
         "challenge_value: must not be empty"),
    ]
    failures = []
    for what, body, names in cases:
        status, resp = mpic(ctx.full, None, raw=body)
        try:
            assert_400(status, resp, what)
            msgs = " ".join(i["message"] for i in resp["validation_issues"])
            check(names in msgs, "%s: no issue names %r: %r" % (
                what, names, msgs))
        except AssertionError as e:
            failures.append(str(e))
    check(not failures, "%d of %d hostile requests mishandled:\n  %s" % (
        len(failures), len(cases), "\n  ".join(failures)))
    # The same shapes done right are served: the refusals above are about
    # the values, not the layout.
    for what, body in (
            ("control", raw_request(tgt, '{"perspective_count": 3}')),
            ("control with a fullwidth dot", base_request(
                domain_or_ip_target="permit\uff0e" + Z)),
            ("control with a non-reserved '--'", base_request(
                domain_or_ip_target="abc--d.permit." + Z))):
        status, resp = mpic(ctx.full, None, raw=body)
        eq((status, resp.get("is_valid")), (200, True), what)


@R.case
def test_unknown_fields_are_ignored(ctx):
    status, resp = mpic(ctx.full, None, raw=base_request(
        flavour="vanilla", orchestration_parameters=None))
    eq((status, resp.get("is_valid")), (200, True), "unknown field")


@R.case
def test_unknown_path_is_404(ctx):
    status, _ = h.post(ctx.full.base + "/nope", base_request())
    eq(status, 404, "POST /nope")
    status, _ = h.http_request(ctx.full.base + "/mpic/extra")
    eq(status, 404, "GET /mpic/extra")


@R.case
def test_wrong_method_is_405(ctx):
    status, _ = h.http_request(ctx.full.base + "/mpic")
    eq(status, 405, "GET /mpic")
    status, _ = h.http_request(ctx.full.base + "/mpic", method="PUT",
                               body=base_request())
    eq(status, 405, "PUT /mpic")


@R.case
def test_body_over_limit_is_413(ctx):
    coord = ctx.coordinator("small", max_request_bytes=2048)
    big = base_request(padding="x" * 4096)
    status, _ = mpic(coord, None, raw=big)
    eq(status, 413, "over max_request_bytes")
    status, resp = mpic(coord, None, raw=base_request())
    eq((status, resp.get("is_valid")), (200, True), "under the limit")


@R.case
def test_api_keys(ctx):
    coord = ctx.coordinator("keys", api_keys=("k-one", "k-two"))
    status, _ = mpic(coord, None, raw=base_request())
    eq(status, 401, "no key")
    status, _ = mpic(coord, None, raw=base_request(),
                     headers={"x-api-key": "k-three"})
    eq(status, 401, "wrong x-api-key")
    status, _ = mpic(coord, None, raw=base_request(),
                     headers={"x-api-key": "k-one-and-more"})
    eq(status, 401, "key with a right prefix")
    status, _ = mpic(coord, None, raw=base_request(),
                     headers={"authorization": "Bearer k-on"})
    eq(status, 401, "wrong bearer")
    status, resp = mpic(coord, None, raw=base_request(),
                        headers={"x-api-key": "k-one"})
    eq((status, resp.get("is_valid")), (200, True), "right x-api-key")
    status, resp = mpic(coord, None, raw=base_request(),
                        headers={"authorization": "Bearer k-two"})
    eq((status, resp.get("is_valid")), (200, True), "right bearer")


@R.case
def test_healthz(ctx):
    status, body = h.http_request(ctx.full.base + "/healthz")
    eq((status, body), (200, {"status": "healthy"}), "healthz")


def make_ctx():
    ctx = Ctx()
    h.atexit.register(ctx.fake.close)
    return ctx


if __name__ == "__main__":
    sys.exit(R.run(make_ctx))
