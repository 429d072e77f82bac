#!/usr/bin/env python3
"""deploy/monitoring against real daemons and a real Prometheus.

- promtool (Debian's prometheus package) checks the scrape configuration
  (syntax, then in full with every file it names present), the alert rules,
  and runs the rules' unit tests (mpic-alerts.test.yml).
- A coordinator and three perspectives (CAA and DCV checkers) run as in
  production: checkers on HTTPS requiring a client certificate from the
  coordinators' CA and a bearer token for /caa and /dcv, the coordinator
  with api_keys. After they served passing, failing and refused requests,
  the /metrics of each kind of daemon passes `promtool check metrics`.
- Who may read /metrics is what prometheus.yml says: no bearer token or API
  key; on a checker, a client certificate.
- The scrape targets of prometheus.yml are compose.yaml's services.
- Every expression of the dashboard and of the alert rules uses only metric
  names, label names and label values the live daemons export.
- Prometheus itself runs prometheus.yml (only the targets replaced by the
  live daemons, intervals shortened): every target is up, the rules
  evaluate without error, and stopping a checker makes MpicPerspectiveDown
  pending for exactly that perspective.
Nothing leaves 127.0.0.1."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402
import deploy_util as u  # noqa: E402

u.use_ports(25000, 25399)

R = h.Runner()
MON = os.path.join(h.REPO, "deploy", "monitoring")
PROM_YML = os.path.join(MON, "prometheus.yml")
RULES = os.path.join(MON, "mpic-alerts.yml")
RULES_TEST = os.path.join(MON, "mpic-alerts.test.yml")
DASHBOARD = os.path.join(MON, "grafana-dashboard.json")
CODES = ["us-east-1", "eu-west-1", "ap-northeast-1"]
TOKEN = "monitoring-checker-token"
API_KEY = "monitoring-api-key"
JOBS = {"coordinator": "mpic-coordinator", "caa": "mpic-caa-checker",
        "dcv": "mpic-dcv-checker"}
# Labels Prometheus attaches to every scraped series (prometheus.yml).
TARGET_LABELS = {"job", "instance", "perspective"}
# Label values that depend on traffic or on the deployment, not on the code.
FREE_LABELS = {"instance", "perspective", "status"}


def promtool(*args, cwd=None, stdin=None):
    exe = shutil.which("promtool")
    if exe is None:
        raise AssertionError("promtool not installed (Debian package "
                             "prometheus; scripts/install-deps.sh)")
    p = subprocess.run([exe] + list(args), cwd=cwd, input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def sign_client_cert(pki, name):
    """A client certificate from the coordinators' CA, made as README.md in
    deploy/monitoring says."""
    key = os.path.join(pki, name + ".key")
    csr = os.path.join(pki, name + ".csr")
    crt = os.path.join(pki, name + ".crt")
    ext = os.path.join(pki, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    u.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-out", key])
    u.run(["openssl", "req", "-new", "-key", key, "-subj",
           "/O=open-mpic-c/CN=" + name, "-out", csr])
    u.run(["openssl", "x509", "-req", "-sha256", "-days", "2", "-in", csr,
           "-CA", os.path.join(pki, "coordinators-ca.crt"),
           "-CAkey", os.path.join(pki, "coordinators-ca.key"),
           "-CAcreateserial", "-CAserial", os.path.join(pki, name + ".srl"),
           "-extfile", ext, "-out", crt])
    return crt, key


def coordinator_yaml(port, pki, checkers):
    lines = ["listen: \"127.0.0.1:%d\"" % port, "log_level: debug",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code in CODES:
        lines += ["  - code: %s" % code,
                  "    caa_url: %s" % json.dumps(checkers["caa", code].url),
                  "    dcv_url: %s" % json.dumps(checkers["dcv", code].url),
                  "    headers: {Authorization: %s}" % json.dumps(
                      "Bearer " + TOKEN)]
    lines += ["default_perspective_count: 3", "absolute_max_attempts: 1",
              "hash_secret: \"monitoring-secret\"",
              "remote_timeout_ms: 6000",
              "api_keys: [%s]" % json.dumps(API_KEY)]
    # Three perspectives are enough to watch; the BR minimum is not what
    # this test is about.
    lines += h.compliance_yaml()
    return "\n".join(lines) + "\n" + u.checker_tls_yaml(
        os.path.join(pki, "checkers-ca.crt"),
        os.path.join(pki, "coordinator.crt"),
        os.path.join(pki, "coordinator.key"))


class Ctx:
    def __init__(self):
        self.cluster = u.cluster_with_dcv_zones()
        w = self.cluster.workdir
        self.pki = u.gen_certs(os.path.join(w, "pki"),
                               "checker=127.0.0.1,localhost")
        p = self.pki
        self.prom_cert = sign_client_cert(p, "prometheus")
        self.ca = os.path.join(p, "checkers-ca.crt")
        self.coord_ctx = u.tls_context(self.ca, os.path.join(
            p, "coordinator.crt"), os.path.join(p, "coordinator.key"))
        self.prom_ctx = u.tls_context(self.ca, *self.prom_cert)
        self.checkers = {}
        for code in CODES:
            for kind in ("caa", "dcv"):
                self.checkers[kind, code] = self.start_checker(kind, code)
        port = h.free_port(udp_too=False)
        sub = os.path.join(w, "coordinator")
        os.makedirs(sub)
        with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        self.coord = u.start_daemon(
            self.cluster, "coordinator", "mpic-coordinator",
            coordinator_yaml(port, p, self.checkers), port,
            "http://127.0.0.1:%d/healthz" % port, workdir=sub)
        self.served = False
        self.prom = None

    def start_checker(self, kind, code):
        port = h.free_port(udp_too=False)
        extra = u.tls_yaml(os.path.join(self.pki, "checker.crt"),
                           os.path.join(self.pki, "checker.key"),
                           os.path.join(self.pki, "coordinators-ca.crt"))
        extra += "auth:\n  bearer_tokens: [%s]\n" % json.dumps(TOKEN)
        if kind == "dcv":
            extra += "targets:\n  allow_private_addresses: true\n"
        text = h.checker_config(code, port, [self.cluster.dns.resolver],
                                extra=extra)
        d = u.start_daemon(self.cluster, "%s-%s" % (kind, code),
                           "mpic-%s-checker" % kind, text, port,
                           "https://127.0.0.1:%d/healthz" % port,
                           ctx=self.coord_ctx)
        d.kind, d.code = kind, code
        d.url = "https://127.0.0.1:%d/%s" % (port, kind)
        d.https = "https://127.0.0.1:%d" % port
        return d


def mpic(ctx, body, key=API_KEY):
    headers = {"x-api-key": key} if key else {}
    return h.post(ctx.coord.base + "/mpic", body, headers=headers)


def serve_some(ctx):
    """Passing, failing and refused requests through every daemon kind."""
    if ctx.served:
        return
    for target, want in [("permit.caa.test", True), ("deny.caa.test", False),
                         ("permit.caa.test", True)]:
        st, resp = mpic(ctx, {"check_type": "caa",
                              "domain_or_ip_target": target})
        eq(st, 200, "caa %s status (%r)" % (target, resp))
        eq(resp["is_valid"], want, "caa %s is_valid" % target)
    for value, want in [(u.DNS01_HASH, True), ("wrong-value", False)]:
        st, resp = mpic(ctx, {"check_type": "dcv",
                              "domain_or_ip_target": "ok.dcv.test",
                              "dcv_check_parameters": u.dns01_params(value)})
        eq(st, 200, "dcv status (%r)" % (resp,))
        eq(resp["is_valid"], want, "dcv is_valid with %s" % value)
    st, _ = mpic(ctx, {"check_type": "caa",
                       "domain_or_ip_target": "permit.caa.test"}, key=None)
    eq(st, 401, "/mpic without an API key")
    st, _ = mpic(ctx, {"check_type": "caa"})
    eq(st, 400, "/mpic without a target")
    for kind in ("caa", "dcv"):
        d = ctx.checkers[kind, CODES[0]]
        st, _ = u.request(d.url, body={"check_type": kind},
                          headers={"Authorization": "Bearer " + TOKEN},
                          ctx=ctx.coord_ctx)
        eq(st, 400, "malformed POST /%s" % kind)
    ctx.served = True


def metrics_text(ctx, d):
    if getattr(d, "kind", None):
        st, body = u.request(d.https + "/metrics", ctx=ctx.prom_ctx)
    else:
        st, body = h.http_request(d.base + "/metrics")
    eq(st, 200, "%s /metrics status" % d.name)
    check(isinstance(body, bytes), "%s /metrics is not text" % d.name)
    return body.decode("utf-8")


# ---------------------------------------------------------------- exposition


_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+$')
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text, into):
    """Adds {metric: {label: {values}}} of one /metrics text to into."""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            names = [name]
            if kind == "histogram":
                names += [name + s for s in ("_bucket", "_sum", "_count")]
            for n in names:
                into.setdefault(n, {})
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        check(m is not None, "unparsable sample line %r" % line)
        labels = into.setdefault(m.group(1), {})
        for k, v in _PAIR.findall(m.group(3) or ""):
            labels.setdefault(k, set()).add(v)
    return into


def live_metrics(ctx):
    """Every metric, label and label value the three daemon kinds export,
    plus what Prometheus adds (up, the target labels)."""
    if getattr(ctx, "known", None) is None:
        serve_some(ctx)
        known = {}
        for d in [ctx.coord] + list(ctx.checkers.values()):
            parse_exposition(metrics_text(ctx, d), known)
        known["up"] = {}
        for labels in known.values():
            for t in TARGET_LABELS:
                labels.setdefault(t, set())
            labels["job"] |= set(JOBS.values())
        ctx.known = known
    return ctx.known


# ---------------------------------------------------------------- PromQL


_STRING = r'"(?:[^"\\]|\\.)*"'
_SELECTOR = re.compile(r'([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{((?:[^}"]|%s)*)\}'
                       % _STRING)
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(%s)'
                      % _STRING)
_GROUPING = re.compile(r'\b(by|without|on|ignoring|group_left|group_right)'
                       r'\s*\(([^)]*)\)')
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on",
             "ignoring", "group_left", "group_right", "inf", "nan"}


def check_promql(expr, known, where):
    """Every metric name of expr is exported; every label it names exists
    on that metric; every fixed label value it matches exists."""
    problems = []
    for m in _SELECTOR.finditer(expr):
        metric = m.group(1)
        if metric is None:
            problems.append("selector without a metric name: %s" % m.group(0))
            continue
        if metric not in known:
            continue  # reported below
        for lm in _MATCHER.finditer(m.group(2)):
            label, op, value = lm.group(1), lm.group(2), json.loads(
                lm.group(3))
            if label == "__name__" or label not in known[metric]:
                problems.append("%s has no label %r" % (metric, label))
                continue
            if label in FREE_LABELS or "$" in value or op in ("!=", "!~"):
                continue
            values = known[metric][label]
            if op == "=" and value not in values:
                problems.append("%s{%s=%r}: exported values are %s" % (
                    metric, label, value, sorted(values)))
            elif op == "=~" and not any(re.fullmatch(value, v)
                                        for v in values):
                problems.append("%s{%s=~%r} matches none of %s" % (
                    metric, label, value, sorted(values)))
    s = re.sub(_STRING, '""', expr)
    s = re.sub(r'\{[^}]*\}', " ", s)
    s = re.sub(r'\[[^\]]*\]', " ", s)
    for g in _GROUPING.finditer(s):
        for label in re.findall(r'[A-Za-z_][A-Za-z0-9_]*', g.group(2)):
            if not any(label in labels for labels in known.values()):
                problems.append("grouping by unknown label %r" % label)
    s = _GROUPING.sub(" ", s)
    names = set()
    for m in re.finditer(r'(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)'
                         r'\s*(\()?', s):
        if m.group(2) or m.group(1).lower() in _KEYWORDS:
            continue
        names.add(m.group(1))
    for n in sorted(names):
        if n not in known:
            problems.append("metric %r is not exported by any daemon" % n)
    check(names, "%s: no metric in %r" % (where, expr))
    check(not problems, "%s: %s\n  in %s" % (where, "; ".join(problems),
                                             expr))
    return names


# ---------------------------------------------------------------- Prometheus


def prom_api(ctx, path, **params):
    url = "http://127.0.0.1:%d/api/v1/%s" % (ctx.prom_port, path)
    if params:
        url += "?" + urllib.parse.urlencode(params)
    st, body = h.http_request(url, timeout=10)
    eq(st, 200, "GET %s" % url)
    eq(body.get("status"), "success", "%s status" % url)
    return body["data"]


def wait_for(what, fn, timeout=90):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.5)
    raise AssertionError("%s: not after %ds (last: %s)" % (what, timeout,
                                                            last))


def rendered_config(ctx, dirpath, live=True):
    """prometheus.yml in dirpath with the files it names beside it; with
    live, its targets are our daemons and its intervals 1 s."""
    import yaml  # python3-yaml (scripts/install-deps.sh)
    with open(PROM_YML) as f:
        cfg = yaml.safe_load(f)
    os.makedirs(os.path.join(dirpath, "mpic-tls"), exist_ok=True)
    for src, dst in [(ctx.ca, "checkers-ca.crt"),
                     (ctx.prom_cert[0], "prometheus.crt"),
                     (ctx.prom_cert[1], "prometheus.key")]:
        shutil.copy(src, os.path.join(dirpath, "mpic-tls", dst))
    shutil.copy(RULES, dirpath)
    if live:
        cfg["global"].update({"scrape_interval": "1s", "scrape_timeout":
                              "1s", "evaluation_interval": "1s"})
        for job in cfg["scrape_configs"]:
            if job["job_name"] == JOBS["coordinator"]:
                job["static_configs"] = [
                    {"targets": ["127.0.0.1:%d" % ctx.coord.port]}]
                continue
            kind = job["job_name"].split("-")[1]
            job["static_configs"] = [
                {"targets": ["127.0.0.1:%d" % d.port],
                 "labels": {"perspective": d.code}}
                for (k, _), d in sorted(ctx.checkers.items()) if k == kind]
    path = os.path.join(dirpath, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path


def prometheus(ctx):
    """A real Prometheus on prometheus.yml (live targets), started once."""
    if ctx.prom is None:
        exe = shutil.which("prometheus")
        check(exe is not None, "prometheus not installed")
        serve_some(ctx)
        d = os.path.join(ctx.cluster.workdir, "prometheus")
        conf = rendered_config(ctx, d)
        ctx.prom_port = h.free_port(udp_too=False)
        p = h.Proc("prometheus", [
            exe, "--config.file=" + conf,
            "--storage.tsdb.path=" + os.path.join(d, "data"),
            "--web.listen-address=127.0.0.1:%d" % ctx.prom_port,
            "--log.level=info"], d)
        ctx.cluster.dns.procs.append(p)  # stopped with the DNS servers
        ctx.prom = p
        h.wait_tcp(ctx.prom_port, proc=p.proc, timeout=60)

        def ready():
            st, _ = h.http_request("http://127.0.0.1:%d/-/ready"
                                   % ctx.prom_port, timeout=5)
            return st == 200, st
        wait_for("Prometheus ready", ready)
    return ctx.prom


# ---------------------------------------------------------------- cases


@R.case
def promtool_checks_config_and_rules(ctx):
    rc, out = promtool("check", "config", "--syntax-only", PROM_YML)
    eq(rc, 0, "promtool check config --syntax-only:\n" + out)
    # In full: the rule file and the TLS files it names must exist and
    # load (a client certificate without its key fails here).
    d = os.path.join(ctx.cluster.workdir, "promtool")
    rc, out = promtool("check", "config", rendered_config(ctx, d,
                                                          live=False))
    eq(rc, 0, "promtool check config:\n" + out)
    check("mpic-alerts.yml" in out, "rule file not checked:\n" + out)
    rc, out = promtool("check", "rules", RULES)
    eq(rc, 0, "promtool check rules:\n" + out)
    rc, out = promtool("test", "rules", os.path.basename(RULES_TEST),
                       cwd=MON)
    eq(rc, 0, "promtool test rules:\n" + out)


@R.case
def rule_unit_tests_can_fail(ctx):
    """The unit tests see a broken rule: with MpicPerspectiveDown made
    blind, promtool test rules fails."""
    d = os.path.join(ctx.cluster.workdir, "broken-rules")
    os.makedirs(d)
    with open(RULES) as f:
        text = f.read()
    broken = text.replace('up{job=~"mpic-(caa|dcv)-checker"} == 0',
                          'up{job=~"mpic-(caa|dcv)-checker"} == 2', 1)
    check(broken != text, "MpicPerspectiveDown expression not found")
    with open(os.path.join(d, "mpic-alerts.yml"), "w") as f:
        f.write(broken)
    shutil.copy(RULES_TEST, d)
    rc, out = promtool("test", "rules", os.path.basename(RULES_TEST), cwd=d)
    check(rc != 0, "promtool test rules passed a broken rule:\n" + out)
    check("MpicPerspectiveDown" in out, "unexpected failure:\n" + out)


@R.case
def metrics_need_no_token_but_a_client_certificate(ctx):
    serve_some(ctx)
    st, _ = h.http_request(ctx.coord.base + "/metrics")
    eq(st, 200, "coordinator /metrics without an API key")
    for d in ctx.checkers.values():
        st, _ = u.request(d.https + "/metrics", ctx=u.tls_context(ctx.ca))
        eq(st, 403, "%s /metrics without a client certificate" % d.name)
        st, _ = u.request(d.https + "/metrics", ctx=ctx.prom_ctx)
        eq(st, 200, "%s /metrics with Prometheus's certificate, no token"
           % d.name)
        st, _ = u.request(d.https + "/healthz", ctx=u.tls_context(ctx.ca))
        eq(st, 200, "%s /healthz without a client certificate" % d.name)
        # The token still guards the checks themselves.
        st, _ = u.request(d.url, body={"check_type": d.kind},
                          ctx=ctx.prom_ctx)
        eq(st, 401, "%s POST without a bearer token" % d.name)


@R.case
def promtool_check_metrics_on_live_daemons(ctx):
    serve_some(ctx)
    for d in [ctx.coord, ctx.checkers["caa", CODES[0]],
              ctx.checkers["dcv", CODES[0]]]:
        text = metrics_text(ctx, d)
        rc, out = promtool("check", "metrics", stdin=text.encode())
        eq((rc, out.strip()), (0, ""),
           "promtool check metrics on %s" % d.name)
        # Every family has HELP and TYPE.
        helps = set(re.findall(r'^# HELP (\S+)', text, re.M))
        types = set(re.findall(r'^# TYPE (\S+)', text, re.M))
        eq(helps, types, "%s: HELP vs TYPE families" % d.name)
    # The counters moved: this is a served daemon, not an idle one.
    known = live_metrics(ctx)
    for metric, label, value in [
            ("mpic_requests_total", "result", "invalid"),
            ("mpic_remote_checks_total", "result", "not_passed"),
            ("mpic_caa_checks_total", "result", "fail"),
            ("mpic_dcv_results_total", "result", "failed"),
            ("mpic_checker_tls_handshakes_total", "kind", "full")]:
        check(value in known[metric][label], "%s{%s=%r} missing" % (
            metric, label, value))
    coord = metrics_text(ctx, ctx.coord)
    m = re.search(r'^mpic_requests_total\{check_type="dcv",result="valid"\}'
                  r' (\d+)$', coord, re.M)
    check(m and int(m.group(1)) >= 1, "no valid DCV request counted")
    dcv = metrics_text(ctx, ctx.checkers["dcv", CODES[0]])
    m = re.search(r'^mpic_dcv_bad_requests_total (\d+)$', dcv, re.M)
    check(m and int(m.group(1)) >= 1, "no refused DCV request counted")
    for kind in ("caa", "dcv"):
        text = metrics_text(ctx, ctx.checkers[kind, CODES[0]])
        m = re.search(r'^mpic_dns_queries_total (\d+)$', text, re.M)
        check(m and int(m.group(1)) >= 1, "no DNS query counted (%s)" % kind)


@R.case
def scrape_targets_are_the_compose_services(ctx):
    import yaml
    with open(PROM_YML) as f:
        cfg = yaml.safe_load(f)
    with open(os.path.join(h.REPO, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    eq(set(jobs), set(JOBS.values()), "scrape jobs")
    eq(cfg["rule_files"], ["mpic-alerts.yml"], "rule_files")
    coord = jobs[JOBS["coordinator"]]
    eq(coord.get("scheme", "http"), "http", "coordinator scheme")
    check("authorization" not in coord and "bearer_token" not in coord,
          "the coordinator's /metrics needs no token")
    eq([t for sc in coord["static_configs"] for t in sc["targets"]],
       ["coordinator:8000"], "coordinator targets")
    check("coordinator" in compose["services"], "compose coordinator")
    for kind in ("caa", "dcv"):
        job = jobs[JOBS[kind]]
        eq(job["scheme"], "https", "%s scheme" % kind)
        tls = job["tls_config"]
        for k in ("ca_file", "cert_file", "key_file"):
            check(tls.get(k), "%s tls_config.%s" % (kind, k))
        check(not tls.get("insecure_skip_verify"),
              "%s: server certificates must be verified" % kind)
        got = {}
        for sc in job["static_configs"]:
            for t in sc["targets"]:
                got[t] = sc["labels"]["perspective"]
        want = {}
        for name, svc in compose["services"].items():
            if svc.get("command", [""])[0] == "mpic-%s-checker" % kind:
                env = svc["environment"]
                port = urllib.parse.urlsplit(
                    env["MPIC_HEALTHCHECK_URL"]).port
                want["%s:%d" % (name, port)] = env["MPIC_PERSPECTIVE_CODE"]
        check(want, "no %s checkers in compose.yaml" % kind)
        eq(got, want, "%s targets and perspectives" % kind)


@R.case
def dashboard_and_rules_use_exported_metrics(ctx):
    known = live_metrics(ctx)
    with open(DASHBOARD) as f:
        dash = json.load(f)
    for k in ("title", "uid", "panels", "templating", "schemaVersion"):
        check(k in dash, "dashboard has no %r" % k)
    check(dash.get("id") is None, "an importable dashboard has no id")
    var = {v["name"]: v for v in dash["templating"]["list"]}
    ds = var.get("datasource")
    check(ds is not None and ds["type"] == "datasource" and
          ds["query"] == "prometheus", "no Prometheus datasource variable")
    ds_ref = {"type": "prometheus", "uid": "${datasource}"}
    for v in var.values():
        if v["type"] != "query":
            continue
        eq(v["datasource"], ds_ref, "variable %s datasource" % v["name"])
        q = v["query"]["query"] if isinstance(v["query"], dict) else \
            v["query"]
        m = re.fullmatch(r'label_values\((.*),\s*([A-Za-z_]+)\)', q)
        check(m, "variable %s: %r" % (v["name"], q))
        check_promql(m.group(1), known, "variable " + v["name"])
    panels = []
    for p in dash["panels"]:
        panels.append(p)
        panels += p.get("panels", [])
    ids = [p["id"] for p in panels]
    eq(len(ids), len(set(ids)), "panel ids unique")
    used = set()
    n = 0
    for p in panels:
        check("gridPos" in p and p.get("title"), "panel %s" % p.get("id"))
        if p["type"] == "row":
            continue
        n += 1
        where = "panel %r" % p["title"]
        eq(p.get("datasource"), ds_ref, where + " datasource")
        check(p.get("targets"), where + " has no targets")
        refs = [t["refId"] for t in p["targets"]]
        eq(len(refs), len(set(refs)), where + " refIds unique")
        for t in p["targets"]:
            eq(t.get("datasource"), ds_ref, where + " target datasource")
            used |= check_promql(t["expr"], known, where)
    check(n >= 10, "only %d panels" % n)
    for must in ["mpic_requests_total", "mpic_http_request_duration_seconds_bucket",
                 "mpic_caa_checks_total", "mpic_dcv_results_total",
                 "mpic_checker_connections_total",
                 "mpic_checker_tls_handshakes_total",
                 "mpic_dcv_checks_total", "mpic_checker_pings_total",
                 "mpic_dns_queries_total", "mpic_dns_retransmits_total"]:
        check(must in used, "the dashboard shows no %s" % must)
    # The alert rules, by the same measure.
    import yaml
    with open(RULES) as f:
        rules = yaml.safe_load(f)
    alerts = set()
    for g in rules["groups"]:
        for r in g["rules"]:
            check_promql(r["expr"], known, "alert %s" % r.get("alert"))
            alerts.add(r["alert"])
    for must in ["MpicPerspectiveDown", "MpicRemoteChecksNotPassing",
                 "MpicQuorumFailures", "MpicRequestErrors", "MpicStragglers",
                 "MpicCheckerPingsFailing", "MpicLatencySLO"]:
        check(must in alerts, "no alert %s" % must)


@R.case
def metric_check_catches_unknown_names(ctx):
    """The expression check above can fail."""
    known = live_metrics(ctx)
    for bad in ['rate(mpic_caa_checks_totl[5m])',
                'mpic_caa_checks_total{result="passed"}',
                'sum by (perspectiv) (mpic_dcv_results_total)',
                'mpic_requests_total{outcome="valid"}']:
        try:
            check_promql(bad, known, "probe")
        except AssertionError:
            continue
        raise AssertionError("check_promql accepted %r" % bad)


@R.case
def prometheus_scrapes_every_daemon(ctx):
    prometheus(ctx)
    n = 1 + len(ctx.checkers)

    def all_up():
        ts = prom_api(ctx, "targets")["activeTargets"]
        health = {(t["labels"]["job"], t["labels"].get("perspective")):
                  (t["health"], t["lastError"]) for t in ts}
        return (len(ts) == n and all(v[0] == "up" for v in health.values()),
                health)
    wait_for("every target up", all_up)
    # The perspective label reaches the series.
    res = prom_api(ctx, "query",
                   query='sum by (perspective) (mpic_dcv_results_total'
                         '{job="mpic-dcv-checker"})')["result"]
    eq(sorted(r["metric"]["perspective"] for r in res), sorted(CODES),
       "perspectives of the DCV results")

    def rules_ok():
        groups = prom_api(ctx, "rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        bad = [(r["name"], r.get("health"), r.get("lastError"))
               for r in rules if r.get("health") != "ok"]
        return len(rules) > 0 and not bad, bad or len(rules)
    wait_for("every rule evaluated without error", rules_ok)
    firing = [a for a in prom_api(ctx, "alerts")["alerts"]]
    eq(firing, [], "alerts with every daemon healthy")


@R.case
def stopped_checker_makes_perspective_down_pending(ctx):
    prometheus(ctx)
    d = ctx.checkers["caa", CODES[1]]
    eq(ctx.cluster.stop_daemon(d), 0, "checker exit status")

    def pending():
        alerts = [a for a in prom_api(ctx, "alerts")["alerts"]
                  if a["labels"]["alertname"] == "MpicPerspectiveDown"]
        return (len(alerts) == 1 and alerts[0]["state"] == "pending" and
                alerts[0]["labels"].get("perspective") == CODES[1] and
                alerts[0]["labels"].get("job") == JOBS["caa"], alerts)
    wait_for("MpicPerspectiveDown pending for %s" % CODES[1], pending)


if __name__ == "__main__":
    sys.exit(R.run(Ctx))
