"""Helpers shared by the deployment tests (test_mtls.py,
test_nginx_proxy.py, test_deploy_*.py): throwaway certificates made with
the openssl CLI and scripts/gen-certs.sh, HTTPS requests with client
certificates, daemons served over TLS, and a DNS stack that also serves the
DCV test zones. Python 3 standard library only; nothing leaves 127.0.0.1."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import mpic_harness as h
import openapi_check

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = h.REPO
GEN_CERTS = os.path.join(REPO, "scripts", "gen-certs.sh")
DCV_ZONES = os.path.join(HERE, "dcv", "zones")

# The acme-dns-01 TXT value published at _acme-challenge.ok.dcv.test.
DNS01_HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"


def use_ports(lo, hi):
    """Every port the harness picks for this test comes from lo..hi."""
    h.PORT_LO, h.PORT_HI = lo, hi


# ---------------------------------------------------------------- DNS


def cluster_with_dcv_zones():
    """A harness cluster whose nsd serves the CAA and the DCV test zones."""
    c = h.Cluster(dns=False)
    d = os.path.join(c.workdir, "zones")
    os.makedirs(d)
    for src in (h.ZONES_DIR, DCV_ZONES):
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), d)
    h.ZONES_DIR = d
    h.ZONES = sorted(f[:-5] for f in os.listdir(d) if f.endswith(".zone"))
    c.dns = h.DNSStack(c.workdir)
    return c


def dns01_params(value=DNS01_HASH):
    return {"validation_method": "acme-dns-01", "require_exact_case": True,
            "key_authorization_hash": value, "dns_record_type": "TXT",
            "dns_name_prefix": "_acme-challenge"}


# ---------------------------------------------------------------- certificates


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (
            " ".join(argv), p.returncode, p.stdout.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def gen_certs(outdir, *checkers):
    """scripts/gen-certs.sh OUTDIR CHECKER...; returns OUTDIR."""
    run(["sh", GEN_CERTS, "--days", "30", outdir] + list(checkers))
    return outdir


def expired_cert(outdir, ca, name, eku="clientAuth", san=None):
    """A certificate signed by outdir/ca.crt that expired in 2021, made with
    `openssl ca` (the only CLI of OpenSSL 3.0 that sets validity dates)."""
    d = os.path.join(outdir, "expired-" + name)
    os.makedirs(d)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    ext = ["basicConstraints=critical,CA:FALSE",
           "keyUsage=critical,digitalSignature",
           "extendedKeyUsage=" + eku]
    if san:
        ext.append("subjectAltName=" + san)
    conf = os.path.join(d, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\n"
                "dir = %s\ndatabase = $dir/index.txt\nserial = $dir/serial\n"
                "new_certs_dir = $dir\ndefault_md = sha256\n"
                "policy = p\nunique_subject = no\ncopy_extensions = none\n"
                "x509_extensions = e\n[p]\ncommonName = supplied\n"
                "[e]\n%s\n" % (d, "\n".join(ext)))
    key = os.path.join(outdir, name + ".key")
    csr = os.path.join(d, name + ".csr")
    crt = os.path.join(outdir, name + ".crt")
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", key])
    run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + name,
         "-out", csr])
    run(["openssl", "ca", "-batch", "-config", conf, "-notext",
         "-cert", os.path.join(outdir, ca + ".crt"),
         "-keyfile", os.path.join(outdir, ca + ".key"),
         "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
         "-in", csr, "-out", crt])
    return crt, key


# ---------------------------------------------------------------- HTTPS


def tls_context(ca=None, cert=None, key=None):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if ca is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def request(url, body=None, method=None, headers=None, ctx=None,
            timeout=20):
    """(status, parsed JSON or raw bytes); HTTP error statuses do not
    raise, TLS and connection failures do."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    # /mpic replies must match coordinator/openapi.json, as in
    # mpic_harness.http_request(); only nginx's own non-JSON error pages
    # (a proxy in front) are not the coordinator's to describe.
    path = urllib.parse.urlsplit(url).path
    if req.get_method() == "POST" and path.endswith("/mpic") and (
            status == 200 or raw.lstrip().startswith(b"{")):
        openapi_check.check_mpic_reply(status, raw, "POST " + path)
    try:
        return status, json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return status, raw


def wait_healthy(daemon, url, ctx=None, accept=(200,),
                 timeout=h.START_TIMEOUT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if not daemon.alive():
            raise RuntimeError("%s exited with %s during start-up:\n%s" % (
                daemon.name, daemon.proc.returncode, daemon.read_log()))
        try:
            status, _ = request(url, ctx=ctx, timeout=2)
            if status in accept:
                return
            last = "status %d" % status
        except (OSError, ssl.SSLError) as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError("%s not healthy at %s after %.0fs: %s" % (
        daemon.name, url, timeout, last))


def start_daemon(cluster, name, binary_name, config_text, port, health_url,
                 ctx=None, accept=(200,), env_extra=None, workdir=None,
                 args=()):
    d = h.Daemon(name, binary_name, config_text, workdir or cluster.workdir,
                 port, env_extra=env_extra, args=args)
    cluster.daemons.append(d)
    wait_healthy(d, health_url, ctx=ctx, accept=accept)
    return d


def tls_yaml(cert, key, client_ca=None, section="tls"):
    out = "%s:\n  cert_file: %s\n  key_file: %s\n" % (
        section, json.dumps(cert), json.dumps(key))
    if client_ca:
        out += "  client_ca_file: %s\n" % json.dumps(client_ca)
    return out


def checker_tls_yaml(ca=None, cert=None, key=None):
    out = "checker_tls:\n"
    if ca:
        out += "  ca_file: %s\n" % json.dumps(ca)
    if cert:
        out += "  cert_file: %s\n  key_file: %s\n" % (json.dumps(cert),
                                                    json.dumps(key))
    return out


def coordinator_yaml(port, perspectives, count=3, api_keys=(), extra=""):
    """perspectives: (code, dcv_url or None, caa_url or None)."""
    lines = ["listen: \"127.0.0.1:%d\"" % port, "log_level: debug",
             "available_perspectives_file: available_perspectives.yaml",
             "perspectives:"]
    for code, dcv, caa in perspectives:
        lines.append("  - code: %s" % code)
        if dcv:
            lines.append("    dcv_url: %s" % json.dumps(dcv))
        if caa:
            lines.append("    caa_url: %s" % json.dumps(caa))
    lines += ["default_perspective_count: %d" % count,
              "absolute_max_attempts: 1",
              "hash_secret: \"deploy-test-secret\"",
              "remote_timeout_ms: 6000",
              "api_keys: [%s]" % ", ".join(json.dumps(k) for k in api_keys)]
    lines += h.compliance_yaml()
    return "\n".join(lines) + "\n" + extra


def start_coordinator(cluster, name, perspectives, extra="", **kw):
    port = h.free_port(udp_too=False)
    sub = os.path.join(cluster.workdir, name)
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "available_perspectives.yaml"), "w") as f:
        f.write(h.available_perspectives_yaml())
    d = start_daemon(cluster, name, "mpic-coordinator",
                     coordinator_yaml(port, perspectives, extra=extra, **kw),
                     port, "http://127.0.0.1:%d/healthz" % port, workdir=sub)
    return d


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def by_code(resp):
    return {p["perspective_code"]: p["check_response"]
            for p in resp["perspectives"]}


# ---------------------------------------------------------------- resolvers

ROOT_KEY = "/usr/share/dns/root.key"  # Debian's dns-root-data


def _checkconf_option(conf, option):
    p = subprocess.run(["unbound-checkconf", "-o", option, conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip()


def assert_validating_unbound(text, workdir, tag):
    """A perspective's unbound configuration (text) must validate DNSSEC to
    the root trust anchor (/var/lib/unbound/root.key, RFC 5011-managed), or
    allow_lookup_failure can never be proven (open-mpic-api.md 5.2). The
    file is checked by unbound-checkconf with the paths made local, and the
    effective options are read back from it."""
    h.check(os.path.exists(ROOT_KEY), "dns-root-data not installed")
    d = os.path.join(workdir, "unbound-" + tag)
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, "root.key")
    shutil.copy(ROOT_KEY, key)
    local = os.path.join(d, "unbound.conf")
    with open(local, "w") as f:
        f.write(text.replace("/var/lib/unbound/root.key", key)
                .replace('"/etc/unbound"', '"%s"' % d)
                .replace("/run/unbound/unbound.ctl", os.path.join(d, "ctl")))
    rc, out = _checkconf_option(local, "module-config")
    h.eq(rc, 0, "%s: unbound-checkconf: %s" % (tag, out))
    h.check("validator" in out.split(), "%s: module-config %r has no "
            "validator" % (tag, out))
    rc, out = _checkconf_option(local, "auto-trust-anchor-file")
    h.eq(out.splitlines(), [key], "%s: auto-trust-anchor-file" % tag)
    for opt, want in (("val-permissive-mode", "no"),
                      ("domain-insecure", "")):
        rc, out = _checkconf_option(local, opt)
        h.eq(out, want, "%s: %s" % (tag, opt))
    p = subprocess.run(["unbound-checkconf", local], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, check=False)
    h.eq(p.returncode, 0, "unbound-checkconf %s: %s" % (tag, p.stdout))
