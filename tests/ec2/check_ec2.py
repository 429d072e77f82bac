#!/usr/bin/env python3
"""Checks of scripts/test-ec2.sh against the booted machine, from the host,
through the machine's nginx (TLS, API keys) on its end of the veth. Python 3
standard library only; nothing but the machine's address is contacted.

  check_ec2.py wait BASE CAFILE SECONDS   GET BASE/healthz through nginx until 200
  check_ec2.py checks BASE CAFILE KEY     the installed API key, without and
                                          with wrong keys, CAA and acme-dns-01
                                          through the perspective's unbound, the
                                          redirect on port 80, what is exposed,
                                          one audit line per request
  check_ec2.py keys BASE CAFILE KEY...    each key (x-api-key and Bearer) gives
                                          a real answer; near misses get 401

BASE is https://ADDRESS (nginx's certificate names ADDRESS; CAFILE is its CA).
$MPIC_EC2_LEADER is the pid of the machine's init: the coordinator's journal
is read with nsenter. The zone ec2.test. (tests/ec2/ec2.test.zone) is signed;
the perspective's unbound holds its trust anchor. Prints "N passed, N failed"."""

import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deploy_checks as dc  # noqa: E402
from deploy_checks import request  # noqa: E402

DNS01_HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
PERSPECTIVES = 5  # default_perspective_count of config/ec2/coordinator.yaml


def tls(cafile):
    return ssl.create_default_context(cafile=cafile)


def wait(base, cafile, seconds):
    return dc.wait_healthz(base, seconds, ctx=tls(cafile))


def auth(key, bearer=False):
    """The headers that send KEY (none when it is None)."""
    if key is None:
        return {}
    return {"Authorization": "Bearer " + key} if bearer else {"x-api-key": key}


class Cases(dc.MpicClient):
    def __init__(self, base, cafile):
        super().__init__(base, PERSPECTIVES, ctx=tls(cafile))

    def post(self, body, key=None, bearer=False):
        return self.post_mpic(body, auth(key, bearer))

    def mpic(self, trace, body, key, bearer=False):
        return self.check_mpic(trace, body, auth(key, bearer))

    def caa(self, name, key, bearer=False, trace=None):
        return self.mpic(trace or "ec2-caa-" + name, {
            "check_type": "caa",
            "domain_or_ip_target": name + ".ec2.test"}, key, bearer)

    def dns01(self, name, key):
        return self.mpic("ec2-dns01-" + name, {
            "check_type": "dcv",
            "domain_or_ip_target": name + ".ec2.test",
            "dcv_check_parameters": {
                "validation_method": "acme-dns-01",
                "key_authorization_hash": DNS01_HASH}}, key)

    def assert_permit(self, key, bearer=False, trace=None):
        resp, per = self.caa("permit", key, bearer, trace)
        assert (resp["is_valid"], resp["mpic_completed"]) == (True, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["errors"]) == (True, None), (code, cr)
            assert cr["details"]["found_at"] == "permit.ec2.test", (code, cr)


def checks(base, cafile, key):
    c = Cases(base, cafile)
    body = {"check_type": "caa", "domain_or_ip_target": "permit.ec2.test"}

    def without_key_401():
        status, resp = c.post(body)
        assert status == 401, "no key: %d %r" % (status, resp)
        for bad in (os.urandom(24).hex(), key[:-1], key + "0", "",
                    key.upper()):
            for bearer in (False, True):
                status, _ = c.post(body, bad, bearer)
                assert status == 401, "wrong key %r (bearer %s): %d" % (
                    bad, bearer, status)

    def caa_permit_with_installed_key():
        c.assert_permit(key)

    def caa_deny_bearer():
        resp, per = c.caa("deny", key, bearer=True)
        assert (resp["is_valid"], resp["mpic_completed"]) == (False, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["check_completed"]) == (False, True), (code, cr)
            assert cr["details"]["records_seen"] == ['0 issue "ca.invalid"'], (code, cr)

    def caa_dnssec_bogus_refused():
        resp, per = c.caa("bogus", key)
        assert resp["is_valid"] is False, resp
        for code, cr in per.items():
            assert cr["check_passed"] is False and cr["errors"], (code, cr)

    def dns01_pass_and_fail():
        resp, per = c.dns01("ok", key)
        assert (resp["is_valid"], resp["mpic_completed"]) == (True, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["errors"]) == (True, None), (code, cr)
            assert cr["details"]["ad_flag"] is True, (code, cr)
        resp, per = c.dns01("wrong", key)
        assert (resp["is_valid"], resp["mpic_completed"]) == (False, True), resp

    def port_80_redirects_not_debian_default():
        http = "http://" + base.split("://", 1)[1]
        status, rh, raw = request(http + "/", timeout=10)
        assert status == 308, "port 80: %d %r (Debian's default site?)" % (
            status, raw[:200])
        assert rh["location"].startswith("https://"), rh["location"]

    def only_mpic_and_healthz_exposed():
        for path in ("/configz", "/metrics", "/", "/index.nginx-debian.html"):
            status, _, _ = request(base + path, headers={"x-api-key": key},
                                   ctx=c.ctx, timeout=10)
            assert status == 404, "%s: %d" % (path, status)

    def audit_lines():
        leader = os.environ["MPIC_EC2_LEADER"]
        p = subprocess.run(["nsenter", "-t", leader, "-a", "journalctl",
                            "-u", "mpic-coordinator", "-o", "cat",
                            "--no-pager"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        dc.check_audit(c.traces, p.stdout.decode("utf-8", "replace"))

    return dc.run([(f.__name__, f) for f in (
        without_key_401, caa_permit_with_installed_key, caa_deny_bearer,
        caa_dnssec_bogus_refused, dns01_pass_and_fail,
        port_80_redirects_not_debian_default, only_mpic_and_healthz_exposed,
        audit_lines)])


def keys(base, cafile, ks):
    c = Cases(base, cafile)
    body = {"check_type": "caa", "domain_or_ip_target": "permit.ec2.test"}

    def reload_took():
        # systemctl reload returns before the new workers run.
        deadline = time.monotonic() + 30
        while True:
            status, resp = c.post(body, ks[-1])
            if status != 401 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 200, "newest key after the reload: %d %r" % (
            status, resp)

    cases = [("reload_took", reload_took)]
    for k in ks:
        def each(k=k):
            c.assert_permit(k, trace="ec2-key-%d" % len(k))
            c.assert_permit(k, bearer=True, trace="ec2-key-%d-bearer" % len(k))
            for bad in (k[:-1], k + "0", k[:-1] + ("1" if k[-1] == "0" else "0")):
                status, _ = c.post(body, bad)
                assert status == 401, "near miss of a %d-character key: %d" % (
                    len(k), status)
        cases.append(("key_%d_of_%d_characters" % (len(cases), len(k)), each))
    return dc.run(cases)


def main(argv):
    if len(argv) == 5 and argv[1] == "wait":
        return wait(argv[2], argv[3], int(argv[4]))
    if len(argv) == 5 and argv[1] == "checks":
        return checks(argv[2], argv[3], argv[4])
    if len(argv) >= 5 and argv[1] == "keys":
        return keys(argv[2], argv[3], argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
