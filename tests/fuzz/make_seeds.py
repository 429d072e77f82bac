#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

Run once after changing a seed; the output is checked in. Seeds are small
valid inputs (from tests/fixtures and the API examples) plus a few edge
cases; the fuzzer mutates from there. Reproducers of fixed bugs live next
to the seeds as corpus/<target>/repro-*.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
WIRE = os.path.join(FIX, "reference-wire")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def mpic_request():
    put("mpic_request", "caa.json", json.dumps({
        "check_type": "caa", "domain_or_ip_target": "example.com",
        "trace_identifier": "t-1",
        "orchestration_parameters": {"perspective_count": 3,
                                     "quorum_count": 2, "max_attempts": 1},
        "caa_check_parameters": {"certificate_type": "tls-server",
                                 "caa_domains": ["ca.example"]}}))
    put("mpic_request", "caa-wildcard-idn.json", json.dumps({
        "check_type": "caa", "domain_or_ip_target": "*.b\u00fccher.example"}))
    for f in sorted(os.listdir(WIRE)):
        if f.startswith("dcv-request-"):
            body = json.loads(fixture(WIRE, f))
            body["check_type"] = "dcv"
            body.pop("trace_identifier", None)
            put("mpic_request", f, json.dumps(body))
    put("mpic_request", "bad-type.json", '{"check_type": 7}')


def check_request():
    # The first byte picks the checker: even = caa, odd = dcv.
    for f in sorted(os.listdir(WIRE)):
        if f.startswith("caa-request"):
            put("check_request", f, b"\x00" + fixture(WIRE, f))
        elif f.startswith("dcv-request"):
            put("check_request", f, b"\x01" + fixture(WIRE, f))


def check_response():
    for f in sorted(os.listdir(WIRE)):
        if f.startswith("caa-response"):
            put("check_response", f, b"\x00" + fixture(WIRE, f))
        elif f.startswith("dcv-response"):
            put("check_response", f, b"\x01" + fixture(WIRE, f))
    put("check_response", "wrong-shape.json", b"\x00[1,2,3]")


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def rr(owner, rtype, rdata, ttl=300):
    return name_wire(owner) + struct.pack(">HHIH", rtype, 1, ttl,
                                          len(rdata)) + rdata


def caa_rdata(flags, tag, value):
    return bytes([flags, len(tag)]) + tag.encode() + value.encode()


def txt_rdata(*strings):
    out = b""
    for s in strings:
        s = s.encode()
        out += bytes([len(s)]) + s
    return out


def pkt(qname, qtype, answers, rcode=0, flags=0x8180):
    hdr = struct.pack(">HHHHHH", 0x1234, flags | rcode, 1, len(answers), 0,
                      0)
    q = name_wire(qname) + struct.pack(">HH", qtype, 1)
    return hdr + q + b"".join(answers)


def dns_answer():
    put("dns_answer", "caa.bin", pkt("example.com", 257, [
        rr("example.com", 257, caa_rdata(0, "issue", "ca.example")),
        rr("example.com", 257, caa_rdata(128, "tbs", "x")),
        rr("example.com", 257,
           caa_rdata(0, "issuewild",
                     "ca.example; accounturi=https://ca.example/acct/1;"
                     " validationmethods=dns-01")),
        rr("example.com", 257, caa_rdata(0, "iodef", "mailto:a@b.example")),
    ]))
    put("dns_answer", "cname-txt.bin", pkt("_acme-challenge.example.com", 16, [
        rr("_acme-challenge.example.com", 5, name_wire("x.example.net")),
        rr("x.example.net", 16, txt_rdata("abc", "def\x00g")),
    ]))
    put("dns_answer", "a-aaaa.bin", pkt("example.com", 1, [
        rr("example.com", 1, bytes([192, 0, 2, 1])),
        rr("example.com", 28, bytes(15) + b"\x01"),
    ]))
    put("dns_answer", "servfail.bin", pkt("example.com", 257, [], rcode=2))
    put("dns_answer", "caa-empty-value.bin", pkt("example.com", 257, [
        rr("example.com", 257, caa_rdata(0, "issue", "")),
    ]))


def caa_rec(flags, tag, value):
    v = value.encode()
    return bytes([flags, len(tag)]) + tag.encode() + struct.pack(">H",
                                                               len(v)) + v


def caa_decide():
    put("caa_decide", "permit.bin", b"\x00" + caa_rec(0, "issue",
                                                      "ca.example"))
    put("caa_decide", "params.bin", b"\x0d" + caa_rec(
        0, "issuewild", "ca.example; accounturi=https://ca.example/acct/1;"
        " validationmethods=dns-01,http-01") + caa_rec(0, "issue", ";"))
    put("caa_decide", "critical.bin", b"\x00" + caa_rec(128, "xyz", "1"))
    put("caa_decide", "smime.bin", b"\x02" + caa_rec(0, "issuemail",
                                                     "ca.example") +
        caa_rec(0, "ISSUE", "other.example"))
    put("caa_decide", "nul.bin", b"\x00" + caa_rec(0, "issue",
                                                   "ca.example\x00x"))


def dcv_persist():
    put("dcv_persist", "full.txt",
        "ca.example; accounturi=https://ca.example/acct/1; policy=wildcard;"
        " persistUntil=1900000000")
    put("dcv_persist", "min.txt", "ca.example;accounturi=https://a/1")
    put("dcv_persist", "bad.txt", "ca.example; accounturi=; x")


def redirect():
    put("redirect", "relative.txt", "/other/path?x=1")
    put("redirect", "absolute.txt", "https://www.example.com/x")
    put("redirect", "base-and-loc.txt",
        b"http://[2001:db8::1]:80/a/b\x00../c#frag")
    put("redirect", "bad-port.txt", "http://example.com:8080/")
    put("redirect", "scheme.txt", "ftp://example.com/")


# A self-signed certificate whose subject and issuer CN is a T61String of
# the bytes ff fe (made with openssl req, then the CN rewritten; its
# signature does not verify, which the checker never asks).
T61_CERT = bytes.fromhex(
    "308201863082012da0030201020214795f0cb9e850d352cdcbe6b85665d4a6d82e638730"
    "0a06082a8648ce3d040302300d310b300906035504031402fffe301e170d323631323032"
    "3137303731335a170d3236313230343137303731335a300d310b300906035504031402ff"
    "fe3059301306072a8648ce3d020106082a8648ce3d03010703420004031cd9780cc8121d"
    "11a94382fc191502f4b11c26e76bef6be7b1d823c964b756ec1d419e0f0f830797051f9c"
    "1b5117a7edca8b89ed840a31224347ca509cc423a36b3069301d0603551d0e041604143a"
    "fbb921436761c71c3ac339abca99c6d0ee5893301f0603551d230418301680143afbb921"
    "436761c71c3ac339abca99c6d0ee5893300f0603551d130101ff040530030101ff301606"
    "03551d11040f300d820b6578616d706c652e636f6d300a06082a8648ce3d040302034700"
    "30440220049ee3f1e0a8717cc6c16b6171df9b06570ae97f290f8ceb1227b147a9ec94d6"
    "0220703822bdde75d75da6caa10ac6c563b8d475b0bd5522373badba80775d6c9982"
)


def fields(*parts):
    """Fields of the response fuzz targets: 2-byte length, bytes."""
    out = b""
    for p in parts:
        if isinstance(p, str):
            p = p.encode()
        out += struct.pack(">H", len(p)) + p
    return out


def dcv_response():
    # byte 0: 0 HTTP (url, Location, reason, body, status), 1 TLS (DER),
    # 2 DNS (found_at, a CNAME target, records...)
    url = "http://example.com/.well-known/acme-challenge/t"
    put("dcv_response", "http-ok.bin", b"\x00" + fields(
        url, "/other", "OK", "key.auth\n", b"\x00\xc8"))
    put("dcv_response", "http-loc-ff.bin", b"\x00" + fields(
        url, b"/\xff\xfe", b"Found", b"", b"\x01\x2e"))
    put("dcv_response", "http-userinfo.bin", b"\x00" + fields(
        url, "http://user:pass@example.com/x", "Found", "", b"\x01\x2e"))
    put("dcv_response", "http-frag.bin", b"\x00" + fields(
        url, "t#frag", "Found", "", b"\x01\x33"))
    put("dcv_response", "http-raw.bin", b"\x00" + fields(
        b"http://\xc3(/\x00x", b"ftp://a\x00b", b"Nicht \xff\xfe\x01",
        b"\xff\xfe\x00body\x00\xed\xa0\x80", b"\x01\x94"))
    put("dcv_response", "tls-t61-cn.bin", b"\x01" + T61_CERT)
    put("dcv_response", "dns.bin", b"\x02" + fields(
        "example.com", "target.example.com.", "v=1", b"a\x00b",
        b"\xff\xfe", b"\xc3\xa9", b"\xf4\x90\x80\x80"))


def caa_response():
    # byte 0: status (0 FOUND, 1 NONE, 2 ERROR) | 0x08 IP target | 0x10
    # allow_lookup_failure | 0x20 timeout | 0x40 no rcode | 0x80 wildcard;
    # then target, found_at, error, (tag, value, seen) per record
    put("caa_response", "found.bin", b"\x00" + fields(
        "example.com", "example.com", "", "issue", "ca.example",
        '0 issue "ca.example"', "iodef", b"mailto:\xff@x",
        b'0 iodef "mailto:\\255@x"'))
    put("caa_response", "found-raw.bin", b"\x80" + fields(
        b"ex\xffample.com", b"found\xfe", "", b"issuewild",
        b"ca.example\x00evil", b"0 issuewild \"\xff\xfe\"",
        b"\xff", b"\xfe", b"\xc0\xaf"))
    put("caa_response", "none.bin", b"\x01" + fields("example.com"))
    put("caa_response", "error.bin", b"\x12" + fields(
        "example.com", "example.com", b"SERVFAIL at \xff\xfe"))
    put("caa_response", "ip.bin", b"\x08" + fields("192.0.2.1"))


def config():
    cfg = os.path.join(FIX, "config")
    put("config", "coordinator-full.yaml",
        b"\x00" + fixture(cfg, "coordinator-full.yaml"))
    put("config", "dcv-full.yaml", b"\x01" + fixture(cfg, "dcv-full.yaml"))
    put("config", "caa-full.yaml", b"\x02" + fixture(cfg, "caa-full.yaml"))
    put("config", "syntax-error.yaml",
        b"\x00" + fixture(cfg, "syntax-error.yaml"))
    put("config", "anchors.yaml", b"\x02a: &x [1, 2]\nb: *x\ndns: {tries: 9}\n")
    put("config", "coordinator-compliance.yaml",
        b"\x00" + fixture(cfg, "coordinator-full.yaml") +
        b"compliance:\n  min_perspective_count: 3\n  method_sunsets: warn\n")
    put("config", "coordinator-replicas.yaml",
        b"\x00" + fixture(cfg, "coordinator-full.yaml").replace(
            b"    caa_url: https://127.0.0.1:9101/caa\n",
            b"    caa_url: [https://127.0.0.1:9101/caa,\n"
            b"              https://127.0.0.2:9101/caa]\n"))


def target():
    for i, t in enumerate(["example.com", "*.Example.COM.", "b\u00fccher.de",
                           "192.0.2.1", "[2001:db8::1]", "::ffff:1.2.3.4",
                           "xn--bcher-kva.example", "a..b", "_acme.x-y.z",
                           "2130706433", "0x7f000001", "0x7f.0.0.1", "127.1",
                           "0177.0.0.1", "1.2.0.192.in-addr.arpa",
                           "*.IP6.ARPA.", "x\u3002in-addr\u3002arpa",
                           "example.0xg1"]):
        put("target", "t%d.txt" % i, t)


def token_path():
    # Byte 0: even = website-change (http_token_path), odd = acme-http-01.
    for i, v in enumerate(["fileauth.txt", "../x", "a?b", "a#b", "%2e%2e",
                           ".", "..;", "a;b", "X!$&'()*+,=:@~", "a\\b",
                           "\u00e9.txt"]):
        put("token_path", "p%d.txt" % i, b"\x00" + v.encode())
    for i, v in enumerate(["LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                           "../x", "a.b", "a="]):
        put("token_path", "t%d.txt" % i, b"\x01" + v.encode())


def dcv_targets_per_method():
    """POST /mpic and /dcv bodies with targets the method refuses."""
    base = json.loads(fixture(WIRE, "dcv-request-acme-http-01.json"))
    for name, target in [("wildcard-http01", "*.example.com"),
                         ("ip-http01", "192.0.2.1")]:
        body = dict(base, domain_or_ip_target=target)
        put("check_request", "dcv-" + name + ".json",
            b"\x01" + json.dumps(body).encode())
        body["check_type"] = "dcv"
        body.pop("trace_identifier", None)
        put("mpic_request", "dcv-" + name + ".json", json.dumps(body))
    dns01 = json.loads(fixture(WIRE, "dcv-request-acme-dns-01.json"))
    for name, target in [("wildcard-dns01", "*.example.com"),
                         ("ip-dns01", "192.0.2.1")]:
        body = dict(dns01, domain_or_ip_target=target)
        put("check_request", "dcv-" + name + ".json",
            b"\x01" + json.dumps(body).encode())
        body["check_type"] = "dcv"
        body.pop("trace_identifier", None)
        put("mpic_request", "dcv-" + name + ".json", json.dumps(body))


def traceparent():
    tid, pid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    put("traceparent", "v00-sampled", "00-%s-%s-01" % (tid, pid))
    put("traceparent", "v00-unsampled", "00-%s-%s-00" % (tid, pid))
    put("traceparent", "v01-extra", "01-%s-%s-01-future" % (tid, pid))
    put("traceparent", "vff", "ff-%s-%s-01" % (tid, pid))
    put("traceparent", "upper", "00-%s-%s-01" % (tid.upper(), pid))
    put("traceparent", "zero-trace", "00-%s-%s-01" % ("0" * 32, pid))
    put("traceparent", "zero-parent", "00-%s-%s-01" % (tid, "0" * 16))
    put("traceparent", "short", "00-%s-%s-1" % (tid, pid))


if __name__ == "__main__":
    mpic_request()
    check_request()
    check_response()
    dns_answer()
    caa_decide()
    dcv_persist()
    redirect()
    config()
    target()
    token_path()
    dcv_targets_per_method()
    dcv_response()
    caa_response()
    traceparent()
