#!/usr/bin/env python3
"""scripts/run-local.sh, the README's first command, run as a user runs it:
`scripts/run-local.sh --no-deps --no-build --build-dir BUILD` from the
repository's root, in its own session, until it prints that it is ready.
Then, through the daemons it started (config/local/): the `curl` line it
prints, run as printed; CAA for a permitting and a denying test name;
acme-dns-01 for a name whose TXT record matches and for a hash that does not;
/healthz of every daemon. SIGTERM (and, in another run, SIGINT to the whole
process group as Ctrl-C in a terminal sends it) must stop every process it
started, leave no listener on config/local's ports, and exit 0. With one of
its ports already taken it must refuse to start, naming the port and the
daemon, and leave nothing running. Without --no-deps it installs
`scripts/install-deps.sh local`, which must hold what it runs.

DNS never leaves 127.0.0.1: MPIC_DNS_RESOLVERS points at the harness's
unbound (stubbed to nsd serving tests/integration/zones and the DCV zones;
every other name is REFUSED), so run-local.sh does not start its own
validating unbound, which would ask the root servers.

Ports: config/local's are fixed (coordinator 8000, CAA checkers 9101-9106,
DCV checkers 9201-9206); no other integration test uses them.
scripts/test-containers.sh publishes on 127.0.0.1:8000 too, but runs after
ctest, never beside it. The harness's DNS takes 26100-26199."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402
import openapi_check  # noqa: E402

u.use_ports(26100, 26199)

REPO = h.REPO
SCRIPT = os.path.join(REPO, "scripts", "run-local.sh")
CONF_DIR = os.path.join(REPO, "config", "local")
LOG_DIR = os.path.join(REPO, "run", "logs")
R = h.Runner()
READY_LINE = "run-local: Ctrl-C stops everything."
READY_TIMEOUT = 240.0  # 13 daemons, possibly under ASan on a busy machine
EXIT_TIMEOUT = 90.0    # run-local.sh gives each daemon 15 s, then kills


def local_daemons():
    """[(name, binary, port)] of config/local/, as run-local.sh names them."""
    out = []
    for f in sorted(os.listdir(CONF_DIR)):
        m = re.match(r"^(caa|dcv)-.*\.yaml$|^coordinator\.yaml$", f)
        if not m:
            continue
        with open(os.path.join(CONF_DIR, f), encoding="utf-8") as fh:
            lm = re.search(r"^listen:\s*['\"]?127\.0\.0\.1:(\d+)", fh.read(),
                           re.M)
        check(lm, "%s: no listen: 127.0.0.1:PORT" % f)
        binary = {"caa": "mpic-caa-checker", "dcv": "mpic-dcv-checker"}.get(
            m.group(1), "mpic-coordinator")
        out.append((f[:-5], binary, int(lm.group(1))))
    return out


DAEMONS = local_daemons()
COORD_PORT = [p for n, _, p in DAEMONS if n == "coordinator"][0]
COORD = "http://127.0.0.1:%d" % COORD_PORT


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def session_procs(sid):
    """{pid: executable name} of every live process in session sid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, encoding="utf-8",
                      errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) != sid or fields[0] == "Z":
            continue
        try:
            name = os.path.basename(os.readlink("/proc/%s/exe" % d))
        except OSError:
            name = stat[stat.find("(") + 1:stat.rfind(")")]
        out[int(d)] = name
    return out


class RunLocal:
    """run-local.sh in a new session (so its process group is its own);
    stdout and stderr in one file of the work directory."""

    def __init__(self, ctx, tag):
        self.log_path = os.path.join(ctx.cluster.workdir,
                                     "run-local-%s.out" % tag)
        self.log = open(self.log_path, "wb")
        env = h.clean_env({"MPIC_DNS_RESOLVERS": ctx.resolver,
                           "MPIC_HEALTH_TIMEOUT": "180"})
        self.proc = subprocess.Popen(
            [SCRIPT, "--no-deps", "--no-build", "--build-dir", h.build_dir()],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.sid = self.proc.pid
        ctx.running.append(self)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while READY_LINE not in self.output():
            if self.proc.poll() is not None:
                raise AssertionError("run-local.sh exited %s before it was "
                                     "ready:\n%s" % (self.proc.returncode,
                                                     self.output()))
            check(time.monotonic() < deadline, "run-local.sh not ready "
                  "after %.0fs:\n%s" % (READY_TIMEOUT, self.output()))
            time.sleep(0.2)
        return self.output()

    def wait_exit(self):
        try:
            return self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("run-local.sh still running %.0fs after the "
                                 "signal:\n%s" % (EXIT_TIMEOUT, self.output()))

    def assert_all_gone(self):
        """Nothing of its session left (bounded wait for orphans to be
        reaped), nothing listening on config/local's ports."""
        deadline = time.monotonic() + 30
        while session_procs(self.sid):
            check(time.monotonic() < deadline, "left running: %r" %
                  session_procs(self.sid))
            time.sleep(0.2)
        busy = [(n, p) for n, _, p in DAEMONS if listening(p)]
        eq(busy, [], "daemons still listening")

    def kill(self):
        """Cleanup, whatever happened: the whole process group, then any
        straggler of the session."""
        for _ in range(2):
            try:
                os.killpg(self.sid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in session_procs(self.sid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


class Ctx:
    def __init__(self):
        self.cluster = u.cluster_with_dcv_zones()
        self.resolver = self.cluster.dns.resolver
        self.running = []
        for b in ("mpic-coordinator", "mpic-caa-checker", "mpic-dcv-checker"):
            check(os.access(h.binary(b), os.X_OK), h.binary(b) + " not built")
        busy = [(n, p) for n, _, p in DAEMONS if listening(p)]
        check(not busy, "config/local's ports already in use: %r" % busy)

    def cleanup(self):
        for r in self.running:
            r.kill()
        self.running = []


def mpic(body):
    status, raw = h.http_request(COORD + "/mpic", body=body, method="POST",
                                 timeout=60)
    eq(status, 200, "POST /mpic %s" % json.dumps(body))
    check(isinstance(raw, dict), "not JSON: %r" % raw)
    return raw


def with_cleanup(fn):
    """Kill whatever run-local.sh left, even when the case failed; dump its
    daemons' logs then."""
    def wrapped(ctx):
        try:
            fn(ctx)
        except BaseException:
            for r in ctx.running:
                print("----- %s -----\n%s" % (r.log_path, r.output()[-8000:]))
            for n, _, _ in DAEMONS:
                p = os.path.join(LOG_DIR, n + ".log")
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                    print("----- %s -----\n%s" % (p, text[-3000:]))
            raise
        finally:
            ctx.cleanup()
    wrapped.__name__ = fn.__name__
    return wrapped


def serve_and_check(ctx, r):
    """Waits until r is ready and checks everything it started."""
    out = r.wait_ready()
    check("%d daemons healthy" % len(DAEMONS) in out, out)
    # Its own validating resolver would ask the root servers: never here.
    check("validating resolver" not in out, out)
    procs = session_procs(r.sid)
    check("unbound" not in procs.values(), "unbound started: %r" % procs)
    want = sorted(b for _, b, _ in DAEMONS)
    got = sorted(n for n in procs.values() if n.startswith("mpic-"))
    eq(got, want, "daemons in run-local.sh's session")

    # /healthz of every daemon in config/local/.
    for name, _, port in DAEMONS:
        status, _ = h.http_request("http://127.0.0.1:%d/healthz" % port,
                                   timeout=30)
        eq(status, 200, "%s /healthz" % name)

    # The curl line it prints, as printed (example.com is REFUSED by the
    # test resolver, so the answer is a completed check that fails).
    curls = [ln for ln in out.splitlines() if ln.startswith("curl ")]
    eq(len(curls), 1, "curl lines printed")
    p = subprocess.run(["sh", "-c", curls[0] + " -w '\\n%{http_code}'"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, env=h.clean_env())
    eq(p.returncode, 0, "curl exit status (%s)" % p.stderr.decode())
    raw, _, code = p.stdout.rpartition(b"\n")
    eq(code, b"200", "HTTP status of the printed curl line")
    openapi_check.check_mpic_reply(200, raw, "the printed curl line")
    body = json.loads(raw.decode())
    check(isinstance(body.get("is_valid"), bool), raw)
    check(b'"example.com"' in raw, raw)

    # CAA through the six checkers (default_caa_domains: ca.example).
    res = mpic({"check_type": "caa", "domain_or_ip_target": "permit.caa.test"})
    eq(res["is_valid"], True, "permit.caa.test: %s" % json.dumps(res)[:2000])
    res = mpic({"check_type": "caa", "domain_or_ip_target": "deny.caa.test"})
    eq(res["is_valid"], False, "deny.caa.test: %s" % json.dumps(res)[:2000])

    # acme-dns-01 as in README.md: _acme-challenge.ok.dcv.test holds the hash.
    dns01 = {"validation_method": "acme-dns-01",
             "key_authorization_hash": u.DNS01_HASH}
    res = mpic({"check_type": "dcv", "domain_or_ip_target": "ok.dcv.test",
                "dcv_check_parameters": dns01})
    eq(res["is_valid"], True, "acme-dns-01 ok.dcv.test: %s"
       % json.dumps(res)[:2000])
    other = dict(dns01, key_authorization_hash="A" * 43)
    res = mpic({"check_type": "dcv", "domain_or_ip_target": "ok.dcv.test",
                "dcv_check_parameters": other})
    eq(res["is_valid"], False, "acme-dns-01 with another hash: %s"
       % json.dumps(res)[:2000])


def assert_clean_stop(r, rc):
    out = r.output()
    eq(rc, 0, "run-local.sh exit status:\n" + out)
    check("stopping %d daemons" % len(DAEMONS) in out, out)
    # Every daemon exited 0 on its own (no status, no kill).
    check("exited with status" not in out and "did not stop" not in out, out)
    r.assert_all_gone()


@R.case
@with_cleanup
def sigterm_stops_everything(ctx):
    r = RunLocal(ctx, "sigterm")
    serve_and_check(ctx, r)
    os.kill(r.proc.pid, signal.SIGTERM)
    assert_clean_stop(r, r.wait_exit())


@R.case
@with_cleanup
def ctrl_c_stops_everything(ctx):
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group,
    run-local.sh and every daemon at once. Right after the previous run, so
    the ports may hold TIME_WAIT connections: they are free all the same."""
    r = RunLocal(ctx, "sigint")
    out = r.wait_ready()
    check("%d daemons healthy" % len(DAEMONS) in out, out)
    eq(h.http_request(COORD + "/healthz", timeout=30)[0], 200, "/healthz")
    os.killpg(r.sid, signal.SIGINT)
    assert_clean_stop(r, r.wait_exit())


def refused_when_taken(ctx, victim):
    name, _, port = [d for d in DAEMONS if d[0] == victim][0]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    try:
        r = RunLocal(ctx, "taken-%d" % port)
        try:
            rc = r.proc.wait(READY_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("run-local.sh did not refuse:\n" + r.output())
        out = r.output()
        check(rc != 0, "exit status %d with port %d taken:\n%s"
              % (rc, port, out))
        check(re.search(r"%s: port %d .*in use" % (re.escape(name), port),
                        out), "message names %s and %d:\n%s"
              % (name, port, out))
        check(READY_LINE not in out, out)
        deadline = time.monotonic() + 30
        while session_procs(r.sid):
            check(time.monotonic() < deadline, "left running: %r"
                  % session_procs(r.sid))
            time.sleep(0.2)
        busy = [(n, p) for n, _, p in DAEMONS if p != port and listening(p)]
        eq(busy, [], "daemons listening after the refusal")
    finally:
        s.close()


@R.case
@with_cleanup
def refused_when_checker_port_taken(ctx):
    refused_when_taken(ctx, "caa-eu-west-1")


@R.case
@with_cleanup
def refused_when_coordinator_port_taken(ctx):
    refused_when_taken(ctx, "coordinator")


@R.case
def installs_what_it_runs(ctx):
    """Without --no-deps it runs `install-deps.sh local` (not the whole
    test tool chain): that list holds the build packages and every program
    the script starts or probes with."""
    with open(SCRIPT, encoding="utf-8") as f:
        check('install-deps.sh" local ' in f.read(), "run-local.sh calls "
              "install-deps.sh local")
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install-deps.sh"),
                        "--list", "local"], stdout=subprocess.PIPE, check=True)
    got = set(p.stdout.decode().split())
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install-deps.sh"),
                        "--list", "build"], stdout=subprocess.PIPE, check=True)
    want = set(p.stdout.decode().split())
    want |= {"unbound", "dns-root-data", "curl", "python3"}
    eq(sorted(want - got), [], "missing from install-deps.sh local")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
