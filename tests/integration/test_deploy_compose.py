#!/usr/bin/env python3
"""compose.yaml and the Dockerfiles, without a Docker engine.

- `docker-compose config -q` (Debian's docker-compose) validates compose.yaml,
  alone and with the test override tests/containers/compose.test.yaml; it
  works without the secrets (ps, logs and down need none), and the
  coordinator then refuses to start, naming them.
- The Dockerfiles are parsed: multi-stage on docker.io/library/debian:bookworm-slim,
  built with scripts/install-deps.sh build / runtime, non-root, health check,
  OCI labels, apt caches removed, no `# syntax=` line (BuildKit would pull
  it); the images of compose.yaml are localhost/open-mpic-c/NAME:VERSION.
  scripts/test-containers.sh (a stage of scripts/test.sh) builds and runs
  them on a real Docker engine.
- The install script the images run is run here too (idempotent).
- Every daemon of compose.yaml is started on 127.0.0.1 exactly as the
  container would run it: the command (or the image's ENTRYPOINT + CMD), the
  service's environment and its mounted config and TLS files, with only
  addresses substituted (listen addresses, checker host names, resolver
  addresses) and the container paths mapped into a directory here. The TLS
  material comes from scripts/gen-certs.sh. Then the compose health checks
  run, and POST /mpic gives a real answer over mutual TLS.
- Each perspective's unbound configuration passes unbound-checkconf and
  admits exactly that perspective's checkers."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(22400, 22599)

REPO = h.REPO
COMPOSE = os.path.join(REPO, "compose.yaml")
ENV = {"MPIC_HASH_SECRET": "compose-test-secret",
       "MPIC_API_KEYS": "compose-key-1,compose-key-2",
       "MPIC_DEFAULT_CAA_DOMAINS": "ca.example"}
R = h.Runner()


TEST_OVERRIDE = os.path.join(REPO, "tests", "containers", "compose.test.yaml")


def compose_config(env_extra=None, quiet=False, files=(COMPOSE,)):
    exe = shutil.which("docker-compose")
    if exe is None:
        raise AssertionError("docker-compose not installed "
                             "(scripts/install-deps.sh installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPIC_")}
    env.update(env_extra or {})
    argv = [exe] + [a for f in files for a in ("-f", f)] + ["config"] + (
        ["-q"] if quiet else [])
    return subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)


def load_compose(env=None, files=(COMPOSE,)):
    import yaml  # python3-yaml, a dependency of docker-compose
    p = compose_config(ENV if env is None else env, files=files)
    if p.returncode != 0:
        raise RuntimeError("docker-compose config: %s" % p.stderr.decode())
    return yaml.safe_load(p.stdout)


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(mpic VERSION ([0-9.]+)", f.read()).group(1)


# ---------------------------------------------------------------- Dockerfiles


def parse_dockerfile(path):
    """[(stage_from, [(INSTR, args)])] with continuation lines joined."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines, cur = [], ""
    for raw in text.splitlines():
        s = raw.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    args, stages = {}, []
    for ln in lines:
        instr, _, rest = ln.partition(" ")
        instr = instr.upper()
        if instr == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip()
        elif instr == "FROM":
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""),
                          rest.split()[0])
            stages.append((base, []))
        else:
            check(stages, "%s: %s before FROM" % (path, instr))
            stages[-1][1].append((instr, rest.strip()))
    return stages


def final_stage(path):
    stages = parse_dockerfile(path)
    final = {}
    for instr, rest in stages[-1][1]:
        final.setdefault(instr, []).append(rest)
    return stages, final


def image_argv(dockerfile, command=None):
    """What the container runs: ENTRYPOINT + (compose command or CMD)."""
    _, final = final_stage(dockerfile)
    ep = json.loads(final["ENTRYPOINT"][-1]) if "ENTRYPOINT" in final else []
    cmd = json.loads(final["CMD"][-1]) if "CMD" in final else []
    return ep + (command if command is not None else cmd)


def bind_mounts(svc):
    """[(host source, container target)] from either volume syntax."""
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2 and parts[0].startswith(("/", ".")):
                out.append((parts[0], parts[1]))
        elif v.get("type") == "bind":
            out.append((v["source"], v["target"]))
    return out


def image_env(dockerfile):
    _, final = final_stage(dockerfile)
    env = {}
    for e in final.get("ENV", []):
        for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', e):
            env[m.group(1)] = m.group(2).strip('"')
    return env


def dockerignore_patterns():
    pats = []
    with open(os.path.join(REPO, ".dockerignore")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = line.lstrip("!").strip("/")
            pats.append((neg, pat))
    return pats


def ignored(rel, pats):
    """Docker's rule: the last pattern matching the path or one of its
    parent directories decides."""
    import fnmatch
    parts = rel.split("/")
    cands = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    out = False
    for neg, pat in pats:
        forms = [pat] + ([pat[3:]] if pat.startswith("**/") else [])
        if any(fnmatch.fnmatchcase(c, f) for c in cands for f in forms):
            out = not neg
    return out


def build_context(dest):
    """The files `docker build .` would send: the work tree minus
    .dockerignore."""
    pats = dockerignore_patterns()
    for top, dirs, files in os.walk(REPO):
        reldir = os.path.relpath(top, REPO)
        reldir = "" if reldir == "." else reldir + "/"
        for f in files:
            rel = reldir + f
            if ignored(rel, pats):
                continue
            os.makedirs(os.path.join(dest, reldir), exist_ok=True)
            shutil.copy2(os.path.join(REPO, rel), os.path.join(dest, rel))
        dirs[:] = [d for d in dirs if not d.startswith(".git")]


# ---------------------------------------------------------------- cluster


class Ctx:
    def __init__(self):
        self.compose = load_compose()
        self.services = self.compose["services"]
        self.cluster = u.cluster_with_dcv_zones()
        w = self.cluster.workdir
        names = [s for s in self.services
                 if s.startswith(("caa-", "dcv-"))]
        # The compose names are what the coordinator's URLs use; 127.0.0.1
        # is the one address substituted here.
        self.tls = u.gen_certs(os.path.join(w, "tls"),
                               *["%s=%s,127.0.0.1" % (n, n) for n in names])
        self.ports = {}
        self.daemons = {}
        for name in names:
            self.ports[name] = h.free_port(udp_too=False)
        for name in names:
            self.daemons[name] = self.start(name)
        self.ports["coordinator"] = h.free_port(udp_too=False)
        self.daemons["coordinator"] = self.start("coordinator")

    def host_path(self, src):
        """A compose volume source: ./deploy/compose/tls/X comes from the
        certificates made here, anything else from the repository."""
        rel = os.path.relpath(src, REPO)
        if rel.startswith(os.path.join("deploy", "compose", "tls") + os.sep):
            return os.path.join(self.tls, os.path.basename(rel))
        return src

    def substitute(self, text, root):
        text = text.replace("/etc/mpic/", root + "/etc/mpic/")
        text = re.sub(r"^listen:.*$", lambda m: "listen: \"127.0.0.1:%d\"" % (
            self.ports[self._current]), text, flags=re.M)
        for name, port in self.ports.items():
            text = re.sub(r"//%s:\d+/" % re.escape(name),
                          "//127.0.0.1:%d/" % port, text)
        return text

    def start(self, name):
        svc = self.services[name]
        self._current = name
        root = os.path.join(self.cluster.workdir, "svc", name)
        dockerfile = os.path.join(REPO, svc["build"]["dockerfile"])
        # Mounted files, at their container paths under root.
        for src, dst in bind_mounts(svc):
            src = self.host_path(src)
            out = root + dst
            os.makedirs(os.path.dirname(out), exist_ok=True)
            if dst.endswith(".yaml"):
                with open(src, encoding="utf-8") as f:
                    text = f.read()
                with open(out, "w", encoding="utf-8") as f:
                    f.write(self.substitute(text, root))
            else:
                shutil.copy(src, out)
        argv = image_argv(dockerfile, svc.get("command"))
        exe = os.path.basename(argv[0])
        check(exe.startswith("mpic-"), "%s runs %r" % (name, argv))
        args = [a.replace("/etc/mpic/", root + "/etc/mpic/") for a in argv[1:]]
        env = image_env(dockerfile)
        env.update({k: str(v) for k, v in svc.get("environment", {}).items()})
        if "MPIC_DNS_RESOLVERS" in env:
            env["MPIC_DNS_RESOLVERS"] = self.cluster.dns.resolver
        port = self.ports[name]
        d = h.Daemon(name, exe, None, root, port, env_extra=env, args=args)
        self.cluster.daemons.append(d)
        d.env = env
        d.root = root
        tls = name != "coordinator"
        d.base = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)
        ctx = None
        if tls:
            ctx = u.tls_context(os.path.join(self.tls, "checkers-ca.crt"),
                                os.path.join(self.tls, "coordinator.crt"),
                                os.path.join(self.tls, "coordinator.key"))
        d.ctx = ctx
        u.wait_healthy(d, d.base + "/healthz", ctx=ctx)
        return d

    def healthcheck(self, name, env_over=None):
        """Runs the service's compose health check test on this host."""
        svc = self.services[name]
        test = svc["healthcheck"]["test"]
        eq(test[0], "CMD", name + " healthcheck form")
        argv = list(test[1:])
        if argv[0] == "/usr/local/bin/mpic-healthcheck":
            argv[0] = os.path.join(REPO, "deploy", "docker", "mpic-healthcheck")
        env = h.clean_env(self.daemons[name].env)
        url = env.get("MPIC_HEALTHCHECK_URL", "")
        env["MPIC_HEALTHCHECK_URL"] = re.sub(
            r"//127\.0\.0\.1:\d+/", "//127.0.0.1:%d/" % self.ports[name], url)
        env.update(env_over or {})
        return subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=30)


def mpic(ctx, body, key="compose-key-2"):
    hdrs = {"x-api-key": key} if key else {}
    return h.post(ctx.daemons["coordinator"].base + "/mpic", body,
                  headers=hdrs)


# ---------------------------------------------------------------- cases


@R.case
def test_compose_config_validates(ctx):
    p = compose_config(ENV, quiet=True)
    eq(p.returncode, 0, "docker-compose config -q: %s" % p.stderr.decode())
    p = compose_config(ENV, quiet=True, files=(COMPOSE, TEST_OVERRIDE))
    eq(p.returncode, 0, "with compose.test.yaml: %s" % p.stderr.decode())


@R.case
def test_compose_commands_work_without_the_variables(ctx):
    """ps, logs and down interpolate the whole file too: without the
    variables they must still work (an operator in a new shell). The
    secrets are then empty, and the coordinator refuses to start."""
    p = compose_config({}, quiet=True)
    eq(p.returncode, 0, "compose.yaml without the variables: %s" %
       p.stderr.decode())
    bare = load_compose(env={})
    env = bare["services"]["coordinator"]["environment"]
    for k in ("MPIC_HASH_SECRET", "MPIC_API_KEYS"):
        eq(env.get(k), "", "%s without the variable" % k)
    for name, svc in bare["services"].items():
        if name.startswith("caa-"):
            eq(svc["environment"].get("MPIC_DEFAULT_CAA_DOMAINS"), "", name)
    conf = os.path.join(REPO, "config", "compose", "coordinator.yaml")
    base = h.clean_env({k: str(v) for k, v in env.items()})

    def check_config(extra):
        p = subprocess.run(
            [h.binary("mpic-coordinator"), "--check-config", "--lenient-paths",
             "--config", conf], env=dict(base, **extra), timeout=60,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return p.returncode, p.stdout.decode(errors="replace")
    rc, out = check_config({})
    check(rc != 0, "the coordinator accepts empty secrets: " + out)
    for k in ("MPIC_HASH_SECRET", "MPIC_API_KEYS"):
        check(k in out, "the refusal names %s: %s" % (k, out))
    rc, out = check_config({k: ENV[k] for k in
                            ("MPIC_HASH_SECRET", "MPIC_API_KEYS")})
    eq(rc, 0, "with the variables: " + out)


@R.case
def test_compose_image_names(ctx):
    version = project_version()
    for name, svc in ctx.services.items():
        kind = ("coordinator" if name == "coordinator" else
                "unbound" if name.startswith("unbound-") else "checker")
        eq(svc["image"], "localhost/open-mpic-c/%s:%s" % (kind, version),
           name + " image (qualified: never pulled from a registry)")
    over = load_compose(files=(COMPOSE, TEST_OVERRIDE))["services"]
    eq(over["test-nsd"]["image"], "localhost/open-mpic-c/test-nsd:" + version,
       "test-nsd image")


@R.case
def test_compose_test_override_is_small(ctx):
    """tests/containers/compose.test.yaml adds a name server and changes
    only what points each resolver at it; the shipped configuration of
    every unbound is still what runs (included by the test one)."""
    import yaml
    with open(TEST_OVERRIDE) as f:
        raw = yaml.safe_load(f)
    codes = sorted(n[8:] for n in ctx.services if n.startswith("unbound-"))
    eq(sorted(raw["services"]), sorted(["test-nsd"] +
                                       ["unbound-" + c for c in codes]),
       "services the override touches")
    for c in codes:
        svc = raw["services"]["unbound-" + c]
        eq(sorted(svc), ["depends_on", "volumes"], "unbound-%s keys" % c)
        mounts = dict((b, a) for a, b in bind_mounts(svc))
        eq(mounts.get("/etc/unbound/perspective.conf"),
           "./config/compose/unbound/%s.conf" % c, "unbound-%s shipped config" % c)
    eq(sorted(raw["networks"]), ["egress"], "networks the override touches")
    eq(raw["networks"]["egress"].get("internal"), True,
       "egress internal under test: nothing leaves the machine")
    with open(os.path.join(REPO, "tests", "containers", "unbound.conf")) as f:
        text = f.read()
    check(re.search(r'^include:\s*"/etc/unbound/perspective.conf"', text, re.M),
          "the test unbound.conf includes the shipped one")
    check(re.search(r"^\s*trust-anchor-file:", text, re.M),
          "the test zone has a trust anchor")


@R.case
def test_compose_topology(ctx):
    s = ctx.services
    codes = sorted(n[4:] for n in s if n.startswith("caa-"))
    check(len(codes) >= 3, "perspectives: %r" % codes)
    eq(sorted(n[4:] for n in s if n.startswith("dcv-")), codes, "dcv set")
    eq(sorted(n[8:] for n in s if n.startswith("unbound-")), codes,
       "one resolver per perspective")
    import yaml
    with open(os.path.join(REPO, "config", "compose",
                           "available_perspectives.yaml")) as f:
        ap = {r["code"]: r["rir"].lower()
              for r in yaml.safe_load(f)["available_regions"]}
    check(len({ap[c] for c in codes}) >= 2, "RIRs of %r" % codes)
    coord = s["coordinator"]
    targets = [p["target"] if isinstance(p, dict) else
               int(p.split("/")[0].rsplit(":", 1)[1]) for p in coord["ports"]]
    eq(targets, [8000], "published port")
    deps = coord["depends_on"]
    for c in codes:
        for kind in ("caa", "dcv"):
            eq(deps.get("%s-%s" % (kind, c), {}).get("condition"),
               "service_healthy", "coordinator waits for %s-%s" % (kind, c))
    for name, svc in s.items():
        check("healthcheck" in svc, name + " has a health check")
        check(svc.get("read_only") is True, name + " read-only root")
        eq(svc.get("cap_drop"), ["ALL"], name + " capabilities")
    eq(ctx.compose["networks"]["mesh"].get("internal"), True, "mesh internal")
    for c in codes:
        net = ctx.compose["networks"]["persp-" + c]
        eq(net.get("internal"), True, "persp-%s internal" % c)
        eq(set(s["caa-" + c]["networks"]), {"persp-" + c, "mesh"},
           "caa-%s networks" % c)
        check("mesh" not in s["unbound-" + c]["networks"],
              "resolver %s not reachable from the mesh" % c)


@R.case
def test_dockerfiles(ctx):
    for df, binaries in (("Dockerfile.coordinator", ["mpic-coordinator"]),
                         ("Dockerfile.checker", ["mpic-caa-checker",
                                                 "mpic-dcv-checker"])):
        path = os.path.join(REPO, df)
        stages, final = final_stage(path)
        check(len(stages) >= 2, df + " is multi-stage")
        for base, _ in stages:
            eq(base, "docker.io/library/debian:bookworm-slim", df + " base")
        build_runs = " ".join(r for i, r in stages[0][1] if i == "RUN")
        check("scripts/install-deps.sh build" in build_runs,
              df + " builds with install-deps.sh build")
        check(re.search(r"install-deps\.sh runtime", " ".join(
            final.get("RUN", []))), df + " runtime from install-deps.sh")
        user = final["USER"][-1].split(":")[0]
        check(user not in ("root", "0") and user.isdigit() and int(user) > 0,
              df + " runs as a numeric non-root user: %r" % user)
        hc = final["HEALTHCHECK"][-1]
        check("mpic-healthcheck" in hc, df + " HEALTHCHECK: " + hc)
        labels = " ".join(final["LABEL"])
        for k in ("title", "description", "version", "licenses"):
            check("org.opencontainers.image." + k in labels, df + " " + k)
        copied = " ".join(final["COPY"])
        for b in binaries:
            check(b in copied, df + " ships " + b)
        for src in ("deploy/docker/mpic-healthcheck", "scripts/install-deps.sh"):
            check(os.path.exists(os.path.join(REPO, src)), src)
    for df in ("Dockerfile.coordinator", "Dockerfile.checker",
               "Dockerfile.unbound",
               os.path.join("tests", "containers", "Dockerfile.nsd")):
        path = os.path.join(REPO, df)
        with open(path) as f:
            first = f.readline()
        check(not re.match(r"#\s*syntax\s*=", first, re.I),
              df + ": a syntax line makes BuildKit pull the frontend")
        for base, instrs in parse_dockerfile(path):
            eq(base, "docker.io/library/debian:bookworm-slim", df + " base")
            for instr, rest in instrs:
                if instr != "RUN" or not re.search(
                        r"apt-get (install|update)|install-deps\.sh", rest):
                    continue
                check("apt-get clean" in rest and
                      "rm -rf /var/lib/apt/lists/*" in rest,
                      "%s: apt caches left in the layer: %s" % (df, rest))
    # runc before 1.1.8 gives a tmpfs over an image directory that
    # directory's mode: /run/unbound (a tmpfs in compose.yaml, where the
    # unbound user makes its control socket) must be 1777 in the image.
    _, final = final_stage(os.path.join(REPO, "Dockerfile.unbound"))
    check(re.search(
        r"(install -d|mkdir|chmod)[^&;]*\b1777\b[^&;]*/run/unbound\b",
        " ".join(final["RUN"])), "Dockerfile.unbound /run/unbound 1777")
    for name, svc in ctx.services.items():
        if name.startswith("unbound-"):
            eq(svc["tmpfs"], ["/run/unbound:mode=1777,size=1m"], name + " tmpfs")
    # The checker image picks its binary by command.
    df = os.path.join(REPO, "Dockerfile.checker")
    eq(image_argv(df)[0], "mpic-caa-checker", "checker image default")
    eq(image_argv(df, ["mpic-dcv-checker"])[0], "mpic-dcv-checker",
       "checker image by command")
    with open(os.path.join(REPO, ".dockerignore")) as f:
        ign = f.read()
    for pat in ("**/*.key", "build*/", ".git", ".env"):
        check(pat in ign.split(), ".dockerignore lacks " + pat)


@R.case
def test_coordinator_run_example(ctx):
    """The docker run example of Dockerfile.coordinator mounts exactly what
    the compose coordinator mounts, from the same files, into the image
    compose.yaml names (scripts/test-containers.sh runs it as written)."""
    with open(os.path.join(REPO, "Dockerfile.coordinator")) as f:
        lines = f.read().splitlines()
    start = [i for i, ln in enumerate(lines) if ln.startswith("#   docker run ")]
    eq(len(start), 1, "one docker run example")
    cmd = ""
    for ln in lines[start[0]:]:
        ln = re.sub(r"^#\s*", "", ln)
        cmd += ln.rstrip("\\").strip() + " "
        if not ln.endswith("\\"):
            break
    import shlex
    argv = shlex.split(cmd.replace("$PWD", REPO))
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "-v"]
    got = sorted((m.split(":")[0], m.split(":")[1]) for m in mounts)
    want = sorted((os.path.normpath(os.path.join(REPO, a)), b)
                  for a, b in bind_mounts(ctx.services["coordinator"]))
    eq(got, want, "example mounts")
    for m in mounts:
        check(m.endswith(":ro"), "read-only mount " + m)
    eq(argv[-1], ctx.services["coordinator"]["image"], "example image")
    check("-e" in argv and "MPIC_HASH_SECRET" in argv and
          "MPIC_API_KEYS" in argv, "example passes the secrets: %r" % argv)
    check("127.0.0.1:8000:8000" in argv, "published on loopback: %r" % argv)


@R.case
def test_dockerignore(ctx):
    pats = dockerignore_patterns()
    for rel in ("deploy/compose/tls/coordinator.key", "x/y/checker.key",
                "build-asan/bin/mpic-coordinator", ".git/config",
                "tests/integration/test_mtls.py", "run/logs/a.log"):
        check(ignored(rel, pats), rel + " would be sent to the builder")
    for rel in ("CMakeLists.txt", "common/mem.c", "scripts/install-deps.sh",
                "deploy/docker/mpic-healthcheck", "cmake/warnings.cmake"):
        check(not ignored(rel, pats), rel + " would be left out")


@R.case
def test_build_stage_in_the_build_context(ctx):
    """The build stage's RUN, as written in the Dockerfile, in a copy of
    what the builder receives (only /src, /build, /out moved)."""
    w = os.path.join(ctx.cluster.workdir, "image-build")
    src = os.path.join(w, "src")
    build_context(src)
    stages, _ = final_stage(os.path.join(REPO, "Dockerfile.checker"))
    runs = [r for i, r in stages[0][1] if i == "RUN" and "cmake" in r]
    eq(len(runs), 1, "one cmake RUN in the build stage")
    cmd = (runs[0].replace("/src", src).replace("/build", w + "/build")
           .replace("/out", w + "/out"))
    p = subprocess.run(["sh", "-c", cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=1500)
    eq(p.returncode, 0, "build stage: %s" % p.stdout.decode()[-3000:])
    for b in ("mpic-coordinator", "mpic-caa-checker", "mpic-dcv-checker"):
        exe = os.path.join(w, "out", "bin", b)
        check(os.access(exe, os.X_OK), exe)
        v = subprocess.run([exe, "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        eq(v.returncode, 0, b + " --version")


@R.case
def test_install_script_runs_as_in_the_images(ctx):
    for what in ("build", "runtime"):
        p = subprocess.run(["sh", os.path.join(REPO, "scripts",
                                               "install-deps.sh"), what],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=900)
        eq(p.returncode, 0, "install-deps.sh %s: %s" % (what, p.stdout))
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "install-deps.sh"),
                        "bogus"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    eq(p.returncode, 2, "install-deps.sh rejects an unknown list")


@R.case
def test_healthchecks_pass(ctx):
    for name in ctx.daemons:
        p = ctx.healthcheck(name)
        eq(p.returncode, 0, "%s health check: %s" % (name, p.stdout))


@R.case
def test_healthcheck_fails_when_it_should(ctx):
    # The probe has no client certificate: any path but /healthz of an mTLS
    # checker answers 403, which must count as unhealthy.
    p = ctx.healthcheck("caa-us-east-1", {
        "MPIC_HEALTHCHECK_URL":
            "https://127.0.0.1:%d/configz" % ctx.ports["caa-us-east-1"]})
    eq(p.returncode, 1, "non-200 probe: %s" % p.stdout)
    dead = h.free_port(udp_too=False)
    p = ctx.healthcheck("coordinator", {
        "MPIC_HEALTHCHECK_URL": "http://127.0.0.1:%d/healthz" % dead})
    eq(p.returncode, 1, "dead coordinator: %s" % p.stdout)


@R.case
def test_mpic_caa_through_compose_wiring(ctx):
    status, resp = mpic(ctx, {"check_type": "caa",
                              "domain_or_ip_target": "permit.caa.test"})
    eq(status, 200, "status (%r)" % (resp,))
    eq(resp["actual_orchestration_parameters"]["perspective_count"], 5,
       "default_perspective_count of config/compose")
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "permit (%r)" % resp)
    for code, cr in u.by_code(resp).items():
        eq((cr["check_passed"], cr["errors"]), (True, None), code)
    status, resp = mpic(ctx, {"check_type": "caa",
                              "domain_or_ip_target": "deny.caa.test"})
    eq((status, resp["is_valid"]), (200, False), "deny")


@R.case
def test_mpic_dcv_through_compose_wiring(ctx):
    status, resp = mpic(ctx, {"check_type": "dcv",
                              "domain_or_ip_target": "ok.dcv.test",
                              "dcv_check_parameters": u.dns01_params()})
    eq(status, 200, "status (%r)" % (resp,))
    eq((resp["is_valid"], resp["mpic_completed"]), (True, True),
       "dns-01 (%r)" % resp)


@R.case
def test_api_key_from_environment_required(ctx):
    body = {"check_type": "caa", "domain_or_ip_target": "permit.caa.test"}
    status, _ = mpic(ctx, body, key=None)
    check(status in (401, 403), "no key: %d" % status)
    status, _ = mpic(ctx, body, key="wrong")
    check(status in (401, 403), "wrong key: %d" % status)
    status, _ = mpic(ctx, body, key="compose-key-1")
    eq(status, 200, "first key")


@R.case
def test_checkers_refuse_without_client_certificate(ctx):
    d = ctx.daemons["caa-us-east-1"]
    status, _ = u.request(d.base + "/caa", {"domain_or_ip_target": "x.test"},
                          ctx=u.tls_context(os.path.join(ctx.tls,
                                                         "checkers-ca.crt")))
    eq(status, 403, "no client certificate")


@R.case
def test_unbound_configs(ctx):
    s = ctx.services
    codes = sorted(n[8:] for n in s if n.startswith("unbound-"))
    w = os.path.join(ctx.cluster.workdir, "unbound-check")
    os.makedirs(w, exist_ok=True)
    for c in codes:
        svc = s["unbound-" + c]
        src = [a for a, b in bind_mounts(svc)
               if b == "/etc/unbound/unbound.conf"]
        eq(len(src), 1, "unbound-%s config mount" % c)
        with open(src[0]) as f:
            text = f.read()
        allowed = set(re.findall(r"^\s*access-control:\s*(\S+)\s+allow",
                                 text, re.M))
        want = {"127.0.0.0/8"} | {
            s["%s-%s" % (k, c)]["networks"]["persp-" + c]["ipv4_address"] +
            "/32" for k in ("caa", "dcv")}
        eq(allowed, want, "unbound-%s access-control" % c)
        check(re.search(r"access-control:\s*0\.0\.0\.0/0\s+refuse", text),
              "unbound-%s refuses everyone else" % c)
        check(re.search(r'module-config:\s*"validator iterator"', text),
              "unbound-%s validates DNSSEC" % c)
        port = re.search(r"^\s*port:\s*(\d+)", text, re.M).group(1)
        ip = svc["networks"]["persp-" + c]["ipv4_address"]
        for k in ("caa", "dcv"):
            eq(s["%s-%s" % (k, c)]["environment"]["MPIC_DNS_RESOLVERS"],
               "%s:%s" % (ip, port), "%s-%s resolver" % (k, c))
        # Validates DNSSEC to the root trust anchor, which the image
        # installs where the configuration expects it.
        u.assert_validating_unbound(text, w, c)
    with open(os.path.join(h.REPO, "Dockerfile.unbound")) as f:
        docker = f.read()
    check("dns-root-data" in docker and
          "/usr/share/dns/root.key /var/lib/unbound/root.key" in docker,
          "Dockerfile.unbound seeds /var/lib/unbound/root.key")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
