"""Checks replies of POST /mpic against coordinator/openapi.json.

mpic_harness.http_request() calls check_mpic_reply() for every POST to a
path ending in /mpic, so every integration suite validates every /mpic
reply it sees: a 200 against the MPIC response schema, any other status
against the document's error bodies (its responses by status code, else
"default"). A reply that does not match fails the test with the schema
error. The document is loaded and the validators built once per process.

Needs python3-jsonschema (Debian 12: 4.10, JSON Schema 2020-12).
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAPI_FILE = os.path.join(HERE, "..", "..", "coordinator", "openapi.json")
MPIC_PATH = "/mpic"

_doc = None
_validators = {}


def document():
    """The parsed document (loaded once)."""
    global _doc
    if _doc is None:
        with open(OPENAPI_FILE, encoding="utf-8") as f:
            _doc = json.load(f)
    return _doc


def resolve(obj):
    """Follows a local "$ref" (a JSON pointer into the document)."""
    doc = document()
    while isinstance(obj, dict) and "$ref" in obj:
        ptr = obj["$ref"]
        if not ptr.startswith("#/"):
            raise ValueError("openapi.json: non-local $ref %r" % ptr)
        obj = doc
        for part in ptr[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
    return obj


def response_schema(status, path=MPIC_PATH, method="post"):
    """The JSON schema the document gives for a reply of `status`."""
    responses = document()["paths"][path][method]["responses"]
    r = (responses.get(str(status)) or responses.get("%dXX" % (status // 100))
         or responses.get("default"))
    if r is None:
        raise AssertionError("openapi.json documents no reply %d for %s %s"
                             % (status, method.upper(), path))
    content = resolve(r).get("content") or {}
    if "application/json" not in content:
        raise AssertionError("openapi.json: reply %d of %s has no "
                             "application/json body" % (status, path))
    return content["application/json"]["schema"]


def validator(schema):
    """A Draft 2020-12 validator for a schema of the document, resolving
    its $refs into the document's components."""
    import jsonschema

    return jsonschema.Draft202012Validator(
        schema, resolver=jsonschema.RefResolver("", document()))


def _validator_for(status):
    v = _validators.get(status)
    if v is None:
        v = _validators[status] = validator(response_schema(status))
    return v


# Properties that pick the branch of a oneOf (the document's
# discriminators, and the method family of DCV details).
DISCRIMINATORS = ("check_type", "validation_method")


def _names_wrong_branch(branch):
    """A branch of a oneOf/anyOf whose own discriminator property does not
    match is not the one the instance meant."""
    return any(e.validator in ("enum", "const") and len(e.relative_path) == 1
               and e.relative_path[0] in DISCRIMINATORS for e in branch)


def most_relevant(errs):
    """The error to report: like jsonschema's best_match, but inside a
    oneOf/anyOf it follows the branch the instance's discriminator names
    (else the branch with the fewest errors), so a CAA reply missing a
    field is not reported as "check_type is not dcv"."""
    import jsonschema

    key = jsonschema.exceptions.relevance
    best = max(errs, key=key, default=None)
    while best is not None and best.context:
        branches = {}
        for e in best.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        cands = [b for b in branches.values() if not _names_wrong_branch(b)]
        branch = min(cands or branches.values(), key=len)
        best = max(branch, key=key)
    return best


def describe(err):
    """One line naming where an instance failed and why."""
    where = "$" + "".join("[%r]" % p for p in err.absolute_path)
    schema_at = "/".join(str(p) for p in err.absolute_schema_path)
    msg = err.message
    if len(msg) > 600:
        msg = msg[:600] + "..."
    return "%s: %s (schema: %s)" % (where, msg, schema_at)


def errors(instance, schema):
    """Every error of instance against schema (a list, empty if valid)."""
    return list(validator(schema).iter_errors(instance))


def check_mpic_reply(status, raw, what="POST /mpic"):
    """Raises AssertionError if the reply (status, raw body bytes) does not
    match the document."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise AssertionError("%s answered %d with a body that is not JSON "
                             "(openapi.json): %r" % (what, status, raw[:200]))
    v = _validator_for(status)
    if v.is_valid(body):
        return
    best = most_relevant(v.iter_errors(body))
    raise AssertionError("%s reply %d does not match openapi.json: %s"
                         % (what, status, describe(best)))
