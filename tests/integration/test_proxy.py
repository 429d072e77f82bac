#!/usr/bin/env python3
"""Egress through an HTTP CONNECT proxy (http.proxy; INTERFACE.md, issue
13): the real DCV checker fetches through a real tinyproxy on loopback.

- acme-http-01 (by name and by IP), website-change over http and https,
  and acme-tls-alpn-01 pass through the proxy; the proxy's log shows a
  CONNECT to IP:PORT for each (the checker resolved the name itself, the
  proxy got an address), and the target saw the proxy's address
  (tinyproxy binds its outgoing connections to 127.0.0.77), not the
  checker's;
- a name resolving to a special-purpose address is refused by the checker
  before the proxy is asked;
- a proxy that is down, and one that answers 403 to CONNECT, are
  per-check errors naming the proxy (mpic_error:dcv_checker:proxy), never
  a pass;
- http.proxy values that are not http://HOST:PORT are configuration
  errors, and MPIC_HTTP_PROXY sets it.

Targets: HTTP on 127.0.0.60:80, HTTPS on 127.0.0.61:443, TLS-ALPN on
127.0.0.62:443 (the BR fix the ports). Checker ports: 23000-23499."""

import os
import socketserver
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 23000, 23499

R = h.Runner()
PROXY_ERR = "mpic_error:dcv_checker:proxy"
PRIVATE = "mpic_error:dcv_checker:private_address"
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEYAUTH = TOKEN + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
ALPN_HASH = "653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f"
WEB, WEBS, TLS = "127.0.0.60", "127.0.0.61", "127.0.0.62"
EGRESS = "127.0.0.77"  # tinyproxy's outgoing address
PKI_FILE = "proxy-token"
PKI_VALUE = "ca-challenge-through-the-proxy"


class Web:
    """HTTP/1.0 server answering the acme-http-01 token and recording the
    peer address of every connection."""

    def __init__(self, addr):
        self.peers = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer.peers.append(self.client_address[0])
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
                path = data.split(b" ")[1] if data.count(b" ") else b""
                if path == ("/.well-known/acme-challenge/" + TOKEN).encode():
                    body, status = KEYAUTH.encode(), b"200 OK"
                else:
                    body, status = b"no", b"404 Not Found"
                try:
                    self.request.sendall(
                        b"HTTP/1.1 " + status + b"\r\nContent-Length: " +
                        str(len(body)).encode() +
                        b"\r\nConnection: close\r\n\r\n" + body)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((addr, 80), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RefusingProxy:
    """Answers every CONNECT with 403."""

    def __init__(self):
        self.port = h.free_port(udp_too=False)

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    self.request.recv(4096)
                    self.request.sendall(b"HTTP/1.1 403 Forbidden\r\n"
                                         b"Content-Length: 0\r\n\r\n")
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((h.LOOPBACK, self.port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cert(workdir, name, san, acme=False):
    key = os.path.join(workdir, name + ".key")
    crt = os.path.join(workdir, name + ".crt")
    args = ["req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "2", "-subj", "/CN=" + name, "-addext",
            "subjectAltName=" + san]
    if acme:
        ext = "critical,DER:04:20:" + ":".join(
            ALPN_HASH[i:i + 2] for i in range(0, len(ALPN_HASH), 2))
        args += ["-addext", "1.3.6.1.5.5.7.1.31=" + ext]
    openssl(*args)
    return crt, key


class Ctx:
    def __init__(self):
        for addr, port in [(WEB, 80), (WEBS, 443), (TLS, 443)]:
            if not h.port_free(addr, port):
                raise RuntimeError("cannot bind %s:%d (taken, or not root): "
                                   "this test needs it" % (addr, port))
        self.cluster = h.Cluster()
        c = self.cluster
        w = os.path.join(c.workdir, "proxy")
        os.makedirs(os.path.join(w, "www", ".well-known", "pki-validation"))
        with open(os.path.join(w, "www", ".well-known", "pki-validation",
                               PKI_FILE), "w") as f:
            f.write(PKI_VALUE + "\n")
        self.web = Web(WEB)
        crt, key = cert(w, "webs", "IP:" + WEBS)
        c.dns.procs.append(h.Proc(
            "s_server-https", ["openssl", "s_server", "-quiet", "-WWW",
                               "-accept", WEBS + ":443", "-cert", crt,
                               "-key", key], os.path.join(w, "www")))
        crt, key = cert(w, "alpn", "DNS:tls.proxy.test", acme=True)
        c.dns.procs.append(h.Proc(
            "s_server-alpn", ["openssl", "s_server", "-quiet", "-www",
                              "-accept", TLS + ":443", "-cert", crt, "-key",
                              key, "-alpn", "acme-tls/1"], w))
        self.proxy_port = h.free_port(udp_too=False)
        self.proxy_log = os.path.join(w, "tinyproxy.log")
        conf = os.path.join(w, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nBind %s\nTimeout 30\n"
                    "MaxClients 50\nAllow 127.0.0.1\nConnectPort 80\n"
                    "ConnectPort 443\nLogLevel Connect\nLogFile \"%s\"\n"
                    "PidFile \"%s\"\n" % (self.proxy_port, EGRESS,
                                          self.proxy_log,
                                          os.path.join(w, "tinyproxy.pid")))
        self.tinyproxy = h.Proc("tinyproxy", ["tinyproxy", "-d", "-c", conf],
                                w)
        c.dns.procs.append(self.tinyproxy)
        for addr, port in [(WEBS, 443), (TLS, 443),
                           (h.LOOPBACK, self.proxy_port)]:
            h.wait_tcp_addr(addr, port)
        self.proxy_url = "http://127.0.0.1:%d" % self.proxy_port
        self.refusing = RefusingProxy()
        self.via = self.start_dcv("via-proxy", self.proxy_url)
        self.direct = self.start_dcv("direct", None)
        self.strict = self.start_dcv("via-proxy-strict", self.proxy_url,
                                     allow_private=False)
        dead = "http://127.0.0.1:%d" % h.free_port(udp_too=False)
        self.down = self.start_dcv("proxy-down", dead)
        self.forbidding = self.start_dcv("proxy-403", self.refusing.url())

    def start_dcv(self, name, proxy, allow_private=True, env=None):
        c = self.cluster
        port = h.free_port(udp_too=False)
        extra = "http:\n  timeout_ms: 4000\n"
        if proxy is not None:
            extra += "  proxy: %s\n" % h._yaml_str(proxy)
        extra += "targets:\n  allow_private_addresses: %s\n" % (
            "true" if allow_private else "false")
        d = h.Daemon(name, "mpic-dcv-checker",
                     h.checker_config("us-east-1", port, [c.dns.resolver],
                                      extra=extra),
                     c.workdir, port, env_extra=env)
        c.daemons.append(d)
        d.wait_healthy()
        return d

    def proxy_connects(self):
        try:
            with open(self.proxy_log, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            # "... Request (file descriptor 5): CONNECT 127.0.0.60:80 HTTP/1.1"
            i = line.find("): CONNECT ")
            if i >= 0:
                out.append(line[i + 11:].split()[0])
        return out


def dcv(d, target, params):
    body = {"domain_or_ip_target": target,
            "trace_identifier": "proxy-" + target,
            "dcv_check_parameters": params}
    status, resp = h.post(d.base + "/dcv", body)
    eq(status, 200, "status (%r)" % (resp,))
    return resp


def http01():
    return {"validation_method": "acme-http-01", "token": TOKEN,
            "key_authorization": KEYAUTH}


def errors_of(resp):
    return [e["error_type"] for e in resp["errors"] or []]


def wait_for_connect(ctx, dest, before):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if dest in ctx.proxy_connects()[before:]:
            return
        time.sleep(0.05)
    raise AssertionError("no CONNECT %s in the proxy's log: %r"
                         % (dest, ctx.proxy_connects()))


@R.case
def test_acme_http01_by_name_through_the_proxy(ctx):
    n = len(ctx.proxy_connects())
    peers = len(ctx.web.peers)
    resp = dcv(ctx.via, "web.proxy.test", http01())
    eq((resp["check_passed"], errors_of(resp)), (True, []), "verdict")
    eq(resp["details"]["resolved_ip"], WEB, "resolved_ip is the address")
    # The proxy was asked for the address the checker resolved, not the name.
    wait_for_connect(ctx, WEB + ":80", n)
    check(not any("proxy.test" in x for x in ctx.proxy_connects()),
          "the proxy got a name to resolve: %r" % ctx.proxy_connects())
    eq(ctx.web.peers[peers:], [EGRESS], "the target saw the proxy's address")


@R.case
def test_direct_checker_is_seen_from_its_own_address(ctx):
    # The control: without a proxy the target sees the checker itself.
    peers = len(ctx.web.peers)
    resp = dcv(ctx.direct, "web.proxy.test", http01())
    eq(resp["check_passed"], True, "direct verdict")
    eq(ctx.web.peers[peers:], [h.LOOPBACK], "peer of a direct fetch")


@R.case
def test_acme_http01_by_ip_through_the_proxy(ctx):
    n = len(ctx.proxy_connects())
    resp = dcv(ctx.via, WEB, http01())
    eq(resp["check_passed"], True, "verdict")
    wait_for_connect(ctx, WEB + ":80", n)


@R.case
def test_website_change_https_through_the_proxy(ctx):
    n = len(ctx.proxy_connects())
    resp = dcv(ctx.via, WEBS, {"validation_method": "website-change",
                              "http_token_path": PKI_FILE,
                              "challenge_value": PKI_VALUE,
                              "url_scheme": "https"})
    eq((resp["check_passed"], errors_of(resp)), (True, []), "verdict")
    eq(resp["details"]["response_status_code"], 200, "status")
    wait_for_connect(ctx, WEBS + ":443", n)


@R.case
def test_tls_alpn_through_the_proxy(ctx):
    n = len(ctx.proxy_connects())
    resp = dcv(ctx.via, "tls.proxy.test",
               {"validation_method": "acme-tls-alpn-01",
                "key_authorization_hash": ALPN_HASH})
    eq((resp["check_passed"], errors_of(resp)), (True, []),
       "verdict (%r)" % resp)
    wait_for_connect(ctx, TLS + ":443", n)
    # A wrong hash still fails through the proxy: the check is real.
    resp = dcv(ctx.via, "tls.proxy.test",
               {"validation_method": "acme-tls-alpn-01",
                "key_authorization_hash": "00" * 32})
    eq(resp["check_passed"], False, "wrong hash through the proxy")


@R.case
def test_private_address_refused_before_the_proxy(ctx):
    n = len(ctx.proxy_connects())
    for target, params in [("web.proxy.test", http01()),
                           ("tls.proxy.test",
                            {"validation_method": "acme-tls-alpn-01",
                             "key_authorization_hash": ALPN_HASH})]:
        resp = dcv(ctx.strict, target, params)
        eq(resp["check_passed"], False, target + " passed")
        eq(errors_of(resp), [PRIVATE], target + " errors")
    time.sleep(0.2)
    eq(ctx.proxy_connects()[n:], [], "the proxy was asked anyway")


@R.case
def test_proxy_down_is_an_error_naming_it(ctx):
    for target, params in [(WEB, http01()),
                           ("tls.proxy.test",
                            {"validation_method": "acme-tls-alpn-01",
                             "key_authorization_hash": ALPN_HASH})]:
        resp = dcv(ctx.down, target, params)
        eq((resp["check_passed"], resp["check_completed"]), (False, False),
           target + " verdict")
        eq(errors_of(resp), [PROXY_ERR], target + " errors")
        check("proxy http://127.0.0.1:" in resp["errors"][0]["error_message"],
              "message names the proxy: %r" % resp["errors"][0])
    # And the checker still serves.
    eq(h.http_request(ctx.down.base + "/healthz")[0], 200, "alive")


@R.case
def test_proxy_refusing_connect_is_an_error_naming_it(ctx):
    for target, params in [(WEB, http01()),
                           ("tls.proxy.test",
                            {"validation_method": "acme-tls-alpn-01",
                             "key_authorization_hash": ALPN_HASH})]:
        resp = dcv(ctx.forbidding, target, params)
        eq((resp["check_passed"], resp["check_completed"]), (False, False),
           target + " verdict")
        eq(errors_of(resp), [PROXY_ERR], target + " errors")
        msg = resp["errors"][0]["error_message"]
        check("403" in msg and ctx.refusing.url() in msg,
              "message names the proxy and its answer: %r" % msg)


@R.case
def test_proxy_setting_is_checked(ctx):
    for bad in ("https://127.0.0.1:3128", "127.0.0.1:3128",
                "http://user:pw@127.0.0.1:3128", "http://127.0.0.1",
                "http://127.0.0.1:3128/path", "http://127.0.0.1:99999"):
        text = h.checker_config("us-east-1", 1, ["127.0.0.1:53"],
                                extra="http:\n  proxy: %s\n" % h._yaml_str(bad))
        path = os.path.join(ctx.cluster.workdir, "bad-proxy.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([h.binary("mpic-dcv-checker"), "--check-config",
                            "--config", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=h.clean_env())
        eq(p.returncode, 1, "--check-config accepted http.proxy %r" % bad)
        check(b"http.proxy" in p.stdout, "message names the key: %r"
              % p.stdout)
    # MPIC_HTTP_PROXY sets it (shown in /configz).
    d = ctx.start_dcv("proxy-from-env", None,
                      env={"MPIC_HTTP_PROXY": ctx.proxy_url})
    st, cfg = h.http_request(d.base + "/configz")
    eq(st, 200, "/configz")
    flat = str(cfg)
    check(ctx.proxy_url in flat, "http.proxy from the environment: %r" % cfg)
    resp = dcv(d, WEB, http01())
    eq(resp["check_passed"], True, "through the proxy from the environment")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
