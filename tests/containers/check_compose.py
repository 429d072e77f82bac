#!/usr/bin/env python3
"""Checks of scripts/test-containers.sh against the running containers.
Python 3 standard library only; every address is on this machine (the
coordinator's published port on 127.0.0.1, a checker on the compose mesh).

  check_compose.py wait-healthy BASE SECONDS   GET BASE/healthz until 200
  check_compose.py no-key BASE                 POST BASE/mpic without a key: 401
  check_compose.py checks BASE KEYS CHECKER COORDINATOR_CONTAINER
      BASE         the coordinator as published (http://127.0.0.1:PORT)
      KEYS         MPIC_API_KEYS (comma separated)
      CHECKER      https://IP:8443 of a CAA checker on the mesh network
      COORDINATOR_CONTAINER  whose log must hold an audit line per request
      ($MPIC_CT_DOCKER is the docker client, $DOCKER_HOST its daemon)

The zone compose.test. (tests/containers/compose.test.zone) is signed; the
resolvers hold its trust anchor. Prints "N passed, N failed"."""

import os
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import deploy_checks as dc  # noqa: E402

DNS01_HASH = "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"
PERSPECTIVES = 5  # default_perspective_count of config/compose/coordinator.yaml


def request(url, body=None, headers=None, ctx=None, timeout=60):
    """(status, parsed JSON or raw bytes); HTTP errors do not raise."""
    status, _, resp = dc.request(url, body, headers, ctx=ctx, timeout=timeout,
                                 follow_redirects=True)
    return status, resp


def wait_healthy(base, seconds):
    return dc.wait_healthz(base, seconds, interval=1, want="healthy",
                           follow_redirects=True)


def no_key(base):
    status, _ = request(base + "/mpic", {"check_type": "caa",
                                         "domain_or_ip_target": "example.com"})
    if status != 401:
        print("POST /mpic without a key: %d, want 401" % status)
        return 1
    return 0


class Checks(dc.MpicClient):
    def __init__(self, base, keys, checker, coordinator):
        super().__init__(base, PERSPECTIVES, follow_redirects=True)
        self.keys = [k for k in keys.split(",") if k]
        self.checker = checker
        self.coordinator = coordinator

    def mpic(self, trace, body, key=None):
        return self.check_mpic(trace, body,
                               {"x-api-key": key or self.keys[-1]})

    def caa(self, name):
        return self.mpic("ct-caa-" + name, {
            "check_type": "caa",
            "domain_or_ip_target": name + ".compose.test"})

    def dns01(self, name, key=None):
        return self.mpic("ct-dns01-" + name, {
            "check_type": "dcv",
            "domain_or_ip_target": name + ".compose.test",
            "dcv_check_parameters": {
                "validation_method": "acme-dns-01",
                "key_authorization_hash": DNS01_HASH}}, key=key)

    # ---- cases

    def test_without_key_401(self):
        body = {"check_type": "caa",
                "domain_or_ip_target": "permit.compose.test"}
        status, _ = request(self.base + "/mpic", body)
        assert status == 401, "no key: %d" % status
        status, _ = request(self.base + "/mpic", body,
                            {"x-api-key": "not-" + self.keys[0]})
        assert status == 401, "wrong key: %d" % status

    def test_caa_permit(self):
        resp, per = self.caa("permit")
        assert (resp["is_valid"], resp["mpic_completed"]) == (True, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["errors"]) == (True, None), (code, cr)
            assert cr["details"]["found_at"] == "permit.compose.test", (code, cr)

    def test_caa_deny(self):
        resp, per = self.caa("deny")
        assert (resp["is_valid"], resp["mpic_completed"]) == (False, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["check_completed"]) == (False, True), (code, cr)
            assert cr["details"]["records_seen"] == ['0 issue "ca.invalid"'], (code, cr)

    def test_caa_dnssec_bogus_refused(self):
        # Permits as served, but its signature is for "ca.invalid".
        resp, per = self.caa("bogus")
        assert resp["is_valid"] is False, resp
        for code, cr in per.items():
            assert cr["check_passed"] is False and cr["errors"], (code, cr)

    def test_dns01_pass(self):
        # The first key of MPIC_API_KEYS, the others use the last.
        resp, per = self.dns01("ok", key=self.keys[0])
        assert (resp["is_valid"], resp["mpic_completed"]) == (True, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["errors"]) == (True, None), (code, cr)
            # Every perspective's unbound validated the answer.
            assert cr["details"]["ad_flag"] is True, (code, cr)

    def test_dns01_fail(self):
        resp, per = self.dns01("wrong")
        assert (resp["is_valid"], resp["mpic_completed"]) == (False, True), resp
        for code, cr in per.items():
            assert (cr["check_passed"], cr["check_completed"]) == (False, True), (code, cr)
            assert cr["details"]["ad_flag"] is True, (code, cr)

    def test_dns01_dnssec_bogus_refused(self):
        # The right value as served, signed as another.
        resp, per = self.dns01("bogus")
        assert resp["is_valid"] is False, resp
        for code, cr in per.items():
            assert cr["check_passed"] is False and cr["errors"], (code, cr)

    def test_checker_refuses_without_client_certificate(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        status, _ = request(self.checker + "/caa",
                            {"domain_or_ip_target": "permit.compose.test"},
                            ctx=ctx)
        assert status == 403, "checker without a client certificate: %d" % status

    def test_audit_lines(self):
        docker = os.environ.get("MPIC_CT_DOCKER", "docker")
        p = subprocess.run([docker, "logs", self.coordinator],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        dc.check_audit(self.traces, p.stdout.decode("utf-8", "replace"),
                       outcome="answered")

    def run(self):
        names = [n for n in dir(self) if n.startswith("test_")]
        # The audit check reads what the others asked.
        names.sort(key=lambda n: (n == "test_audit_lines", n))
        return dc.run([(n, getattr(self, n)) for n in names])


def main(argv):
    if len(argv) == 4 and argv[1] == "wait-healthy":
        return wait_healthy(argv[2], int(argv[3]))
    if len(argv) == 3 and argv[1] == "no-key":
        return no_key(argv[2])
    if len(argv) == 6 and argv[1] == "checks":
        return Checks(*argv[2:]).run()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
