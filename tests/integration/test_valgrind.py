#!/usr/bin/env python3
"""The coordinator and three CAA checkers under valgrind memcheck
(issue 4): 20 /mpic requests (passing, denied, lookup errors, a 400),
then SIGTERM; every daemon must exit 0, i.e. memcheck found no errors and
no definite or indirect leaks (--error-exitcode=99).

Needs a build without sanitizers (the normal build/ dir): valgrind and
ASan do not mix. Exits 77 (ctest: skipped) without valgrind or in a
sanitizer build.

Ports: 127.0.0.1:20000-20999."""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import mpic_harness as h  # noqa: E402
from mpic_harness import check, eq  # noqa: E402

h.PORT_LO, h.PORT_HI = 20000, 20999

SKIP = 77
CODES = [c for c, _, _ in h.PERSPECTIVES][:3]
VALGRIND_STOP_TIMEOUT = 120.0
START_TIMEOUT = 90.0


def sanitized_build():
    try:
        with open(os.path.join(h.build_dir(), "CMakeCache.txt")) as f:
            cache = f.read()
    except OSError:
        return False
    return ("MPIC_SANITIZE:BOOL=ON" in cache or
            "MPIC_FUZZ:BOOL=ON" in cache)


class VgDaemon(h.Daemon):
    """A Daemon whose binary runs under memcheck."""

    def __init__(self, name, binary_name, config_text, workdir, port):
        self.vg_log = os.path.join(workdir, name + ".valgrind")
        self.port = port
        self.config_path = os.path.join(workdir, name + ".yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        argv = ["valgrind", "--quiet", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect",
                "--error-exitcode=99", "--log-file=" + self.vg_log,
                h.binary(binary_name), "--config", self.config_path]
        env = h.clean_env()
        env.pop("ASAN_OPTIONS", None)
        h.Proc.__init__(self, name, argv, workdir, env=env)
        self.base = "http://%s:%d" % (h.LOOPBACK, port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(VALGRIND_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_code = "killed after %.0fs" % VALGRIND_STOP_TIMEOUT
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
        self.log.close()
        return self.exit_code

    def report(self):
        try:
            with open(self.vg_log) as f:
                return f.read()
        except OSError:
            return ""


def main():
    if shutil.which("valgrind") is None:
        print("valgrind not installed: skipped")
        return SKIP
    if sanitized_build():
        print("sanitizer build (%s): valgrind skipped" % h.build_dir())
        return SKIP
    cluster = h.Cluster()
    failed = []
    daemons = []
    try:
        for code in CODES:
            port = h.free_port(udp_too=False)
            d = VgDaemon("vg-caa-" + code, "mpic-caa-checker",
                         h.checker_config(code, port, [cluster.dns.resolver]),
                         cluster.workdir, port)
            daemons.append(d)
            d.wait_healthy(START_TIMEOUT)
        urls = [(code, d.base + "/caa") for code, d in zip(CODES, daemons)]
        port = h.free_port(udp_too=False)
        with open(os.path.join(cluster.workdir,
                               "available_perspectives.yaml"), "w") as f:
            f.write(h.available_perspectives_yaml())
        coord = VgDaemon("vg-coordinator", "mpic-coordinator",
                         h.coordinator_config(port, urls,
                                              remote_timeout_ms=20000),
                         cluster.workdir, port)
        daemons.append(coord)
        coord.wait_healthy(START_TIMEOUT)

        targets = (["permit.caa.test"] * 8 + ["deny.caa.test"] * 6 +
                   ["x.refused.test"] * 3 + ["empty.caa.test"] * 2)
        t0 = time.monotonic()
        for t in targets:
            status, resp = h.post(coord.base + "/mpic", {
                "check_type": "caa", "domain_or_ip_target": t}, timeout=60)
            eq(status, 200, "status for %s: %r" % (t, resp))
            check(isinstance(resp.get("is_valid"), bool), "is_valid")
        status, _ = h.post(coord.base + "/mpic", b"{not json", timeout=60)
        eq(status, 400, "bad request")
        print("20 requests under valgrind in %.1fs" % (time.monotonic() - t0))
    except Exception as e:  # noqa: BLE001 (reported below)
        failed.append("run: %s" % e)
    finally:
        for d in reversed(daemons):
            code = d.stop()
            if code != 0:
                failed.append("%s exit status %r (valgrind 99 = errors)" % (
                    d.name, code))
                print("----- %s -----\n%s" % (d.name, d.report()[-20000:]))
                print(d.read_log()[-5000:])
        cluster.close(keep=bool(failed))
    for f in failed:
        print("FAIL " + f)
    print("%d passed, %d failed" % (0 if failed else 1, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
