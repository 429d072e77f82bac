#!/usr/bin/env python3
"""Instructions per request of one daemon, counted by callgrind: unlike
seconds, the count does not depend on what else the machine is doing, so
two builds can be compared on a busy machine (user space only; syscalls
are counted with `strace -c -f -p PID`).

    python3 bench/callgrind.py coord|caa|dcv [N]

Starts the bench stack (nsd + unbound + checkers [+ coordinator], as in
bench_mpic.py) with the chosen daemon under callgrind, sends 200 warm-up
requests, zeroes the counters, sends N (default 2000) requests over 4
keep-alive connections, and prints instructions per request and the
callgrind file for `callgrind_annotate --inclusive=yes FILE`.
  coord: POST /mpic, CAA, 3 perspectives (3 CAA checkers)
  caa:   POST /caa for n1.bench.test (3 queries per check)
  dcv:   POST /dcv acme-dns-01 for n1.bench.test (1 query per check)
Environment: MPIC_BUILD_DIR (binaries; default build-bench), BENCH_PORTS,
CALLGRIND_OUT (directory for the output; default a temporary one).
"""

import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BINARIES = {"coord": "mpic-coordinator", "caa": "mpic-caa-checker",
            "dcv": "mpic-dcv-checker"}


def wrap(real_dir, out_dir, target):
    """A bin/ directory whose `target` runs under callgrind and whose
    other daemons are the real ones."""
    d = tempfile.mkdtemp(prefix="mpic-callgrind-bin-")
    os.mkdir(os.path.join(d, "bin"))
    for name in BINARIES.values():
        real = os.path.join(real_dir, "bin", name)
        if name == target:
            line = ("exec valgrind --tool=callgrind --dump-instr=no "
                    "--callgrind-out-file=%s/callgrind.%s.out %s \"$@\""
                    % (out_dir, name, real))
        else:
            line = "exec %s \"$@\"" % real
        path = os.path.join(d, "bin", name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n%s\n" % line)
        os.chmod(path, 0o755)
    return d


def post_many(base, path, body, n, conns=4):
    """n POSTs over `conns` keep-alive connections; returns bad replies."""
    u = urllib.parse.urlparse(base)
    data = json.dumps(body)
    bad = []

    def one(k):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for _ in range(k):
            c.request("POST", path, data,
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            text = r.read()
            if r.status != 200 or b"true" not in text:
                bad.append(text[:200])
        c.close()

    ts = [threading.Thread(target=one, args=(n // conns,))
          for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return bad


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in BINARIES:
        sys.exit(__doc__)
    which = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    n -= n % 4
    if shutil.which("valgrind") is None:
        sys.exit("valgrind missing: run scripts/install-deps.sh bench")
    real = os.environ.get("MPIC_BUILD_DIR",
                          os.path.join(os.path.dirname(HERE), "build-bench"))
    real = os.path.abspath(real)
    out_dir = os.environ.get("CALLGRIND_OUT") or tempfile.mkdtemp(
        prefix="mpic-callgrind-")
    out_dir = os.path.abspath(out_dir)
    bindir = wrap(real, out_dir, BINARIES[which])
    os.environ["MPIC_BUILD_DIR"] = bindir
    sys.path.insert(0, HERE)
    import benchlib as b  # noqa: E402 (reads MPIC_BUILD_DIR on import)
    b.h.START_TIMEOUT = 60  # valgrind starts slowly

    st = b.Stack(n_caa=3, n_dcv=1 if which == "dcv" else 0,
                 coordinator=3 if which == "coord" else 0)
    try:
        if which == "coord":
            d, path, body = st.coord, "/mpic", b.mpic_body(3)
        elif which == "caa":
            d, path = st.caa[0], "/caa"
            body = {"domain_or_ip_target": "n1.bench.test",
                    "caa_check_parameters": {"caa_domains": ["ca.example"]}}
        else:
            d, path = st.dcv[0], "/dcv"
            body = {"domain_or_ip_target": "n1.bench.test",
                    "dcv_check_parameters": {
                        "validation_method": "acme-dns-01",
                        "key_authorization_hash": b.HASH}}
        post_many(d.base, path, body, 200)
        subprocess.run(["callgrind_control", "-z", str(d.proc.pid)],
                       stdout=subprocess.DEVNULL, check=True)
        bad = post_many(d.base, path, body, n)
        subprocess.run(["callgrind_control", "-d", str(d.proc.pid)],
                       stdout=subprocess.DEVNULL, check=True)
    finally:
        st.close()
        shutil.rmtree(bindir, ignore_errors=True)
    # The dump after zeroing is the second file (.1); the first is the
    # rest of the run, written at exit.
    files = sorted(glob.glob("%s/callgrind.%s.out.*"
                             % (out_dir, BINARIES[which])),
                   key=os.path.getmtime)
    if not files:
        sys.exit("no callgrind dump in %s" % out_dir)
    out = subprocess.run(["callgrind_annotate", files[0]],
                         stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    total = next(line for line in out.splitlines()
                 if "PROGRAM TOTALS" in line)
    ir = int(total.split()[0].replace(",", ""))
    print("%s: %d requests (%d bad), %d instructions per request"
          % (which, n, len(bad), ir // n))
    print("file: %s" % files[0])
    if bad:
        print("first bad reply: %r" % bad[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
