#!/usr/bin/env python3
"""The coordinator's compliance policy (open-mpic-api.md 9,
docs/compliance.md), end to end: real mpic-dcv-checker perspectives
resolving through nsd + unbound (tests/integration/dcv/zones), coordinators
with each compliance setting, the real clock.

- compliance.min_perspective_count auto: a perspective_count below the BR
  3.2.2.9 minimum of today is 400 perspective-count-below-minimum; at the
  minimum it is served.
- method_sunsets enforce: ip-address (MUST NOT since 2026-03-15) is 400
  validation-method-sunset; contact-email-txt (SHOULD NOT) is served with a
  `warnings` entry in the response and in the audit line.
- warn serves ip-address and flags it; off neither refuses nor flags.
- Every audit line records the policy in force.
- A default_perspective_count below the minimum (auto on a given day, or a
  configured integer) is refused by --check-config and at start-up; the
  503 for a minimum that rises under a running daemon is covered by the
  unit tests of the decision (tests/unit/test_compliance.c), since it needs
  a clock the daemon does not let a test set.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DCV_ZONES = os.path.join(HERE, "dcv", "zones")
R = h.Runner()
HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
CODES = [c for c, _, _ in h.PERSPECTIVES]  # six over three RIRs

# An independent copy of the BR calendar, as the test's oracle.
MIN_ROWS = [(datetime.date(2026, 3, 15), 3), (datetime.date(2026, 6, 15), 4),
            (datetime.date(2026, 12, 15), 5)]
SUNSETS = {  # method: (BR section, SHOULD NOT from, MUST NOT from)
    "ip-address": ("3.2.2.4.8", None, datetime.date(2026, 3, 15)),
    "contact-email-txt": ("3.2.2.4.14", datetime.date(2026, 3, 15),
                          datetime.date(2028, 3, 15)),
}


def today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def br_minimum(day):
    m = 2
    for since, n in MIN_ROWS:
        if day >= since:
            m = n
    return m


def sunset_level(method, day):
    _, should, must = SUNSETS[method]
    if day >= must:
        return "MUST NOT"
    if should is not None and day >= should:
        return "SHOULD NOT"
    return None


def merged_zones(workdir):
    d = os.path.join(workdir, "zones")
    os.makedirs(d)
    for src in (h.ZONES_DIR, DCV_ZONES):
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), d)
    return d


def coordinator_yaml(port, urls, default_count, compliance):
    lines = ["listen: \"127.0.0.1:%d\"" % port, "log_level: info",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url in urls:
        lines += ["  - code: %s" % code, "    dcv_url: \"%s\"" % url]
    lines += ["default_perspective_count: %d" % default_count,
              "absolute_max_attempts: 1",
              "hash_secret: \"compliance-secret\"", "remote_timeout_ms: 8000"]
    if compliance is not None:
        lines += ["compliance:"] + ["  %s: %s" % kv for kv in
                                    compliance.items()]
    return "\n".join(lines) + "\n"


class Ctx:
    def __init__(self):
        self.cluster = c = h.Cluster(dns=False)
        h.ZONES_DIR = merged_zones(c.workdir)
        h.ZONES = sorted(f[:-5] for f in os.listdir(h.ZONES_DIR)
                         if f.endswith(".zone"))
        c.dns = h.DNSStack(c.workdir)
        self.urls = []
        for code in CODES:
            port = h.free_port(udp_too=False)
            d = h.Daemon("dcv-" + code, "mpic-dcv-checker",
                         h.checker_config(code, port, [c.dns.resolver],
                                          timeout_ms=2000),
                         c.workdir, port)
            c.daemons.append(d)
            d.wait_healthy()
            self.urls.append((code, d.base + "/dcv"))
        # The shipped policy: auto minimum, sunsets enforced (the keys
        # left out, so the defaults are what is tested).
        self.enforce = self.coordinator("enforce", 6, None)
        self.warn = self.coordinator("warn", 3, {"min_perspective_count": 2,
                                                 "method_sunsets": "warn"})
        self.off = self.coordinator("off", 3, {"min_perspective_count": 2,
                                               "method_sunsets": "\"off\""})

    def sub(self, name):
        d = os.path.join(self.cluster.workdir, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        return d

    def coordinator(self, name, default_count, compliance):
        port = h.free_port(udp_too=False)
        d = h.Daemon("coord-" + name, "mpic-coordinator",
                     coordinator_yaml(port, self.urls, default_count,
                                      compliance),
                     self.sub(name), port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d


def p_dns01():
    return {"validation_method": "acme-dns-01", "key_authorization_hash": HASH}


def p_email(value="admin@example.com"):
    return {"validation_method": "contact-email-txt",
            "challenge_value": value}


def p_ip(value="192.0.2.7"):
    return {"validation_method": "ip-address", "challenge_value": value,
            "dns_record_type": "A"}


def mpic(coord, target, params, trace, orch=None):
    body = {"check_type": "dcv", "domain_or_ip_target": target,
            "dcv_check_parameters": params, "trace_identifier": trace}
    if orch is not None:
        body["orchestration_parameters"] = orch
    return h.post(coord.base + "/mpic", body)


def one_audit(coord, trace):
    out = []
    for line in coord.read_log().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict) and o.get("event") == "mpic_audit" and \
                o.get("trace_identifier") == trace:
            out.append(o)
    eq(len(out), 1, "audit lines for %s" % trace)
    return out[0]


def issue_types(resp):
    return [i.get("issue_type") for i in resp.get("validation_issues", [])]


def assert_auto_policy(a, mode="enforce"):
    comp = a.get("compliance")
    check(isinstance(comp, dict), "audit compliance: %r" % (a,))
    eq(comp.get("min_perspective_count"), br_minimum(today()),
       "audit minimum")
    eq(comp.get("min_source"), "auto", "audit min_source")
    eq(comp.get("min_rule"), "BR 3.2.2.9", "audit min_rule")
    check(comp.get("min_since") in [str(d) for d, _ in MIN_ROWS],
          "audit min_since %r" % (comp,))
    eq(comp.get("method_sunsets"), mode, "audit method_sunsets")


@R.case
def test_below_minimum_refused(ctx):
    m = br_minimum(today())
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_dns01(), "below-min",
                        {"perspective_count": m - 1})
    eq(status, 400, "status (%r)" % (resp,))
    eq(resp.get("error"), "request-validation-failed", "error")
    eq(issue_types(resp), ["perspective-count-below-minimum"], "issues")
    msg = resp["validation_issues"][0]["message"]
    check("$.orchestration_parameters.perspective_count" in msg, msg)
    check("minimum of %d" % m in msg, msg)
    a = one_audit(ctx.enforce, "below-min")
    eq(a["outcome"], "refused", "audit outcome")
    eq(a["perspective_count"], m - 1, "audit perspective_count")
    eq(a["attempts"], [], "no attempt ran")
    eq([i["issue_type"] for i in a["validation_issues"]],
       ["perspective-count-below-minimum"], "audit issues")
    assert_auto_policy(a)
    # One is out of range (as before the policy); two is below the minimum
    # whatever the day (2 < 3 since 2026-03-15).
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_dns01(), "one",
                        {"perspective_count": 1})
    eq(status, 400, "status (%r)" % (resp,))
    eq(issue_types(resp), ["invalid-perspective-count"], "issues")
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_dns01(), "two",
                        {"perspective_count": 2, "quorum_count": 2})
    eq(status, 400, "status (%r)" % (resp,))
    eq(issue_types(resp), ["perspective-count-below-minimum"], "issues")


@R.case
def test_at_minimum_served(ctx):
    m = br_minimum(today())
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_dns01(), "at-min",
                        {"perspective_count": m})
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid (%r)" % (resp,))
    eq(resp["actual_orchestration_parameters"]["perspective_count"], m,
       "perspective_count")
    check("warnings" not in resp, "no warnings key: %r" % (resp,))
    a = one_audit(ctx.enforce, "at-min")
    eq(a["outcome"], "answered", "audit outcome")
    check("warnings" not in a, "audit warnings: %r" % (a,))
    assert_auto_policy(a)
    # The default (6) too.
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_dns01(), "default")
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["actual_orchestration_parameters"]["perspective_count"], 6,
       "default perspective_count")
    eq(resp["is_valid"], True, "is_valid")


@R.case
def test_ip_address_refused_as_sunset(ctx):
    eq(sunset_level("ip-address", today()), "MUST NOT", "the calendar")
    status, resp = mpic(ctx.enforce, "ip.dcv.test", p_ip(), "ip-enforce")
    eq(status, 400, "status (%r)" % (resp,))
    eq(resp.get("error"), "request-validation-failed", "error")
    eq(issue_types(resp), ["validation-method-sunset"], "issues")
    msg = resp["validation_issues"][0]["message"]
    check("$.dcv_check_parameters.validation_method" in msg, msg)
    check("3.2.2.4.8" in msg and "2026-03-15" in msg, msg)
    a = one_audit(ctx.enforce, "ip-enforce")
    eq(a["outcome"], "refused", "audit outcome")
    eq(a["validation_method"], "ip-address", "audit method")
    eq([i["issue_type"] for i in a["validation_issues"]],
       ["validation-method-sunset"], "audit issues")
    assert_auto_policy(a)
    # Both problems of one request in one answer.
    status, resp = mpic(ctx.enforce, "ip.dcv.test", p_ip(), "ip-two",
                        {"perspective_count": 2, "quorum_count": 2})
    eq(status, 400, "status (%r)" % (resp,))
    eq(sorted(issue_types(resp)), ["perspective-count-below-minimum",
                                   "validation-method-sunset"], "issues")


@R.case
def test_should_not_method_served_with_warning(ctx):
    level = sunset_level("contact-email-txt", today())
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_email(), "email")
    if level == "MUST NOT":  # from 2028-03-15
        eq(status, 400, "status (%r)" % (resp,))
        eq(issue_types(resp), ["validation-method-sunset"], "issues")
        return
    eq(level, "SHOULD NOT", "the calendar")
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid (%r)" % (resp,))
    w = resp.get("warnings")
    check(isinstance(w, list) and len(w) == 1, "warnings: %r" % (resp,))
    eq(w[0].get("warning_type"), "validation-method-sunset", "warning_type")
    check("SHOULD NOT" in w[0]["message"] and "3.2.2.4.14" in
          w[0]["message"] and "2028-03-15" in w[0]["message"], w[0])
    a = one_audit(ctx.enforce, "email")
    eq(a["outcome"], "answered", "audit outcome")
    eq(a.get("warnings"), w, "audit warnings")
    assert_auto_policy(a)
    # A non-matching value is still checked (and fails) with the warning.
    status, resp = mpic(ctx.enforce, "ok.dcv.test", p_email("x@example.com"),
                        "email-bad")
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], False, "is_valid")
    eq(len(resp.get("warnings", [])), 1, "warnings")


@R.case
def test_warn_mode_serves_and_flags(ctx):
    status, resp = mpic(ctx.warn, "ip.dcv.test", p_ip(), "ip-warn")
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], True, "is_valid (%r)" % (resp,))
    w = resp.get("warnings")
    check(isinstance(w, list) and len(w) == 1, "warnings: %r" % (resp,))
    eq(w[0]["warning_type"], "validation-method-sunset", "warning_type")
    check("MUST NOT" in w[0]["message"] and "warn" in w[0]["message"], w[0])
    a = one_audit(ctx.warn, "ip-warn")
    eq(a.get("warnings"), w, "audit warnings")
    comp = a["compliance"]
    eq(comp, {"min_perspective_count": 2, "min_source": "config",
              "method_sunsets": "warn"}, "audit compliance")
    status, resp = mpic(ctx.warn, "ok.dcv.test", p_email(), "email-warn")
    eq(status, 200, "status (%r)" % (resp,))
    eq(len(resp.get("warnings", [])), 1, "warnings (%r)" % (resp,))
    # warn does not lift the minimum (here the configured 2): no sunset,
    # no warnings key.
    status, resp = mpic(ctx.warn, "ok.dcv.test", p_dns01(), "dns-warn",
                        {"perspective_count": 2, "quorum_count": 2})
    eq(status, 200, "status (%r)" % (resp,))
    check("warnings" not in resp, "no warnings: %r" % (resp,))


@R.case
def test_off_mode_neither_refuses_nor_flags(ctx):
    for method, target, params in (("ip-address", "ip.dcv.test", p_ip()),
                                   ("contact-email-txt", "ok.dcv.test",
                                    p_email())):
        trace = "off-" + method
        status, resp = mpic(ctx.off, target, params, trace)
        eq(status, 200, "%s status (%r)" % (method, resp))
        eq(resp["is_valid"], True, "%s is_valid (%r)" % (method, resp))
        check("warnings" not in resp, "%s warnings: %r" % (method, resp))
        a = one_audit(ctx.off, trace)
        check("warnings" not in a, "audit warnings: %r" % (a,))
        eq(a["compliance"]["method_sunsets"], "off", "audit mode")
    # The configured minimum of 2 lets 2 through.
    status, resp = mpic(ctx.off, "ok.dcv.test", p_dns01(), "off-two",
                        {"perspective_count": 2, "quorum_count": 2})
    eq(status, 200, "status (%r)" % (resp,))


@R.case
def test_configz_shows_the_policy(ctx):
    status, cz = h.http_request(ctx.enforce.base + "/configz")
    eq(status, 200, "status")
    eq(cz.get("compliance"), {"min_perspective_count": "auto",
                              "method_sunsets": "enforce"}, "enforce")
    status, cz = h.http_request(ctx.warn.base + "/configz")
    eq(cz.get("compliance"), {"min_perspective_count": 2,
                              "method_sunsets": "warn"}, "warn")


def line_of(path, key):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.lstrip().startswith(key + ":"):
                return n
    raise AssertionError("%s not in %s" % (key, path))


def run_coordinator(args, timeout=30):
    p = subprocess.run([h.binary("mpic-coordinator")] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=h.clean_env(), timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


@R.case
def test_default_below_minimum_is_a_configuration_error(ctx):
    d = ctx.sub("below")
    port = h.free_port(udp_too=False)
    path = os.path.join(d, "coordinator.yaml")
    with open(path, "w") as f:
        f.write(coordinator_yaml(port, ctx.urls, 3, None))
    # Before 2026-06-15 three was enough; from that day the minimum is 4.
    rc, out = run_coordinator(["--check-config", "--config", path,
                               "--as-of", "2026-06-14"])
    eq(rc, 0, "as of 2026-06-14: " + out)
    check("minimum 3 perspectives (auto: BR 3.2.2.9 from 2026-03-15)" in out,
          out)
    rc, out = run_coordinator(["--check-config", "--config", path,
                               "--as-of", "2026-06-15"])
    eq(rc, 1, "as of 2026-06-15: " + out)
    check("%s:%d: default_perspective_count: 3 is below the minimum of 4 "
          "remote perspectives that BR 3.2.2.9 requires from 2026-06-15"
          % (path, line_of(path, "default_perspective_count")) in out, out)
    # Today (after 2026-06-15): --check-config and start-up both refuse.
    rc, out = run_coordinator(["--check-config", "--config", path])
    eq(rc, 1, "today: " + out)
    check("default_perspective_count: 3 is below the minimum" in out, out)
    rc, out = run_coordinator(["--config", path])
    eq(rc, 1, "start-up: " + out)
    check("default_perspective_count: 3 is below the minimum" in out, out)
    # A configured minimum above the default is refused the same way.
    with open(path, "w") as f:
        f.write(coordinator_yaml(port, ctx.urls, 5,
                                 {"min_perspective_count": 6}))
    rc, out = run_coordinator(["--check-config", "--config", path])
    eq(rc, 1, "min 6, default 5: " + out)
    check("%s:%d: default_perspective_count: 5 is below "
          "compliance.min_perspective_count (6)"
          % (path, line_of(path, "default_perspective_count")) in out, out)
    # More than there are perspectives: refused with its own line.
    with open(path, "w") as f:
        f.write(coordinator_yaml(port, ctx.urls, 6,
                                 {"min_perspective_count": 7}))
    rc, out = run_coordinator(["--check-config", "--config", path])
    eq(rc, 1, "min 7: " + out)
    check("perspectives: 6 perspectives configured, fewer than the minimum "
          "of 7" in out, out)
    # Bad values of the keys, with file, line and key.
    with open(path, "w") as f:
        f.write(coordinator_yaml(port, ctx.urls, 6,
                                 {"min_perspective_count": 1,
                                  "method_sunsets": "lenient"}))
    rc, out = run_coordinator(["--check-config", "--config", path])
    eq(rc, 1, "bad keys: " + out)
    check("%s:%d: compliance.min_perspective_count: expected auto or a whole "
          "number of at least 2, got '1'"
          % (path, line_of(path, "min_perspective_count")) in out, out)
    check("%s:%d: compliance.method_sunsets: expected enforce, warn or off, "
          "got 'lenient'" % (path, line_of(path, "method_sunsets")) in out,
          out)
    # --as-of is for --check-config only, and takes a real date.
    rc, out = run_coordinator(["--config", path, "--as-of", "2026-06-14"])
    eq(rc, 1, out)
    rc, out = run_coordinator(["--check-config", "--config", path,
                               "--as-of", "2026-02-30"])
    eq(rc, 1, out)
    check("--as-of: expected a date YYYY-MM-DD" in out, out)


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
