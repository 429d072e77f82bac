#!/usr/bin/env python3
"""Target safety of the DCV checker with default settings
(targets.allow_private_addresses: false), issue 4: loopback and
unspecified addresses are refused for the HTTP and TLS methods directly,
written as IPv4-mapped IPv6 in every spelling, and through DNS (A, AAAA,
and AAAA holding an IPv4-mapped address). The full special-purpose table is unit-tested
(tests/unit/test_dcv_addr.c); here only addresses on this host are used,
so a wrong "allowed" can never send a packet off 127.0.0.0/8.

Not covered here: a redirect to a special-purpose address needs a first
hop the checker may reach, and on a loopback-only test host every address
is special-purpose (the check runs per connection, so redirects take the
same path as the first hop).

Ports: 127.0.0.1:20000-20999."""

import socket
import struct
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 20000, 20999

R = h.Runner()
PRIVATE = "mpic_error:dcv_checker:private_address"
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ALPN_HASH = "653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f"

# name -> {qtype: [addresses]} served by the answerer below.
RECORDS = {
    "v4.safety.test": {1: ["127.0.0.1"]},
    "v4b.safety.test": {1: ["127.200.1.2"]},
    "zero.safety.test": {1: ["0.0.0.0"]},
    "v6.safety.test": {28: ["::1"]},
    "mapped.safety.test": {28: ["::ffff:127.0.0.1"]},
    "unspec6.safety.test": {28: ["::"]},
}


class AddrDNS:
    """Answers A/AAAA from RECORDS over UDP; NOERROR/NODATA otherwise."""

    def __init__(self):
        self.port = h.free_port()
        self.srv = h.serve_udp((h.LOOPBACK, self.port), self.answer)

    def answer(self, data):
        try:
            qid, flags, qname, qtype, end = h.parse_question(data)
        except (ValueError, IndexError, struct.error):
            return None
        addrs = RECORDS.get(qname.lower().rstrip("."), {}).get(qtype, [])
        rrs = b""
        for a in addrs:
            fam = socket.AF_INET if qtype == 1 else socket.AF_INET6
            rd = socket.inet_pton(fam, a)
            rrs += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rd)) + rd
        f = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080
        return (struct.pack("!HHHHHH", qid, f, 1, len(addrs), 0, 0) +
                data[12:end] + rrs)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Ctx:
    def __init__(self):
        self.cluster = c = h.Cluster(dns=False)
        self.dns = AddrDNS()
        h.atexit.register(self.dns.close)
        port = h.free_port(udp_too=False)
        cfg = ("perspective_code: eu-west-1\nlisten: %s\nlog_level: debug\n"
               "dns:\n  resolvers: [\"127.0.0.1:%d\"]\n  timeout_ms: 500\n"
               "  tries: 2\nhttp:\n  timeout_ms: 2000\n" % (
                   '"127.0.0.1:%d"' % port, self.dns.port))
        self.strict = h.Daemon("dcv-strict", "mpic-dcv-checker", cfg,
                               c.workdir, port)
        c.daemons.append(self.strict)
        self.strict.wait_healthy()


def p_http01():
    return {"validation_method": "acme-http-01", "require_exact_case": True,
            "token": TOKEN, "key_authorization": KEYAUTH,
            "http_headers": None}


def p_web():
    return {"validation_method": "website-change",
            "require_exact_case": True, "challenge_value": "value-q9",
            "http_token_path": "x.txt", "url_scheme": "https",
            "http_headers": None, "match_regex": None}


def p_alpn():
    return {"validation_method": "acme-tls-alpn-01",
            "key_authorization_hash": ALPN_HASH}


def expect_refused(ctx, target, params):
    status, resp = h.post(ctx.strict.base + "/dcv", {
        "domain_or_ip_target": target, "trace_identifier": "safety",
        "dcv_check_parameters": params}, timeout=20)
    what = "%s %s" % (params["validation_method"], target)
    eq(status, 200, what + " status (%r)" % (resp,))
    eq(resp["check_passed"], False, what + " check_passed")
    types = [e["error_type"] for e in resp["errors"] or []]
    check(PRIVATE in types, "%s: want %s, got %r" % (what, PRIVATE,
                                                     resp["errors"]))


DIRECT = ["127.0.0.1", "127.255.255.254", "0.0.0.0", "::1", "[::1]", "::",
          "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "::ffff:7f00:1",
          "0:0:0:0:0:ffff:7f00:0001", "::ffff:0.0.0.0"]
NAMES = sorted(RECORDS)


@R.case
def test_direct_addresses_refused_for_http(ctx):
    for t in DIRECT:
        expect_refused(ctx, t, p_http01())


@R.case
def test_direct_addresses_refused_for_https_website_change(ctx):
    for t in DIRECT:
        expect_refused(ctx, t, p_web())


@R.case
def test_direct_addresses_refused_for_tls_alpn(ctx):
    for t in DIRECT:
        expect_refused(ctx, t, p_alpn())


@R.case
def test_names_resolving_to_loopback_refused(ctx):
    for t in NAMES:
        for p in (p_http01(), p_web(), p_alpn()):
            expect_refused(ctx, t, p)


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
