#!/usr/bin/env bash
# The bare-host (EC2) stage of scripts/test.sh: a Debian 12 machine booted
# with systemd-nspawn, open-mpic-c installed in it by scripts/install.sh as
# an operator following README.md ("Bare hosts (EC2)") would, its units
# started by its own systemd, and POST /mpic called through its nginx (TLS,
# API keys) from the host.
#
#   1. install debootstrap, systemd-container, nsd, ldnsutils
#      (scripts/install-deps.sh ec2)
#   2. the root file system: debootstrap bookworm with systemd, the shared
#      libraries of install-deps.sh runtime, openssl, and nginx and unbound
#      installed then purged again, their .deb files kept in apt's cache so
#      that install.sh's apt-get install works without any network; made
#      once, kept in $MPIC_CONTAINER_CACHE (/var/cache/open-mpic-c) as a tar
#      named after what it holds
#   3. unpack it, copy in the release build (build/bin, $MPIC_BUILD_DIR) and
#      the install files (scripts/, deploy/ec2, config/ec2)
#   4. boot it: systemd-nspawn -b, machine $MACHINE, --network-veth with
#      addresses set here (no route beyond the veth, no NAT, no forwarding)
#   5. a signed test zone (tests/ec2/ec2.test.zone) served by nsd on the
#      host's end of the veth
#   6. inside: scripts/install.sh --role all (installs nginx and unbound with
#      apt-get from the cache, disables Debian's default nginx site, makes a
#      random API key, restarts unbound on the perspective's configuration)
#   7. inside, the operator's steps: TLS files from scripts/gen-certs.sh into
#      /etc/mpic/tls, the perspective host names in /etc/hosts (this one
#      machine plays every perspective), unbound's stub zone and trust anchor
#      for the test zone (tests/ec2/unbound.conf)
#   8. a unit with a broken configuration must not start: its ExecStartPre=
#      --check-config fails and the journal names the problem
#   9. systemctl start the three units, nginx -t, systemctl reload nginx;
#      every unit active, each ExecStartPre= --check-config exited 0
#  10. from the host through nginx TLS (tests/ec2/check_ec2.py): the
#      installed key gives real answers (CAA permit, deny, DNSSEC-bogus;
#      acme-dns-01 pass and fail), no key and wrong keys 401, port 80
#      redirects (Debian's default site is gone), an audit line per request
#  11. keys of the lengths the docs give (openssl rand -hex 24 and -hex 32,
#      48 and 64 characters, and the longest allowed, 238) added as the docs
#      say: key map, nginx -t, reload, MPIC_API_KEYS, restart; each works
#  12. power the machine off, stop nsd: no machine, veth, mount, process or
#      file of the run is left; the cache stays
#
# Each step prints its seconds. Needs root (debootstrap, nspawn, veth).
# Fails, never skips, where the machine cannot boot here.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

BUILD=${MPIC_BUILD_DIR:-build}
CACHE=${MPIC_CONTAINER_CACHE:-/var/cache/open-mpic-c}
SUITE=bookworm
MACHINE=mpic-ec2
VETH=ve-$MACHINE          # systemd-nspawn's name for the host's end
HOST_ADDR=10.254.231.1    # the host's end: the test name server
CT_ADDR=10.254.231.2      # the machine: nginx on 80 and 443
NET_PREFIX=30
BOOT_TIMEOUT=120
# In the root file system: systemd and the shared libraries the daemons load
# (an EC2 image has those); nginx and unbound are installed by install.sh.
BASE_PKGS="systemd systemd-sysv dbus iproute2 procps openssl dns-root-data
 $(sh scripts/install-deps.sh --list runtime | tr '\n' ' ')"
LATER_PKGS="nginx nginx-common unbound" # installed, purged, .deb kept
NAMES="us-east-1 us-west-2 ca-central-1 eu-west-1 eu-central-1 ap-northeast-1
 ap-southeast-2 sa-east-1" # the perspectives of config/ec2/coordinator.yaml

STAGE=ec2
# shellcheck source=scripts/stage-lib.sh
. scripts/stage-lib.sh

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, systemd-nspawn, veth)"

# ---- 1. packages
step "install packages (install-deps.sh ec2)"
./scripts/install-deps.sh ec2
for x in /usr/sbin/debootstrap /usr/bin/systemd-nspawn /usr/sbin/nsd \
    /usr/bin/ldns-signzone /usr/bin/drill /usr/bin/nsenter; do
    [ -x "$x" ] || fail "$x missing after scripts/install-deps.sh ec2"
done
for b in mpic-coordinator mpic-caa-checker mpic-dcv-checker; do
    [ -x "$BUILD/bin/$b" ] || fail "$BUILD/bin/$b not built (the release build of scripts/test.sh)"
done
if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)" != 0 ]; then
    fail "IPv4 forwarding is on here: the machine could route beyond the host; this stage runs only where net.ipv4.ip_forward=0"
fi

W=$(mktemp -d /var/tmp/mpic-ec2.XXXXXX)
R=$W/rootfs
NSPAWN_PID=
LEADER=
NSD_PID=
NSPAWN_RUN_NEW=
[ -e /run/systemd/nspawn ] || NSPAWN_RUN_NEW=1

# Processes whose root directory is below $W: the machine's.
machine_procs() {
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        case "$r" in "$W"/*) printf '%s\n' "${p#/proc/}" ;; esac
    done
}
poweroff_machine() { # seconds to wait; 0 when it is gone
    [ -n "$NSPAWN_PID" ] || return 0
    # SIGTERM: systemd-nspawn asks the machine's systemd to power off.
    kill -TERM "$NSPAWN_PID" 2>/dev/null || true
    for _ in $(seq 1 $(($1 * 2))); do
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        echo "test-ec2: the machine did not power off in $1 s; killing it" >&2
        [ -z "$LEADER" ] || kill -KILL "$LEADER" 2>/dev/null || true
        kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        sleep 1
        return 1
    fi
    wait "$NSPAWN_PID" 2>/dev/null || true
    NSPAWN_PID=
    return 0
}
cleanup() {
    local rc=$? p
    set +e
    trap - EXIT INT TERM
    if [ -n "$NSD_PID" ]; then
        kill -TERM "$NSD_PID" 2>/dev/null
        wait "$NSD_PID" 2>/dev/null
    fi
    poweroff_machine 60
    # Whatever is still running inside (init killed, children reparented).
    for p in $(machine_procs); do kill -KILL "$p" 2>/dev/null; done
    ip link show "$VETH" >/dev/null 2>&1 && ip link delete "$VETH" 2>/dev/null
    mounts_below "$W" | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
    [ -z "$NSPAWN_RUN_NEW" ] || rm -rf /run/systemd/nspawn
    stage_exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

no_interface "$VETH"
if ip -4 addr show | grep -q "inet ${HOST_ADDR%.*}\."; then
    fail "an interface of this host has an address in ${HOST_ADDR%.*}.0/24 already: this stage uses $HOST_ADDR/$NET_PREFIX"
fi

# ---- 2. the root file system, cached
step "root file system (debootstrap $SUITE, cached)"
# shellcheck disable=SC2086
cache_key=$(printf '%s\n' "$SUITE" $BASE_PKGS -- $LATER_PKGS "prepare 1" | sha256sum | cut -c1-12)
TAR=$CACHE/debian-$SUITE-ec2-$cache_key.tar
if [ ! -s "$TAR" ]; then
    echo "making $TAR with debootstrap (kept for later runs)"
    mk=$W/mk
    # shellcheck disable=SC2086
    include=$(echo $BASE_PKGS $LATER_PKGS | tr ' ' ',')
    debootstrap --variant=minbase --include="$include" "$SUITE" "$mk" \
        >"$W/debootstrap.log" 2>&1 ||
        { tail -n 30 "$W/debootstrap.log" >&2; fail "debootstrap failed"; }
    # No service of a package starts in the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$mk/usr/sbin/policy-rc.d"
    chmod 755 "$mk/usr/sbin/policy-rc.d"
    # shellcheck disable=SC2086
    chroot "$mk" dpkg --purge $LATER_PKGS >"$W/purge.log" 2>&1 ||
        { cat "$W/purge.log" >&2; fail "dpkg --purge $LATER_PKGS in the root file system"; }
    # Only the .deb files install.sh will need stay in apt's cache.
    keep=$W/keep
    mkdir "$keep"
    for p in $LATER_PKGS; do
        mv "$mk/var/cache/apt/archives/${p}_"*.deb "$keep/" ||
            fail "no .deb of $p in the root file system's apt cache"
    done
    rm -f "$mk/var/cache/apt/archives/"*.deb
    mv "$keep"/*.deb "$mk/var/cache/apt/archives/"
    # What install.sh's apt-get install will do: exactly these, from the cache.
    inst=$(chroot "$mk" apt-get install -s -o Debug::NoLocking=1 nginx unbound |
        sed -n 's/^Inst \([^ ]*\) .*/\1/p' | sort | paste -sd' ' -)
    # shellcheck disable=SC2086
    [ "$inst" = "$(printf '%s\n' $LATER_PKGS | sort | paste -sd' ' -)" ] ||
        fail "apt-get install nginx unbound in the root file system would install: $inst"
    rm -f "$mk/usr/sbin/policy-rc.d"
    echo "$MACHINE" >"$mk/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t%s\n' \
        "$MACHINE" >"$mk/etc/hosts"
    # The resolver of a perspective host is its own unbound.
    rm -f "$mk/etc/resolv.conf"
    echo "nameserver 127.0.0.1" >"$mk/etc/resolv.conf"
    : >"$mk/etc/machine-id"
    mkdir -p "$CACHE"
    rm -f "$CACHE"/debian-"$SUITE"-ec2-*.tar
    tar -C "$mk" -cf "$TAR.partial" .
    mv "$TAR.partial" "$TAR"
    rm -rf "$mk"
fi

# ---- 3. unpack, copy the build and the install files
step "unpack, copy the build and the install files"
mkdir "$R"
tar -C "$R" -xf "$TAR"
S=$R/root/open-mpic-c
mkdir -p "$S/build/bin" "$S/scripts" "$S/deploy" "$S/config"
cp "$BUILD/bin/mpic-coordinator" "$BUILD/bin/mpic-caa-checker" \
    "$BUILD/bin/mpic-dcv-checker" "$S/build/bin/"
cp scripts/install.sh scripts/install-deps.sh scripts/gen-certs.sh "$S/scripts/"
cp -r deploy/ec2 "$S/deploy/"
cp -r config/ec2 "$S/config/"

# ---- 4. boot
step "boot the machine (systemd-nspawn -b)"
systemd-nspawn --quiet -D "$R" -M "$MACHINE" --register=no --keep-unit \
    --network-veth --resolv-conf=off --timezone=off --link-journal=no \
    -b >"$W/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
cannot_boot() {
    tail -n 30 "$W/console.log" >&2
    fail "systemd-nspawn could not boot a Debian root file system here ($1; its console is above): this stage needs root in the host's namespaces with cgroups, and runs no test without it"
}
for _ in $(seq 1 $((BOOT_TIMEOUT * 2))); do
    LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd || true)
    [ -z "$LEADER" ] || break
    kill -0 "$NSPAWN_PID" 2>/dev/null || cannot_boot "systemd-nspawn exited"
    sleep 0.5
done
[ -n "$LEADER" ] || cannot_boot "no systemd in it after $BOOT_TIMEOUT s"
# A command in the machine, as root there, with a plain environment.
ct() {
    timeout 300 nsenter -t "$LEADER" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}
state=$(timeout "$BOOT_TIMEOUT" nsenter -t "$LEADER" -a systemctl is-system-running --wait 2>&1) || true
if [ "$state" != running ]; then
    ct systemctl --failed --no-pager >&2 || true
    cannot_boot "systemctl is-system-running: $state"
fi
echo "machine $MACHINE running (init pid $LEADER on the host)"

# ---- network: the veth's two ends, nothing beyond
step "veth $VETH: $HOST_ADDR - $CT_ADDR, no route beyond"
ip link show "$VETH" >/dev/null 2>&1 || fail "systemd-nspawn made no $VETH"
ip addr add "$HOST_ADDR/$NET_PREFIX" dev "$VETH"
ip link set "$VETH" up
nsenter -t "$LEADER" -n ip addr add "$CT_ADDR/$NET_PREFIX" dev host0
nsenter -t "$LEADER" -n ip link set host0 up
routes=$(nsenter -t "$LEADER" -n ip -4 route show)
[ "$routes" = "${CT_ADDR%.*}.0/$NET_PREFIX dev host0 proto kernel scope link src $CT_ADDR " ] ||
    [ "$routes" = "${CT_ADDR%.*}.0/$NET_PREFIX dev host0 proto kernel scope link src $CT_ADDR" ] ||
    fail "the machine's routes are not only the veth's: $routes"

# ---- 5. test name server on the host's end
step "signed test zone, nsd on $HOST_ADDR"
Z=$W/dns
mkdir -p "$Z/keys"
(
    cd "$Z/keys"
    ksk=$(ldns-keygen -a ECDSAP256SHA256 -k ec2.test)
    zsk=$(ldns-keygen -a ECDSAP256SHA256 ec2.test)
    ldns-signzone -f ../signed "$REPO/tests/ec2/ec2.test.zone" "$ksk" "$zsk"
    cp "$ksk.ds" ../anchor.ds
)
sed -e '/^bogus\.ec2\.test\.[[:space:]].*CAA/s/"ca\.invalid"/"ca.example"/' \
    "$Z/signed" >"$Z/ec2.test.zone.signed"
grep -q '^bogus\.ec2\.test\.[[:space:]].*CAA[[:space:]]*0 issue "ca\.example"' \
    "$Z/ec2.test.zone.signed" || fail "could not alter the signed CAA of bogus.ec2.test"
rm -rf "$Z/keys" "$Z/signed"
cat >"$Z/nsd.conf" <<EOF
server:
  ip-address: $HOST_ADDR@53
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$Z"
  zonelistfile: "$Z/zone.list"
  xfrdfile: "$Z/xfrd.state"
  xfrdir: "$Z"
  pidfile: "$Z/nsd.pid"
  database: ""
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
zone:
  name: "ec2.test."
  zonefile: "ec2.test.zone.signed"
EOF
nsd -d -c "$Z/nsd.conf" >"$Z/nsd.log" 2>&1 &
NSD_PID=$!
for _ in $(seq 1 60); do
    grep -q "nsd started" "$Z/nsd.log" && break
    kill -0 "$NSD_PID" 2>/dev/null || { cat "$Z/nsd.log" >&2; fail "nsd did not start"; }
    sleep 0.25
done
drill -Q @"$HOST_ADDR" SOA ec2.test >/dev/null 2>&1 || { cat "$Z/nsd.log" >&2; fail "nsd does not answer on $HOST_ADDR"; }

# ---- 6. install.sh as the operator runs it
step "install.sh --role all (inside; apt-get without network)"
ct sh -c 'cd /root/open-mpic-c && scripts/install.sh --role all' >"$W/install.log" 2>&1 ||
    { cat "$W/install.log" >&2; fail "scripts/install.sh --role all failed in the machine"; }
grep '^install:' "$W/install.log" | grep -v -e '^install: installed /' -e '^install: next steps' || true
for p in nginx unbound; do
    grep -q "^install: packages: apt-get install .*\<$p\>" "$W/install.log" ||
        fail "install.sh did not install $p"
done
grep -q "^install: packages: installed" "$W/install.log" || fail "install.sh: no packages installed"
grep -q "^Need to get 0 B" "$W/install.log" || fail "apt-get wanted to download packages"
# shellcheck disable=SC2016
ct dpkg-query -W -f='${Package} ${Status}\n' nginx unbound | grep -c "ok installed" | grep -qx 2 ||
    fail "nginx and unbound are not installed in the machine"
[ ! -e "$R/etc/nginx/sites-enabled/default" ] || fail "Debian's default nginx site is still enabled"
[ -e "$R/etc/nginx/sites-available/default" ] || fail "install.sh removed sites-available/default"
grep -q "^install: disabled Debian's default nginx site" "$W/install.log" ||
    fail "install.sh did not say it disabled the default site"
grep -q "^install: restarted unbound" "$W/install.log" || fail "install.sh did not restart unbound"
key=$(sed -n 's/^"\([0-9a-f]*\)" 1;$/\1/p' "$R/etc/nginx/mpic-api-keys.map")
if [ "$(printf '%s\n' "$key" | grep -c .)" -ne 1 ] || [ ${#key} -ne 48 ]; then
    fail "the installed key map does not hold one key of 48 hex digits"
fi
grep -qx "MPIC_API_KEYS=$key" "$R/etc/mpic/coordinator.env" ||
    fail "coordinator.env does not hold the key of the key map"
! grep -q "$key" "$W/install.log" || fail "install.sh printed the API key"
[ "$(stat -c %a "$R/etc/mpic/coordinator.env")" = 600 ] || fail "coordinator.env is not 0600"
for u in mpic-coordinator mpic-caa-checker mpic-dcv-checker; do
    [ "$(ct systemctl is-enabled "$u")" = enabled ] || fail "$u is not enabled"
done
ct systemctl is-active --quiet nginx unbound || fail "nginx or unbound is not running after install.sh"

# ---- 7. the operator's steps: TLS files, names, the test zone
step "TLS files (gen-certs.sh), perspective names, unbound's test zone"
sans=
for n in $NAMES; do sans="$sans${sans:+,}$n.perspectives.mpic.example"; done
ct sh -c "cd /root/open-mpic-c && scripts/gen-certs.sh /root/pki \
    caa-checker=$sans dcv-checker=$sans api=$CT_ADDR,$MACHINE >/dev/null &&
    cd /root/pki && install -m 0600 checkers-ca.crt coordinators-ca.crt \
    coordinator.crt coordinator.key caa-checker.crt caa-checker.key \
    dcv-checker.crt dcv-checker.key api.crt api.key /etc/mpic/tls/" ||
    fail "TLS files into /etc/mpic/tls"
printf '127.0.0.1\t%s\n' "$(echo "$sans" | tr ',' ' ')" >>"$R/etc/hosts"
cp "$R/root/pki/checkers-ca.crt" "$W/api-ca.crt"
cp "$Z/anchor.ds" "$R/etc/unbound/ec2-test-anchor.ds"
cp tests/ec2/unbound.conf "$R/etc/unbound/unbound.conf.d/ec2-test.conf"
grep -q "stub-addr: $HOST_ADDR@53" "$R/etc/unbound/unbound.conf.d/ec2-test.conf" ||
    fail "tests/ec2/unbound.conf does not name $HOST_ADDR@53"
ct unbound-checkconf >/dev/null || { ct unbound-checkconf >&2; fail "unbound-checkconf"; }
ct systemctl restart unbound || fail "systemctl restart unbound"

# ---- 8. a broken configuration: ExecStartPre= refuses it
step "a unit with a broken configuration does not start"
cp "$R/etc/mpic/dcv-checker.yaml" "$W/dcv-checker.yaml.good"
echo "bogus_key: 1" >>"$R/etc/mpic/dcv-checker.yaml"
if ct systemctl start mpic-dcv-checker.service 2>"$W/start.err"; then
    fail "mpic-dcv-checker started with an unknown key in its configuration"
fi
ct journalctl -u mpic-dcv-checker --no-pager -o cat >"$W/broken.journal" || true
grep -q "dcv-checker.yaml:[0-9]*: bogus_key: unknown key" "$W/broken.journal" ||
    { cat "$W/broken.journal" >&2; fail "the journal does not name the broken key"; }
[ "$(ct systemctl show -p ExecMainStartTimestampMonotonic --value mpic-dcv-checker)" = 0 ] ||
    fail "mpic-dcv-checker's main process ran on a broken configuration"
grep "bogus_key" "$W/broken.journal" | head -n 1 | sed 's/^/journal: /'
ct systemctl stop mpic-dcv-checker.service
cp "$W/dcv-checker.yaml.good" "$R/etc/mpic/dcv-checker.yaml"
ct systemctl reset-failed mpic-dcv-checker.service 2>/dev/null || true

# ---- 9. start as README.md says
step "systemctl start the units, nginx -t, reload nginx"
ct systemctl start mpic-caa-checker mpic-dcv-checker mpic-coordinator ||
    { ct journalctl -u 'mpic-*' --no-pager -n 40 >&2; fail "systemctl start"; }
ct nginx -t 2>"$W/nginx-t.log" || { cat "$W/nginx-t.log" >&2; fail "nginx -t"; }
ct systemctl reload nginx || fail "systemctl reload nginx"
python3 tests/ec2/check_ec2.py wait "https://$CT_ADDR" "$W/api-ca.crt" 60 ||
    fail "nginx does not serve /healthz over TLS on $CT_ADDR"
for u in mpic-coordinator mpic-caa-checker mpic-dcv-checker; do
    [ "$(ct systemctl is-active "$u")" = active ] || fail "$u is not active"
    pre=$(ct systemctl show -p ExecStartPre --value "$u")
    case "$pre" in
    *"argv[]=/usr/local/bin/$u --check-config --config /etc/mpic/"*"code=exited ; status=0 }"*) ;;
    *) fail "$u: ExecStartPre= --check-config did not run and pass: $pre" ;;
    esac
    # The sandbox of the unit is in force: a dynamic user, no capabilities,
    # no new privileges.
    pid=$(ct systemctl show -p MainPID --value "$u")
    st=$(ct cat "/proc/$pid/status")
    uid=$(printf '%s\n' "$st" | awk '/^Uid:/ { print $2 }')
    case "$uid" in '' | 0) fail "$u runs as uid '$uid'" ;; esac
    printf '%s\n' "$st" | grep -qx "CapEff:[[:space:]]*0000000000000000" ||
        fail "$u has capabilities: $(printf '%s\n' "$st" | grep CapEff)"
    printf '%s\n' "$st" | grep -qx "NoNewPrivs:[[:space:]]*1" || fail "$u: NoNewPrivs is not set"
done
echo "every unit ran its --check-config (exit 0) before it started, and runs as a dynamic user without capabilities"

# ---- 10. through nginx TLS from the host
step "POST /mpic through nginx TLS: the installed key, no key, wrong keys"
MPIC_EC2_LEADER=$LEADER python3 tests/ec2/check_ec2.py checks "https://$CT_ADDR" \
    "$W/api-ca.crt" "$key" || fail "checks through nginx"

# ---- 11. keys of the documented lengths, added as the docs say
step "keys of 48, 64 and 238 characters added, nginx -t, reload"
k48=$(ct openssl rand -hex 24)
k64=$(ct openssl rand -hex 32)
kmax=$(ct openssl rand -hex 119)
for k in "$k48" "$k64" "$kmax"; do
    printf '"%s" 1;\n' "$k" >>"$R/etc/nginx/mpic-api-keys.map"
done
sed -i "s/^MPIC_API_KEYS=.*/&,$k48,$k64,$kmax/" "$R/etc/mpic/coordinator.env"
ct nginx -t 2>"$W/nginx-t.log" || { cat "$W/nginx-t.log" >&2; fail "nginx -t with keys of 48, 64 and 238 characters"; }
ct systemctl reload nginx || fail "systemctl reload nginx"
ct systemctl restart mpic-coordinator || fail "systemctl restart mpic-coordinator"
python3 tests/ec2/check_ec2.py keys "https://$CT_ADDR" "$W/api-ca.crt" \
    "$key" "$k48" "$k64" "$kmax" || fail "keys of the documented lengths"

step "every unit active, nothing failed, no route out"
ct systemctl is-active nginx unbound mpic-coordinator mpic-caa-checker mpic-dcv-checker |
    paste -sd' ' - | grep -qx "active active active active active" || fail "a unit is not active"
failed=$(ct systemctl list-units --failed --no-legend --plain)
[ -z "$failed" ] || fail "failed units: $failed"
[ "$(ct systemctl is-system-running)" = running ] || fail "the machine is not 'running'"
[ -z "$(nsenter -t "$LEADER" -n ip route show default)" ] || fail "the machine has a default route"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || fail "IPv4 forwarding was turned on"

# ---- 12. power off, nothing left
step "power off, clean up"
kill -TERM "$NSD_PID"
wait "$NSD_PID" || true
NSD_PID=
poweroff_machine 60 || fail "the machine did not power off on SIGTERM"
LEADER=
left=$(machine_procs)
[ -z "$left" ] || fail "processes of the machine left: $left"
! ip link show "$VETH" >/dev/null 2>&1 || fail "$VETH left after the machine stopped"
if [ -n "$(mounts_below "$W")" ]; then
    fail "mounts left below $W"
fi
rm -rf "$W"
[ ! -e "$W" ] || fail "could not remove $W"
[ -z "$NSPAWN_RUN_NEW" ] || rm -rf /run/systemd/nspawn
stage_summary
