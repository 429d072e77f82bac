#!/usr/bin/env python3
"""API keys of the lengths the documentation suggests, through the shipped
nginx site of the bare-host deployment (deploy/ec2/nginx): its key map is a
hash whose buckets must hold the longest key, and nginx refuses the WHOLE
configuration when one key does not fit (`could not build map_hash, you
should increase map_hash_bucket_size`). A reload with such a key is refused
too, so the old keys stay in force and the operator's new key gets 401.

The docs make keys with `openssl rand -hex 24` (48 characters) or
`-hex 32` (64) and allow up to 238 (mpic-api-keys.map.example). Checked
here: `nginx -t` on the shipped site with one key of each length, and with
many keys; the limit is exactly where the docs put it; keys added the way the
docs say (append to the map, `nginx -t`, reload; MPIC_API_KEYS in step) work
through nginx and the coordinator; a refused reload keeps the old keys.
Also what scripts/install.sh does for nginx (random key, Debian's default
site disabled). Debian's nginx, our daemons, on 127.0.0.1."""

import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(26000, 26099)

REPO = h.REPO
R = h.Runner()
SITE = os.path.join(REPO, "deploy", "ec2", "nginx", "mpic-coordinator.conf")
# The documented maximum (mpic-api-keys.map.example, README.md).
MAX_KEY = 238
CODES = ["us-east-1", "eu-west-1", "ap-northeast-1"]


def openssl_hex(nbytes):
    """A key made as the docs make it: openssl rand -hex N."""
    out = subprocess.run(["openssl", "rand", "-hex", str(nbytes)],
                         stdout=subprocess.PIPE, check=True)
    return out.stdout.decode().strip()


def key_of_length(n, alphabet="0123456789abcdef"):
    raw = os.urandom(n)
    return "".join(alphabet[b % len(alphabet)] for b in raw)


def map_line(key):
    return '"%s" 1;\n' % key


class Ctx:
    def __init__(self):
        c = self.cluster = h.Cluster(dns=True)
        w = self.w = c.workdir
        self.dest = os.path.join(w, "root")
        # Debian's default site, as the nginx package leaves it.
        os.makedirs(os.path.join(self.dest, "etc/nginx/sites-enabled"))
        os.symlink("/etc/nginx/sites-available/default",
                   os.path.join(self.dest, "etc/nginx/sites-enabled/default"))
        p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install.sh"),
                            "--role", "coordinator", "--build-dir",
                            h.build_dir(), "--destdir", self.dest],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.install_out = p.stdout.decode()
        if p.returncode != 0:
            raise RuntimeError("install.sh: " + self.install_out)
        self.keymap = os.path.join(self.dest, "etc/nginx/mpic-api-keys.map")
        with open(self.keymap) as f:
            keys = re.findall(r'^"([^"]+)" 1;$', f.read(), re.M)
        if len(keys) != 1:
            raise RuntimeError("installed key map holds %r" % keys)
        self.installed_key = keys[0]
        # The keys an operator adds: as the docs make them, the longest the
        # docs allow, and one of the other characters they allow.
        self.new_keys = [openssl_hex(24), openssl_hex(32), openssl_hex(119),
                         key_of_length(100, "abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")]
        eq([len(k) for k in self.new_keys], [48, 64, MAX_KEY, 100],
           "key lengths")
        # A CAA checker per perspective; the coordinator checks every key
        # too (MPIC_API_KEYS, in step with the map).
        self.coord = c.start_coordinator(
            [(code, c.start_checker(code).base + "/caa") for code in CODES],
            env_extra={"MPIC_API_KEYS": ",".join(
                [self.installed_key] + self.new_keys)})
        self.api_pki = u.gen_certs(os.path.join(w, "api-pki"),
                                   "api=127.0.0.1,localhost")
        self.ctx = u.tls_context(os.path.join(self.api_pki, "checkers-ca.crt"))
        self.https_port = h.free_port(udp_too=False)
        self.http_port = h.free_port(udp_too=False)
        self.nginx_dir = os.path.join(w, "nginx")
        os.makedirs(self.nginx_dir)
        self.conf = self.nginx_conf(self.keymap, "nginx.conf")
        self.nginx_t(self.conf, must_pass=True)
        # A master process, so that SIGHUP reloads as systemctl reload does.
        self.nginx = h.Proc("nginx", ["nginx", "-c", self.conf, "-p",
                                      self.nginx_dir], self.nginx_dir)
        c.dns.procs.append(self.nginx)  # stopped and dumped with DNS
        h.wait_tcp(self.https_port, proc=self.nginx.proc)
        self.base = "https://localhost:%d" % self.https_port

    def site_text(self, keymap, bucket_size=None):
        """The shipped site with only where it listens, its certificate,
        the key map's path and the coordinator's address substituted."""
        with open(os.path.join(self.dest, "etc/nginx/sites-available",
                               "mpic-coordinator.conf")) as f:
            site = f.read()
        site = re.sub(r"^\s*listen \[::\]:\d+.*$", "", site, flags=re.M)
        site = site.replace("listen 443 ", "listen 127.0.0.1:%d " %
                            self.https_port)
        site = site.replace("listen 80;", "listen 127.0.0.1:%d;" %
                            self.http_port)
        site = site.replace("127.0.0.1:8000", "127.0.0.1:%d" % self.coord.port)
        site = site.replace("/etc/mpic/tls/api.crt",
                            os.path.join(self.api_pki, "api.crt"))
        site = site.replace("/etc/mpic/tls/api.key",
                            os.path.join(self.api_pki, "api.key"))
        site = site.replace("/etc/nginx/mpic-api-keys.map", keymap)
        if bucket_size is not None:
            site, n = re.subn(r"^map_hash_bucket_size \d+;",
                              "map_hash_bucket_size %d;" % bucket_size, site,
                              flags=re.M)
            eq(n, 1, "map_hash_bucket_size lines in the site")
        return site

    def nginx_conf(self, keymap, name, bucket_size=None):
        w = self.nginx_dir
        site = os.path.join(w, name + ".site")
        with open(site, "w") as f:
            f.write(self.site_text(keymap, bucket_size))
        conf = os.path.join(w, name)
        with open(conf, "w") as f:
            f.write(h.nginx_conf_text(w, site, master=True))
        return conf

    def nginx_t(self, conf, must_pass=None):
        """(passed, output) of nginx -t."""
        ok, out = h.nginx_test(conf, self.nginx_dir)
        if must_pass is not None:
            eq(ok, must_pass, "nginx -t: " + out)
        return ok, out

    def try_map(self, keys, bucket_size=None):
        """nginx -t of the shipped site with a key map of KEYS."""
        km = os.path.join(self.nginx_dir, "try.map")
        with open(km, "w") as f:
            f.writelines(map_line(k) for k in keys)
        return self.nginx_t(self.nginx_conf(km, "try.conf", bucket_size))

    def workers(self):
        """The pids of the master's worker processes."""
        master = self.nginx.proc.pid
        path = "/proc/%d/task/%d/children" % (master, master)
        with open(path) as f:
            return {int(p) for p in f.read().split()}

    def reload(self):
        """systemctl reload nginx: SIGHUP to the master."""
        self.nginx.proc.send_signal(signal.SIGHUP)

    def reload_and_wait(self, timeout=30):
        """A reload that must take effect: until the workers of the old
        configuration have exited, one of them may still accept a
        connection and answer with the old key map."""
        old = self.workers()
        self.reload()
        deadline = time.monotonic() + timeout
        while self.workers() & old:
            check(time.monotonic() < deadline,
                  "old nginx workers still running %d s after reload" %
                  timeout)
            time.sleep(0.1)

    def mpic(self, key=None, bearer=False, domain="permit.caa.test"):
        headers = {}
        if key is not None:
            headers = ({"Authorization": "Bearer " + key} if bearer
                       else {"x-api-key": key})
        return u.request(self.base + "/mpic",
                         {"check_type": "caa", "domain_or_ip_target": domain},
                         method="POST", headers=headers, ctx=self.ctx)

    def wait_status(self, key, want, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            status, _ = self.mpic(key)
            if status == want or time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def error_log(self):
        with open(os.path.join(self.nginx_dir, "error.log"),
                  errors="replace") as f:
            return f.read()


def assert_valid(ctx, key, bearer=False):
    status, resp = ctx.mpic(key, bearer)
    eq(status, 200, "key of %d characters%s: %r" % (
        len(key), " (Bearer)" if bearer else "", resp))
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "permit.caa.test with a key of %d characters" % len(key))


# ---------------------------------------------------------------- cases


@R.case
def test_install_key_and_default_site(ctx):
    check(re.fullmatch(r"[0-9a-f]{48}", ctx.installed_key), ctx.installed_key)
    default = os.path.join(ctx.dest, "etc/nginx/sites-enabled/default")
    check(not os.path.lexists(default), "Debian's default site still enabled")
    check("disabled Debian's default nginx site" in ctx.install_out,
          ctx.install_out)
    check("mpic-api-keys.map" in ctx.install_out and
          "coordinator.env" in ctx.install_out, "where the key is")
    check(ctx.installed_key not in ctx.install_out, "key printed")
    check("apt-get" not in ctx.install_out, "--destdir installs no package")
    # An operator's own site called "default" stays.
    other = os.path.join(ctx.w, "root-own-default")
    os.makedirs(os.path.join(other, "etc/nginx/sites-enabled"))
    own = os.path.join(other, "etc/nginx/sites-enabled/default")
    with open(own, "w") as f:
        f.write("# the operator's\n")
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install.sh"),
                        "--role", "coordinator", "--build-dir",
                        h.build_dir(), "--destdir", other],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    eq(p.returncode, 0, p.stdout.decode())
    check(os.path.isfile(own), "the operator's default site removed")


@R.case
def test_nginx_accepts_every_documented_length(ctx):
    for n in (16, 32, 46, 47, 48, 64, 100, 128, MAX_KEY):
        ok, out = ctx.try_map([key_of_length(n)])
        check(ok, "a key of %d characters: %s" % (n, out))
    ok, out = ctx.try_map([key_of_length(n) for n in (48, 64, MAX_KEY)])
    check(ok, "keys of 48, 64 and %d characters: %s" % (MAX_KEY, out))
    # Many keys: a map of 300 keys still builds (nginx may only warn that
    # the hash is not optimal).
    ok, out = ctx.try_map([openssl_hex(32) for _ in range(300)])
    check(ok, "300 keys of 64 characters: %s" % out)
    check("emerg" not in out, out)


@R.case
def test_limit_is_where_the_docs_put_it(ctx):
    ok, out = ctx.try_map([key_of_length(MAX_KEY + 1)])
    check(not ok, "a key of %d characters accepted: the documented maximum "
          "is wrong" % (MAX_KEY + 1))
    check("map_hash_bucket_size" in out, out)
    # The documented maximum is the same in the shipped files.
    with open(os.path.join(REPO, "deploy/ec2/nginx/mpic-api-keys.map.example")) as f:
        check("at most %d characters" % MAX_KEY in f.read(), "map example")
    with open(os.path.join(REPO, "README.md")) as f:
        check("%d characters" % MAX_KEY in f.read(), "README.md")
    # The load balancer of deploy/failover uses the same map.
    with open(os.path.join(REPO, "deploy/failover/nginx/mpic-lb.conf")) as f:
        lb = re.findall(r"^map_hash_bucket_size (\d+);", f.read(), re.M)
    with open(SITE) as f:
        ours = re.findall(r"^map_hash_bucket_size (\d+);", f.read(), re.M)
    eq(lb, ours, "map_hash_bucket_size of mpic-lb.conf")
    # The check catches nginx's default (what the issue saw): 48 refused.
    ok, out = ctx.try_map([openssl_hex(24)], bucket_size=64)
    check(not ok and "could not build map_hash" in out,
          "bucket size 64 with a 48-character key: %s" % out)


@R.case
def test_installed_key_through_nginx(ctx):
    assert_valid(ctx, ctx.installed_key)
    assert_valid(ctx, ctx.installed_key, bearer=True)
    for k in ctx.new_keys:  # not in the map yet
        eq(ctx.mpic(k)[0], 401, "a key not yet in the map")
    eq(ctx.mpic()[0], 401, "no key")


@R.case
def test_added_keys_work_after_reload(ctx):
    """As the docs say: append each key, nginx -t, reload."""
    with open(ctx.keymap, "a") as f:
        f.writelines(map_line(k) for k in ctx.new_keys)
    ctx.nginx_t(ctx.conf, must_pass=True)
    ctx.reload_and_wait()
    for k in [ctx.installed_key] + ctx.new_keys:
        assert_valid(ctx, k)
        assert_valid(ctx, k, bearer=True)
        # Near misses of a valid key.
        for bad in (k[:-1], k + "0", k[:-1] + ("0" if k[-1] != "0" else "1"),
                    k.upper() if k.upper() != k else k.lower()):
            eq(ctx.mpic(bad)[0], 401, "near miss of a %d-character key"
               % len(k))
    eq(ctx.mpic("")[0], 401, "empty key")


@R.case
def test_refused_reload_keeps_old_keys(ctx):
    """What an operator saw with the default bucket size: a key nginx
    cannot hold makes it refuse the new configuration on reload, so that
    key gets 401 while the old ones keep working. nginx -t says so first."""
    too_long = key_of_length(MAX_KEY + 1)
    with open(ctx.keymap) as f:
        before = f.read()
    with open(ctx.keymap, "a") as f:
        f.write(map_line(too_long))
    try:
        ok, out = ctx.nginx_t(ctx.conf)
        check(not ok and "map_hash_bucket_size" in out, "nginx -t: " + out)
        seen = ctx.error_log().count("could not build map_hash")
        ctx.reload()
        deadline = time.monotonic() + 30
        while ctx.error_log().count("could not build map_hash") == seen:
            check(time.monotonic() < deadline, "reload not refused in 30 s")
            time.sleep(0.2)
        eq(ctx.mpic(too_long)[0], 401, "the key of the refused reload")
        for k in [ctx.installed_key] + ctx.new_keys:
            assert_valid(ctx, k)
    finally:
        with open(ctx.keymap, "w") as f:
            f.write(before)
    ctx.nginx_t(ctx.conf, must_pass=True)


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
