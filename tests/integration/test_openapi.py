#!/usr/bin/env python3
"""GET /openapi.json and the document coordinator/openapi.json itself.

- The coordinator serves exactly the bytes of the file (built in at build
  time), as application/json, without an API key even when api_keys are
  configured; other methods on the path get 405.
- The document lints with an OpenAPI validator (validate-api from the npm
  package @seriousme/openapi-schema-validator; scripts/install-deps.sh),
  and the linter does reject a broken copy.
- Every schema is valid JSON Schema 2020-12, every $ref resolves, the
  examples validate, ValidationMethod lists exactly the methods the model
  knows (common/model.c) and the discriminator maps each of them to a
  schema that accepts it.
- The reply check that mpic_harness applies to every /mpic reply
  (openapi_check.py) rejects replies that break the document.

Ports: 127.0.0.1:25000-25499."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
import openapi_check as oc  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 25000, 25499

R = h.Runner()
Z = "caa.test"
API_KEY = "openapi-test-key-5e1d"
CODES = [c for c, _, _ in h.PERSPECTIVES][:3]


class Ctx:
    def __init__(self):
        self.cluster = h.Cluster()
        self.checkers = {c: self.cluster.start_checker(c) for c in CODES}
        urls = [(c, self.checkers[c].base + "/caa") for c in CODES]
        self.coord = self.cluster.start_coordinator(urls, api_keys=(API_KEY,))


def file_bytes():
    with open(oc.OPENAPI_FILE, "rb") as f:
        return f.read()


def raw_get(url, headers=None):
    """(status, content-type, body bytes) without any parsing."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers.get("content-type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read()


def schema(name):
    return {"$ref": "#/components/schemas/" + name}


def invalid(instance, name):
    return oc.errors(instance, schema(name))


# ---------------------------------------------------------------- serving


@R.case
def test_served_bytes_equal_the_file(ctx):
    st, ctype, body = raw_get(ctx.coord.base + "/openapi.json")
    eq(st, 200, "status")
    eq(ctype, "application/json", "content-type")
    want = file_bytes()
    check(body == want, "served %d bytes, the file has %d; first difference "
          "at %s" % (len(body), len(want), next(
              (i for i, (a, b) in enumerate(zip(body, want)) if a != b),
              min(len(body), len(want)))))
    eq(json.loads(body)["openapi"], "3.1.0", "openapi version")


@R.case
def test_served_without_api_key_while_mpic_needs_one(ctx):
    st, _, _ = raw_get(ctx.coord.base + "/openapi.json")
    eq(st, 200, "no key")
    st, _, body = raw_get(ctx.coord.base + "/openapi.json",
                          {"x-api-key": API_KEY})
    eq(st, 200, "with key")
    check(body == file_bytes(), "same bytes with a key")
    # /mpic on the same coordinator does need one (the hook validates the
    # 401 body against the document).
    st, body = h.post(ctx.coord.base + "/mpic",
                      {"check_type": "caa", "domain_or_ip_target": "x.test"})
    eq(st, 401, "/mpic without key")
    eq(body["error"], "unauthorized", "401 body")


@R.case
def test_other_methods_get_405(ctx):
    for method in ("POST", "PUT", "DELETE"):
        st, body = h.http_request(ctx.coord.base + "/openapi.json", body=b"{}",
                                  method=method)
        eq(st, 405, method + " status")
        eq(body["error"], "method-not-allowed", method + " body")


@R.case
def test_mpic_replies_validate(ctx):
    """A valid, an invalid and a refused request through real checkers;
    the harness hook validates each reply, and so does this test
    explicitly (both paths)."""
    hdrs = {"x-api-key": API_KEY}
    for path in ("/mpic", "/mpic-coordinator/mpic"):
        for target, valid in (("permit." + Z, True), ("deny." + Z, False)):
            st, body = h.post(ctx.coord.base + path,
                              {"check_type": "caa",
                               "domain_or_ip_target": target,
                               "trace_identifier": "openapi-" + target,
                               "orchestration_parameters": {
                                   "perspective_count": 3,
                                   "quorum_count": 2},
                               "caa_check_parameters": {
                                   "caa_domains": ["ca.example"]}},
                              headers=hdrs)
            eq(st, 200, path + " " + target)
            eq(body["is_valid"], valid, "is_valid of " + target)
            eq(invalid(body, "MPICResponse"), [], "MPICResponse")
            eq(invalid(body, "CAAResponse"), [], "CAAResponse")
            check(invalid(body, "DCVResponse"), "a CAA reply is no DCV reply")
        st, body = h.post(ctx.coord.base + path,
                          {"check_type": "dcv",
                           "domain_or_ip_target": "permit." + Z,
                           "dcv_check_parameters": {
                               "validation_method": "no-such-method"}},
                          headers=hdrs)
        eq(st, 400, "unknown method")
        eq(invalid(body, "ValidationErrorResponse"), [], "400 body")
        eq(body["validation_issues"][0]["issue_type"],
           "invalid-validation-method", "issue type")


# ---------------------------------------------------------------- document


def npm_global_bin(name):
    p = shutil.which(name)
    if p:
        return p
    try:
        root = subprocess.run(["npm", "root", "-g"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = ""
    cand = os.path.join(root, "@seriousme", "openapi-schema-validator", "bin",
                        "validate-api-cli.js")
    if root and os.path.isfile(cand):
        return cand
    raise RuntimeError("validate-api not found: scripts/install-deps.sh "
                       "installs the npm package "
                       "@seriousme/openapi-schema-validator")


def lint(path):
    exe = npm_global_bin("validate-api")
    argv = ([exe] if not exe.endswith(".js") else ["node", exe]) + [path]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    return p.returncode, p.stdout


@R.case
def test_document_lints(ctx):
    rc, out = lint(oc.OPENAPI_FILE)
    eq(rc, 0, "validate-api exit status (output: %s)" % out[-2000:])
    check('"valid": true' in out, "validate-api output: %s" % out[-2000:])
    # The linter must be able to fail: a copy with a dangling $ref and no
    # info.version.
    doc = copy.deepcopy(oc.document())
    del doc["info"]["version"]
    doc["components"]["schemas"]["CheckError"]["properties"]["error_type"] = \
        {"$ref": "#/components/schemas/NoSuchSchema"}
    d = tempfile.mkdtemp(prefix="mpic-openapi-")
    try:
        bad = os.path.join(d, "broken.json")
        with open(bad, "w") as f:
            json.dump(doc, f)
        rc, out = lint(bad)
        eq(rc, 1, "validate-api on a broken copy (output: %s)" % out[-2000:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def walk(obj, path="#"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, k, v
            yield from walk(v, path + "/" + k.replace("~", "~0")
                            .replace("/", "~1"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, "%s/%d" % (path, i))


@R.case
def test_refs_resolve_and_schemas_are_2020_12(ctx):
    import jsonschema

    doc = oc.document()
    n = 0
    for where, k, v in walk(doc):
        if k == "$ref":
            try:
                oc.resolve({"$ref": v})
            except (KeyError, IndexError, TypeError, ValueError) as e:
                raise AssertionError("%s: $ref %r does not resolve (%s)" % (
                    where, v, e))
            n += 1
        if k == "discriminator":
            for m, target in v.get("mapping", {}).items():
                oc.resolve({"$ref": target})
    check(n > 50, "only %d $refs" % n)
    for name, s in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(s)
        if s.get("x-open-mpic-c-extension"):
            check("Extension of open-mpic-c" in s.get("description", ""),
                  "%s: an extension says so in its description" % name)
    for where, k, v in walk(doc):
        if k == "x-open-mpic-c-extension":
            eq(v, True, where + " x-open-mpic-c-extension")


@R.case
def test_examples_validate(ctx):
    doc = oc.document()
    body = doc["components"]["requestBodies"]["MPICRequest"]["content"][
        "application/json"]
    for name, ex in body["examples"].items():
        eq(oc.errors(ex["value"], body["schema"]), [], "request example " +
           name)
    n = 0
    for name, r in doc["components"]["responses"].items():
        c = r["content"]["application/json"]
        if "example" in c:
            eq(oc.errors(c["example"], c["schema"]), [], "example of " + name)
            n += 1
    check(n >= 5, "response examples: %d" % n)


def model_methods():
    with open(os.path.join(h.REPO, "common", "model.c")) as f:
        text = f.read()
    m = re.search(r"mpic_model_method_names\[[A-Z_]*\] = \{(.*?)\};", text,
                  re.S)
    check(m, "method table not found in common/model.c")
    return re.findall(r'= "([a-z0-9-]+)"', m.group(1))


@R.case
def test_methods_match_the_model(ctx):
    doc = oc.document()
    sch = doc["components"]["schemas"]
    methods = model_methods()
    check(len(methods) >= 13, "methods in model.c: %r" % methods)
    eq(sorted(sch["ValidationMethod"]["enum"]), sorted(methods),
       "ValidationMethod enum")
    for m in sch["ValidationMethod"]["x-open-mpic-c-extension-values"]:
        check(m in methods, "extension value %s is a method" % m)
    mapping = sch["DcvCheckParameters"]["discriminator"]["mapping"]
    eq(sorted(mapping), sorted(methods), "discriminator mapping keys")
    for m, target in mapping.items():
        other = next(x for x in methods if x != m and mapping[x] != target)
        # The mapped schema accepts the method and refuses another family's.
        errs = [e for e in oc.errors({"validation_method": m},
                                     {"$ref": target})
                if list(e.absolute_path) == ["validation_method"]]
        eq(errs, [], "%s accepts validation_method %s" % (target, m))
        errs = [e for e in oc.errors({"validation_method": other},
                                     {"$ref": target})
                if "validation_method" in list(e.absolute_path)]
        check(errs, "%s refuses validation_method %s" % (target, other))
    # Details by family: every method is in exactly one family.
    fam = [sch[n]["properties"]["validation_method"]
           for n in ("HTTPMethodCheckResponseDetails",
                     "DNSMethodCheckResponseDetails",
                     "TLSALPNMethodCheckResponseDetails")]
    names = [set(f.get("enum") or [f.get("const")]) for f in fam]
    eq(sorted(set().union(*names)), sorted(methods), "detail families")
    eq(sum(len(n) for n in names), len(methods), "families are disjoint")


# ---------------------------------------------------------------- the hook


def a_caa_reply():
    resp = {"check_type": "caa", "check_passed": True,
            "check_completed": True, "timestamp_ns": 1, "errors": None,
            "details": {"caa_record_present": False, "found_at": None,
                        "records_seen": None}}
    return {"check_type": "caa", "domain_or_ip_target": "a.test",
            "trace_identifier": None, "is_valid": True,
            "mpic_completed": True,
            "request_orchestration_parameters": None,
            "actual_orchestration_parameters": {"perspective_count": 2,
                                                "quorum_count": 1,
                                                "attempt_count": 1},
            "caa_check_parameters": None,
            "perspectives": [{"perspective_code": "p1",
                              "check_response": resp},
                             {"perspective_code": "p2",
                              "check_response": copy.deepcopy(resp)}],
            "previous_attempt_results": None}


def a_dcv_reply(details):
    r = a_caa_reply()
    r["check_type"] = "dcv"
    del r["caa_check_parameters"]
    r["dcv_check_parameters"] = {"validation_method": "acme-dns-01",
                                 "require_exact_case": True,
                                 "key_authorization_hash": "abc",
                                 "dns_record_type": "TXT",
                                 "dns_name_prefix": "_acme-challenge"}
    for p in r["perspectives"]:
        p["check_response"]["check_type"] = "dcv"
        p["check_response"]["details"] = copy.deepcopy(details)
    return r


def must_fail(status, body, what):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        oc.check_mpic_reply(status, raw)
    except AssertionError as e:
        return str(e)
    raise AssertionError("the reply check accepted " + what)


def must_pass(status, body, what):
    try:
        oc.check_mpic_reply(status, json.dumps(body).encode())
    except AssertionError as e:
        raise AssertionError("%s: %s" % (what, e))


DNS_DETAILS = {"validation_method": "acme-dns-01", "records_seen": ["abc"],
               "response_code": 0, "ad_flag": False,
               "found_at": "_acme-challenge.a.test", "cname_chain": []}


@R.case
def test_reply_check_accepts_and_refuses(ctx):
    must_pass(200, a_caa_reply(), "a CAA reply")
    must_pass(200, a_dcv_reply(DNS_DETAILS), "a DCV reply")
    # The coordinator's own details of a failed perspective call.
    must_pass(200, a_dcv_reply({"validation_method": "acme-dns-01"}),
              "remote_check details")
    # Extensions other branches add: extra fields, warnings.
    r = a_caa_reply()
    r["warnings"] = ["contact-email-txt: SHOULD NOT since 2026-03-15",
                     {"code": "x"}]
    r["perspectives"][0]["check_response"]["details"][
        "lookup_failure_permitted"] = "DNSSEC-insecure"
    r["perspectives"][0]["check_response"]["details"]["future"] = 1
    must_pass(200, r, "warnings and extra detail fields")
    must_pass(400, {"error": "request-validation-failed",
                    "validation_issues": [{"issue_type":
                                           "validation-method-sunset",
                                           "message": "$.x: y"}]}, "400")
    must_pass(503, {"error": "below-minimum", "message": "m"}, "503")
    must_pass(404, {"error": "not-found", "message": "no such path"}, "404")

    r = a_caa_reply()
    del r["mpic_completed"]
    msg = must_fail(200, r, "a reply without mpic_completed")
    check("mpic_completed" in msg, "message names the field: " + msg)
    r = a_caa_reply()
    r["perspectives"][1]["check_response"]["check_passed"] = "yes"
    msg = must_fail(200, r, "check_passed as a string")
    check("check_passed" in msg or "perspectives" in msg, msg)
    r = a_caa_reply()
    r["perspectives"][0]["check_response"]["errors"] = [
        {"error_type": "lookup failed", "error_message": "m"}]
    must_fail(200, r, "an error_type of the wrong shape")
    r = a_caa_reply()
    r["check_type"] = "dns"
    must_fail(200, r, "an unknown check_type")
    d = dict(DNS_DETAILS)
    del d["ad_flag"]
    must_fail(200, a_dcv_reply(d), "DNS details without ad_flag")
    d = dict(DNS_DETAILS, validation_method="website-change")
    must_fail(200, a_dcv_reply(d), "DNS details of an HTTP method")
    must_fail(200, a_dcv_reply({"validation_method": "acme-dns-01",
                                "records_seen": None}),
              "partial details")
    r = a_dcv_reply(DNS_DETAILS)
    r["dcv_check_parameters"]["validation_method"] = "contact-email"
    must_fail(200, r, "a method outside the enum")
    r = a_dcv_reply(DNS_DETAILS)
    del r["dcv_check_parameters"]["key_authorization_hash"]
    must_fail(200, r, "an echo without a required parameter")
    must_fail(400, {"error": "request-validation-failed",
                    "validation_issues": []}, "400 without issues")
    must_fail(400, {"error": "bad", "message": "m"}, "400 of the wrong shape")
    must_fail(401, {"error": "unauthorized"}, "401 without message")
    must_fail(413, b"<html>too large</html>", "a body that is not JSON")


def main():
    return R.run(Ctx)


if __name__ == "__main__":
    sys.exit(main())
