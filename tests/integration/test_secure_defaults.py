#!/usr/bin/env python3
"""Secure defaults and strict configuration, through the real daemons: a
coordinator or checker that would answer anyone beyond loopback, a plaintext
checker URL to a host that is not loopback, a typo, a missing
perspective_code: each daemon refuses to start, says which key to set, and
exits 1 without listening; with the escape hatch it starts.

Listening "beyond loopback" means binding 0.0.0.0 here (on a free port, for
a moment); every request still goes to 127.0.0.1, and no checker URL that
is not loopback is ever called (the coordinator calls checkers only for
/mpic requests, and none is sent to those).

Ports: 127.0.0.1:22800-22999."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 22800, 22999

R = h.Runner()
SECRET = "secure-defaults-hash-secret"


def run_refused(binary, config_text, workdir, name, env=None, args=()):
    """Runs the daemon as it would be started; returns (rc, output)."""
    argv = [h.binary(binary)]
    if config_text is not None:
        path = os.path.join(workdir, name + ".yaml")
        with open(path, "w") as f:
            f.write(config_text)
        argv += ["--config", path]
    argv += list(args)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=h.clean_env(env or {}), timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def coord_yaml(listen, urls, extra=""):
    lines = ["listen: %s" % h._yaml_str(listen),
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, url in urls:
        lines += ["  - code: %s" % code, "    caa_url: %s" % h._yaml_str(url)]
    lines += ["default_perspective_count: 2",
              "compliance:", "  min_perspective_count: 2",
              "hash_secret: %s" % h._yaml_str(SECRET)]
    return "\n".join(lines) + "\n" + extra


def checker_yaml(listen, extra=""):
    return ("perspective_code: us-east-1\nlisten: %s\n"
            "dns:\n  resolvers: [\"127.0.0.1:53\"]\n"
            "caa:\n  default_caa_domains: [ca.example]\n%s"
            % (h._yaml_str(listen), extra))


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster(dns=False)
        self.w = self.cluster.workdir
        with open(os.path.join(self.w, "available_perspectives.yaml"),
                  "w") as f:
            f.write(h.available_perspectives_yaml())
        codes = [c for c, _, _ in h.PERSPECTIVES]
        self.codes = codes[:2]

    def start(self, name, binary, text, port):
        d = h.Daemon(name, binary, text, self.w, port)
        self.cluster.daemons.append(d)
        d.wait_healthy()
        return d

    def stop(self, d):
        eq(d.stop(), 0, d.name + " exit code on SIGTERM")
        self.cluster.daemons.remove(d)


def not_listening(port):
    try:
        h.http_request("http://127.0.0.1:%d/healthz" % port, timeout=1)
    except OSError:
        return True
    return False


@R.case
def test_bare_coordinator_refuses(ctx):
    rc, out = run_refused("mpic-coordinator", None, ctx.w, "bare",
                          env={"MPIC_HASH_SECRET": SECRET})
    eq(rc, 1, out)
    check("listen: '0.0.0.0:8000' is beyond loopback" in out, out)
    check("set api_keys (or MPIC_API_KEYS)" in out, out)
    check("allow_unauthenticated: true" in out, out)


@R.case
def test_bare_checker_refuses(ctx):
    for binary, path in (("mpic-caa-checker", "/caa"),
                         ("mpic-dcv-checker", "/dcv")):
        rc, out = run_refused(binary, None, ctx.w, "bare-" + binary,
                              env={"MPIC_DNS_RESOLVERS": "127.0.0.1"})
        eq(rc, 1, out)
        check("perspective_code: required (set it in --config FILE or in "
              "$MPIC_PERSPECTIVE_CODE)" in out, out)
        check("listen: '0.0.0.0:8080' is beyond loopback, and %s would "
              "answer anyone: set auth.bearer_tokens or tls.client_ca_file"
              % path in out, out)


@R.case
def test_coordinator_beyond_loopback(ctx):
    port = h.free_port(udp_too=False)
    listen = "0.0.0.0:%d" % port
    urls = [(c, "http://127.0.0.1:9/caa-%s" % c) for c in ctx.codes]
    rc, out = run_refused("mpic-coordinator", coord_yaml(listen, urls), ctx.w,
                          "coord-open")
    eq(rc, 1, out)
    check("listen: '%s' is beyond loopback, and /mpic would answer anyone"
          % listen in out, out)
    check("configuration is not usable" in out, out)
    check(not_listening(port), "refused, yet listening")
    # --check-config says the same and exits 1.
    rc, out2 = run_refused("mpic-coordinator", coord_yaml(listen, urls),
                           ctx.w, "coord-open", args=["--check-config"])
    eq(rc, 1, out2)
    check("set api_keys" in out2, out2)
    # With api_keys it starts; with the escape hatch too.
    d = ctx.start("coord-keys", "mpic-coordinator",
                  coord_yaml(listen, urls, "api_keys: [k-1]\n"), port)
    status, _ = h.post(d.base + "/mpic", {"check_type": "caa",
                                          "domain_or_ip_target": "x.test"})
    eq(status, 401, "no key")
    ctx.stop(d)
    d = ctx.start("coord-hatch", "mpic-coordinator",
                  coord_yaml(listen, urls, "allow_unauthenticated: true\n"),
                  port)
    status, body = h.http_request(d.base + "/configz")
    eq((status, body.get("allow_unauthenticated")), (200, True), body)
    ctx.stop(d)


@R.case
def test_plaintext_checker_url(ctx):
    port = h.free_port(udp_too=False)
    listen = "127.0.0.1:%d" % port
    urls = [(ctx.codes[0], "http://127.0.0.1:9/caa"),
            (ctx.codes[1], "http://192.0.2.6:8080/caa")]
    rc, out = run_refused("mpic-coordinator", coord_yaml(listen, urls), ctx.w,
                          "coord-plain")
    eq(rc, 1, out)
    check("perspectives[1].caa_url: 'http://192.0.2.6:8080/caa': plaintext "
          "http:// to a host that is not loopback" in out, out)
    check("allow_plaintext_checkers: true" in out, out)
    check(not_listening(port), "refused, yet listening")
    d = ctx.start("coord-plain-ok", "mpic-coordinator",
                  coord_yaml(listen, urls, "allow_plaintext_checkers: true\n"),
                  port)
    ctx.stop(d)


@R.case
def test_duplicate_checker_url_and_typo(ctx):
    port = h.free_port(udp_too=False)
    listen = "127.0.0.1:%d" % port
    # the same checker, spelt differently (scheme case, default port)
    urls = [(ctx.codes[0], "http://127.0.0.1/caa"),
            (ctx.codes[1], "HTTP://127.0.0.1:80/caa")]
    rc, out = run_refused("mpic-coordinator", coord_yaml(listen, urls), ctx.w,
                          "coord-dup")
    eq(rc, 1, out)
    check("is the checker of perspective '%s' too" % ctx.codes[0] in out, out)
    text = coord_yaml(listen, [(ctx.codes[0], "http://127.0.0.1:9/a"),
                               (ctx.codes[1], "http://127.0.0.1:9/b")],
                      "remote_timeout: 5000\n")
    rc, out = run_refused("mpic-coordinator", text, ctx.w, "coord-typo",
                          args=["--check-config"])
    eq(rc, 1, out)
    check("remote_timeout: unknown key (did you mean 'remote_timeout_ms'?)"
          in out, out)
    check("configuration OK" not in out, out)


@R.case
def test_checker_beyond_loopback(ctx):
    for binary in ("mpic-caa-checker", "mpic-dcv-checker"):
        port = h.free_port(udp_too=False)
        listen = "0.0.0.0:%d" % port
        rc, out = run_refused(binary, checker_yaml(listen), ctx.w,
                              "open-" + binary)
        eq(rc, 1, out)
        check("listen: '%s' is beyond loopback" % listen in out, out)
        check("set auth.bearer_tokens or tls.client_ca_file" in out, out)
        check(not_listening(port), "refused, yet listening")
        d = ctx.start("tokens-" + binary, binary,
                      checker_yaml(listen, "auth:\n  bearer_tokens: [t-1]\n"),
                      port)
        ctx.stop(d)
        d = ctx.start("hatch-" + binary, binary,
                      checker_yaml(listen,
                                   "auth:\n  allow_unauthenticated: true\n"),
                      port)
        ctx.stop(d)


@R.case
def test_checker_without_perspective_code(ctx):
    port = h.free_port(udp_too=False)
    text = checker_yaml("127.0.0.1:%d" % port).replace(
        "perspective_code: us-east-1\n", "")
    rc, out = run_refused("mpic-caa-checker", text, ctx.w, "no-code")
    eq(rc, 1, out)
    check("perspective_code: required (set it in this file or in "
          "$MPIC_PERSPECTIVE_CODE)" in out, out)
    rc, out = run_refused("mpic-caa-checker", text, ctx.w, "no-code",
                          env={"MPIC_PERSPECTIVE_CODE": "us-east-1"},
                          args=["--check-config"])
    eq(rc, 0, out)


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
