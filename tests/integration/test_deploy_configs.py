#!/usr/bin/env python3
"""Every example configuration passes its daemon's --check-config.

config/*.yaml, config/local/, config/compose/, config/ec2/,
deploy/failover/ and the Kubernetes ConfigMap sources under deploy/kubernetes/base/. Files that name
TLS material are checked twice: as shipped (the only problems reported must
be the missing TLS files, which shows the paths really are read), and with
the directories of those paths mapped to a throwaway PKI from
scripts/gen-certs.sh (then they must be usable). The environment is what
the deployments provide (MPIC_HASH_SECRET and friends). The resolver
configurations pass unbound-checkconf."""

import glob
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

REPO = h.REPO
R = h.Runner()
DEPLOY_ENV = {"MPIC_HASH_SECRET": "check-config-secret",
              "MPIC_API_KEYS": "k1,k2",
              "MPIC_DNS_RESOLVERS": "127.0.0.1:5353",
              "MPIC_PERSPECTIVE_CODE": "us-east-1"}
TLS_KEY = re.compile(r"^(\s*)(cert_file|key_file|client_ca_file|ca_file):"
                     r"\s*(\S+)\s*$", re.M)


def example_configs():
    pats = ["config/*.yaml", "config/local/*.yaml", "config/compose/*.yaml",
            "config/ec2/*.yaml", "deploy/failover/*.yaml",
            "deploy/kubernetes/base/*/*.yaml"]
    out = []
    for pat in pats:
        for f in sorted(glob.glob(os.path.join(REPO, pat))):
            base = os.path.basename(f)
            if base.startswith("available_perspectives") or \
                    base == "kustomization.yaml":
                continue
            with open(f) as fh:
                text = fh.read()
            # Kubernetes manifests are not daemon configurations.
            if re.search(r"^apiVersion:", text, re.M):
                continue
            out.append(f)
    return out


def binary_for(path):
    base = os.path.basename(path)
    for kind in ("coordinator", "caa", "dcv"):
        if kind in base:
            return "mpic-coordinator" if kind == "coordinator" else \
                "mpic-%s-checker" % kind
    raise AssertionError("which daemon reads %s?" % path)


def check_config(path, env_extra=None, lenient=False, env=None, args=()):
    env = h.clean_env(dict(DEPLOY_ENV, **(env_extra or {}))
                      if env is None else env)
    p = subprocess.run([h.binary(binary_for(path)), "--check-config"] +
                       (["--lenient-paths"] if lenient else []) +
                       ["--config", path] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster(dns=False)
        self.w = self.cluster.workdir
        self.pki = u.gen_certs(os.path.join(self.w, "pki"),
                               "checker=127.0.0.1,localhost")
        self.files = example_configs()

    def with_pki(self, path):
        """A copy of path (next to a copy of its directory's other files)
        whose TLS paths point into a throwaway PKI."""
        src_dir = os.path.dirname(path)
        d = os.path.join(self.w, "cfg", os.path.relpath(src_dir, REPO))
        if not os.path.isdir(d):
            shutil.copytree(src_dir, d)
        with open(path) as f:
            text = f.read()
        section = None
        out = []
        for line in text.splitlines(True):
            m = re.match(r"^(\w+):", line)
            if m:
                section = m.group(1)
            km = TLS_KEY.match(line.rstrip("\n"))
            if km:
                key, target = km.group(2), km.group(3).strip('"')
                client = section == "checker_tls"
                src = {"cert_file": "coordinator.crt" if client else
                       "checker.crt",
                       "key_file": "coordinator.key" if client else
                       "checker.key",
                       "ca_file": "checkers-ca.crt",
                       "client_ca_file": "coordinators-ca.crt"}[key]
                local = os.path.join(self.w, "tlsroot") + target
                os.makedirs(os.path.dirname(local), exist_ok=True)
                shutil.copy(os.path.join(self.pki, src), local)
                line = "%s%s: %s\n" % (km.group(1), key, local)
            out.append(line)
        copy = os.path.join(d, os.path.basename(path))
        with open(copy, "w") as f:
            f.write("".join(out))
        return copy


def names_tls(path):
    with open(path) as f:
        return bool(TLS_KEY.search(f.read()))


@R.case
def test_examples_found(ctx):
    rel = [os.path.relpath(f, REPO) for f in ctx.files]
    for want in ("config/coordinator.yaml", "config/caa-checker.yaml",
                 "config/dcv-checker.yaml", "config/compose/coordinator.yaml",
                 "config/ec2/coordinator.yaml",
                 "config/ec2/dcv-checker.yaml",
                 "deploy/kubernetes/base/coordinator/coordinator.yaml",
                 "deploy/kubernetes/base/perspective/caa-checker-config.yaml"):
        check(want in rel, want + " not among " + repr(rel))


@R.case
def test_every_example_passes_check_config(ctx):
    failures = []
    for f in ctx.files:
        target = ctx.with_pki(f) if names_tls(f) else f
        rc, out = check_config(target)
        if rc != 0:
            failures.append("%s: %s" % (os.path.relpath(f, REPO), out))
    eq(failures, [], "--check-config failures")


@R.case
def test_tls_paths_are_really_checked(ctx):
    seen = 0
    for f in ctx.files:
        if not names_tls(f):
            continue
        seen += 1
        rc, out = check_config(f)
        eq(rc, 1, "%s as shipped (no TLS files here): %s" % (f, out))
        problems = [ln for ln in out.splitlines()
                    if re.match(r"^\S+\.yaml:\d+:", ln)]
        check(problems, "no located problems: " + out)
        for ln in problems:
            check(re.search(r"(cert_file|key_file|ca_file): cannot read", ln),
                  "%s: a problem other than missing TLS files: %s" % (f, ln))
    check(seen >= 6, "TLS-using examples: %d" % seen)


@R.case
def test_shipped_configs_pass_with_lenient_paths(ctx):
    """As shipped, with --lenient-paths: the TLS files exist only where
    the configurations are deployed (containers, systemd credentials)."""
    failures = []
    for f in ctx.files:
        rc, out = check_config(f, lenient=True)
        if rc != 0:
            failures.append("%s: %s" % (os.path.relpath(f, REPO), out))
    eq(failures, [], "--check-config --lenient-paths failures")


@R.case
def test_shipped_configs_stay_authenticated(ctx):
    """Without the secrets the deployments provide, a coordinator listening
    beyond loopback is refused, and so is any checker that could answer
    anyone: every shipped configuration authenticates its callers."""
    env = h.clean_env({"MPIC_HASH_SECRET": "s",
                       "MPIC_DNS_RESOLVERS": "127.0.0.1:5353",
                       "MPIC_PERSPECTIVE_CODE": "us-east-1"})
    for f in ctx.files:
        rc, out = check_config(f, lenient=True, env=env)
        with open(f) as fh:
            text = fh.read()
        m = re.search(r"^listen:\s*(\S+)", text, re.M)
        listen = m.group(1) if m else ""
        check(not re.search(r"^\s*allow_(unauthenticated|plaintext_checkers)"
                            r":\s*true", text, re.M), f + " opts out")
        if "coordinator" in os.path.basename(f) and \
                not listen.startswith("127."):
            eq(rc, 1, "%s without MPIC_API_KEYS: %s" % (f, out))
            check("set api_keys (or MPIC_API_KEYS)" in out, out)
        else:
            eq(rc, 0, "%s: %s" % (f, out))


@R.case
def test_typo_refused_with_suggestion(ctx):
    src = os.path.join(REPO, "config", "ec2", "coordinator.yaml")
    with open(src) as f:
        text = f.read()
    bad = os.path.join(ctx.w, "cfg", "typo", "coordinator.yaml")
    os.makedirs(os.path.dirname(bad), exist_ok=True)
    shutil.copy(os.path.join(REPO, "config", "ec2",
                             "available_perspectives.yaml"),
                os.path.dirname(bad))
    with open(bad, "w") as f:
        f.write(text.replace("default_perspective_count:",
                             "default_perspectve_count:"))
    rc, out = check_config(bad, lenient=True)
    eq(rc, 1, "typo accepted: " + out)
    check(re.search(r"coordinator\.yaml:\d+: default_perspectve_count: "
                    r"unknown key \(did you mean "
                    r"'default_perspective_count'\?\)", out), out)
    check("configuration OK" not in out, out)


@R.case
def test_production_examples_use_five_perspectives(ctx):
    for f in ("config/coordinator.yaml", "config/ec2/coordinator.yaml",
              "config/compose/coordinator.yaml",
              "deploy/failover/coordinator.yaml",
              "deploy/kubernetes/base/coordinator/coordinator.yaml"):
        with open(os.path.join(REPO, f)) as fh:
            text = fh.read()
        m = re.search(r"^default_perspective_count:\s*(\d+)", text, re.M)
        check(m and int(m.group(1)) >= 5, f + " default_perspective_count")
        check(not re.search(r"^hash_secret:", text, re.M) or
              f == "config/coordinator.yaml",
              f + " carries a hash_secret (use MPIC_HASH_SECRET)")


# BR 3.2.2.9: at least 5 remote perspectives from 2026-12-15; the last
# rise of the calendar, so "later" is any day after it.
BR_DAYS = ["2026-12-15", "2027-03-15", "2028-03-15", "2031-01-01"]


@R.case
def test_coordinator_examples_pass_the_br_calendar(ctx):
    """Every shipped coordinator configuration, with its compliance policy
    left on auto, passes --check-config as of 2026-12-15 and later (minimum
    5), and cohorts of its default size can be formed."""
    coords = [f for f in ctx.files if binary_for(f) == "mpic-coordinator"]
    rel = [os.path.relpath(f, REPO) for f in coords]
    for want in ("config/coordinator.yaml", "config/local/coordinator.yaml",
                 "config/compose/coordinator.yaml",
                 "config/ec2/coordinator.yaml",
                 "deploy/failover/coordinator.yaml",
                 "deploy/kubernetes/base/coordinator/coordinator.yaml"):
        check(want in rel, want + " not among " + repr(rel))
    failures = []
    for f in coords:
        with open(f) as fh:
            text = fh.read()
        m = re.search(r"^\s+min_perspective_count:\s*(\S+)", text, re.M)
        check(m is None or m.group(1) == "auto",
              "%s overrides min_perspective_count" % f)
        target = ctx.with_pki(f) if names_tls(f) else f
        for day in BR_DAYS:
            rc, out = check_config(target, args=["--as-of", day])
            if rc != 0 or "minimum 5 perspectives (auto: BR 3.2.2.9 from " \
                    "2026-12-15)" not in out or "no cohort of" in out or \
                    "will fail" in out or "will be refused" in out:
                failures.append("%s as of %s: %s" % (
                    os.path.relpath(f, REPO), day, out))
    eq(failures, [], "coordinator examples against the BR calendar")


@R.case
def test_br_calendar_check_has_teeth(ctx):
    """The same check refuses a default of 4 from 2026-12-15 (and a
    configuration whose perspectives are fewer than 5), so the test above
    can fail."""
    src = os.path.join(REPO, "config", "local", "coordinator.yaml")
    d = os.path.join(ctx.w, "teeth")
    shutil.copytree(os.path.dirname(src), d)
    path = os.path.join(d, "coordinator.yaml")
    with open(src) as f:
        text = f.read()
    four = re.sub(r"^default_perspective_count:.*$",
                  "default_perspective_count: 4", text, flags=re.M)
    check(four != text, "default_perspective_count not found")
    with open(path, "w") as f:
        f.write(four)
    rc, out = check_config(path, args=["--as-of", "2026-12-14"])
    eq(rc, 0, "default 4 on 2026-12-14: " + out)
    rc, out = check_config(path, args=["--as-of", "2026-12-15"])
    eq(rc, 1, "default 4 on 2026-12-15: " + out)
    check(re.search(r"coordinator\.yaml:\d+: default_perspective_count: 4 is "
                    r"below the minimum of 5 remote perspectives", out), out)
    # Four perspectives left: too few for the minimum of 5.
    lines = four.splitlines(True)
    start = next(i for i, ln in enumerate(lines)
                 if ln.startswith("  - code: ap-northeast-1"))
    del lines[start:start + 6]  # ap-northeast-1 and sa-east-1
    with open(path, "w") as f:
        f.write("".join(lines))
    rc, out = check_config(path, args=["--as-of", "2027-01-01"])
    eq(rc, 1, "four perspectives: " + out)
    check("perspectives: 4 perspectives configured, fewer than the minimum "
          "of 5" in out, out)


@R.case
def test_broken_config_is_refused(ctx):
    src = os.path.join(REPO, "config", "ec2", "coordinator.yaml")
    bad = ctx.with_pki(src).replace(".yaml", "-bad.yaml")
    with open(ctx.with_pki(src)) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("- code: us-west-2", "- code: xx-nowhere-1"))
    rc, out = check_config(bad)
    eq(rc, 1, "unknown perspective accepted: " + out)
    check("xx-nowhere-1" in out, out)


@R.case
def test_resolver_configs(ctx):
    # Every shipped perspective resolver validates DNSSEC to the root trust
    # anchor: allow_lookup_failure needs it (open-mpic-api.md 5.2).
    confs = sorted(glob.glob(os.path.join(REPO, "config/compose/unbound/*.conf")))
    confs += [os.path.join(REPO, "deploy/kubernetes/base/perspective/unbound.conf"),
              os.path.join(REPO, "deploy/ec2/unbound/mpic-perspective.conf")]
    for i, c in enumerate(confs):
        with open(c) as f:
            text = f.read()
        check('module-config: "validator iterator"' in text, c + " validates")
        check(re.search(r"access-control:\s*0\.0\.0\.0/0\s+refuse", text),
              c + " refuses by default")
        check(re.search(r'^\s*auto-trust-anchor-file:\s*'
                        r'"/var/lib/unbound/root.key"', text, re.M),
              c + " names the root trust anchor itself")
        u.assert_validating_unbound(text, ctx.w, "%d" % i)


@R.case
def test_caa_checker_configs_allow_the_dnssec_carve_out(ctx):
    # A shipped CAA checker retries (dns.tries >= 2) and keeps the BR
    # 3.2.2.8 carve-out at its default, so allow_lookup_failure can apply.
    confs = [os.path.join(REPO, p) for p in (
        "config/caa-checker.yaml", "config/compose/caa-checker.yaml",
        "config/ec2/caa-checker.yaml",
        "deploy/kubernetes/base/perspective/caa-checker-config.yaml")]
    confs += sorted(glob.glob(os.path.join(REPO, "config/local/caa-*.yaml")))
    for c in confs:
        if not os.path.exists(c):
            continue
        with open(c) as f:
            text = f.read()
        m = re.search(r"^\s*tries:\s*(\d+)", text, re.M)
        check(m is None or int(m.group(1)) >= 2, c + ": dns.tries < 2")
        check(not re.search(r"^\s*lookup_failure:\s*never", text, re.M),
              c + ": caa.lookup_failure: never")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
