#!/usr/bin/env python3
"""deploy/kubernetes: every overlay renders with `kubectl kustomize` and
every object validates against the Kubernetes OpenAPI schemas (npm package
kubernetes-models, offline, via deploy/kubernetes/tools/validate.mjs); then
the deployment's own rules: hardened pods, probes, resources, Secrets for
secrets, one resolver per perspective, NetworkPolicies, PDB and HPA.

The Secrets' source files come from deploy/kubernetes/gen-secrets.sh, run on
a copy of deploy/kubernetes here. No cluster is contacted."""

import copy
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

REPO = h.REPO
KDIR = os.path.join(REPO, "deploy", "kubernetes")
VALIDATE = os.path.join(KDIR, "tools", "validate.mjs")
CODES = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1",
         "ap-northeast-1"]
R = h.Runner()


def tool(name):
    p = shutil.which(name)
    if p is None:
        raise RuntimeError("%s not installed (scripts/install-deps.sh "
                           "installs it)" % name)
    return p


def node_modules():
    p = subprocess.run([tool("npm"), "root", "-g"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=True)
    root = p.stdout.decode().strip()
    if not os.path.isdir(os.path.join(root, "kubernetes-models")):
        raise RuntimeError("npm package kubernetes-models missing in %s" % root)
    return root


class Ctx:
    """A stand-in cluster object so the harness runner can close it."""

    def __init__(self):
        self.cluster = h.Cluster(dns=False)
        self.dir = os.path.join(self.cluster.workdir, "kubernetes")
        shutil.copytree(KDIR, self.dir, ignore=shutil.ignore_patterns(
            "secrets", "pki"))
        # gen-secrets.sh finds scripts/gen-certs.sh relative to itself.
        p = subprocess.run(["sh", os.path.join(KDIR, "gen-secrets.sh"),
                            self.dir], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError("gen-secrets.sh: %s" % p.stdout.decode())
        self.kubectl = tool("kubectl")
        self.modules = node_modules()
        self.rendered = {}

    def overlays(self):
        return sorted(os.listdir(os.path.join(self.dir, "overlays")))

    def render(self, overlay):
        if overlay not in self.rendered:
            import yaml
            p = subprocess.run([self.kubectl, "kustomize", os.path.join(
                self.dir, "overlays", overlay)], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=120)
            if p.returncode != 0:
                raise AssertionError("kustomize %s: %s" % (
                    overlay, p.stderr.decode()))
            self.rendered[overlay] = [d for d in yaml.safe_load_all(p.stdout)
                                      if d]
        return self.rendered[overlay]


def normalise(objs):
    """As the API server reads them: base64 in Secret data may be wrapped."""
    out = copy.deepcopy(objs)
    for o in out:
        if o["kind"] == "Secret":
            for k, v in (o.get("data") or {}).items():
                o["data"][k] = "".join(v.split())
    return out


def validate(ctx, objs):
    p = subprocess.run([tool("node"), VALIDATE, ctx.modules],
                       input=json.dumps(normalise(objs)).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return p.returncode, p.stdout.decode()


def of_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def by_name(objs, kind, name):
    got = [o for o in objs if o["kind"] == kind and
           o["metadata"]["name"] == name]
    eq(len(got), 1, "%s %s" % (kind, name))
    return got[0]


def pod_problems(dep):
    """The hardening rules for one Deployment; [] when it follows them."""
    name = dep["metadata"]["name"]
    spec = dep["spec"]["template"]["spec"]
    bad = []
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        bad.append(name + ": pod runAsNonRoot")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        bad.append(name + ": seccompProfile")
    if spec.get("automountServiceAccountToken") is not False:
        bad.append(name + ": service account token mounted")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        cn = "%s/%s" % (name, c["name"])
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(cn + ": allowPrivilegeEscalation")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append(cn + ": readOnlyRootFilesystem")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            bad.append(cn + ": capabilities not all dropped")
        if sc.get("privileged"):
            bad.append(cn + ": privileged")
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(k, {}):
                    bad.append("%s: resources.%s.%s" % (cn, k, r))
    for c in spec.get("containers", []):
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c:
                bad.append("%s/%s: no %s" % (name, c["name"], probe))
    return bad


# ---------------------------------------------------------------- cases


@R.case
def test_every_overlay_renders_and_validates(ctx):
    overlays = ctx.overlays()
    for want in ["coordinator", "all"] + ["perspective-" + c for c in CODES]:
        check(want in overlays, "overlay %s missing" % want)
    for o in overlays:
        objs = ctx.render(o)
        check(objs, o + " renders nothing")
        rc, out = validate(ctx, objs)
        eq(rc, 0, "schema validation of %s:\n%s" % (o, out))
        check("%d valid, 0 invalid" % len(objs) in out, out[-200:])


@R.case
def test_validator_rejects_broken_objects(ctx):
    objs = ctx.render("perspective-us-east-1")
    dep = copy.deepcopy(by_name(objs, "Deployment", "mpic-caa-checker"))
    dep["spec"]["template"]["spec"]["containers"][0]["ports"][0][
        "containerPort"] = "https"
    rc, out = validate(ctx, [dep])
    eq(rc, 1, "a string containerPort validated:\n" + out)
    check("containerPort" in out, out)
    svc = copy.deepcopy(of_kind(objs, "Service")[0])
    del svc["spec"]["ports"][0]["port"]
    rc, out = validate(ctx, [svc])
    eq(rc, 1, "a Service port without port validated:\n" + out)
    rc, out = validate(ctx, [{"apiVersion": "example.com/v1", "kind": "Nope",
                              "metadata": {"name": "x"}}])
    eq(rc, 1, "an unknown kind validated")


@R.case
def test_pods_are_hardened(ctx):
    for o in ctx.overlays():
        for dep in of_kind(ctx.render(o), "Deployment"):
            eq(pod_problems(dep), [], o)
    # The rules themselves catch a weakened pod.
    dep = copy.deepcopy(by_name(ctx.render("coordinator"), "Deployment",
                                "mpic-coordinator"))
    c = dep["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"]["readOnlyRootFilesystem"] = False
    del c["livenessProbe"]
    check(len(pod_problems(dep)) == 2, "weakened pod not caught")


@R.case
def test_secrets_only_in_secrets(ctx):
    objs = ctx.render("all")
    for cm in of_kind(objs, "ConfigMap"):
        text = json.dumps(cm.get("data", {}))
        for bad in ("PRIVATE KEY", "hash_secret", "api_keys", "BEGIN CERT"):
            check(bad not in text, "ConfigMap %s holds %s" % (
                cm["metadata"]["name"], bad))
    names = {s["metadata"]["name"].rsplit("-", 1)[0] for s in
             of_kind(objs, "Secret")}
    eq(names, {"mpic-coordinator-secrets", "mpic-coordinator-tls",
               "mpic-checker-tls"}, "Secrets")
    coord = by_name(objs, "Deployment", "mpic-coordinator")
    env = {e["name"]: e for e in
           coord["spec"]["template"]["spec"]["containers"][0]["env"]}
    for k in ("MPIC_HASH_SECRET", "MPIC_API_KEYS"):
        check("secretKeyRef" in env[k].get("valueFrom", {}),
              k + " from a Secret")


@R.case
def test_perspective_namespaces(ctx):
    for code in CODES:
        objs = ctx.render("perspective-" + code)
        ns = "mpic-" + code
        eq([n["metadata"]["name"] for n in of_kind(objs, "Namespace")], [ns],
           "namespace")
        for o in objs:
            if o["kind"] != "Namespace":
                eq(o["metadata"].get("namespace"), ns, "%s %s namespace" % (
                    o["kind"], o["metadata"]["name"]))
        deps = {d["metadata"]["name"] for d in of_kind(objs, "Deployment")}
        eq(deps, {"mpic-caa-checker", "mpic-dcv-checker", "mpic-resolver"},
           code + " deployments")
        svcs = {s["metadata"]["name"] for s in of_kind(objs, "Service")}
        eq(svcs, {"caa", "dcv", "mpic-resolver"}, code + " services")
        pc = [c for c in of_kind(objs, "ConfigMap")
              if c["metadata"]["name"].startswith("mpic-perspective")]
        eq(pc[0]["data"]["perspective_code"], code, "perspective code")


@R.case
def test_network_policies(ctx):
    objs = ctx.render("perspective-eu-west-1")
    pols = {p["metadata"]["name"]: p["spec"] for p in
            of_kind(objs, "NetworkPolicy")}
    eq(pols["default-deny"], {"podSelector": {},
                              "policyTypes": ["Ingress", "Egress"]},
       "default deny")
    ing = pols["checkers"]["ingress"]
    eq(len(ing), 1, "one ingress rule for the checkers")
    frm = ing[0]["from"]
    eq(len(frm), 1, "one source")
    eq(frm[0]["podSelector"]["matchLabels"],
       {"app.kubernetes.io/name": "mpic-coordinator"}, "source pods")
    eq(frm[0]["namespaceSelector"]["matchLabels"],
       {"mpic.open-mpic.org/role": "coordinator"}, "source namespace")
    ring = pols["resolver"]["ingress"]
    eq(len(ring), 1, "one ingress rule for the resolver")
    sel = ring[0]["from"][0]
    check("namespaceSelector" not in sel, "resolver open to other namespaces")
    eq(sel["podSelector"]["matchExpressions"][0]["values"],
       ["caa-checker", "dcv-checker"], "resolver clients")
    # The coordinator namespace is labelled as the checkers expect.
    cobjs = ctx.render("coordinator")
    ns = of_kind(cobjs, "Namespace")[0]
    eq(ns["metadata"]["labels"].get("mpic.open-mpic.org/role"),
       "coordinator", "coordinator namespace label")
    cpols = {p["metadata"]["name"] for p in of_kind(cobjs, "NetworkPolicy")}
    check({"default-deny", "mpic-coordinator"} <= cpols, cpols)


@R.case
def test_coordinator_pdb_and_hpa(ctx):
    objs = ctx.render("coordinator")
    pdb = of_kind(objs, "PodDisruptionBudget")
    hpa = of_kind(objs, "HorizontalPodAutoscaler")
    eq((len(pdb), len(hpa)), (1, 1), "one PDB and one HPA")
    dep = by_name(objs, "Deployment", "mpic-coordinator")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    for k, v in pdb[0]["spec"]["selector"]["matchLabels"].items():
        eq(labels.get(k), v, "PDB selects the coordinator")
    ref = hpa[0]["spec"]["scaleTargetRef"]
    eq((ref["kind"], ref["name"]), ("Deployment", "mpic-coordinator"), "HPA")
    check(hpa[0]["spec"]["minReplicas"] >= 2, "HPA min replicas")


@R.case
def test_checker_resolver_wiring(ctx):
    objs = ctx.render("perspective-us-east-1")
    for name in ("mpic-caa-checker", "mpic-dcv-checker"):
        c = by_name(objs, "Deployment", name)["spec"]["template"]["spec"][
            "containers"][0]
        env = {e["name"]: e for e in c["env"]}
        eq(env["MPIC_DNS_RESOLVERS"]["value"],
           "$(MPIC_RESOLVER_SERVICE_HOST):$(MPIC_RESOLVER_SERVICE_PORT)",
           name + " resolver from the mpic-resolver Service")
    svc = by_name(objs, "Service", "mpic-resolver")
    eq(svc["spec"]["ports"][0]["port"], 5353, "resolver port")


@R.case
def test_resolver_validates_dnssec(ctx):
    # The rendered resolver validates DNSSEC to the root trust anchor that
    # its init container seeds (allow_lookup_failure needs it,
    # open-mpic-api.md 5.2).
    for code in CODES:
        objs = ctx.render("perspective-" + code)
        cms = [c for c in of_kind(objs, "ConfigMap")
               if c["metadata"]["name"].startswith("mpic-resolver-config")]
        eq(len(cms), 1, code + " resolver ConfigMap")
        u.assert_validating_unbound(cms[0]["data"]["unbound.conf"],
                                    ctx.cluster.workdir, code)
        pod = by_name(objs, "Deployment", "mpic-resolver")["spec"][
            "template"]["spec"]
        init = {c["name"]: c for c in pod["initContainers"]}
        eq(init["trust-anchor"]["command"],
           ["cp", "/usr/share/dns/root.key", "/var/lib/unbound/root.key"],
           code + " trust anchor seeded")
        mounts = {m["mountPath"]: m["name"]
                  for m in pod["containers"][0]["volumeMounts"]}
        eq(mounts.get("/var/lib/unbound"), "state",
           code + " unbound sees the seeded anchor")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
