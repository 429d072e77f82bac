#!/usr/bin/env python3
"""POST /dcv straight to mpic-dcv-checker: every DCV method, positive and
negative, against real nsd + unbound (zones in dcv/zones), nginx on
127.0.0.1:80/443 (webroot generated here) and openssl s_server on
127.0.0.2-127.0.0.9:443 for acme-tls-alpn-01; lookup failures through
fault DNS servers; and two methods through the coordinator.

nginx and the TLS-ALPN servers need ports 80 and 443 (the Baseline
Requirements fix them); the test fails clearly if they are taken."""

import base64
import copy
import os
import shutil
import socket
import subprocess
import sys

import mpic_harness as h
from mpic_harness import check, eq

# This test's own port range (the harness picks ports from these globals).
h.PORT_LO, h.PORT_HI = 19000, 19499

HERE = os.path.dirname(os.path.abspath(__file__))
DCV_ZONES = os.path.join(HERE, "dcv", "zones")

R = h.Runner()
LOOKUP = "mpic_error:dcv_checker:lookup"
HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ALPN_HASH = "653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f"
ACCT = "https://ca.example/acct/123"
REF_DNS = h.load_fixture("dcv-response-dns-passed.json")
REF_HTTP = h.load_fixture("dcv-response-http-passed.json")
REF_TLS = h.load_fixture("dcv-response-tls-alpn-passed.json")


def have_v6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::1", 80))
        s.close()
        return True
    except OSError:
        return False


HAVE_V6 = have_v6_loopback()


def merged_zones(workdir):
    """The harness serves one zones directory: theirs plus ours."""
    d = os.path.join(workdir, "zones")
    os.makedirs(d)
    for src in (h.ZONES_DIR, DCV_ZONES):
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), d)
    return d


def run(argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_cert(workdir, name, cn, san, ext=None):
    key = os.path.join(workdir, name + ".key")
    crt = os.path.join(workdir, name + ".crt")
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "2", "-subj", "/CN=" + cn]
    if san:
        argv += ["-addext", "subjectAltName=" + san]
    if ext:
        argv += ["-addext", "1.3.6.1.5.5.7.1.31=" + ext]
    run(argv)
    return crt, key


def acme_ext(hexhash, critical=True):
    der = "04:20:" + ":".join(hexhash[i:i + 2]
                              for i in range(0, len(hexhash), 2))
    return ("critical," if critical else "") + "DER:" + der


def make_webroot(workdir):
    root = os.path.join(workdir, "webroot")
    acme = os.path.join(root, ".well-known", "acme-challenge")
    pki = os.path.join(root, ".well-known", "pki-validation")
    os.makedirs(acme)
    os.makedirs(pki)
    files = {
        os.path.join(acme, TOKEN): KEYAUTH + "\n",
        os.path.join(acme, "wrong"): KEYAUTH[:-1] + "\n",
        os.path.join(acme, "prefix"): "x" + KEYAUTH,
        # trailing whitespace beyond what we read, then more text
        os.path.join(acme, "long"): KEYAUTH + " " * 300 + "X",
        os.path.join(pki, "validation-doc.txt"):
            "<html>test-validation</html>\n",
        os.path.join(pki, "upper.txt"): "TEST-VALIDATION",
        os.path.join(pki, "big.txt"): "." * (70 * 1024) + "test-validation",
        # Outside the well-known directories: a token or file name that
        # climbs out (../) must never reach these.
        os.path.join(root, "outside.txt"): KEYAUTH + " test-validation\n",
    }
    for path, text in files.items():
        with open(path, "w") as f:
            f.write(text)
    return root


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
    listen 127.0.0.1:443 ssl;
    {v6listen}
    ssl_certificate {crt};
    ssl_certificate_key {key};
    server_name _;
    root {root};
    location = /.well-known/acme-challenge/r-ok {{
      return 302 /.well-known/acme-challenge/{token};
    }}
    location = /.well-known/acme-challenge/r-rel {{
      return 307 {token};
    }}
    location = /.well-known/acme-challenge/r-host {{
      return 301 http://web2.dcv.test/.well-known/acme-challenge/r-ok;
    }}
    location = /.well-known/acme-challenge/r-port {{
      return 302 http://web.dcv.test:8080/.well-known/acme-challenge/{token};
    }}
    location = /.well-known/acme-challenge/r-ftp {{
      return 302 ftp://web.dcv.test/x;
    }}
    location = /.well-known/acme-challenge/r-303 {{
      return 303 /.well-known/acme-challenge/{token};
    }}
    location = /.well-known/acme-challenge/r-loop {{
      return 302 /.well-known/acme-challenge/r-loop;
    }}
    location = /.well-known/acme-challenge/r-nohost {{
      return 302 http://noaddr.dcv.test/x;
    }}
    location = /.well-known/acme-challenge/ua {{
      return 200 "$http_user_agent";
    }}
    location = /.well-known/acme-challenge/ua-custom {{
      if ($http_user_agent = "custom") {{
        return 200 "ua-header-seen";
      }}
      return 200 "ua-other";
    }}
    location = /.well-known/pki-validation/hdr.txt {{
      return 200 "value=$http_x_test host=$host";
    }}
    # A server that echoes its request (BR 3.2.2.4.18 forbids the value
    # in the request, so that this page can never prove anything).
    location ~ ^/\\.well-known/acme-challenge/(echo-[A-Za-z0-9_-]*)$ {{
      return 200 "$1";
    }}
    location ~ ^/\\.well-known/pki-validation/echo- {{
      return 200 "you asked for $request_uri on $host with $http_x_echo";
    }}
  }}
}}
"""


class Ctx:
    def __init__(self):
        for addr, port in [("127.0.0.1", 80), ("127.0.0.1", 443),
                           ("127.0.0.12", 80)] + [
                ("127.0.0.%d" % i, 443) for i in range(2, 12)]:
            if not h.port_free(addr, port):
                raise RuntimeError("cannot bind %s:%d (taken, or not root): "
                                   "the DCV tests need it"
                                   % (addr, port))
        # Everything lives in the cluster's work directory, which the
        # harness keeps on failure and removes otherwise.
        self.cluster = h.Cluster(dns=False)
        c = self.cluster
        self.tmp = c.workdir
        h.ZONES_DIR = merged_zones(self.tmp)
        h.ZONES = sorted(f[:-5] for f in os.listdir(h.ZONES_DIR)
                         if f.endswith(".zone"))
        c.dns = h.DNSStack(c.workdir)
        self.extra_procs = []
        self.start_nginx()
        self.start_tls_servers()
        allow = ("http:\n  timeout_ms: 4000\n  max_redirects: 3\n"
                 "  user_agent: \"dcv-test-agent\"\n"
                 "targets:\n  allow_private_addresses: true\n")
        self.main = self.start_dcv("us-east-1", extra=allow, name="dcv-main")
        # Straight at nsd: the reverse zone (unbound would answer it from
        # its built-in local zones).
        self.direct = self.start_dcv(
            "us-west-2", resolvers=["127.0.0.1:%d" % c.dns.nsd_port],
            extra=allow, name="dcv-direct")
        # Defaults: special-purpose addresses refused.
        self.strict = self.start_dcv("eu-west-1", name="dcv-strict")
        self.servfail_dns = h.FaultDNS("servfail")
        self.refused_dns = h.FaultDNS("refused")
        self.blackhole_dns = h.FaultDNS("blackhole")
        self.servfail = self.start_dcv(
            "eu-central-1",
            resolvers=["127.0.0.1:%d" % self.servfail_dns.port],
            extra=allow, name="dcv-servfail")
        self.refused = self.start_dcv(
            "ap-northeast-1",
            resolvers=["127.0.0.1:%d" % self.refused_dns.port],
            name="dcv-refused")
        self.blackhole = self.start_dcv(
            "ap-southeast-2",
            resolvers=["127.0.0.1:%d" % self.blackhole_dns.port],
            timeout_ms=200, tries=1, name="dcv-blackhole")
        self.hang_tls = HangServer("127.0.0.11", 443)
        self.hang_http = HangServer("127.0.0.12", 80)
        self.slow = self.start_dcv(
            "eu-west-1", extra="http:\n  timeout_ms: 700\n"
            "targets:\n  allow_private_addresses: true\n", name="dcv-slow")
        self.authed = self.start_dcv(
            "us-east-1", extra=allow + "auth:\n  bearer_tokens: [\"s3cret\"]\n",
            name="dcv-authed")

    def start_dcv(self, code, resolvers=None, name=None, **kw):
        c = self.cluster
        port = h.free_port(udp_too=False)
        resolvers = resolvers or [c.dns.resolver]
        d = h.Daemon(name, "mpic-dcv-checker",
                     h.checker_config(code, port, resolvers, **kw),
                     c.workdir, port)
        c.daemons.append(d)
        d.wait_healthy()
        return d

    def start_nginx(self):
        w = os.path.join(self.tmp, "nginx")
        os.makedirs(w)
        crt, key = make_cert(w, "web", "web.dcv.test", "DNS:web.dcv.test")
        conf = os.path.join(w, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                w=w, crt=crt, key=key, root=make_webroot(w), token=TOKEN,
                v6listen="listen [::1]:80;" if HAVE_V6 else ""))
        p = h.Proc("nginx", ["nginx", "-c", conf, "-p", w], w)
        self.cluster.dns.procs.append(p)  # stopped and dumped with DNS
        h.wait_tcp(80, proc=p.proc)

    def start_tls_servers(self):
        w = os.path.join(self.tmp, "tls")
        os.makedirs(w)
        good = acme_ext(ALPN_HASH)
        cases = [
            (2, "alpn-ok", "DNS:alpn-ok.dcv.test", good, True),
            (3, "alpn-noext", "DNS:alpn-noext.dcv.test", None, True),
            (4, "alpn-noncrit", "DNS:alpn-noncrit.dcv.test",
             acme_ext(ALPN_HASH, critical=False), True),
            (5, "alpn-twosan",
             "DNS:alpn-twosan.dcv.test,DNS:other.dcv.test", good, True),
            (6, "alpn-noalpn", "DNS:alpn-noalpn.dcv.test", good, False),
            (7, "alpn-wronghash", "DNS:alpn-wronghash.dcv.test",
             acme_ext("00" * 32), True),
            # an iPAddress, and not the server's own (127.0.0.8)
            (8, "alpn-ipsan", "IP:127.0.0.98", good, True),
            (9, "ip", "IP:127.0.0.9", good, True),
        ]
        for last, name, san, ext, alpn in cases:
            cn = name + ".dcv.test" if name != "ip" else "127.0.0.9"
            crt, key = make_cert(w, name, cn, san, ext)
            argv = ["openssl", "s_server", "-quiet", "-www", "-accept",
                    "127.0.0.%d:443" % last, "-cert", crt, "-key", key]
            if alpn:
                argv += ["-alpn", "acme-tls/1"]
            p = h.Proc("s_server-" + name, argv, w)
            self.cluster.dns.procs.append(p)
        for last, *_ in cases:
            h.wait_tcp_addr("127.0.0.%d" % last, 443)


class HangServer:
    """Accepts TCP connections and never says a word. `accepted` is set
    once a client is connected (synchronisation without sleeps)."""

    def __init__(self, addr, port):
        import threading
        self.accepted = threading.Event()
        self.conns = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(16)
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def dcv(d, target, params, trace=None, headers=None):
    body = {"domain_or_ip_target": target,
            "trace_identifier": trace or ("dcv-" + target),
            "dcv_check_parameters": params}
    status, resp = h.post(d.base + "/dcv", body, headers=headers)
    return status, resp


def ok_resp(d, target, params):
    status, resp = dcv(d, target, params)
    eq(status, 200, "status (%r)" % (resp,))
    assert_shape(resp, params["validation_method"])
    return resp


def assert_shape(resp, method):
    check(isinstance(resp, dict), "not an object: %r" % (resp,))
    eq(set(resp), set(REF_DNS), "response keys")
    eq(resp["check_type"], "dcv", "check_type")
    eq(resp["details"]["validation_method"], method, "validation_method")
    if method in ("website-change", "acme-http-01"):
        want = set(REF_HTTP["details"]) | {"resolved_ip"}
    elif method == "acme-tls-alpn-01":
        want = set(REF_TLS["details"])
    else:
        want = set(REF_DNS["details"])
    eq(set(resp["details"]), want, "details keys")
    check(isinstance(resp["timestamp_ns"], int), "timestamp_ns")
    for e in resp["errors"] or []:
        eq(set(e), {"error_type", "error_message"}, "error keys")


def passed(resp):
    check(resp["check_passed"] is True and resp["check_completed"] is True,
          "want a pass, got %r" % (resp,))
    check(not resp["errors"], "errors on a pass: %r" % (resp["errors"],))


def failed(resp, error_type=None, completed=True):
    check(resp["check_passed"] is False, "want a failure, got %r" % (resp,))
    eq(resp["check_completed"], completed, "check_completed (%r)" % (resp,))
    types = [e["error_type"] for e in resp["errors"] or []]
    if error_type is None:
        check(not types, "unexpected errors %r" % (types,))
    else:
        check(error_type in types, "want %s in %r" % (error_type, resp))


def p_dns01(h_=HASH):
    return {"validation_method": "acme-dns-01", "require_exact_case": True,
            "key_authorization_hash": h_, "dns_record_type": "TXT",
            "dns_name_prefix": "_acme-challenge"}


# ---------------------------------------------------------------- DNS


@R.case
def acme_dns_01_passes_reference_shape(ctx):
    resp = ok_resp(ctx.main, "ok.dcv.test", p_dns01())
    passed(resp)
    d = resp["details"]
    eq(d["records_seen"], [HASH], "records_seen")
    eq(d["response_code"], 0, "response_code")
    eq(d["ad_flag"], False, "ad_flag")
    eq(d["found_at"], "_acme-challenge.ok.dcv.test", "found_at")
    eq(d["cname_chain"], [], "cname_chain")


@R.case
def acme_dns_01_reference_request_body(ctx):
    body = h.load_fixture("dcv-request-acme-dns-01.json")
    body["domain_or_ip_target"] = "ok.dcv.test"
    status, resp = h.post(ctx.main.base + "/dcv", body)
    eq(status, 200, "status")
    passed(resp)


@R.case
def acme_dns_01_joins_character_strings(ctx):
    resp = ok_resp(ctx.main, "split.dcv.test", p_dns01())
    passed(resp)
    eq(resp["details"]["records_seen"], [HASH], "joined without separator")


@R.case
def acme_dns_01_is_case_sensitive(ctx):
    failed(ok_resp(ctx.main, "wrong.dcv.test", p_dns01()))


@R.case
def acme_dns_01_nul_byte_does_not_match(ctx):
    resp = ok_resp(ctx.main, "nul.dcv.test", p_dns01())
    failed(resp)
    eq(resp["details"]["records_seen"], [HASH + "\x00"], "NUL kept")


@R.case
def acme_dns_01_follows_cname(ctx):
    resp = ok_resp(ctx.main, "cname.dcv.test", p_dns01())
    passed(resp)
    eq(resp["details"]["cname_chain"], ["landing.dcv.test."], "cname_chain")
    eq(resp["details"]["found_at"], "_acme-challenge.cname.dcv.test",
       "found_at")


@R.case
def acme_dns_01_nxdomain_is_completed_failure(ctx):
    resp = ok_resp(ctx.main, "missing.dcv.test", p_dns01())
    failed(resp)
    eq(resp["details"]["records_seen"], [], "records_seen")
    eq(resp["details"]["response_code"], 3, "NXDOMAIN rcode")


@R.case
def acme_dns_01_wildcard_uses_base_name(ctx):
    passed(ok_resp(ctx.main, "*.ok.dcv.test", p_dns01()))


@R.case
def lookup_servfail_is_not_completed(ctx):
    resp = ok_resp(ctx.servfail, "ok.dcv.test", p_dns01())
    failed(resp, LOOKUP, completed=False)
    eq(resp["details"], {"validation_method": "acme-dns-01",
                         "records_seen": None, "response_code": None,
                         "ad_flag": None, "found_at": None,
                         "cname_chain": None}, "details")


@R.case
def lookup_refused_is_not_completed(ctx):
    failed(ok_resp(ctx.refused, "ok.dcv.test", p_dns01()), LOOKUP,
           completed=False)


@R.case
def lookup_timeout_is_not_completed(ctx):
    failed(ok_resp(ctx.blackhole, "ok.dcv.test", p_dns01()), LOOKUP,
           completed=False)


@R.case
def dns_account_01(ctx):
    p = {"validation_method": "dns-account-01",
         "key_authorization_hash": HASH,
         "account_uri": "https://example.com/acme/acct/ExampleAccount"}
    resp = ok_resp(ctx.main, "ok.dcv.test", p)
    passed(resp)
    eq(resp["details"]["found_at"],
       "_ujmmovf2vn55tgye._acme-challenge.ok.dcv.test", "found_at")
    p["account_uri"] = "https://example.com/acme/acct/Other"
    failed(ok_resp(ctx.main, "ok.dcv.test", p))


def p_change(rtype="TXT", prefix="_dcv", value="1234567890abcdefg",
             exact=False, case=True):
    return {"validation_method": "dns-change", "require_exact_case": case,
            "challenge_value": value, "dns_name_prefix": prefix,
            "dns_record_type": rtype, "require_exact_match": exact}


@R.case
def dns_change_txt_substring_and_exact(ctx):
    passed(ok_resp(ctx.main, "ok.dcv.test", p_change()))
    failed(ok_resp(ctx.main, "ok.dcv.test", p_change(exact=True)))
    passed(ok_resp(ctx.main, "exact.dcv.test", p_change(exact=True)))


@R.case
def dns_change_txt_case_rules(ctx):
    failed(ok_resp(ctx.main, "upper.dcv.test", p_change()))
    passed(ok_resp(ctx.main, "upper.dcv.test", p_change(case=False)))


@R.case
def dns_change_no_prefix(ctx):
    passed(ok_resp(ctx.main, "noprefix.dcv.test", p_change(prefix=None)))
    passed(ok_resp(ctx.main, "noprefix.dcv.test", p_change(prefix="")))
    resp = ok_resp(ctx.main, "nodata.dcv.test", p_change(prefix=None))
    failed(resp)
    eq(resp["details"]["records_seen"], [], "no data")
    eq(resp["details"]["response_code"], 0, "NOERROR")


@R.case
def dns_change_cname_case_insensitive(ctx):
    resp = ok_resp(ctx.main, "cn.dcv.test", p_change("CNAME"))
    passed(resp)
    # servers may change the case of names in rdata
    eq([x.lower() for x in resp["details"]["records_seen"]],
       ["1234567890abcdefg.target.dcv.test."], "records_seen")
    passed(ok_resp(ctx.main, "cn.dcv.test", p_change(
        "CNAME", value="1234567890abcdefg.target.dcv.test", exact=True)))
    failed(ok_resp(ctx.main, "cn.dcv.test", p_change("CNAME",
                                                     value="zzz")))


@R.case
def dns_change_caa(ctx):
    resp = ok_resp(ctx.main, "caa.dcv.test", p_change("CAA"))
    passed(resp)
    eq(resp["details"]["records_seen"], ["ca.example; token=1234567890abcdefg"],
       "records_seen: the value only")
    failed(ok_resp(ctx.main, "caa.dcv.test", p_change("CAA", exact=True)))


@R.case
def contact_txt_methods(ctx):
    p = {"validation_method": "contact-email-txt",
         "challenge_value": "admin@example.com"}
    passed(ok_resp(ctx.main, "ok.dcv.test", p))
    p["challenge_value"] = "root@example.com"
    failed(ok_resp(ctx.main, "ok.dcv.test", p))
    p = {"validation_method": "contact-phone-txt",
         "challenge_value": "+1 555 0100"}
    passed(ok_resp(ctx.main, "ok.dcv.test", p))
    p["challenge_value"] = "+1 555 0199"
    failed(ok_resp(ctx.main, "ok.dcv.test", p))


@R.case
def contact_values_must_match_exactly(ctx):
    # whitespace or a NUL around the contact is not the contact
    p = {"validation_method": "contact-email-txt",
         "challenge_value": "admin@example.com"}
    failed(ok_resp(ctx.main, "ws.dcv.test", p))
    failed(ok_resp(ctx.main, "nul.dcv.test", p))
    p = {"validation_method": "contact-phone-txt",
         "challenge_value": "+1 555 0100"}
    failed(ok_resp(ctx.main, "ws.dcv.test", p))
    p = {"validation_method": "contact-email-caa",
         "challenge_value": "admin@example.com"}
    failed(ok_resp(ctx.main, "ws.dcv.test", p))


@R.case
def contact_email_caa_climbs(ctx):
    body = h.load_fixture("dcv-request-contact-email-caa.json")
    body["domain_or_ip_target"] = "sub.ok.dcv.test"
    status, resp = h.post(ctx.main.base + "/dcv", body)
    eq(status, 200, "status")
    passed(resp)
    eq(resp["details"]["found_at"], "ok.dcv.test", "found_at")
    eq(resp["details"]["records_seen"], ["admin@example.com"],
       "only contactemail records")


@R.case
def contact_caa_cname_loop_is_lookup_error(ctx):
    # The loop and the 24-hop chain sit under ok.dcv.test, whose CAA
    # holds the contacts: reading them as "no CAA here" would climb there
    # and pass. Through unbound (SERVFAIL) and straight at nsd (the loop,
    # or the first hops of the chain, as a NOERROR answer).
    for method, value in (("contact-email-caa", "admin@example.com"),
                          ("contact-phone-caa", "+1 555 0100")):
        p = {"validation_method": method, "challenge_value": value}
        for d in (ctx.main, ctx.direct):
            for name in ("caaloop.ok.dcv.test", "caachain0.ok.dcv.test"):
                resp = ok_resp(d, name, p)
                failed(resp, LOOKUP, completed=False)
        # 14 hops are followed: climbs to ok and passes.
        passed(ok_resp(ctx.direct, "caachain10.ok.dcv.test", p))


@R.case
def contact_phone_caa(ctx):
    p = {"validation_method": "contact-phone-caa",
         "challenge_value": "+1 555 0100"}
    resp = ok_resp(ctx.main, "ok.dcv.test", p)
    passed(resp)
    eq(resp["details"]["records_seen"], ["+1 555 0100"], "records_seen")


@R.case
def contact_email_caa_ignores_other_tags(ctx):
    p = {"validation_method": "contact-email-caa",
         "challenge_value": "admin@example.com"}
    resp = ok_resp(ctx.main, "other.dcv.test", p)
    failed(resp)
    eq(resp["details"]["records_seen"], [], "issue record not seen")


@R.case
def ip_address_compares_addresses(ctx):
    body = h.load_fixture("dcv-request-ip-address.json")
    p = body["dcv_check_parameters"]
    p["challenge_value"] = "2001:0db8:0000::0007"
    resp = ok_resp(ctx.main, "ip.dcv.test", p)
    passed(resp)
    eq(resp["details"]["records_seen"], ["2001:db8::7"], "canonical AAAA")
    p["challenge_value"] = "2001:db8::8"
    failed(ok_resp(ctx.main, "ip.dcv.test", p))
    p4 = {"validation_method": "ip-address", "challenge_value": "192.0.2.7",
          "dns_record_type": "A"}
    passed(ok_resp(ctx.main, "ip.dcv.test", p4))
    p4["challenge_value"] = "::ffff:192.0.2.7"
    failed(ok_resp(ctx.main, "ip.dcv.test", p4))


@R.case
def reverse_address_lookup(ctx):
    p = {"validation_method": "reverse-address-lookup",
         "challenge_value": "host.dcv.test"}
    resp = ok_resp(ctx.direct, "192.0.2.5", p)
    passed(resp)
    eq(resp["details"]["found_at"], "5.2.0.192.in-addr.arpa", "found_at")
    eq([x.lower() for x in resp["details"]["records_seen"]],
       ["host.dcv.test."], "records_seen")
    p["challenge_value"] = "HOST.dcv.test."
    passed(ok_resp(ctx.direct, "192.0.2.5", p))
    p["challenge_value"] = "other.dcv.test."
    failed(ok_resp(ctx.direct, "192.0.2.5", p))
    status, resp = dcv(ctx.direct, "example.com", p)
    eq(status, 400, "a name target is refused")


def p_persist(issuers=("ca.example",), acct=ACCT):
    return {"validation_method": "dns-persistent",
            "issuer_domain_names": list(issuers),
            "expected_account_uri": acct}


@R.case
def dns_persistent(ctx):
    resp = ok_resp(ctx.main, "ok.dcv.test", p_persist())
    passed(resp)
    eq(resp["details"]["found_at"], "_validation-persist.ok.dcv.test",
       "found_at")
    passed(ok_resp(ctx.main, "ok.dcv.test", p_persist(("CA.EXAMPLE",))))
    failed(ok_resp(ctx.main, "ok.dcv.test", p_persist(("other.example",))))
    failed(ok_resp(ctx.main, "ok.dcv.test", p_persist(acct=ACCT.upper())))
    failed(ok_resp(ctx.main, "*.ok.dcv.test", p_persist()))
    passed(ok_resp(ctx.main, "*.wild.dcv.test", p_persist()))
    failed(ok_resp(ctx.main, "bad.dcv.test", p_persist()))
    failed(ok_resp(ctx.main, "old.dcv.test", p_persist()))
    passed(ok_resp(ctx.main, "many.dcv.test", p_persist()))


@R.case
def dns_persistent_reference_body(ctx):
    body = h.load_fixture("dcv-request-dns-persistent.json")
    body["domain_or_ip_target"] = "ok.dcv.test"
    status, resp = h.post(ctx.main.base + "/dcv", body)
    eq(status, 200, "status")
    passed(resp)


# ---------------------------------------------------------------- HTTP


def p_http01(token=TOKEN, keyauth=KEYAUTH, headers=None):
    return {"validation_method": "acme-http-01", "require_exact_case": True,
            "token": token, "key_authorization": keyauth,
            "http_headers": headers}


def p_web(path="validation-doc.txt", value="test-validation", scheme="http",
          regex=None, case=True, headers=None):
    return {"validation_method": "website-change",
            "require_exact_case": case, "challenge_value": value,
            "http_token_path": path, "url_scheme": scheme,
            "http_headers": headers, "match_regex": regex}


@R.case
def acme_http_01_passes(ctx):
    resp = ok_resp(ctx.main, "web.dcv.test", p_http01())
    passed(resp)
    d = resp["details"]
    eq(d["response_status_code"], 200, "status")
    eq(d["response_history"], None, "no redirects")
    eq(d["resolved_ip"], "127.0.0.1", "resolved_ip")
    eq(d["response_url"],
       "http://web.dcv.test/.well-known/acme-challenge/" + TOKEN, "url")
    eq(base64.b64decode(d["response_page"]), (KEYAUTH + "\n").encode(),
       "response_page")


@R.case
def acme_http_01_reference_body(ctx):
    body = h.load_fixture("dcv-request-acme-http-01.json")
    body["domain_or_ip_target"] = "web.dcv.test"
    status, resp = h.post(ctx.main.base + "/dcv", body)
    eq(status, 200, "status")
    passed(resp)


@R.case
def acme_http_01_wrong_bodies_fail(ctx):
    failed(ok_resp(ctx.main, "web.dcv.test", p_http01("wrong")))
    failed(ok_resp(ctx.main, "web.dcv.test", p_http01("prefix")))
    failed(ok_resp(ctx.main, "web.dcv.test", p_http01("long")))


@R.case
def acme_http_01_404(ctx):
    resp = ok_resp(ctx.main, "web.dcv.test", p_http01("absent"))
    failed(resp, "mpic_error:http")
    eq(resp["details"]["response_status_code"], 404, "status")
    msg = resp["errors"][0]["error_message"]
    check("Response status 404" in msg and "Not Found" in msg, msg)


@R.case
def acme_http_01_ip_target(ctx):
    passed(ok_resp(ctx.main, "127.0.0.1", p_http01()))


@R.case
def acme_http_01_ipv6(ctx):
    if not HAVE_V6:
        print("  (skipped: no IPv6 loopback)")
        return
    resp = ok_resp(ctx.main, "web6.dcv.test", p_http01())
    passed(resp)
    eq(resp["details"]["resolved_ip"], "::1", "AAAA after no A")
    resp = ok_resp(ctx.main, "[::1]", p_http01())
    passed(resp)
    eq(resp["details"]["response_url"],
       "http://[::1]/.well-known/acme-challenge/" + TOKEN, "bracketed URL")
    failed(ok_resp(ctx.strict, "::1", p_http01()),
           "mpic_error:dcv_checker:private_address")


@R.case
def redirects_followed_and_recorded(ctx):
    resp = ok_resp(ctx.main, "web.dcv.test", p_http01("r-ok"))
    passed(resp)
    eq(resp["details"]["response_history"],
       [{"status_code": 302,
         "url": "http://web.dcv.test/.well-known/acme-challenge/r-ok"}],
       "history")
    passed(ok_resp(ctx.main, "web.dcv.test", p_http01("r-rel")))
    resp = ok_resp(ctx.main, "web.dcv.test", p_http01("r-host"))
    passed(resp)
    eq([x["status_code"] for x in resp["details"]["response_history"]],
       [301, 302], "two hops")


@R.case
def redirects_refused(ctx):
    for tok in ("r-port", "r-ftp", "r-303", "r-loop"):
        resp = ok_resp(ctx.main, "web.dcv.test", p_http01(tok))
        failed(resp, "mpic_error:redirect:invalid")


@R.case
def redirect_to_host_without_address(ctx):
    resp = ok_resp(ctx.main, "web.dcv.test", p_http01("r-nohost"))
    failed(resp, LOOKUP)


@R.case
def private_address_refused_by_default(ctx):
    resp = ok_resp(ctx.strict, "web.dcv.test", p_http01())
    failed(resp, "mpic_error:dcv_checker:private_address")
    msg = resp["errors"][0]["error_message"]
    check("127.0.0.1" in msg and "loopback" in msg, msg)
    eq(resp["details"]["resolved_ip"], "127.0.0.1", "resolved_ip")
    resp = ok_resp(ctx.strict, "alpn-ok.dcv.test",
                   {"validation_method": "acme-tls-alpn-01",
                    "key_authorization_hash": ALPN_HASH})
    failed(resp, "mpic_error:dcv_checker:private_address")


@R.case
def user_agent_from_config_and_headers(ctx):
    p = p_http01("ua", keyauth="dcv-test-agent")
    passed(ok_resp(ctx.main, "web.dcv.test", p))
    # http_headers replace it; the page says whether it saw ours (a value
    # that is in the request itself is refused: value_in_request cases).
    p = p_http01("ua-custom", keyauth="ua-header-seen",
                 headers={"User-Agent": "custom"})
    passed(ok_resp(ctx.main, "web.dcv.test", p))
    p = p_http01("ua-custom", keyauth="ua-header-seen")
    failed(ok_resp(ctx.main, "web.dcv.test", p))
    status, resp = dcv(ctx.main, "web.dcv.test",
                       p_http01("ua", keyauth="custom",
                                headers={"User-Agent": "custom"}))
    assert_refused(status, resp, "key_authorization in the User-Agent",
                   BAD_VALUE, "key_authorization: appears in http_headers")


@R.case
def website_change_http_and_https(ctx):
    body = h.load_fixture("dcv-request-website-change.json")
    body["domain_or_ip_target"] = "web.dcv.test"
    status, resp = h.post(ctx.main.base + "/dcv", body)
    eq(status, 200, "status")
    passed(resp)
    resp = ok_resp(ctx.main, "web.dcv.test", p_web(scheme="https"))
    passed(resp)
    check(resp["details"]["response_url"].startswith("https://"), "https")


@R.case
def website_change_case_and_regex(ctx):
    failed(ok_resp(ctx.main, "web.dcv.test", p_web("upper.txt")))
    passed(ok_resp(ctx.main, "web.dcv.test", p_web("upper.txt", case=False)))
    passed(ok_resp(ctx.main, "web.dcv.test",
                   p_web(regex=r"<html>test-[a-z]+</html>")))
    failed(ok_resp(ctx.main, "web.dcv.test", p_web(regex=r"^nothing$")))
    passed(ok_resp(ctx.main, "web.dcv.test",
                   p_web(value="", regex=r"test-validation")))
    failed(ok_resp(ctx.main, "web.dcv.test", p_web(value="absent-value")))


@R.case
def website_change_reads_a_bounded_prefix(ctx):
    resp = ok_resp(ctx.main, "web.dcv.test", p_web("big.txt"))
    failed(resp)
    eq(len(base64.b64decode(resp["details"]["response_page"])), 100,
       "response_page sample")


@R.case
def website_change_custom_header_not_host(ctx):
    p = p_web("hdr.txt", value="value=abc host=web.dcv.test",
              headers={"X-Test": "abc", "Host": "evil.example"})
    passed(ok_resp(ctx.main, "web.dcv.test", p))


# ---------------------------------------------------------------- TLS-ALPN


def p_alpn(hexhash=ALPN_HASH):
    return {"validation_method": "acme-tls-alpn-01",
            "require_exact_case": False, "key_authorization_hash": hexhash}


@R.case
def tls_alpn_passes(ctx):
    resp = ok_resp(ctx.main, "alpn-ok.dcv.test", p_alpn())
    passed(resp)
    eq(resp["details"]["common_name"], "alpn-ok.dcv.test", "common_name")
    body = h.load_fixture("dcv-request-acme-tls-alpn-01.json")
    body["domain_or_ip_target"] = "alpn-ok.dcv.test"
    status, resp = h.post(ctx.main.base + "/dcv", body)
    eq(status, 200, "status")
    passed(resp)


@R.case
def tls_alpn_ip_target(ctx):
    passed(ok_resp(ctx.main, "127.0.0.9", p_alpn()))


@R.case
def tls_alpn_certificate_failures(ctx):
    pre = "mpic_error:dcv_checker:tls_alpn:"
    cases = [
        ("alpn-noext", pre + "certificate:extension_missing"),
        ("alpn-noncrit", pre + "certificate:noncritical_alpn_extension"),
        ("alpn-twosan", pre + "certificate:no_single_san"),
        ("alpn-ipsan", pre + "certificate:san_not_dnsname"),
        ("alpn-wronghash", pre + "certificate:extension_value_mismatch"),
        ("alpn-noalpn", pre + "protocol"),
    ]
    for name, etype in cases:
        resp = ok_resp(ctx.main, name + ".dcv.test", p_alpn())
        failed(resp, etype)
    resp = ok_resp(ctx.main, "alpn-ok.dcv.test", p_alpn("11" * 32))
    failed(resp, pre + "certificate:extension_value_mismatch")
    # an IP target whose certificate names a DNS name
    failed(ok_resp(ctx.main, "127.0.0.2", p_alpn()),
           pre + "certificate:san_type_not_match")
    # the one SAN names another host: a dNSName, an iPAddress
    failed(ok_resp(ctx.main, "alpn-othername.dcv.test", p_alpn()),
           pre + "certificate:san_not_hostname")
    failed(ok_resp(ctx.main, "127.0.0.8", p_alpn()),
           pre + "certificate:san_not_hostname")


@R.case
def tls_alpn_nothing_listening(ctx):
    resp = ok_resp(ctx.main, "127.0.0.10", p_alpn())
    failed(resp, "mpic_error:dcv_checker:tls_alpn", completed=False)


@R.case
def tls_alpn_handshake_timeout(ctx):
    resp = ok_resp(ctx.slow, "127.0.0.11", p_alpn())
    failed(resp, "mpic_error:dcv_checker:timeout", completed=False)
    eq(resp["details"]["common_name"], None, "common_name")


@R.case
def http_fetch_timeout(ctx):
    resp = ok_resp(ctx.slow, "127.0.0.12", p_http01())
    failed(resp, "mpic_error:dcv_checker:timeout", completed=False)


@R.case
def sigterm_with_checks_in_flight(ctx):
    """A check still running at SIGTERM is cancelled cleanly: the daemon
    exits 0 (and, under ASan, without leaks)."""
    import threading
    d = ctx.start_dcv("us-west-2", name="dcv-sigterm",
                      extra="http:\n  timeout_ms: 20000\n"
                            "targets:\n  allow_private_addresses: true\n")
    hang = HangServer("127.0.0.13", 443)
    got = {}

    def call():
        try:
            got["resp"] = dcv(d, "127.0.0.13", p_alpn())
        except Exception as e:  # the connection may simply close
            got["exc"] = e

    t = threading.Thread(target=call)
    t.start()
    check(hang.accepted.wait(10), "the checker never connected")
    code = ctx.cluster.stop_daemon(d)
    t.join(10)
    hang.close()
    eq(code, 0, "exit status on SIGTERM")
    check(not t.is_alive(), "the client never got an answer")
    if "resp" in got:
        check(got["resp"][0] in (200, 503), "status %r" % (got["resp"],))


# ---------------------------------------------------------------- edges


@R.case
def bad_requests_are_400(ctx):
    status, resp = h.post(ctx.main.base + "/dcv", "not json")
    eq(status, 400, "status")
    eq(resp["error"], "request-validation-failed", "error")
    check(resp["validation_issues"], "issues listed")
    status, resp = dcv(ctx.main, "ok.dcv.test",
                       {"validation_method": "no-such-method"})
    eq(status, 400, "unknown method")
    status, resp = dcv(ctx.main, "192.0.2.1", p_dns01())
    eq(status, 400, "dns method on an IP")


@R.case
def bearer_token_required(ctx):
    status, _ = dcv(ctx.authed, "ok.dcv.test", p_dns01())
    eq(status, 401, "no token")
    status, resp = dcv(ctx.authed, "ok.dcv.test", p_dns01(),
                       headers={"Authorization": "Bearer s3cret"})
    eq(status, 200, "token")
    passed(resp)


@R.case
def metrics_count_checks(ctx):
    status, body = h.http_request(ctx.main.base + "/metrics")
    eq(status, 200, "status")
    text = body.decode() if isinstance(body, bytes) else str(body)
    check('mpic_dcv_checks_total{method="acme-dns-01"}' in text, text[:500])


# ------------------------------------------------- targets per method (400)

TARGET_METHOD = "invalid-target-for-method"
BAD_TARGET = "invalid-domain-or-ip-target"
BAD_VALUE = "invalid-parameter-value"
P_REVERSE = {"validation_method": "reverse-address-lookup",
             "challenge_value": "host.dcv.test"}


def refused_requests():
    """(what, target, params, issue_type, message fragment): every request
    here must be a 400 with that issue, from the checker and the
    coordinator alike (open-mpic-api.md 6, "Targets per method"). The
    HTTP and TLS ones would otherwise pass: web.dcv.test serves the
    right answers."""
    return [
        ("wildcard with acme-http-01", "*.web.dcv.test", p_http01(),
         TARGET_METHOD, "$.domain_or_ip_target: acme-http-01 cannot "
         "validate a wildcard"),
        ("wildcard with website-change", "*.web.dcv.test", p_web(),
         TARGET_METHOD, "$.domain_or_ip_target: website-change"),
        ("wildcard with acme-tls-alpn-01", "*.alpn-ok.dcv.test", p_alpn(),
         TARGET_METHOD, "$.domain_or_ip_target: acme-tls-alpn-01"),
        ("IPv4 with acme-dns-01", "127.0.0.1", p_dns01(), TARGET_METHOD,
         "$.domain_or_ip_target: acme-dns-01 needs a domain name"),
        ("IPv6 with dns-change", "[::1]", p_change(), TARGET_METHOD,
         "$.domain_or_ip_target: dns-change needs a domain name"),
        ("IPv4 with dns-persistent", "192.0.2.5", p_persist(), TARGET_METHOD,
         "$.domain_or_ip_target"),
        ("name with reverse-address-lookup", "web.dcv.test", P_REVERSE,
         TARGET_METHOD, "needs an IP address"),
        ("decimal IPv4 form", "2130706433", p_http01(), BAD_TARGET,
         "$.domain_or_ip_target"),
        ("hex IPv4 form", "0x7f000001", p_http01(), BAD_TARGET,
         "$.domain_or_ip_target"),
        ("dotted hex IPv4 form", "0x7f.0.0.1", p_web(), BAD_TARGET,
         "$.domain_or_ip_target"),
        ("short IPv4 form", "127.1", p_alpn(), BAD_TARGET,
         "$.domain_or_ip_target"),
        ("octal IPv4 form", "0177.0.0.1", p_http01(), BAD_TARGET,
         "$.domain_or_ip_target"),
        ("in-addr.arpa name", "5.2.0.192.in-addr.arpa", p_change(),
         BAD_TARGET, "BR 4.2.2"),
        ("ip6.arpa name", "1.0.0.IP6.ARPA.", p_dns01(), BAD_TARGET,
         "ip6.arpa"),
        ("'_' in the target", "_acme-challenge.ok.dcv.test", p_dns01(),
         BAD_TARGET, "'_'"),
        ("token ../x", "web.dcv.test", p_http01("../x"), BAD_VALUE,
         "$.dcv_check_parameters.token"),
        ("token climbing out", "web.dcv.test",
         p_http01("../../outside.txt"), BAD_VALUE,
         "$.dcv_check_parameters.token"),
        ("token with a query", "web.dcv.test", p_http01(TOKEN + "?x=1"),
         BAD_VALUE, "$.dcv_check_parameters.token"),
        ("http_token_path a?b", "web.dcv.test", p_web("a?b"), BAD_VALUE,
         "$.dcv_check_parameters.http_token_path"),
        ("http_token_path with a fragment", "web.dcv.test",
         p_web("validation-doc.txt#x"), BAD_VALUE,
         "$.dcv_check_parameters.http_token_path"),
        ("http_token_path ../", "web.dcv.test", p_web("../../outside.txt"),
         BAD_VALUE, "$.dcv_check_parameters.http_token_path"),
        ("http_token_path percent-encoded ..", "web.dcv.test",
         p_web("%2e%2e%2foutside.txt"), BAD_VALUE,
         "$.dcv_check_parameters.http_token_path"),
        ("http_token_path .", "web.dcv.test", p_web("."), BAD_VALUE,
         "$.dcv_check_parameters.http_token_path"),
        ("http_token_path non-ASCII", "web.dcv.test", p_web("\u00e9.txt"),
         BAD_VALUE, "$.dcv_check_parameters.http_token_path"),
        # BR 3.2.2.4.18: the value is not in the request. The echo pages
        # would show it (echo_page_proves_nothing_without_the_value).
        ("challenge_value in the path", "web.dcv.test",
         p_web("echo-R4nd0m.txt", value="r4nd0m", case=False), BAD_VALUE,
         "$.dcv_check_parameters.challenge_value: appears in the URL's path"),
        ("challenge_value in the target name", "web.dcv.test",
         p_web("echo-x.txt", value="WEB.dcv.test"), BAD_VALUE,
         "challenge_value: appears in the target name"),
        ("challenge_value in a header", "web.dcv.test",
         p_web("echo-x.txt", value="R4nd0m", headers={"X-Echo": "R4nd0m"}),
         BAD_VALUE, "challenge_value: appears in http_headers"),
        ("key_authorization in the path", "web.dcv.test",
         p_http01("echo-" + TOKEN, "echo-" + TOKEN), BAD_VALUE,
         "$.dcv_check_parameters.key_authorization: appears in the URL's "
         "path"),
    ]


def assert_refused(status, resp, what, issue_type, fragment):
    eq(status, 400, "%s: status (%r)" % (what, resp))
    eq(resp.get("error"), "request-validation-failed", what + ": error")
    issues = resp.get("validation_issues") or []
    check(any(i.get("issue_type") == issue_type
              and fragment in i.get("message", "") for i in issues),
          "%s: want %s with %r in %r" % (what, issue_type, fragment, issues))


def counters(d, prefix):
    """The lines of d's /metrics that start with prefix."""
    status, body = h.http_request(d.base + "/metrics")
    eq(status, 200, "metrics")
    return [x for x in body.decode().splitlines() if x.startswith(prefix)]


def bad_requests(d):
    lines = counters(d, "mpic_dcv_bad_requests_total ")
    eq(len(lines), 1, "mpic_dcv_bad_requests_total")
    return int(lines[0].split()[1])


@R.case
def echo_page_proves_nothing_without_the_value(ctx):
    """The echo pages refused_requests() relies on answer 200 with the
    request's path, host and X-Echo header: a value placed in any of them
    would be found, which is why such requests are 400."""
    # The page's own words pass, and its echo holds the request's path,
    # host and header (the regex): a value placed there would be found.
    passed(ok_resp(ctx.main, "web.dcv.test",
                   p_web("echo-a.txt", value="you asked for",
                         regex="asked for /\\.well-known/pki-validation/"
                               "echo-a\\.txt on web\\.dcv\\.test with zz$",
                         headers={"X-Echo": "zz"})))
    resp = ok_resp(ctx.main, "web.dcv.test",
                   p_web("echo-a.txt", value="R4nd0m",
                         headers={"X-Echo": "zz"}))
    check(resp["check_completed"] and not resp["check_passed"],
          "echo without the value: %r" % (resp,))
    # acme-http-01: the page echoes the token; a key authorization that is
    # the token would pass, the real one (token.thumbprint) does not.
    resp = ok_resp(ctx.main, "web.dcv.test",
                   p_http01("echo-" + TOKEN, "echo-" + KEYAUTH))
    check(resp["check_completed"] and not resp["check_passed"],
          "echo of the token: %r" % (resp,))


@R.case
def checker_refuses_targets_and_paths_per_method(ctx):
    # The same files are there: only the refusal stands between the
    # request and a pass.
    passed(ok_resp(ctx.main, "web.dcv.test", p_http01()))
    passed(ok_resp(ctx.main, "web.dcv.test", p_web()))
    before = bad_requests(ctx.main)
    cases = refused_requests()
    for what, target, params, issue_type, fragment in cases:
        status, resp = dcv(ctx.main, target, params)
        assert_refused(status, resp, what, issue_type, fragment)
    eq(bad_requests(ctx.main) - before, len(cases), "bad requests counted")
    # Allowed: wildcards with the DNS methods, addresses with HTTP/TLS.
    passed(ok_resp(ctx.main, "*.ok.dcv.test", p_dns01()))
    passed(ok_resp(ctx.main, "*.wild.dcv.test", p_persist()))
    passed(ok_resp(ctx.main, "127.0.0.1", p_web()))
    passed(ok_resp(ctx.main, "web.dcv.test",
                   p_http01(TOKEN, KEYAUTH)))


# ---------------------------------------------------------------- coordinator


def coordinator_yaml(port, urls):
    lines = ["listen: \"127.0.0.1:%d\"" % port, "log_level: debug",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url in urls:
        lines += ["  - code: %s" % code, "    dcv_url: \"%s\"" % url]
    lines += ["default_perspective_count: 3", "absolute_max_attempts: 1",
              "hash_secret: \"dcv-secret\"", "remote_timeout_ms: 8000"]
    lines += h.compliance_yaml()
    return "\n".join(lines) + "\n"


def coordinator(ctx):
    """A coordinator in front of three real DCV checkers, started once."""
    c = ctx.cluster
    if not hasattr(ctx, "coord"):
        urls = []
        codes = ["us-east-1", "eu-west-1", "ap-northeast-1"]
        ctx.persp = [ctx.start_dcv(code, name="dcv-c-" + code,
                                   extra="targets:\n"
                                         "  allow_private_addresses: true\n")
                     for code in codes]
        urls = [(code, d.base + "/dcv") for code, d in zip(codes, ctx.persp)]
        port = h.free_port(udp_too=False)
        sub = os.path.join(c.workdir, "coord")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        ctx.coord = h.Daemon("dcv-coordinator", "mpic-coordinator",
                             coordinator_yaml(port, urls), sub, port)
        c.daemons.append(ctx.coord)
        ctx.coord.wait_healthy()
    return ctx.coord


@R.case
def through_the_coordinator(ctx):
    coordinator(ctx)
    for target, params, want in [
            ("ok.dcv.test", p_dns01(), True),
            ("wrong.dcv.test", p_dns01(), False),
            ("web.dcv.test", p_http01(), True),
            ("web.dcv.test", p_http01("wrong"), False)]:
        status, resp = h.post(ctx.coord.base + "/mpic", {
            "check_type": "dcv", "domain_or_ip_target": target,
            "dcv_check_parameters": params})
        eq(status, 200, "status (%r)" % (resp,))
        eq(resp["is_valid"], want, "is_valid for %s %s (%r)" % (
            target, params["validation_method"], resp))
        eq(len(resp["perspectives"]), 3, "perspectives")


@R.case
def coordinator_counts_no_pass_for_another_method(ctx):
    """Two of three perspectives answer a pass for acme-dns-01 to an
    acme-http-01 request whose real check fails: no corroboration, so not
    valid (quorum 2 of 3 would be met if they counted). The same answers
    naming acme-http-01 do count: the fakes are passes in every other way."""
    c = ctx.cluster
    fake = h.FakeChecker()
    try:
        real = ctx.start_dcv("us-east-1", name="dcv-m-us-east-1",
                             extra="targets:\n"
                                   "  allow_private_addresses: true\n")
        coords = {}
        for as_method in ("acme-dns-01", "acme-http-01"):
            urls = [("us-east-1", real.base + "/dcv")] + [
                (code, fake.url("/dcv-pass-as-%s/%s" % (as_method, code)))
                for code in ("eu-west-1", "ap-northeast-1")]
            port = h.free_port(udp_too=False)
            sub = os.path.join(c.workdir, "coord-m-" + as_method)
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, "available_perspectives.yaml"),
                      "w") as f:
                f.write(h.available_perspectives_yaml())
            d = h.Daemon("coord-m-" + as_method, "mpic-coordinator",
                         coordinator_yaml(port, urls), sub, port)
            c.daemons.append(d)
            d.wait_healthy()
            coords[as_method] = d
        body = {"check_type": "dcv", "domain_or_ip_target": "web.dcv.test",
                "dcv_check_parameters": p_http01(TOKEN, "wrong-" + KEYAUTH)}
        status, resp = h.post(coords["acme-dns-01"].base + "/mpic", body)
        eq(status, 200, "status (%r)" % (resp,))
        eq(resp["is_valid"], False, "passes for another method (%r)" % resp)
        for p in resp["perspectives"]:
            cr = p["check_response"]
            if p["perspective_code"] == "us-east-1":
                failed(cr)
                continue
            eq(cr["check_passed"], False, p["perspective_code"])
            eq([e["error_type"] for e in cr["errors"]],
               ["mpic_error:coordinator:remote_check"], "errors")
            check('validation_method "acme-dns-01", not the request\'s '
                  '"acme-http-01"' in cr["errors"][0]["error_message"],
                  cr["errors"][0]["error_message"])
        status, resp = h.post(coords["acme-http-01"].base + "/mpic", body)
        eq((status, resp["is_valid"]), (200, True),
           "passes for the request's method count (%r)" % (resp,))
    finally:
        fake.close()


@R.case
def coordinator_refuses_targets_and_paths_per_method(ctx):
    coord = coordinator(ctx)
    before = [bad_requests(d) for d in ctx.persp]
    checks_before = [counters(d, "mpic_dcv_checks_total{")
                     for d in ctx.persp]
    for what, target, params, issue_type, fragment in refused_requests():
        status, resp = h.post(coord.base + "/mpic", {
            "check_type": "dcv", "domain_or_ip_target": target,
            "dcv_check_parameters": params})
        assert_refused(status, resp, what, issue_type, fragment)
    # CAA: no names in the IP reverse zones, no numeric IPv4 forms.
    for what, target, fragment in [
            ("CAA in-addr.arpa", "5.2.0.192.in-addr.arpa", "BR 4.2.2"),
            ("CAA ip6.arpa", "*.ip6.arpa", "ip6.arpa"),
            ("CAA decimal IPv4 form", "2130706433", "all digits")]:
        status, resp = h.post(coord.base + "/mpic", {
            "check_type": "caa", "domain_or_ip_target": target})
        assert_refused(status, resp, what, BAD_TARGET, fragment)
    # Refused at the edge: no checker saw any of them.
    eq([bad_requests(d) for d in ctx.persp], before, "checkers' bad requests")
    eq([counters(d, "mpic_dcv_checks_total{") for d in ctx.persp],
       checks_before, "checkers' checks")
    # Allowed: a wildcard with acme-dns-01 and dns-persistent, an address
    # with acme-http-01.
    for target, params in [("*.ok.dcv.test", p_dns01()),
                           ("*.wild.dcv.test", p_persist()),
                           ("127.0.0.1", p_http01())]:
        status, resp = h.post(coord.base + "/mpic", {
            "check_type": "dcv", "domain_or_ip_target": target,
            "dcv_check_parameters": params})
        eq(status, 200, "%s status (%r)" % (target, resp))
        eq(resp["is_valid"], True, "is_valid for %s %s (%r)" % (
            target, params["validation_method"], resp))


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
