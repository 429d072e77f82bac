#!/usr/bin/env python3
"""The mpic command-line client (INTERFACE.md "Command-line client",
docs/mpic.1) against a real coordinator and six real CAA checkers: each
exit status (0 valid, 1 not valid, 2 refused, 3 service or transport
error), the table (verdict, quorum x/y, perspective code, RIR, passed,
error type), --json, the flags reaching the request, and API keys from the
flag and from $MPIC_API_KEY."""

import http.server
import json
import os
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

R = h.Runner()
Z = "caa.test"
CODES = [c for c, _, _ in h.PERSPECTIVES]
KEY = "cli-test-key-0123456789"


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster()
        self.checkers = {c: self.cluster.start_checker(c) for c in CODES}
        urls = [(c, self.checkers[c].base + "/caa") for c in CODES]
        self.coord = self.cluster.start_coordinator(urls, name="coord-cli")
        self.keyed = self.cluster.start_coordinator(urls, name="coord-keyed",
                                                    api_keys=(KEY,))
        self.bin = h.binary("mpic")


def mpic(ctx, *args, env=None, url=None):
    e = h.clean_env()
    e.pop("MPIC_API_KEY", None)
    e.pop("MPIC_URL", None)
    e.update(env or {})
    argv = [ctx.bin]
    if url is not False:
        argv += ["--url", url or ctx.coord.base]
    p = subprocess.run(argv + list(args), env=e, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


@R.case
def test_valid_exits_0_with_a_table(ctx):
    rc, out, err = mpic(ctx, "caa", "permit." + Z, "--perspective-count", "6",
                        "--quorum-count", "5")
    eq(rc, 0, "exit status (stderr %r)" % err)
    lines = out.splitlines()
    check(lines[0].startswith("VALID  caa permit." + Z), "verdict %r" % lines[0])
    check("quorum 6/6 (needed 5)" in out, "quorum line: %r" % out)
    rows = {ln.split()[0]: ln.split() for ln in lines
            if ln.split() and ln.split()[0] in CODES}
    eq(sorted(rows), sorted(CODES), "one row per perspective")
    for code, row in rows.items():
        eq(row[-2:], ["yes", "-"], code + " passed, no error")
    # RIR column from /configz: the harness names arin/ripe ncc/apnic.
    rir_col = {code: " ".join(r[1:-2]).lower() for code, r in rows.items()}
    for code in CODES:
        check(rir_col[code].split()[0] == h.RIR_OF[code].split()[0],
              "%s RIR %r, want %r" % (code, rir_col[code], h.RIR_OF[code]))


@R.case
def test_not_valid_exits_1(ctx):
    rc, out, err = mpic(ctx, "caa", "deny." + Z)
    eq(rc, 1, "exit status (stderr %r)" % err)
    check(out.startswith("NOT VALID"), "verdict: %r" % out)
    check(" no " in out, "a perspective that did not pass: %r" % out)


@R.case
def test_json_prints_the_answer_as_received(ctx):
    rc, out, err = mpic(ctx, "--json", "caa", "permit." + Z,
                        "--trace-identifier", "cli-trace-1",
                        "--caa-domain", "ca.example",
                        "--perspective-count", "4")
    eq(rc, 0, "exit status (stderr %r)" % err)
    o = json.loads(out)
    eq(o["is_valid"], True, "is_valid")
    eq(o["trace_identifier"], "cli-trace-1", "trace_identifier")
    eq(o["request_orchestration_parameters"]["perspective_count"], 4,
       "perspective_count reached the request")
    eq(o["caa_check_parameters"]["caa_domains"], ["ca.example"],
       "caa_domains reached the request")
    eq(len(o["perspectives"]), 4, "perspectives")


@R.case
def test_caa_domain_flag_decides(ctx):
    # The checkers' default CAA domain is ca.example; asking for another
    # issuer makes "permit" deny: the flag is what was checked.
    rc, out, err = mpic(ctx, "caa", "permit." + Z, "--caa-domain",
                        "other-ca.example")
    eq(rc, 1, "exit status (stderr %r)" % err)


@R.case
def test_refused_request_exits_2_and_names_the_issue(ctx):
    rc, out, err = mpic(ctx, "caa", "permit." + Z, "--perspective-count",
                        "99")
    eq(rc, 2, "exit status")
    check("refused (400)" in err, "stderr: %r" % err)
    check("perspective_count" in err, "the field is named: %r" % err)
    rc, out, err = mpic(ctx, "dcv", "no-such-method", "example.test")
    eq(rc, 2, "unknown method exit status")
    check("validation_method" in err, "stderr: %r" % err)
    rc, out, err = mpic(ctx, "--json", "caa", "bad..name")
    eq(rc, 2, "bad target exit status")
    eq(json.loads(out)["error"], "request-validation-failed", "--json body")


@R.case
def test_usage_mistakes_exit_2_without_sending(ctx):
    for args in (["caa"], ["dcv", "acme-dns-01"], ["frob", "x"],
                 ["--perspective-count", "five", "caa", "x.test"],
                 ["--no-such-flag", "caa", "x.test"]):
        rc, out, err = mpic(ctx, *args)
        eq(rc, 2, "exit status for %r" % (args,))
        check(err.strip(), "a message for %r" % (args,))


@R.case
def test_api_key_from_flag_and_environment(ctx):
    rc, out, err = mpic(ctx, "caa", "permit." + Z, url=ctx.keyed.base)
    eq(rc, 2, "no key: refused")
    check("401" in err, "stderr: %r" % err)
    rc, out, err = mpic(ctx, "--api-key", KEY, "caa", "permit." + Z,
                        url=ctx.keyed.base)
    eq(rc, 0, "key from the flag (stderr %r)" % err)
    rc, out, err = mpic(ctx, "caa", "permit." + Z, url=False,
                        env={"MPIC_API_KEY": KEY,
                             "MPIC_URL": ctx.keyed.base + "/mpic"})
    eq(rc, 0, "key and URL from the environment (stderr %r)" % err)


@R.case
def test_transport_error_exits_3(ctx):
    dead = "http://127.0.0.1:%d" % h.free_port(udp_too=False)
    rc, out, err = mpic(ctx, "caa", "permit." + Z, url=dead)
    eq(rc, 3, "exit status")
    check("127.0.0.1" in err, "stderr names the URL: %r" % err)


@R.case
def test_service_error_exits_3(ctx):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b'{"error": "mpic_error:coordinator:cohort"}'
            self.send_response(500)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    port = h.free_port(udp_too=False)
    srv = http.server.HTTPServer((h.LOOPBACK, port), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        rc, out, err = mpic(ctx, "caa", "permit." + Z,
                            url="http://127.0.0.1:%d" % port)
        eq(rc, 3, "exit status")
        check("500" in err, "stderr: %r" % err)
    finally:
        srv.shutdown()
        srv.server_close()


@R.case
def test_help_has_an_example_per_method(ctx):
    rc, out, err = mpic(ctx, "--help", url=False)
    eq(rc, 0, "exit status")
    for m in ("website-change", "acme-http-01", "acme-dns-01",
              "acme-tls-alpn-01", "dns-change", "contact-email-txt",
              "contact-phone-txt", "contact-email-caa", "contact-phone-caa",
              "ip-address", "reverse-address-lookup", "dns-persistent",
              "dns-account-01"):
        check("mpic dcv " + m + " " in out, "no example for " + m)
    check("mpic caa " in out, "no CAA example")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
