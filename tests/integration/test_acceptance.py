#!/usr/bin/env python3
"""Acceptance suite through the coordinator: a replica of the public CAA
test suite (caatestsuite.com) and of the Open MPIC API compliance names
(integration-testing.open-mpic.org), served from acceptance/*.zone under
test. ("caatestsuite.test", "integration-testing.test").

One mpic-coordinator with six perspectives over three RIRs, six CAA and six
DCV checkers, one unbound (stub zones to nsd and to fault servers), nginx on
127.0.0.1:80 for the HTTP methods. Requests are shaped like a generated API
client's: only the fields set, default orchestration; some also with
certificate_type present or optional fields null. Every response must be a
well-formed MPIC response with the expected is_valid.

nginx needs 127.0.0.1:80 (the Baseline Requirements fix the port); do not
run this at the same time as test_dcv_checker.py."""

import os
import shutil
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

# This test's own port range (the harness picks ports from these globals).
h.PORT_LO, h.PORT_HI = 23000, 23999

HERE = os.path.dirname(os.path.abspath(__file__))
ACCEPT_ZONES = os.path.join(HERE, "acceptance")
CAA_Z = "caatestsuite.test"
INT_Z = "integration-testing.test"
CODES = [c for c, _, _ in h.PERSPECTIVES]

HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
_HTTP01 = h.load_fixture("dcv-request-acme-http-01.json")["dcv_check_parameters"]
TOKEN = _HTTP01["token"]  # ends in -oA
KEYAUTH = _HTTP01["key_authorization"]
THUMB = KEYAUTH[len(TOKEN):]  # ".<thumbprint>"
BASE_TOKEN = TOKEN[:-3]  # without "-oA"


def tok(suffix):
    return BASE_TOKEN + "-" + suffix


def keyauth(suffix):
    return tok(suffix) + THUMB


R = h.Runner()

# ---------------------------------------------------------------- set-up


class AcceptanceDNS(h.DNSStack):
    """The harness stack plus stub zones to fault servers for the lookup
    failure cases (blackhole, servfail, refused)."""

    def __init__(self, workdir, fault_stubs):
        self.fault_stubs = fault_stubs
        super().__init__(workdir)

    def _start_unbound(self):
        d = os.path.join(self.workdir, "unbound")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "unbound.conf")
        lines = [
            "server:",
            "  interface: %s@%d" % (h.LOOPBACK, self.unbound_port),
            "  port: %d" % self.unbound_port,
            "  do-ip6: no",
            "  interface-automatic: no",
            "  so-reuseport: no",
            "  num-threads: 1",
            '  username: ""',
            '  chroot: ""',
            '  directory: "%s"' % d,
            '  pidfile: "%s/unbound.pid"' % d,
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 1",
            "  log-servfail: yes",
            '  module-config: "iterator"',
            "  do-not-query-localhost: no",
            "  qname-minimisation: no",
            "  access-control: 127.0.0.0/8 allow",
            "  infra-host-ttl: 1",
            "  infra-keep-probing: yes",
            "  infra-cache-max-rtt: 1000",
            "  cache-max-negative-ttl: 1",
            "  serve-expired: no",
            # Never leave loopback: everything outside test. is refused.
            '  local-zone: "." refuse',
            '  local-zone: "test." transparent',
        ]
        stubs = [(z, self.nsd_port) for z in h.ZONES]
        stubs += list(self.fault_stubs)
        for name, port in stubs:
            lines += ["stub-zone:", '  name: "%s."' % name,
                      "  stub-addr: %s@%d" % (h.LOOPBACK, port)]
        lines += ["remote-control:", "  control-enable: no"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = h.Proc("unbound", ["unbound", "-d", "-c", conf], self.workdir)
        self.procs.append(p)
        h.wait_dns(self.unbound_port, CAA_Z + ".", proc=p.proc)
        self.unbound = p


def merged_zones(workdir):
    """nsd serves one directory: the harness zones plus ours."""
    d = os.path.join(workdir, "zones")
    os.makedirs(d)
    for src in (h.ZONES_DIR, ACCEPT_ZONES):
        for f in os.listdir(src):
            if f.endswith((".zone", ".inc")):
                shutil.copy(os.path.join(src, f), d)
    return d


NGINX_CONF = """
daemon off;
master_process off;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log info;
events {{ worker_connections 128; }}
http {{
  access_log {w}/nginx-access.log;
  client_body_temp_path {w}/cb;
  proxy_temp_path {w}/px;
  fastcgi_temp_path {w}/fc;
  uwsgi_temp_path {w}/uw;
  scgi_temp_path {w}/sc;
  default_type text/plain;
  server {{
    listen 127.0.0.1:80;
    # The same content on a port the Baseline Requirements do not allow:
    # a checker that followed a redirect here would wrongly pass.
    listen 127.0.0.1:{alt};
    server_name _;
    root {root};
    # As on the public integration-testing host: -oB redirects to the
    # key authorization of -oA, -oC to the same content on another port.
    location = /.well-known/acme-challenge/{tok_b} {{
      return 302 http://{host}/redirect-target;
    }}
    location = /.well-known/acme-challenge/{tok_c} {{
      return 302 http://{host}:{alt}/redirect-target;
    }}
    location = /.well-known/acme-challenge/{tok_d} {{
      return 302 http://{host}:8080/redirect-target;
    }}
    location = /.well-known/acme-challenge/{tok_e} {{
      return 302 /redirect-target-wrong;
    }}
    location = /.well-known/pki-validation/validation-doc-redirect.txt {{
      return 302 http://{host}/redirect-target-website-change;
    }}
    location = /.well-known/pki-validation/validation-doc-bad-port-redirect.txt {{
      return 302 http://{host}:{alt}/redirect-target-website-change;
    }}
    location = /.well-known/pki-validation/validation-doc-8080-redirect.txt {{
      return 302 http://{host}:8080/redirect-target-website-change;
    }}
  }}
}}
"""


def make_webroot(workdir):
    root = os.path.join(workdir, "webroot")
    acme = os.path.join(root, ".well-known", "acme-challenge")
    pki = os.path.join(root, ".well-known", "pki-validation")
    os.makedirs(acme)
    os.makedirs(pki)
    files = {
        # -oA: the key authorization (trailing newline, as "echo" writes).
        os.path.join(acme, TOKEN): KEYAUTH + "\n",
        # Redirect targets (see NGINX_CONF); -oZ has no file (404).
        os.path.join(root, "redirect-target"): KEYAUTH + "\n",
        os.path.join(root, "redirect-target-wrong"): keyauth("oE") + "\n",
        os.path.join(pki, "validation-doc.txt"): "test-validation\n",
        os.path.join(root, "redirect-target-website-change"):
            "test-validation-redirect\n",
    }
    for path, text in files.items():
        with open(path, "w") as f:
            f.write(text)
    return root


class Ctx:
    def __init__(self):
        if not h.port_free("127.0.0.1", 80):
            raise RuntimeError("cannot bind 127.0.0.1:80 (taken, or not "
                               "root): the HTTP DCV cases need it")
        self.cluster = h.Cluster(dns=False)
        c = self.cluster
        h.ZONES_DIR = merged_zones(c.workdir)
        h.ZONES = sorted(f[:-5] for f in os.listdir(h.ZONES_DIR)
                         if f.endswith(".zone"))
        self.faults = {m: h.FaultDNS(m)
                       for m in ("blackhole", "servfail", "refused")}
        stubs = []
        for zone in (CAA_Z, "caatestsuite-dnssec.test"):
            for mode, srv in self.faults.items():
                stubs.append(("%s.%s" % (mode, zone), srv.port))
        c.dns = AcceptanceDNS(c.workdir, stubs)
        self.start_nginx()
        caa_urls, dcv_urls = {}, {}
        for code in CODES:
            caa = self.start_daemon("caa-" + code, "mpic-caa-checker", code)
            dcv = self.start_daemon(
                "dcv-" + code, "mpic-dcv-checker", code,
                extra="http:\n  timeout_ms: 4000\n"
                      "targets:\n  allow_private_addresses: true\n")
            caa_urls[code] = caa.base + "/caa"
            dcv_urls[code] = dcv.base + "/dcv"
        self.coord = self.start_coordinator(caa_urls, dcv_urls)

    def start_daemon(self, name, binary, code, extra=""):
        c = self.cluster
        port = h.free_port(udp_too=False)
        d = h.Daemon(name, binary,
                     h.checker_config(code, port, [c.dns.resolver],
                                      timeout_ms=1000, tries=2,
                                      caa_domains=("ca.example",),
                                      extra=extra),
                     c.workdir, port)
        c.daemons.append(d)
        d.wait_healthy()
        return d

    def start_coordinator(self, caa_urls, dcv_urls):
        c = self.cluster
        port = h.free_port(udp_too=False)
        sub = os.path.join(c.workdir, "coordinator")
        os.makedirs(sub)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        lines = ['listen: "127.0.0.1:%d"' % port, "log_level: debug",
                 "available_perspectives_file: available_perspectives.yaml",
                 "perspectives:"]
        for code in CODES:
            lines += ["  - code: %s" % code,
                      '    caa_url: "%s"' % caa_urls[code],
                      '    dcv_url: "%s"' % dcv_urls[code]]
        lines += ["default_perspective_count: 3", "absolute_max_attempts: 3",
                  'hash_secret: "acceptance-secret"',
                  "remote_timeout_ms: 10000", "api_keys: []",
                  "max_request_bytes: 65536"]
        # The Open MPIC compliance cases use cohorts of 3 and every method,
        # ip-address too (past its BR sunset: served here, and flagged).
        lines += h.compliance_yaml({"min_perspective_count": 2,
                                    "method_sunsets": "warn"})
        d = h.Daemon("coordinator", "mpic-coordinator",
                     "\n".join(lines) + "\n", sub, port)
        c.daemons.append(d)
        d.wait_healthy()
        return d

    def start_nginx(self):
        w = os.path.join(self.cluster.workdir, "nginx")
        os.makedirs(w)
        self.alt_port = h.free_port(udp_too=False)
        conf = os.path.join(w, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                w=w, root=make_webroot(w), alt=self.alt_port, host=INT_Z,
                tok_b=tok("oB"), tok_c=tok("oC"), tok_d=tok("oD"),
                tok_e=tok("oE")))
        p = h.Proc("nginx", ["nginx", "-c", conf, "-p", w], w)
        self.cluster.dns.procs.append(p)  # stopped and dumped with DNS
        h.wait_tcp(80, proc=p.proc)
        h.wait_tcp(self.alt_port, proc=p.proc)


# ---------------------------------------------------------------- checks

CHECK_KEYS = {"check_type", "check_passed", "check_completed",
              "timestamp_ns", "errors", "details"}


def assert_well_formed(status, resp, body):
    eq(status, 200, "status (body %r)" % (resp,))
    check(isinstance(resp, dict), "response not an object: %r" % (resp,))
    for k in ("check_type", "domain_or_ip_target", "is_valid",
              "mpic_completed", "actual_orchestration_parameters",
              "perspectives"):
        check(k in resp, "missing %s in %r" % (k, sorted(resp)))
    eq(resp["check_type"], body["check_type"], "check_type")
    eq(resp["domain_or_ip_target"], body["domain_or_ip_target"],
       "domain_or_ip_target")
    check(isinstance(resp["is_valid"], bool), "is_valid not a bool")
    check(isinstance(resp["mpic_completed"], bool), "mpic_completed")
    aop = resp["actual_orchestration_parameters"]
    check(isinstance(aop, dict), "actual_orchestration_parameters %r" % aop)
    eq(aop.get("perspective_count"), 3, "perspective_count")
    eq(aop.get("quorum_count"), 2, "quorum_count")
    check(isinstance(aop.get("attempt_count"), int)
          and aop["attempt_count"] >= 1, "attempt_count %r" % aop)
    persp = resp["perspectives"]
    check(isinstance(persp, list) and len(persp) == 3,
          "perspectives %r" % (persp,))
    codes = set()
    for p in persp:
        check(isinstance(p, dict), "perspective not an object")
        check("perspective_code" in p and "check_response" in p,
              "perspective keys %r" % sorted(p))
        check(p["perspective_code"] in CODES,
              "unknown perspective %r" % p["perspective_code"])
        codes.add(p["perspective_code"])
        cr = p["check_response"]
        check(isinstance(cr, dict), "check_response not an object")
        check(CHECK_KEYS <= set(cr), "check_response keys %r" % sorted(cr))
        eq(cr["check_type"], body["check_type"], "check_response type")
        check(isinstance(cr["check_passed"], bool), "check_passed")
        check(isinstance(cr["check_completed"], bool), "check_completed")
        check(isinstance(cr["timestamp_ns"], int), "timestamp_ns")
        check(cr["errors"] is None or isinstance(cr["errors"], list),
              "errors")
    eq(len(codes), 3, "distinct perspective codes")
    check(len({h.RIR_OF[c] for c in codes}) >= 2, "cohort within one RIR")


def summary(resp):
    out = []
    for p in resp.get("perspectives") or []:
        cr = p.get("check_response") or {}
        errs = [(e.get("error_type"), e.get("error_message"))
                for e in cr.get("errors") or []]
        out.append("%s passed=%s completed=%s errors=%r details=%r" % (
            p.get("perspective_code"), cr.get("check_passed"),
            cr.get("check_completed"), errs, cr.get("details")))
    return "\n    ".join(out)


def expect(ctx, body, valid, path="/mpic"):
    status, resp = h.post(ctx.coord.base + path, body)
    assert_well_formed(status, resp, body)
    # Every checker here is healthy: a perspective the coordinator could not
    # read (remote_check) is a product bug even when is_valid comes out right.
    for p in resp["perspectives"]:
        types = [e.get("error_type") for e in
                 p["check_response"]["errors"] or []]
        check("mpic_error:coordinator:remote_check" not in types,
              "%s: remote_check error\n    %s" % (p["perspective_code"],
                                                 summary(resp)))
    if resp["is_valid"] is not valid:
        raise AssertionError("is_valid %r, want %r for %r\n    %s" % (
            resp["is_valid"], valid, body, summary(resp)))
    return resp


# ---------------------------------------------------------------- cases


def add_case(name, fn):
    def run(ctx):
        fn(ctx)
    run.__name__ = name
    R.case(run)


def caa_body(target, params, variant):
    """variant: plain (only the fields set), typed (certificate_type
    present), nulls (optional fields present as null)."""
    body = {"check_type": "caa", "domain_or_ip_target": target}
    p = dict(params) if params is not None else None
    if variant == "typed" and p is not None:
        p.setdefault("certificate_type", "tls-server")
    if variant == "nulls":
        body["trace_identifier"] = None
        body["orchestration_parameters"] = None
        if p is not None:
            p.setdefault("certificate_type", None)
            p.setdefault("allow_lookup_failure", None)
    if p is not None:
        body["caa_check_parameters"] = p
    return body


def caa_case(label, target, params, valid, variants=("plain", "typed",
                                                     "nulls")):
    for v in variants:
        def fn(ctx, target=target, params=params, v=v):
            expect(ctx, caa_body(target, params, v), valid)
        add_case("caa_%s[%s]%s" % ("valid" if valid else "invalid", label,
                                   "" if v == "plain" else "/" + v), fn)


DENY_ONLY = {"caa_domains": ["example.com"]}
PERMITTED = {"caa_domains": ["caatestsuite.test", "example.com"],
             "certificate_type": "tls-server"}

CAA_FALSE = [
    "empty.basic", "deny.basic", "uppercase-deny.basic",
    "mixedcase-deny.basic", "big.basic", "critical1.basic",
    "critical2.basic", "sub1.deny.basic", "sub2.sub1.deny.basic",
    "*.deny.basic", "*.deny-wild.basic", "cname-deny.basic",
    "cname-cname-deny.basic", "sub1.cname-deny.basic", "deny.permit.basic",
    "ipv6only", "blackhole", "servfail", "refused", "xss.basic", "xss",
]
for n in CAA_FALSE:
    caa_case(n, "%s.%s" % (n, CAA_Z), DENY_ONLY, False)
for n in ("blackhole", "servfail", "refused"):
    caa_case(n + "-dnssec", "%s.caatestsuite-dnssec.test" % n, DENY_ONLY,
             False, variants=("plain",))

CAA_TRUE = [
    "deny.basic", "uppercase-deny.basic", "mixedcase-deny.basic",
    "big.basic", "sub1.deny.basic", "sub2.sub1.deny.basic", "*.deny.basic",
    "*.deny-wild.basic", "cname-deny.basic", "cname-cname-deny.basic",
    "sub1.cname-deny.basic", "permit.basic", "deny.permit.basic",
]
for n in CAA_TRUE:
    caa_case(n, "%s.%s" % (n, CAA_Z), PERMITTED, True)
# Sharper negatives around the permits above.
caa_case("critical1.basic+permitted", "critical1.basic." + CAA_Z, PERMITTED,
         False, variants=("plain",))
caa_case("empty.basic+permitted", "empty.basic." + CAA_Z, PERMITTED, False,
         variants=("plain",))
caa_case("xss.basic+permitted", "xss.basic." + CAA_Z, PERMITTED, False,
         variants=("plain",))
# Without the wildcard the issue record permits example.com.
caa_case("deny-wild.basic", "deny-wild.basic." + CAA_Z, DENY_ONLY, True,
         variants=("plain",))
caa_case("permit.basic", "permit.basic." + CAA_Z, DENY_ONLY, True,
         variants=("plain",))


def smime(domains):
    return {"certificate_type": "s-mime", "caa_domains": domains}


for label, name, domains, valid in [
        ("smime-standard", "smime-standard", ["example-ca.example.com"], True),
        ("smime-standard-other", "smime-standard",
         ["example-ca1.example.com"], False),
        ("smime-contactphone-only", "smime-contactphone-only",
         ["example-ca.example.com"], True),
        ("smime-txt-only", "smime-txt-only", ["example-ca.example.com"],
         True),
        # the public suite's names for the same two cases
        ("smime-on-contact-phone-caa", "contact-phone-caa",
         ["example-ca.example.com"], True),
        ("smime-on-dns-phone-txt", "dns-phone-txt",
         ["example-ca.example.com"], True),
        ("smime-with-issue-issuemail", "smime-with-issue",
         ["example-ca2.example.com"], True),
        ("smime-with-issue-issue", "smime-with-issue",
         ["example-ca1.example.com"], False)]:
    caa_case(label, "%s.%s" % (name, INT_Z), smime(domains), valid,
             variants=("plain", "nulls"))
# tls-server on the same names: issuemail does not count, issue does.
caa_case("smime-with-issue-as-tls", "smime-with-issue." + INT_Z,
         {"caa_domains": ["example-ca1.example.com"]}, True,
         variants=("plain",))
caa_case("smime-with-issue-as-tls-other", "smime-with-issue." + INT_Z,
         {"caa_domains": ["example-ca2.example.com"]}, False,
         variants=("plain",))
caa_case("no-parameters", "no-caa." + INT_Z, None, True,
         variants=("plain", "nulls"))
caa_case("no-parameters-deny", "deny.basic." + CAA_Z, None, False,
         variants=("plain",))


def dcv_case(label, target, params, valid, nulls=None):
    """nulls: extra optional fields sent as null in a second variant."""
    def fn(ctx):
        expect(ctx, {"check_type": "dcv", "domain_or_ip_target": target,
                     "dcv_check_parameters": params}, valid)
    add_case("dcv_%s[%s]" % ("valid" if valid else "invalid", label), fn)
    if nulls:
        def fn_nulls(ctx):
            p = dict(params)
            for k in nulls:
                p.setdefault(k, None)
            expect(ctx, {"check_type": "dcv", "domain_or_ip_target": target,
                         "trace_identifier": None,
                         "orchestration_parameters": None,
                         "dcv_check_parameters": p}, valid)
        add_case("dcv_%s[%s]/nulls" % ("valid" if valid else "invalid",
                                       label), fn_nulls)


def z(name):
    return "%s.%s" % (name, INT_Z) if name else INT_Z


# acme-dns-01
def dns01(hash_=HASH):
    return {"validation_method": "acme-dns-01",
            "key_authorization_hash": hash_}


for name, valid in [("dns-01", True), ("dns-01-multi", True),
                    ("dns-01-cname", True),
                    ("dns-01-leading-whitespace", False),
                    ("dns-01-trailing-whitespace", False),
                    ("dns-01-nxdomain", False)]:
    dcv_case("acme-dns-01 " + name, z(name), dns01(), valid)
# A record holding a NUL byte beside the right one (checkers report it in
# records_seen; the coordinator must still read their answers).
dcv_case("acme-dns-01 dns-01-nul-and-right", z("dns-01-nul-and-right"),
         dns01(), True)
dcv_case("acme-dns-01 dns-01-nul-only", z("dns-01-nul-only"), dns01(), False)
dcv_case("acme-dns-01 dns-01 wrong hash", z("dns-01"), dns01(HASH[:-1] + "A"),
         False)


# acme-http-01
def http01(suffix, ka=None):
    return {"validation_method": "acme-http-01", "token": tok(suffix),
            "key_authorization": ka if ka is not None else keyauth(suffix)}


dcv_case("acme-http-01 -oA", z(""), http01("oA"), True,
         nulls=("http_headers",))
dcv_case("acme-http-01 -oA fixture shape", z(""), dict(_HTTP01), True)
dcv_case("acme-http-01 -oA other host", z("http"), http01("oA"), True)
dcv_case("acme-http-01 -oA wrong key authorization", z(""),
         http01("oA", KEYAUTH[:-1] + "Z"), False)
dcv_case("acme-http-01 -oA key authorization of -oB", z(""),
         http01("oA", keyauth("oB")), False)
# -oB redirects (302, same host, port 80) to the -oA key authorization.
dcv_case("acme-http-01 -oB redirect", z(""), http01("oB", KEYAUTH), True)
dcv_case("acme-http-01 -oB redirect wrong key authorization", z(""),
         http01("oB", KEYAUTH[:-1] + "Z"), False)
dcv_case("acme-http-01 -oC redirect to another port", z(""),
         http01("oC", KEYAUTH), False)
dcv_case("acme-http-01 -oD redirect to port 8080", z(""),
         http01("oD", KEYAUTH), False)
dcv_case("acme-http-01 -oE redirect to wrong content", z(""),
         http01("oE", KEYAUTH), False)
dcv_case("acme-http-01 -oZ 404", z(""), http01("oZ", KEYAUTH[:-1] + "Z"),
         False)
dcv_case("acme-http-01 -oZ 404 right key authorization", z(""),
         http01("oZ", KEYAUTH), False)


# website-change
def website(path, value, **kw):
    p = {"validation_method": "website-change", "http_token_path": path,
         "challenge_value": value}
    p.update(kw)
    return p


dcv_case("website-change validation-doc", z(""),
         website("validation-doc.txt", "test-validation"), True,
         nulls=("url_scheme", "http_headers", "match_regex"))
dcv_case("website-change validation-doc http scheme", z(""),
         website("validation-doc.txt", "test-validation", url_scheme="http"),
         True)
dcv_case("website-change redirect", z(""),
         website("validation-doc-redirect.txt", "test-validation-redirect"),
         True)
dcv_case("website-change bad-port redirect", z(""),
         website("validation-doc-bad-port-redirect.txt",
                 "test-validation-redirect"), False)
dcv_case("website-change redirect to port 8080", z(""),
         website("validation-doc-8080-redirect.txt",
                 "test-validation-redirect"), False)
dcv_case("website-change wrong value", z(""),
         website("validation-doc.txt", "test-validation-x"), False)
dcv_case("website-change missing file", z(""),
         website("no-such-doc.txt", "test-validation"), False)


# dns-change with an empty prefix
def dns_change(rtype, value="1234567890abcdefg.", **kw):
    p = {"validation_method": "dns-change", "challenge_value": value,
         "dns_record_type": rtype, "dns_name_prefix": ""}
    p.update(kw)
    return p


dcv_case("dns-change txt", z("dns-change-txt"), dns_change("TXT"), True)
dcv_case("dns-change cname", z("dns-change-cname"), dns_change("CNAME"), True)
dcv_case("dns-change cname upper-case challenge", z("dns-change-cname"),
         dns_change("CNAME", "1234567890ABCDEFG."), True)
dcv_case("dns-change caa", z("dns-change-caa"), dns_change("CAA"), True)
dcv_case("dns-change txt wrong value", z("dns-change-txt"),
         dns_change("TXT", "1234567890abcdefh."), False)
dcv_case("dns-change cname wrong value", z("dns-change-cname"),
         dns_change("CNAME", "0987654321abcdefg."), False)
dcv_case("dns-change caa wrong value", z("dns-change-caa"),
         dns_change("CAA", "1234567890abcdefh."), False)
dcv_case("dns-change txt at a cname name", z("dns-change-cname"),
         dns_change("TXT"), False)
# No prefix given: the record is at the name itself (reference default).
dcv_case("dns-change txt without prefix", z("dns-change-txt"),
         {"validation_method": "dns-change",
          "challenge_value": "1234567890abcdefg.",
          "dns_record_type": "TXT"}, True)
dcv_case("dns-change txt with a prefix", z("dns-change-txt"),
         dns_change("TXT", dns_name_prefix="_dcv"), False)


# contact-phone-txt / contact-email-txt
def contact(method, value):
    return {"validation_method": method, "challenge_value": value}


PHONE = "+1-123-456-7890"
EMAIL_TXT = "testadmin.email.txt@example.com"
for name, value, valid in [
        ("dns-phone-txt", PHONE, True),
        ("dns-phone-cname-txt", PHONE, True),
        ("dns-phone-txt", "+1-123-456-7891", False),
        ("dns-phone-cname-txt", "+1-123-456-7891", False),
        ("dns-phone-txt-whitespace", PHONE, False)]:
    dcv_case("contact-phone-txt %s %s" % (name, value), z(name),
             contact("contact-phone-txt", value), valid)
for name, value, valid in [
        ("dns-email-txt", EMAIL_TXT, True),
        ("dns-email-txt-cname", "testadmin.cname.target@example.com", True),
        ("dns-email-txt", "testadmin2.email.txt@example.com", False),
        ("dns-email-txt-cname", "testadmin2.cname.target@example.com", False),
        ("dns-email-txt-whitespace",
         "testadmin.email.txt.whitespace@example.com", False),
        ("dns-email-txt-null-char",
         "testadmin.email.txt.null.char@example.com", False),
        ("dns-email-txt-junk", "testadmin.email.txt.junk@example.com", False),
        ("dns-email-txt-nxdomain", EMAIL_TXT, False)]:
    dcv_case("contact-email-txt %s %s" % (name, value), z(name),
             contact("contact-email-txt", value), valid)

# contact-email-caa / contact-phone-caa
EMAIL_CAA = "caa.contactemail@example.com"
for name, value, valid in [
        ("contact-email-caa", EMAIL_CAA, True),
        ("contact-email-caa-critical", EMAIL_CAA, True),
        ("sub.contact-email-caa", EMAIL_CAA, True),
        ("nxsub.sub.contact-email-caa", EMAIL_CAA, True),
        ("contact-email-caa-cname", EMAIL_CAA, True),
        ("contact-email-caa-multi", "caa1.contactemail@example.com", True),
        ("contact-email-caa", "caa.contactemail1@example.com", False),
        ("contact-email-caa-critical", "caa.contactemail1@example.com", False),
        ("sub.contact-email-caa", "caa.contactemail1@example.com", False),
        ("nxsub.sub.contact-email-caa", "caa.contactemail1@example.com",
         False),
        ("contact-email-caa-cname", "caa.contactemail1@example.com", False),
        ("contact-email-caa-multi", "caa1.contactemail1@example.com", False),
        ("contact-email-caa-whitespace", EMAIL_CAA, False),
        ("contact-email-caa-null", EMAIL_CAA, False),
        ("contact-email-caa-null-and-right", EMAIL_CAA, True),
        ("contact-email-no-record-set", EMAIL_CAA, False)]:
    dcv_case("contact-email-caa %s %s" % (name, value), z(name),
             contact("contact-email-caa", value), valid)
for name, value, valid in [
        ("contact-phone-caa", PHONE, True),
        ("contact-phone-caa-multi", PHONE, True),
        ("contact-phone-caa-critical", PHONE, True),
        ("contact-phone-caa", "+1-123-456-7891", False),
        ("contact-phone-caa-multi", "+1-123-456-7891", False),
        ("contact-phone-caa-critical", "+1-123-456-7891", False),
        ("contact-phone-caa-whitespace", PHONE, False),
        # a phone record does not answer an e-mail challenge
        ("contact-email-caa", PHONE, False)]:
    dcv_case("contact-phone-caa %s %s" % (name, value), z(name),
             contact("contact-phone-caa", value), valid)


# ip-address
def ip(value, rtype="A"):
    return {"validation_method": "ip-address", "challenge_value": value,
            "dns_record_type": rtype}


V6 = "2001:4860:4860::8888"
for name, value, rtype, valid in [
        ("ip-address", "1.2.3.4", "A", True),
        ("ip-address-cname", "1.2.3.4", "A", True),
        ("ip-address-multi", "1.2.3.4", "A", True),
        ("ip-address-v6", V6, "AAAA", True),
        ("ip-address-v6", "2001:4860:4860:0:00:000:0000:8888", "AAAA", True),
        ("ip-address-v6", "2001:4860:4860:0:0:0:0:8888", "AAAA", True),
        ("ip-address", "1.2.3.5", "A", False),
        ("ip-address-multi", "1.2.3.5", "A", False),
        ("ip-address-nxdomain", "1.2.3.4", "A", False),
        ("ip-address-no-a", "1.2.3.4", "A", False),
        ("contact-phone-caa", "1.2.3.4", "A", False),
        ("ip-address-v6", "2001:4860:4860::8889", "AAAA", False),
        ("ip-address-v6", "2001:4860:4860:0:0:0:0:0:8889", "AAAA", False),
        ("ip-address-v6", "2001:4860:4860:0:0:0:00000:8889", "AAAA", False),
        ("ip-address-v6", "2001:4860:4860:0:0:0:00000:8888", "AAAA", False),
        ("ip-address", "1.2.3.4", "AAAA", False),
        ("ip-address", "not-an-address", "A", False),
        ("ip-address", "01.2.3.4", "A", False)]:
    dcv_case("ip-address %s %s %s" % (name, rtype, value), z(name),
             ip(value, rtype), valid)


# Requests as a pydantic model dump sends them: every parameter field, with
# its default filled in or null; orchestration fields null.
ORCH_NULLS = {"perspective_count": None, "quorum_count": None,
              "max_attempts": None}
for label, target, params, valid in [
        ("acme-dns-01", z("dns-01"),
         {"validation_method": "acme-dns-01", "require_exact_case": True,
          "key_authorization_hash": HASH, "dns_record_type": "TXT",
          "dns_name_prefix": "_acme-challenge"}, True),
        ("acme-http-01", z(""),
         {"validation_method": "acme-http-01", "require_exact_case": True,
          "token": tok("oB"), "key_authorization": KEYAUTH,
          "http_headers": None}, True),
        ("website-change", z(""),
         {"validation_method": "website-change", "require_exact_case": True,
          "challenge_value": "test-validation-redirect",
          "http_token_path": "validation-doc-bad-port-redirect.txt",
          "url_scheme": "http", "http_headers": None, "match_regex": None},
         False),
        ("dns-change", z("dns-change-cname"),
         {"validation_method": "dns-change", "require_exact_case": True,
          "challenge_value": "1234567890abcdefg.", "dns_name_prefix": "",
          "dns_record_type": "CNAME", "require_exact_match": False}, True),
        ("contact-email-txt", z("dns-email-txt"),
         {"validation_method": "contact-email-txt",
          "require_exact_case": False, "challenge_value": EMAIL_TXT,
          "dns_name_prefix": "_validation-contactemail",
          "dns_record_type": "TXT"}, True),
        ("contact-phone-txt", z("dns-phone-txt-whitespace"),
         {"validation_method": "contact-phone-txt",
          "require_exact_case": False, "challenge_value": PHONE,
          "dns_name_prefix": "_validation-contactphone",
          "dns_record_type": "TXT"}, False),
        ("contact-email-caa", z("nxsub.sub.contact-email-caa"),
         {"validation_method": "contact-email-caa",
          "require_exact_case": False, "challenge_value": EMAIL_CAA,
          "dns_name_prefix": None, "dns_record_type": "CAA"}, True),
        ("contact-phone-caa", z("contact-phone-caa-whitespace"),
         {"validation_method": "contact-phone-caa",
          "require_exact_case": False, "challenge_value": PHONE,
          "dns_name_prefix": None, "dns_record_type": "CAA"}, False),
        ("ip-address", z("ip-address-v6"),
         {"validation_method": "ip-address", "require_exact_case": False,
          "challenge_value": "2001:4860:4860:0:00:000:0000:8888",
          "dns_name_prefix": None, "dns_record_type": "AAAA"}, True)]:
    def full_dump(ctx, target=target, params=params, valid=valid):
        expect(ctx, {"check_type": "dcv", "domain_or_ip_target": target,
                     "trace_identifier": None,
                     "orchestration_parameters": dict(ORCH_NULLS),
                     "dcv_check_parameters": params}, valid)
    add_case("dcv_%s[full dump %s]" % ("valid" if valid else "invalid",
                                       label), full_dump)


def caa_full_dump(ctx):
    for target, domains, valid in [
            ("deny.permit.basic." + CAA_Z, ["example.com"], False),
            ("deny.permit.basic." + CAA_Z, ["caatestsuite.test"], True),
            ("no-caa." + INT_Z, None, True)]:
        expect(ctx, {"check_type": "caa", "domain_or_ip_target": target,
                     "trace_identifier": None,
                     "orchestration_parameters": dict(ORCH_NULLS),
                     "caa_check_parameters": {
                         "certificate_type": "tls-server",
                         "caa_domains": domains,
                         "allow_lookup_failure": False}}, valid)


add_case("caa_full_dump", caa_full_dump)


# ---------------------------------------------------------------- API paths


def both_paths(ctx):
    for body, valid in [
            (caa_body("deny.basic." + CAA_Z, PERMITTED, "plain"), True),
            (caa_body("deny.basic." + CAA_Z, DENY_ONLY, "plain"), False),
            ({"check_type": "dcv", "domain_or_ip_target": z("dns-01"),
              "dcv_check_parameters": dns01()}, True),
            ({"check_type": "dcv", "domain_or_ip_target": z("dns-01-nxdomain"),
              "dcv_check_parameters": dns01()}, False)]:
        a = expect(ctx, body, valid, path="/mpic")
        b = expect(ctx, body, valid, path="/mpic-coordinator/mpic")
        eq(sorted(p["perspective_code"] for p in b["perspectives"]),
           sorted(p["perspective_code"] for p in a["perspectives"]),
           "same cohort on both paths")


add_case("api_mpic_coordinator_path_behaves_like_mpic", both_paths)


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
