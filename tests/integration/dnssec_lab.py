"""A DNSSEC lab on loopback for the CAA lookup-failure carve-out (BR 3.2.2.8,
open-mpic-api.md 5.2).

Keys are made at test time with ldns-keygen (ECDSA P-256, fast), zones
signed with ldns-signzone; nsd serves every real zone, three FaultDNS
servers (silent, SERVFAIL, REFUSED) stand in for broken authoritative
servers, and two unbound resolvers recurse through stub-zones:

  validating   trust anchor: the lab root's DS; validates every answer
  plain        no trust anchor, iterator only (answers never carry AD)

The tree (names without the trailing dot):

  .                    signed (NSEC), trust anchor
  lab                  signed (NSEC3), DS in .
    good.lab           signed, DS; CAA 0 issue "ca.example"
    expired.lab        signed with signatures that expired in 2020, DS
    dsonly.lab         DS in lab, zone NOT signed (bogus)
    sec-silent.lab     DS in lab, servers never answer
    sec-servfail.lab   DS in lab, servers answer SERVFAIL
    sec-refused.lab    DS in lab, servers answer REFUSED
    ins-silent.lab     no DS (provably insecure), servers never answer
    ins-servfail.lab   no DS, servers answer SERVFAIL
    ins-refused.lab    no DS, servers answer REFUSED
  opt                  signed (NSEC3 with opt-out, by dnssec-signzone), DS in .
    ins-servfail.opt   no DS and no NSEC3 of its own: an opt-out NSEC3
                       covers it (unbound answers its DS without AD, RFC
                       5155 9.2); servers SERVFAIL
  plain                NOT signed, no DS in . (insecure delegation, NSEC)
    sf.plain           servers answer SERVFAIL
    ok.plain           CAA 0 issue "ca.example" (in zone plain)
    alias.plain        CNAME to sec-servfail.lab (in zone plain)

Every stub-zone still validates against the parent's DS: a stub only says
where the zone's servers are.
"""

import os
import subprocess

import mpic_harness as h

FAULT_KINDS = (("silent", "blackhole"), ("servfail", "servfail"),
               ("refused", "refused"))


def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(argv), p.returncode,
            p.stderr.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8", "replace")


class Key:
    """One zone key (flags 256; a DS may point at any zone key)."""

    def __init__(self, zone, d):
        self.zone = zone
        self.base = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", zone],
                         d).strip()
        # -f: a DS for a key without the SEP flag; -2: SHA-256.
        self.ds = _run(["ldns-key2ds", "-f", "-n", "-2", self.base + ".key"],
                       d).strip()
        self.dir = d



class DNSSECLab:
    def __init__(self, workdir):
        self.workdir = workdir
        self.dir = os.path.join(workdir, "dnssec")
        os.makedirs(self.dir, exist_ok=True)
        self.procs = []
        self.faults = {}
        self.nsd_port = h.free_port()
        self.validating_port = h.free_port()
        self.plain_port = h.free_port()
        try:
            for kind, mode in FAULT_KINDS:
                self.faults[kind] = h.FaultDNS(default_mode=mode)
            self._make_zones()
            self._start_nsd()
            self.validating = self._start_unbound(
                "unbound-validating", self.validating_port, True)
            self.plain = self._start_unbound(
                "unbound-plain", self.plain_port, False)
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------ zones

    def _write(self, origin, records, key=None, nsec3=False, expired=False,
               optout=False):
        """optout: NSEC3 with opt-out, signed by BIND's dnssec-signzone,
        which (unlike ldns-signzone) leaves unsigned delegations out of the
        NSEC3 chain, as opt-out TLDs such as com. do."""
        fname = "root" if origin == "." else origin.rstrip(".")
        path = os.path.join(self.dir, fname + ".zone")
        with open(path, "w") as f:
            f.write("$ORIGIN %s\n$TTL 60\n" % origin)
            f.write("\n".join(records) + "\n")
        if key is None:
            self.zones.append((origin, path))
            return
        if optout:
            with open(path, "a") as f, open(os.path.join(
                    self.dir, key.base + ".key")) as k:
                f.write(k.read())
            # -z: the one key signs everything; -A: opt-out.
            _run(["dnssec-signzone", "-z", "-3", "ab", "-H", "0", "-A",
                  "-o", origin, "-f", path + ".signed", path, key.base],
                 self.dir)
            self.zones.append((origin, path + ".signed"))
            return
        argv = ["ldns-signzone", "-o", origin, "-f", path + ".signed"]
        if nsec3:
            argv += ["-n", "-t", "0", "-s", "ab"]
        if expired:
            argv += ["-i", "20200101000000", "-e", "20200201000000"]
        _run(argv + [path, key.base], self.dir)
        self.zones.append((origin, path + ".signed"))

    def _make_zones(self):
        self.zones = []
        keys = {}
        for z in ("root", "lab", "opt", "good.lab", "expired.lab", "sec-silent.lab",
                  "sec-servfail.lab", "sec-refused.lab", "dsonly.lab"):
            keys[z] = Key("." if z == "root" else z + ".", self.dir)
        soa = "@ SOA ns.root. hostmaster.root. 1 3600 600 86400 60"
        self._write(".", [
            soa, "@ NS ns.root.",
            "lab. NS ns.lab.", keys["lab"].ds,
            "opt. NS ns.lab.", keys["opt"].ds,
            "plain. NS ns.plain.",
        ], keys["root"])
        lab = [soa.replace("hostmaster.root.", "hostmaster.lab."),
               "@ NS ns.lab.", "ns A 127.0.0.1"]
        for child in ("good", "expired", "dsonly", "sec-silent",
                      "sec-servfail", "sec-refused"):
            lab += ["%s NS ns.lab." % child, keys[child + ".lab"].ds]
        for child in ("ins-silent", "ins-servfail", "ins-refused"):
            lab += ["%s NS ns.lab." % child]
        self._write("lab.", lab, keys["lab"], nsec3=True)
        caa = 'CAA 0 issue "ca.example"'
        # NSEC3 with opt-out: the unsigned delegation has no NSEC3 of its
        # own; an opt-out record covers its hash.
        self._write("opt.", [
            soa.replace("hostmaster.root.", "hostmaster.opt."),
            "@ NS ns.lab.", "ins-servfail NS ns.lab.", "www A 127.0.0.1",
        ], keys["opt"], optout=True)
        for child, extra in (("good", {}), ("expired", {"expired": True})):
            self._write(child + ".lab.", [
                soa, "@ NS ns.lab.", "@ " + caa,
                'deny CAA 0 issue "other.example"', "www A 127.0.0.1",
            ], keys[child + ".lab"], **extra)
        self._write("dsonly.lab.", [soa, "@ NS ns.lab.", "@ " + caa])
        self._write("plain.", [
            soa, "@ NS ns.plain.", "ns A 127.0.0.1", "sf NS ns.plain.",
            "ok " + caa, "alias CNAME sec-servfail.lab.",
        ])
        # The root's DS is the validating resolver's trust anchor.
        self.trust_anchor = os.path.join(self.dir, "root.anchor")
        with open(self.trust_anchor, "w") as f:
            f.write(keys["root"].ds + "\n")

    def _stubs(self):
        out = [(origin, self.nsd_port) for origin, _ in self.zones]
        for kind, _ in FAULT_KINDS:
            port = self.faults[kind].port
            out += [("sec-%s.lab." % kind, port), ("ins-%s.lab." % kind, port)]
        out.append(("sf.plain.", self.faults["servfail"].port))
        out.append(("ins-servfail.opt.", self.faults["servfail"].port))
        return out

    # ------------------------------------------------------------ servers

    def _start_nsd(self):
        d = os.path.join(self.dir, "nsd")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "nsd.conf")
        lines = [
            "server:",
            "  ip-address: %s@%d" % (h.LOOPBACK, self.nsd_port),
            "  port: %d" % self.nsd_port,
            "  do-ip6: no",
            "  server-count: 1",
            '  zonelistfile: "%s/zone.list"' % d,
            '  xfrdfile: "%s/xfrd.state"' % d,
            '  xfrdir: "%s"' % d,
            '  pidfile: "%s/nsd.pid"' % d,
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            "  verbosity: 1",
            "  hide-version: yes",
            "remote-control:",
            "  control-enable: no",
        ]
        for origin, path in self.zones:
            lines += ["zone:", "  name: %s" % origin,
                      '  zonefile: "%s"' % path]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = h.Proc("nsd-dnssec", ["nsd", "-d", "-c", conf], self.workdir)
        self.procs.append(p)
        for origin, _ in self.zones:
            h.wait_dns(self.nsd_port, origin, proc=p.proc)

    def _start_unbound(self, name, port, validating):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "unbound.conf")
        lines = [
            "server:",
            "  interface: %s@%d" % (h.LOOPBACK, port),
            "  port: %d" % port,
            "  do-ip6: no",
            "  interface-automatic: no",
            "  so-reuseport: no",
            "  num-threads: 1",
            '  username: ""',
            '  chroot: ""',
            '  directory: "%s"' % d,
            '  pidfile: "%s/unbound.pid"' % d,
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 1",
            "  log-servfail: yes",
            "  do-not-query-localhost: no",
            "  qname-minimisation: no",
            "  access-control: 127.0.0.0/8 allow",
            "  infra-host-ttl: 1",
            "  infra-keep-probing: yes",
            "  infra-cache-max-rtt: 1000",
            "  cache-max-negative-ttl: 1",
            "  serve-expired: no",
        ]
        if validating:
            lines += ['  module-config: "validator iterator"',
                      '  trust-anchor-file: "%s"' % self.trust_anchor,
                      "  val-log-level: 2"]
        else:
            lines += ['  module-config: "iterator"']
        for zone, zport in self._stubs():
            lines += ["stub-zone:", '  name: "%s"' % zone,
                      "  stub-addr: %s@%d" % (h.LOOPBACK, zport)]
        lines += ["remote-control:", "  control-enable: no"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = h.Proc(name, ["unbound", "-d", "-c", conf], self.workdir)
        self.procs.append(p)
        h.wait_dns(port, "good.lab.", proc=p.proc)
        return p

    def resolver(self, validating=True):
        return "%s:%d" % (h.LOOPBACK, self.validating_port if validating
                          else self.plain_port)

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        for f in self.faults.values():
            f.close()
