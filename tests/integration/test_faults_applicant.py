#!/usr/bin/env python3
"""No applicant can stop a perspective (open-mpic-api.md section 6, last
paragraph; issue 11). The real DCV checker fetches from servers on
loopback that send what an applicant controls, byte for byte: redirect
Locations that are not UTF-8, hold a NUL, carry user:password@, change
only the fragment or leave http(s); page bodies and headers with invalid
UTF-8 and NUL bytes; a reason phrase that is not UTF-8; TLS certificates
whose CN is a T61String of bytes ff fe or a UTF8String that is not UTF-8.

For each: the reply is a well-formed check response (JSON, the right
error type, strings valid UTF-8), the same checker process is still
running, and it then passes a good check. One case goes through the
coordinator to show that the error stays one perspective's.

Targets are IP literals (the HTTP and TLS-ALPN methods take them), so no
zone is needed: HTTP on 127.0.0.40:80, TLS-ALPN on 127.0.0.41:443 and
127.0.0.42:443 (the Baseline Requirements fix the ports; the test fails
clearly if they are taken). Checker and coordinator ports: 21000-21499."""

import base64
import os
import socketserver
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 21000, 21499

R = h.Runner()
REDIRECT = "mpic_error:redirect:invalid"
HTTP_ERR = "mpic_error:http"
PRIVATE = "mpic_error:dcv_checker:private_address"
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ALPN_HASH = "653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f"
WEB = "127.0.0.40"
TLS_T61 = "127.0.0.41"
TLS_NUL = "127.0.0.42"
ACME = "/.well-known/acme-challenge/"
PKI = "/.well-known/pki-validation/"


def raw(status_line, headers=(), body=b""):
    out = status_line + b"\r\n"
    for hd in headers:
        out += hd + b"\r\n"
    out += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    return out + body


# path -> the exact bytes sent back
RESPONSES = {
    ACME + TOKEN: raw(b"HTTP/1.1 200 OK", body=KEYAUTH.encode()),
    ACME + "loc-ff": raw(b"HTTP/1.1 302 Found", [b"Location: /\xff\xfe"]),
    ACME + "loc-nul": raw(b"HTTP/1.1 302 Found",
                          [b"Location: " + ACME.encode() + b"a\x00b"]),
    ACME + "loc-userpass": raw(b"HTTP/1.1 302 Found", [
        b"Location: http://user:secret@" + WEB.encode() + ACME.encode() +
        TOKEN.encode()]),
    ACME + "loc-user": raw(b"HTTP/1.1 302 Found", [
        b"Location: http://user@" + WEB.encode() + ACME.encode() +
        TOKEN.encode()]),
    ACME + "loc-frag": raw(b"HTTP/1.1 302 Found",
                           [b"Location: " + ACME.encode() + b"loc-frag#x"]),
    ACME + "loc-ftp": raw(b"HTTP/1.1 302 Found",
                          [b"Location: ftp://" + WEB.encode() + b"/x"]),
    ACME + "loc-utf8": raw(b"HTTP/1.1 301 Moved",
                           [b"Location: /caf\xc3\xa9"]),
    ACME + "bad-reason": raw(b"HTTP/1.1 404 Nicht \xff\xfe gefunden\x01"),
    ACME + "bad-body": raw(b"HTTP/1.1 200 OK",
                           body=b"\xff\xfe\x00" + KEYAUTH.encode() + b"\x00"),
    ACME + "bad-header": raw(b"HTTP/1.1 200 OK", [
        b"X-Junk: \xff\xfe\x80\xc0\xaf", b"Server: \xed\xa0\x80"],
        body=KEYAUTH.encode()),
    PKI + "bad-body.txt": raw(
        b"HTTP/1.1 200 OK", [b"Content-Type: text/html; charset=\xff"],
        body=b"\xff\xfe\x00\x80 test-validation \x00\xc3\x28"),
}


class RawHTTP:
    """Answers every request from RESPONSES (404 otherwise) and keeps
    every request it read, so credentials sent can be seen."""

    def __init__(self, addr, port):
        self.requests = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                data = b""
                self.request.settimeout(10)
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = self.request.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    return
                outer.requests.append(data)
                parts = data.split(b" ")
                path = parts[1].decode("latin-1") if len(parts) > 1 else ""
                reply = RESPONSES.get(path, raw(b"HTTP/1.1 404 Not Found"))
                try:
                    self.request.sendall(reply)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((addr, port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def acme_ext(hexhash):
    return "critical,DER:04:20:" + ":".join(
        hexhash[i:i + 2] for i in range(0, len(hexhash), 2))


def make_cert(workdir, name, ip, cn_der):
    """A self-signed certificate for ip with the acmeIdentifier extension
    whose CN is rewritten in the DER to cn_der (tag, length 2, two value
    bytes: OpenSSL writes no T61String itself). The signature no longer matches; the
    checker does not verify it (RFC 8737: the certificate is judged by its
    SAN and extension) and OpenSSL does not check it on loading."""
    key = os.path.join(workdir, name + ".key")
    pem = os.path.join(workdir, name + ".pem")
    der = os.path.join(workdir, name + ".der")
    crt = os.path.join(workdir, name + ".crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
         "-days", "2", "-subj", "/CN=QQ", "-utf8",
         "-addext", "subjectAltName=IP:" + ip,
         "-addext", "1.3.6.1.5.5.7.1.31=" + acme_ext(ALPN_HASH)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER",
                    "-out", der], check=True)
    with open(der, "rb") as f:
        data = f.read()
    # id-at-commonName, then the string: UTF8String (0c) "QQ"
    old = bytes.fromhex("0603550403") + b"\x0c\x02QQ"
    new = bytes.fromhex("0603550403") + cn_der
    check(data.count(old) == 2, "CN not found in the DER (issuer, subject)")
    data = data.replace(old, new)
    b64 = base64.b64encode(data).decode()
    with open(crt, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n")
        for i in range(0, len(b64), 64):
            f.write(b64[i:i + 64] + "\n")
        f.write("-----END CERTIFICATE-----\n")
    return crt, key


class Ctx:
    def __init__(self):
        for addr, port in [(WEB, 80), (TLS_T61, 443), (TLS_NUL, 443)]:
            if not h.port_free(addr, port):
                raise RuntimeError("cannot bind %s:%d (taken, or not root): "
                                   "this test needs it" % (addr, port))
        self.cluster = h.Cluster()
        c = self.cluster
        self.web = RawHTTP(WEB, 80)
        w = os.path.join(c.workdir, "tls")
        os.makedirs(w)
        # T61String ff fe; UTF8String "Q" NUL. (A UTF8String that is not
        # UTF-8 cannot be served: OpenSSL refuses to load such a
        # certificate, and the checker's OpenSSL refuses to parse it.)
        for addr, name, cn in [(TLS_T61, "t61", b"\x14\x02\xff\xfe"),
                               (TLS_NUL, "nul", b"\x0c\x02Q\x00")]:
            crt, key = make_cert(w, name, addr, cn)
            p = h.Proc("s_server-" + name,
                       ["openssl", "s_server", "-quiet", "-www", "-accept",
                        addr + ":443", "-cert", crt, "-key", key,
                        "-alpn", "acme-tls/1"], w)
            c.dns.procs.append(p)  # stopped and dumped with DNS
        for addr in (TLS_T61, TLS_NUL):
            h.wait_tcp_addr(addr, 443)
        self.allow = ("http:\n  timeout_ms: 4000\n  max_redirects: 3\n"
                      "targets:\n  allow_private_addresses: true\n")
        self.dcv = self.start_dcv("us-east-1", "dcv-main", self.allow)

    def start_dcv(self, code, name, extra=""):
        c = self.cluster
        port = h.free_port(udp_too=False)
        d = h.Daemon(name, "mpic-dcv-checker",
                     h.checker_config(code, port, [c.dns.resolver],
                                      extra=extra),
                     c.workdir, port)
        c.daemons.append(d)
        d.wait_healthy()
        return d


def dcv(d, target, params):
    body = {"domain_or_ip_target": target,
            "trace_identifier": "applicant-" + target,
            "dcv_check_parameters": params}
    return h.post(d.base + "/dcv", body)


def p_http01(token):
    return {"validation_method": "acme-http-01", "token": token,
            "key_authorization": KEYAUTH}


def p_alpn(hexhash=ALPN_HASH):
    return {"validation_method": "acme-tls-alpn-01",
            "key_authorization_hash": hexhash}


def well_formed(status, resp):
    """A check response the coordinator can read: JSON (h.post parsed it
    as UTF-8, so every string is valid), the fields and types of
    open-mpic-api.md section 2."""
    eq(status, 200, "status (%r)" % (resp,))
    check(isinstance(resp, dict), "not an object: %r" % (resp,))
    eq(resp.get("check_type"), "dcv", "check_type")
    check(isinstance(resp.get("check_passed"), bool), "check_passed")
    check(isinstance(resp.get("check_completed"), bool), "check_completed")
    check(isinstance(resp.get("timestamp_ns"), int), "timestamp_ns")
    check(isinstance(resp.get("details"), dict), "details")
    for e in resp.get("errors") or []:
        eq(set(e), {"error_type", "error_message"}, "error keys")
        check(isinstance(e["error_message"], str), "error_message")


def failed_with(resp, error_type, completed=True):
    check(resp["check_passed"] is False, "want a failure, got %r" % (resp,))
    eq(resp["check_completed"], completed, "check_completed (%r)" % (resp,))
    types = [e["error_type"] for e in resp["errors"] or []]
    check(error_type in types, "want %s in %r" % (error_type, resp))


def still_serving(ctx, d=None):
    """The same process is running and answers the next check right."""
    d = d or ctx.dcv
    check(d.alive(), "%s exited (status %r)" % (d.name, d.proc.poll()))
    status, resp = dcv(d, WEB, p_http01(TOKEN))
    well_formed(status, resp)
    check(resp["check_passed"] is True and not resp["errors"],
          "the next check did not pass: %r" % (resp,))
    check(d.alive(), "%s exited" % d.name)


def refused_redirect(ctx, token):
    status, resp = dcv(ctx.dcv, WEB, p_http01(token))
    well_formed(status, resp)
    failed_with(resp, REDIRECT)
    hist = resp["details"]["response_history"]
    check(isinstance(hist, list) and hist, "history: %r" % (hist,))
    last = hist[-1]
    eq(last["status_code"], int(RESPONSES[ACME + token][9:12]), "status")
    eq(last["url"], "http://%s%s%s" % (WEB, ACME, token), "url")
    still_serving(ctx)
    return resp, last["location"]


@R.case
def location_not_utf8(ctx):
    resp, loc = refused_redirect(ctx, "loc-ff")
    eq(loc, "/\ufffd\ufffd", "Location as received, made valid")
    msg = resp["errors"][0]["error_message"]
    check("0xff" in msg, msg)


@R.case
def location_with_nul(ctx):
    # libcurl refuses a header with a NUL byte before we see it: the
    # response is unusable, so the check is not completed.
    status, resp = dcv(ctx.dcv, WEB, p_http01("loc-nul"))
    well_formed(status, resp)
    failed_with(resp, HTTP_ERR, completed=False)
    still_serving(ctx)


@R.case
def location_with_user_and_password(ctx):
    n = len(ctx.web.requests)
    resp, loc = refused_redirect(ctx, "loc-userpass")
    eq(loc, "http://user:secret@%s%s%s" % (WEB, ACME, TOKEN), "Location")
    check("userinfo" in resp["errors"][0]["error_message"], resp)
    sent = b"".join(ctx.web.requests[n:])
    check(b"Authorization" not in sent and b"c2VjcmV0" not in sent,
          "credentials were sent: %r" % (sent,))


@R.case
def location_with_user_only(ctx):
    refused_redirect(ctx, "loc-user")


@R.case
def location_changes_only_the_fragment(ctx):
    resp, loc = refused_redirect(ctx, "loc-frag")
    eq(loc, ACME + "loc-frag#x", "Location")
    eq(len(resp["details"]["response_history"]), 1, "not followed")


@R.case
def location_ftp(ctx):
    resp, loc = refused_redirect(ctx, "loc-ftp")
    eq(loc, "ftp://%s/x" % WEB, "Location")


@R.case
def location_raw_utf8_is_not_a_uri(ctx):
    resp, loc = refused_redirect(ctx, "loc-utf8")
    eq(loc, "/caf\u00e9", "Location (valid UTF-8 kept as it is)")


@R.case
def reason_phrase_not_utf8(ctx):
    status, resp = dcv(ctx.dcv, WEB, p_http01("bad-reason"))
    well_formed(status, resp)
    failed_with(resp, HTTP_ERR)
    msg = resp["errors"][0]["error_message"]
    check("Nicht \ufffd\ufffd gefunden" in msg, msg)
    eq(resp["details"]["response_status_code"], 404, "status")
    still_serving(ctx)


@R.case
def body_not_utf8_with_nul(ctx):
    status, resp = dcv(ctx.dcv, WEB, p_http01("bad-body"))
    well_formed(status, resp)
    # completed, not passed: the body is not the key authorization
    check(resp["check_passed"] is False and resp["check_completed"] is True,
          "want a completed failure: %r" % (resp,))
    check(not resp["errors"], "errors: %r" % (resp["errors"],))
    page = base64.b64decode(resp["details"]["response_page"])
    check(page.startswith(b"\xff\xfe\x00" + KEYAUTH.encode()[:20]),
          "response_page holds the bytes read: %r" % (page,))
    still_serving(ctx)


@R.case
def website_change_body_not_utf8(ctx):
    # the value is found past a NUL and invalid bytes: nothing truncates
    status, resp = dcv(ctx.dcv, WEB, {
        "validation_method": "website-change",
        "challenge_value": "test-validation",
        "http_token_path": "bad-body.txt", "url_scheme": "http"})
    well_formed(status, resp)
    check(resp["check_passed"] is True, "want a pass: %r" % (resp,))
    # match_regex runs on the page as repaired text: not an error of the
    # request's pattern, and the bytes around the value do not hide it
    for regex, want in [("test-validation", True), ("^\ufffd\ufffd", True),
                        ("absent", False)]:
        status, resp = dcv(ctx.dcv, WEB, {
            "validation_method": "website-change",
            "challenge_value": "test-validation", "match_regex": regex,
            "http_token_path": "bad-body.txt", "url_scheme": "http"})
        well_formed(status, resp)
        eq(resp["check_passed"], want, "regex %r (%r)" % (regex, resp))
        check(not resp["errors"], "errors: %r" % (resp["errors"],))
    still_serving(ctx)


@R.case
def headers_not_utf8(ctx):
    status, resp = dcv(ctx.dcv, WEB, p_http01("bad-header"))
    well_formed(status, resp)
    check(resp["check_passed"] is True, "want a pass: %r" % (resp,))
    still_serving(ctx)


@R.case
def tls_alpn_cn_t61string_ff_fe(ctx):
    status, resp = dcv(ctx.dcv, TLS_T61, p_alpn())
    well_formed(status, resp)
    # T61String is read as ISO 8859-1 by OpenSSL: U+00FF U+00FE
    eq(resp["details"]["common_name"], "\u00ff\u00fe", "common_name")
    check(resp["check_passed"] is True, "SAN and extension are right: %r"
          % (resp,))
    status, resp = dcv(ctx.dcv, TLS_T61, p_alpn("00" * 32))
    well_formed(status, resp)
    failed_with(resp, "mpic_error:dcv_checker:tls_alpn:certificate:"
                "extension_value_mismatch")
    still_serving(ctx)


@R.case
def tls_alpn_cn_with_nul(ctx):
    status, resp = dcv(ctx.dcv, TLS_NUL, p_alpn("00" * 32))
    well_formed(status, resp)
    eq(resp["details"]["common_name"], "Q\x00", "common_name, NUL kept")
    failed_with(resp, "mpic_error:dcv_checker:tls_alpn:certificate:"
                "extension_value_mismatch")
    still_serving(ctx)


@R.case
def all_cases_at_once(ctx):
    """Hostile replies in flight together with a good check: every one
    gets its answer, the good one passes."""
    results = {}

    def run(key, target, params):
        results[key] = dcv(ctx.dcv, target, params)

    jobs = [("good", WEB, p_http01(TOKEN)),
            ("t61", TLS_T61, p_alpn())] + [
        (tok, WEB, p_http01(tok)) for tok in
        ("loc-ff", "loc-nul", "loc-userpass", "loc-frag", "loc-ftp",
         "bad-reason", "bad-body", "bad-header")]
    threads = [threading.Thread(target=run, args=j) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    eq(sorted(results), sorted(j[0] for j in jobs), "all answered")
    for key, (status, resp) in results.items():
        well_formed(status, resp)
    check(results["good"][1]["check_passed"] is True, "good check")
    still_serving(ctx)


def coordinator_yaml(port, urls):
    lines = ["listen: \"127.0.0.1:%d\"" % port, "log_level: debug",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url in urls:
        lines += ["  - code: %s" % code, "    dcv_url: \"%s\"" % url]
    lines += ["default_perspective_count: 3", "absolute_max_attempts: 1",
              "compliance:", "  min_perspective_count: 3",
              "hash_secret: \"applicant-secret\"", "remote_timeout_ms: 8000"]
    return "\n".join(lines) + "\n"


@R.case
def through_the_coordinator(ctx):
    """Three perspectives: two may fetch from loopback and see the bad
    Location, one may not (private_address). Each perspective reports its
    own error; the coordinator answers 200 with is_valid false; every
    checker is still running."""
    c = ctx.cluster
    codes = ["us-east-1", "eu-west-1", "ap-northeast-1"]
    persp = [ctx.start_dcv(codes[0], "dcv-c-0", ctx.allow),
             ctx.start_dcv(codes[1], "dcv-c-1", ctx.allow),
             ctx.start_dcv(codes[2], "dcv-c-2")]
    urls = [(code, d.base + "/dcv") for code, d in zip(codes, persp)]
    port = h.free_port(udp_too=False)
    sub = os.path.join(c.workdir, "coord")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
        f.write(h.available_perspectives_yaml())
    coord = h.Daemon("coordinator", "mpic-coordinator",
                     coordinator_yaml(port, urls), sub, port)
    c.daemons.append(coord)
    coord.wait_healthy()
    status, resp = h.post(coord.base + "/mpic", {
        "check_type": "dcv", "domain_or_ip_target": WEB,
        "dcv_check_parameters": p_http01("loc-ff")})
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["is_valid"], False, "is_valid")
    eq(len(resp["perspectives"]), 3, "perspectives")
    by_code = {p["perspective_code"]: p["check_response"]
               for p in resp["perspectives"]}
    eq(sorted(by_code), sorted(codes), "codes")
    for code in codes[:2]:
        cr = by_code[code]
        failed_with(cr, REDIRECT)
        eq(cr["details"]["response_history"][-1]["location"],
           "/\ufffd\ufffd", "location at " + code)
    failed_with(by_code[codes[2]], PRIVATE)
    for d in persp[:2]:
        still_serving(ctx, d)
    check(persp[2].alive(), "dcv-c-2 exited")
    check(coord.alive(), "coordinator exited")
    status, resp = h.post(coord.base + "/mpic", {
        "check_type": "dcv", "domain_or_ip_target": WEB,
        "dcv_check_parameters": p_http01(TOKEN)})
    eq(status, 200, "status (%r)" % (resp,))
    by_code = {p["perspective_code"]: p["check_response"]
               for p in resp["perspectives"]}
    for code in codes[:2]:
        check(by_code[code]["check_passed"] is True,
              "%s: %r" % (code, by_code[code]))


class BadChecker:
    """A perspective whose reply is not JSON and not UTF-8 (jansson quotes
    the bad token in its error text, which used to reach the reply)."""

    def __init__(self):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = b'{"check_type": "dcv", \xff\xfe\x00 }'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.port = h.free_port(udp_too=False)
        self.srv = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@R.case
def coordinator_checker_reply_not_utf8(ctx):
    """One perspective answers bytes that are neither JSON nor UTF-8: its
    entry is a remote_check error with a valid message, the other two
    decide, the coordinator keeps running."""
    c = ctx.cluster
    bad = BadChecker()
    try:
        codes = ["us-east-1", "eu-west-1", "ap-northeast-1"]
        persp = [ctx.start_dcv(codes[0], "dcv-d-0", ctx.allow),
                 ctx.start_dcv(codes[1], "dcv-d-1", ctx.allow)]
        urls = [(codes[0], persp[0].base + "/dcv"),
                (codes[1], persp[1].base + "/dcv"),
                (codes[2], "http://127.0.0.1:%d/dcv" % bad.port)]
        port = h.free_port(udp_too=False)
        sub = os.path.join(c.workdir, "coord-bad")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "available_perspectives.yaml"),
                  "w") as f:
            f.write(h.available_perspectives_yaml())
        coord = h.Daemon("coordinator-bad", "mpic-coordinator",
                         coordinator_yaml(port, urls), sub, port)
        c.daemons.append(coord)
        coord.wait_healthy()
        status, resp = h.post(coord.base + "/mpic", {
            "check_type": "dcv", "domain_or_ip_target": WEB,
            "dcv_check_parameters": p_http01(TOKEN)})
        eq(status, 200, "status (%r)" % (resp,))
        by_code = {p["perspective_code"]: p["check_response"]
                   for p in resp["perspectives"]}
        for code in codes[:2]:
            check(by_code[code]["check_passed"] is True,
                  "%s: %r" % (code, by_code[code]))
        cr = by_code[codes[2]]
        failed_with(cr, "mpic_error:coordinator:remote_check",
                    completed=False)
        check(isinstance(cr["errors"][0]["error_message"], str), cr)
        eq(resp["is_valid"], True, "quorum 2 of 3 (%r)" % (resp,))
        check(coord.alive(), "coordinator exited")
    finally:
        bad.close()


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
