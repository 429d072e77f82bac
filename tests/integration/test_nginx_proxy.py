#!/usr/bin/env python3
"""The bare-host (EC2) deployment on 127.0.0.1: scripts/install.sh stages
binaries, config/ec2 files, systemd units and the nginx site into a
directory; the daemons then run exactly as their units say (ExecStart,
EnvironmentFile, LoadCredential emulated by copying the credential files),
with only addresses and the credentials directory substituted. Debian's
nginx with a throwaway certificate terminates TLS in front of the
coordinator and checks API keys; CAA checkers speak mutual TLS.

Also: `systemd-analyze verify` and `systemd-analyze security --offline` on
the installed units, plus a static check of their sandboxing directives
(which is what remains when systemd-analyze cannot run)."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.request

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(22600, 22799)

REPO = h.REPO
R = h.Runner()
UNITS = ["mpic-coordinator", "mpic-caa-checker", "mpic-dcv-checker"]


def parse_unit(path):
    """{key: [values]} of the [Service] section."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                env[k] = v
    return env


class Ctx:
    def __init__(self):
        self.cluster = u.cluster_with_dcv_zones()
        w = self.w = self.cluster.workdir
        self.dest = os.path.join(w, "root")
        p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install.sh"),
                            "--build-dir", h.build_dir(), "--destdir",
                            self.dest], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.install_out = p.stdout.decode()
        if p.returncode != 0:
            raise RuntimeError("install.sh: " + self.install_out)
        # The API key install.sh made: in nginx's key map and in the
        # coordinator's environment, the same one.
        with open(os.path.join(self.dest, "etc/nginx/mpic-api-keys.map")) as f:
            self.keymap_text = f.read()
        keys = re.findall(r'^"([^"]+)" 1;$', self.keymap_text, re.M)
        if len(keys) != 1:
            raise RuntimeError("installed key map: %r" % self.keymap_text)
        self.api_key = keys[0]
        self.coord_env = read_env_file(os.path.join(
            self.dest, "etc/mpic/coordinator.env"))
        # TLS material where the units' LoadCredential= expects it.
        pki = u.gen_certs(os.path.join(w, "pki"), "checker=127.0.0.1,localhost")
        tls = os.path.join(self.dest, "etc", "mpic", "tls")
        for src, dst in [("checkers-ca", "checkers-ca"),
                         ("coordinator", "coordinator"),
                         ("checker", "caa-checker"),
                         ("checker", "dcv-checker")]:
            for ext in (".crt", ".key"):
                if os.path.exists(os.path.join(pki, src + ext)) and not (
                        src == "checkers-ca" and ext == ".key"):
                    shutil.copy(os.path.join(pki, src + ext),
                                os.path.join(tls, dst + ext))
        shutil.copy(os.path.join(pki, "coordinators-ca.crt"), tls)
        self.api_pki = u.gen_certs(os.path.join(w, "api-pki"),
                                   "api=127.0.0.1,localhost")
        self.api_ca = os.path.join(self.api_pki, "checkers-ca.crt")
        # The perspectives the coordinator config names get a CAA checker.
        with open(os.path.join(self.dest, "etc/mpic/coordinator.yaml")) as f:
            self.codes = re.findall(r"^\s*- code:\s*(\S+)", f.read(), re.M)
        self.caa_ports = {c: h.free_port(udp_too=False) for c in self.codes}
        self.checkers = {c: self.start_unit("mpic-caa-checker", c)
                         for c in self.codes}
        self.coord_port = h.free_port(udp_too=False)
        self.coord = self.start_unit("mpic-coordinator")
        self.https_port = h.free_port(udp_too=False)
        self.http_port = h.free_port(udp_too=False)
        self.start_nginx()

    def credentials(self, unit):
        """LoadCredential= emulated: copies into a per-unit directory."""
        d = os.path.join(self.w, "credentials", unit + ".service")
        os.makedirs(d, exist_ok=True)
        for spec in self.unit(unit).get(("Service", "LoadCredential"), []):
            name, _, path = spec.partition(":")
            shutil.copy(self.dest + path, os.path.join(d, name))
        return os.path.join(self.w, "credentials")

    def unit(self, name):
        return parse_unit(os.path.join(self.dest, "etc/systemd/system",
                                       name + ".service"))

    def start_unit(self, unit, code=None):
        spec = self.unit(unit)
        argv = spec[("Service", "ExecStart")][0].split()
        binpath = self.dest + argv[0]
        check(os.access(binpath, os.X_OK), "installed " + binpath)
        creds = self.credentials(unit)
        name = unit + ("-" + code if code else "")
        args = self.unit_args(argv[1:], unit, code, creds, name)
        env = {}
        for ef in spec.get(("Service", "EnvironmentFile"), []):
            optional = ef.startswith("-")
            path = self.dest + ef.lstrip("-")
            if os.path.exists(path):
                env.update(read_env_file(path))
            else:
                check(optional, "EnvironmentFile %s missing" % path)
        if code:
            env["MPIC_PERSPECTIVE_CODE"] = code
        # ExecStartPre=: the unit's own --check-config must pass first.
        for pre in spec.get(("Service", "ExecStartPre"), []):
            pargv = pre.split()
            check(self.dest + pargv[0] == binpath, "ExecStartPre " + pre)
            pp = subprocess.run([binpath] + self.unit_args(
                pargv[1:], unit, code, creds, name),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=h.clean_env(env), timeout=60)
            eq(pp.returncode, 0, "%s: %s" % (pre, pp.stdout.decode()))
        port = self.coord_port if unit == "mpic-coordinator" else \
            self.caa_ports[code]
        d = h.Daemon(name, os.path.basename(binpath), None, self.w, port,
                     env_extra=env, args=args)
        d.argv[0] = binpath
        self.cluster.daemons.append(d)
        if unit == "mpic-coordinator":
            u.wait_healthy(d, "http://127.0.0.1:%d/healthz" % port)
        else:
            self.credentials("mpic-coordinator")
            ctx = u.tls_context(None, os.path.join(creds,
                                                   "mpic-coordinator.service",
                                                   "coordinator.crt"),
                                os.path.join(creds, "mpic-coordinator.service",
                                             "coordinator.key"))
            u.wait_healthy(d, "https://127.0.0.1:%d/healthz" % port, ctx=ctx)
        return d

    def unit_args(self, argv, unit, code, creds, name):
        """argv of an Exec line, its --config copied with the credentials
        directory and the addresses substituted."""
        args = []
        it = iter(argv)
        for a in it:
            if a == "--config":
                conf = next(it)
                with open(self.dest + conf) as f:
                    text = f.read()
                text = text.replace("/run/credentials/", creds + "/")
                text = self.addresses(text, unit, code)
                out = os.path.join(self.dest + os.path.dirname(conf),
                                   name + ".run.yaml")
                with open(out, "w") as f:
                    f.write(text)
                args += ["--config", out]
            else:
                args.append(a)
        return args

    def addresses(self, text, unit, code):
        """The only substitution besides paths: where things listen."""
        if unit == "mpic-coordinator":
            text = re.sub(r"^listen:.*$", "listen: 127.0.0.1:%d" %
                          self.coord_port, text, flags=re.M)
            for c, port in self.caa_ports.items():
                text = text.replace("https://%s.perspectives.mpic.example:8444/"
                                    % c, "https://localhost:%d/" % port)
            return text
        text = re.sub(r"^listen:.*$", "listen: 127.0.0.1:%d" %
                      self.caa_ports[code], text, flags=re.M)
        return text.replace('"127.0.0.1:53"',
                            '"%s"' % self.cluster.dns.resolver)

    def start_nginx(self):
        w = os.path.join(self.w, "nginx")
        os.makedirs(w)
        with open(os.path.join(self.dest, "etc/nginx/sites-available",
                               "mpic-coordinator.conf")) as f:
            site = f.read()
        keys = os.path.join(self.dest, "etc/nginx/mpic-api-keys.map")
        site = re.sub(r"^\s*listen \[::\]:\d+.*$", "", site, flags=re.M)
        site = site.replace("listen 443 ", "listen 127.0.0.1:%d " %
                            self.https_port)
        site = site.replace("listen 80;", "listen 127.0.0.1:%d;" %
                            self.http_port)
        site = site.replace("127.0.0.1:8000", "127.0.0.1:%d" % self.coord_port)
        site = site.replace("/etc/mpic/tls/api.crt",
                            os.path.join(self.api_pki, "api.crt"))
        site = site.replace("/etc/mpic/tls/api.key",
                            os.path.join(self.api_pki, "api.key"))
        site = site.replace("/etc/nginx/mpic-api-keys.map", keys)
        with open(os.path.join(w, "site.conf"), "w") as f:
            f.write(site)
        conf = os.path.join(w, "nginx.conf")
        with open(conf, "w") as f:
            f.write(h.nginx_conf_text(w, os.path.join(w, "site.conf")))
        self.nginx_conf = conf
        ok, out = h.nginx_test(conf, w)
        if not ok:
            raise RuntimeError("nginx -t: " + out)
        p = h.Proc("nginx", ["nginx", "-c", conf, "-p", w], w)
        self.cluster.dns.procs.append(p)  # stopped and dumped with DNS
        h.wait_tcp(self.https_port, proc=p.proc)
        self.base = "https://localhost:%d" % self.https_port
        self.ctx = u.tls_context(self.api_ca)


def mpic(ctx, headers=None, body=None):
    body = body or {"check_type": "caa", "domain_or_ip_target":
                    "permit.caa.test", "trace_identifier": "nginx-test"}
    return u.request(ctx.base + "/mpic", body, method="POST",
                     headers=headers or {}, ctx=ctx.ctx)


# ---------------------------------------------------------------- cases


@R.case
def test_install_made_a_random_key(ctx):
    eq(ctx.coord_env.get("MPIC_API_KEYS"), ctx.api_key,
       "coordinator.env and the nginx key map hold the same key")
    check(re.fullmatch(r"[0-9a-f]{48}", ctx.api_key), ctx.api_key)
    check("replace" not in ctx.keymap_text, ctx.keymap_text)
    # The shipped map accepts no key at all.
    with open(os.path.join(REPO, "deploy/ec2/nginx/mpic-api-keys.map.example")) as f:
        shipped = [ln for ln in f if ln.strip() and
                   not ln.lstrip().startswith("#")]
    eq(shipped, [], "active entries in the shipped key map")
    # A second install makes another key (never a fixed one).
    other = os.path.join(ctx.w, "root2")
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install.sh"),
                        "--role", "coordinator", "--build-dir", h.build_dir(),
                        "--destdir", other], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    eq(p.returncode, 0, p.stdout.decode())
    env2 = read_env_file(os.path.join(other, "etc/mpic/coordinator.env"))
    check(env2["MPIC_API_KEYS"] and env2["MPIC_API_KEYS"] != ctx.api_key,
          "second install's key")


@R.case
def test_coordinator_checks_the_key_too(ctx):
    """Behind nginx the coordinator checks MPIC_API_KEYS as well."""
    status, _ = u.request("http://127.0.0.1:%d/mpic" % ctx.coord_port,
                          {"check_type": "caa",
                           "domain_or_ip_target": "permit.caa.test"},
                          method="POST")
    eq(status, 401, "coordinator without a key")


@R.case
def test_without_key_refused(ctx):
    status, body = mpic(ctx)
    check(status in (401, 403), "no key: %d %r" % (status, body))
    for hdrs in ({"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"},
                 {"x-api-key": ""}, {"Authorization": "Basic " + ctx.api_key}):
        status, _ = mpic(ctx, hdrs)
        check(status in (401, 403), "%r: %d" % (hdrs, status))


@R.case
def test_with_key_real_answer_over_https(ctx):
    status, resp = mpic(ctx, {"x-api-key": ctx.api_key})
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["actual_orchestration_parameters"]["perspective_count"], 5,
       "default_perspective_count of config/ec2")
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "permit (%r)" % resp)
    for code, cr in u.by_code(resp).items():
        eq((cr["check_passed"], cr["errors"]), (True, None), code)
    status, resp = mpic(ctx, {"Authorization": "Bearer " + ctx.api_key},
                        {"check_type": "caa",
                         "domain_or_ip_target": "deny.caa.test"})
    eq((status, resp["is_valid"], resp["mpic_completed"]), (200, False, True),
       "deny with a Bearer key")


@R.case
def test_only_mpic_and_healthz_exposed(ctx):
    status, body = u.request(ctx.base + "/healthz", ctx=ctx.ctx)
    eq(status, 200, "healthz through nginx")
    for path in ("/configz", "/metrics", "/"):
        status, _ = u.request(ctx.base + path, ctx=ctx.ctx,
                              headers={"x-api-key": ctx.api_key})
        eq(status, 404, path)
    status, _ = u.request(ctx.base + "/mpic", ctx=ctx.ctx,
                          headers={"x-api-key": ctx.api_key})
    eq(status, 403, "GET /mpic")


@R.case
def test_request_size_limit(ctx):
    big = b'{"check_type":"caa","domain_or_ip_target":"' + b"a" * 70000 + b'"}'
    status, _ = mpic(ctx, {"x-api-key": ctx.api_key}, big)
    eq(status, 413, "70 kB body")


@R.case
def test_plain_http_redirects_to_https(ctx):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open("http://127.0.0.1:%d/mpic" % ctx.http_port, timeout=5)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as e:
        eq(e.code, 308, "redirect status")
        check(e.headers["location"].startswith("https://"), "location")


@R.case
def test_tls_versions(ctx):
    with socket.create_connection(("127.0.0.1", ctx.https_port), 5) as s:
        with ctx.ctx.wrap_socket(s, server_hostname="localhost") as t:
            check(t.version() in ("TLSv1.2", "TLSv1.3"), t.version())
    old = u.tls_context(ctx.api_ca)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        with socket.create_connection(("127.0.0.1", ctx.https_port), 5) as s:
            with old.wrap_socket(s, server_hostname="localhost"):
                raise AssertionError("TLS 1.1 accepted")
    except (ssl.SSLError, ConnectionError):
        pass
    # Another CA's client does not trust nginx's throwaway certificate: the
    # certificate really is the one we made.
    try:
        u.request(ctx.base + "/healthz", ctx=u.tls_context(
            os.path.join(ctx.w, "pki", "checkers-ca.crt")))
        raise AssertionError("nginx certificate verified by the wrong CA")
    except (ssl.SSLError, OSError) as e:
        check("CERTIFICATE_VERIFY_FAILED" in str(e) or
              "certificate verify failed" in str(e), str(e))


@R.case
def test_checkers_require_coordinator_certificate(ctx):
    port = ctx.caa_ports[ctx.codes[0]]
    status, _ = u.request("https://127.0.0.1:%d/caa" % port,
                          {"domain_or_ip_target": "permit.caa.test"},
                          ctx=u.tls_context(None))
    eq(status, 403, "checker without a client certificate")


REQUIRED = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict",
    "CapabilityBoundingSet": "", "PrivateTmp": "yes", "ProtectHome": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "DynamicUser": "yes", "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes",
    "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
}


def static_unit_problems(spec):
    bad = []
    for k, v in REQUIRED.items():
        got = spec.get(("Service", k))
        if got is None or got[-1] != v:
            bad.append("%s=%s (got %r)" % (k, v, got))
    if not spec.get(("Service", "SystemCallFilter")):
        bad.append("SystemCallFilter")
    if spec.get(("Service", "User")) or spec.get(("Service", "AmbientCapabilities"), [""])[-1]:
        bad.append("User= or AmbientCapabilities= set")
    return bad


@R.case
def test_units_static_sandboxing(ctx):
    for name in UNITS:
        eq(static_unit_problems(ctx.unit(name)), [], name)
    # The check catches a weakened unit.
    spec = ctx.unit("mpic-coordinator")
    spec[("Service", "ProtectSystem")] = ["full"]
    del spec[("Service", "CapabilityBoundingSet")]
    eq(len(static_unit_problems(spec)), 2, "weakened unit")


@R.case
def test_units_systemd_analyze(ctx):
    sa = shutil.which("systemd-analyze")
    check(sa, "systemd-analyze missing (install-deps.sh installs systemd)")
    d = os.path.join(ctx.w, "units")
    os.makedirs(d, exist_ok=True)
    for name in UNITS:
        src = os.path.join(ctx.dest, "etc/systemd/system", name + ".service")
        with open(src) as f:
            text = f.read()
        # verify needs ExecStart= to exist: point it at the staged binary.
        text = re.sub(r"^(ExecStart(?:Pre)?=)/usr/local/bin/",
                      r"\1%s/usr/local/bin/" % ctx.dest, text, flags=re.M)
        with open(os.path.join(d, name + ".service"), "w") as f:
            f.write(text)
    paths = [os.path.join(d, n + ".service") for n in UNITS]
    p = subprocess.run([sa, "verify", "--man=no"] + paths,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    eq(p.returncode, 0, "systemd-analyze verify: " + out)
    complaints = [ln for ln in out.splitlines() if ".service" in ln]
    eq(complaints, [], "systemd-analyze verify warnings")
    for path in paths:
        p = subprocess.run([sa, "security", "--offline=yes",
                            "--threshold=20", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode()
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        check(m, "no exposure level: " + out[-300:])
        check(float(m.group(1)) <= 2.0, "%s exposure %s" % (path, m.group(1)))
        eq(p.returncode, 0, "security threshold")
    # A unit with a typo is reported.
    bad = os.path.join(d, "mpic-broken.service")
    with open(paths[0]) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("ProtectSystem=strict", "ProtectSytem=strict"))
    p = subprocess.run([sa, "verify", "--man=no", bad],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check("ProtectSytem" in p.stdout.decode(), "typo not reported")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
