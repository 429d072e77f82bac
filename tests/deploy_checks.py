"""What the checks of the deployment stages share: tests/ec2/check_ec2.py
(scripts/test-ec2.sh) and tests/containers/check_compose.py
(scripts/test-containers.sh) import it with their parent directory on
sys.path. Python 3 standard library only; it contacts only the URLs it is
given.

  request()       one HTTP(S) request; HTTP errors do not raise
  wait_healthz()  GET BASE/healthz until 200
  MpicClient      POST /mpic; check_mpic() wants an answer (200, the trace
                  identifier echoed, the expected perspective count) and
                  records its is_valid for the audit check
  check_audit()   one audit line per recorded trace in a coordinator's log
  run()           the cases in order; prints "N passed, N failed"
"""

import json
import sys
import time
import traceback
import urllib.error
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


def request(url, body=None, headers=None, ctx=None, timeout=60,
            follow_redirects=False):
    """(status, headers, parsed JSON or raw bytes); HTTP errors do not
    raise; redirects are followed only when asked."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["content-type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=hdrs,
                                 method="POST" if data is not None else "GET")
    handlers = [urllib.request.HTTPSHandler(context=ctx)]
    if not follow_redirects:
        handlers.insert(0, _NoRedirect)
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=timeout) as r:
            status, rh, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, rh, raw = e.code, e.headers, e.read()
    try:
        return status, rh, json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return status, rh, raw


def wait_healthz(base, seconds, ctx=None, interval=0.5, want="200",
                 follow_redirects=False):
    """0 once GET BASE/healthz answers 200 within SECONDS, else 1 after
    printing "BASE/healthz: not WANT within SECONDS s (last error)"."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            status, _, _ = request(base + "/healthz", ctx=ctx, timeout=5,
                                   follow_redirects=follow_redirects)
            if status == 200:
                return 0
            last = "status %d" % status
        except (OSError, urllib.error.URLError) as e:
            last = str(e)
        time.sleep(interval)
    print("%s/healthz: not %s within %d s (%s)" % (base, want, seconds, last))
    return 1


class MpicClient:
    """POST BASE/mpic of a coordinator whose default perspective count is
    PERSPECTIVES."""

    def __init__(self, base, perspectives, ctx=None, follow_redirects=False):
        self.base = base
        self.perspectives = perspectives
        self.ctx = ctx
        self.follow_redirects = follow_redirects
        self.traces = {}  # trace_identifier -> is_valid answered

    def post_mpic(self, body, headers=None):
        """(status, parsed JSON or raw bytes)."""
        status, _, resp = request(self.base + "/mpic", body, headers,
                                  ctx=self.ctx,
                                  follow_redirects=self.follow_redirects)
        return status, resp

    def check_mpic(self, trace, body, headers):
        """(response, {perspective_code: check_response}) of an answered
        request with trace_identifier TRACE; its is_valid is recorded."""
        body = dict(body, trace_identifier=trace)
        status, resp = self.post_mpic(body, headers)
        assert status == 200, "%s: status %d: %r" % (trace, status, resp)
        assert resp.get("trace_identifier") == trace, resp
        self.traces[trace] = resp["is_valid"]
        got = resp["actual_orchestration_parameters"]["perspective_count"]
        assert got == self.perspectives, "%s: %d perspectives" % (trace, got)
        per = {p["perspective_code"]: p["check_response"]
               for p in resp["perspectives"]}
        assert len(per) == self.perspectives, "%s: %r" % (trace, sorted(per))
        return resp, per


def check_audit(traces, text, outcome=None):
    """TEXT (a coordinator's log) holds exactly one audit line for each
    trace of TRACES (trace_identifier -> is_valid), with that is_valid, and
    with that outcome when OUTCOME is given."""
    assert traces, "no request made"
    seen = {}
    for line in text.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("msg") == "mpic audit" and o.get("event") == "mpic_audit":
            seen.setdefault(o.get("trace_identifier"), []).append(o)
    for trace, valid in traces.items():
        recs = seen.get(trace, [])
        assert len(recs) == 1, "%s: %d audit lines" % (trace, len(recs))
        assert recs[0]["is_valid"] is valid, (trace, recs[0])
        if outcome is not None:
            assert recs[0]["outcome"] == outcome, (trace, recs[0])


def run(cases):
    """Runs each (name, function) of CASES in order; prints "ok NAME" or
    "FAIL NAME" with the traceback, then "N passed, N failed"; 1 when one
    failed."""
    passed = failed = 0
    for name, fn in cases:
        t0 = time.monotonic()
        try:
            fn()
        except Exception:
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc(file=sys.stdout)
            continue
        passed += 1
        print("ok   %s (%.1f s)" % (name, time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
