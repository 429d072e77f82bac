#!/usr/bin/env bash
# Run a complete local open-mpic-c deployment on this machine: six CAA
# checkers, six DCV checkers (when built) and the coordinator, all from
# config/local/. Installs the Debian packages if missing, builds, starts
# everything, waits until every /healthz answers, prints a request to try,
# and stops every child cleanly on Ctrl-C, SIGTERM or SIGHUP: exit status 0
# once every daemon has exited 0, 1 if one did not (its log is named). A port
# of config/local/ already taken: refused before anything starts, exit 1.
# For development only.
#
#   scripts/run-local.sh [--no-deps] [--no-build] [--build-dir DIR]
#
# DNS: unless MPIC_DNS_RESOLVERS is exported, a DNSSEC-validating unbound
# (root trust anchor from dns-root-data) on 127.0.0.1:8053 (or
# $MPIC_LOCAL_RESOLVER_PORT) resolves for every checker, so that
# allow_lookup_failure can be proven (BR 3.2.2.8). One resolver for all
# perspectives is for development only. Logs: run/logs/<daemon>.log.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build
CONF_DIR=$ROOT/config/local
LOG_DIR=$ROOT/run/logs
HEALTH_TIMEOUT=${MPIC_HEALTH_TIMEOUT:-30}
STOP_TIMEOUT=15
do_deps=1
do_build=1

usage() {
    sed -n '2,/^set -u$/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
    --no-deps) do_deps=0 ;;
    --no-build) do_build=0 ;;
    --build-dir)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        BUILD_DIR=$(cd "$2" 2>/dev/null && pwd) || {
            echo "run-local: no such directory: $2" >&2
            exit 2
        }
        shift
        ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done

say() { printf 'run-local: %s\n' "$*"; }
die() { printf 'run-local: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- deps, build

if [ "$do_deps" = 1 ]; then
    "$ROOT/scripts/install-deps.sh" local || die "installing packages failed (needs root or sudo)"
fi
if [ "$do_build" = 1 ]; then
    say "building in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null || die "cmake configure failed"
    cmake --build "$BUILD_DIR" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null ||
        die "build failed (run: cmake --build $BUILD_DIR)"
fi
BIN=$BUILD_DIR/bin
for b in mpic-coordinator mpic-caa-checker; do
    [ -x "$BIN/$b" ] || die "$BIN/$b not found; build first"
done

# ---------------------------------------------------------------- plan

# name|binary|config file, coordinator last so its checkers are up first.
plan=()
for f in "$CONF_DIR"/caa-*.yaml; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .yaml)
    plan+=("$n|mpic-caa-checker|$f")
done
if [ -x "$BIN/mpic-dcv-checker" ]; then
    for f in "$CONF_DIR"/dcv-*.yaml; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .yaml)
        plan+=("$n|mpic-dcv-checker|$f")
    done
else
    say "$BIN/mpic-dcv-checker not built: starting without DCV checkers"
fi
plan+=("coordinator|mpic-coordinator|$CONF_DIR/coordinator.yaml")
[ -f "$CONF_DIR/coordinator.yaml" ] || die "$CONF_DIR/coordinator.yaml missing"

# The listen address of a config file: its top-level "listen:" key, unless
# MPIC_LISTEN is set (it would override every file, so refuse it here).
listen_of() {
    sed -n 's/^listen:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$1" | head -n 1 |
        tr -d '"'"'"
}
[ -z "${MPIC_LISTEN:-}" ] || die "unset MPIC_LISTEN: it would give every daemon the same address"

# SO_REUSEADDR as the daemons (libmicrohttpd) bind: connections of a run
# stopped moments ago (TIME_WAIT) do not hold the port, a listener does.
port_free() { # host port
    python3 - "$1" "$2" <<'EOF' 2>/dev/null
import socket, sys
host, port = sys.argv[1].strip("[]"), int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((host, port))
except OSError:
    sys.exit(1)
EOF
}

addrs=()
taken=0
for entry in "${plan[@]}"; do
    IFS='|' read -r name _ conf <<<"$entry"
    addr=$(listen_of "$conf")
    [ -n "$addr" ] || die "$conf has no listen: address"
    host=${addr%:*}
    port=${addr##*:}
    if ! port_free "$host" "$port"; then
        printf 'run-local: %s: port %s (%s) is already in use\n' "$name" "$port" "$addr" >&2
        taken=1
    fi
    addrs+=("$addr")
done
RESOLVER_PORT=${MPIC_LOCAL_RESOLVER_PORT:-8053}
if [ -z "${MPIC_DNS_RESOLVERS:-}" ] && ! port_free 127.0.0.1 "$RESOLVER_PORT"; then
    printf 'run-local: resolver: port %s is already in use (set MPIC_LOCAL_RESOLVER_PORT)\n' "$RESOLVER_PORT" >&2
    taken=1
fi
[ "$taken" = 0 ] || die "free the port(s) above or change config/local/, then retry"

# ---------------------------------------------------------------- run

mkdir -p "$LOG_DIR"
pids=()
names=()
resolver_pid=
sleep_pid=
unclean=0

stop_resolver() {
    [ -n "$resolver_pid" ] || return 0
    kill -TERM "$resolver_pid" 2>/dev/null
    wait "$resolver_pid" 2>/dev/null
    resolver_pid=
}

stop_all() {
    trap '' INT TERM HUP
    [ -z "$sleep_pid" ] || kill -TERM "$sleep_pid" 2>/dev/null
    [ ${#pids[@]} -gt 0 ] || { stop_resolver; return 0; }
    say "stopping ${#pids[@]} daemons"
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null
    done
    local deadline=$((SECONDS + STOP_TIMEOUT)) alive=1
    while [ $alive = 1 ] && [ $SECONDS -lt $deadline ]; do
        alive=0
        for p in "${pids[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] || sleep 0.2
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            say "${names[$i]} did not stop in ${STOP_TIMEOUT}s: killing"
            kill -KILL "${pids[$i]}" 2>/dev/null
            unclean=1
        fi
        wait "${pids[$i]}" 2>/dev/null
        rc=$?
        if [ "$rc" != 0 ]; then
            say "${names[$i]} exited with status $rc; see $LOG_DIR/${names[$i]}.log"
            unclean=1
        fi
    done
    pids=()
    stop_resolver
}

on_signal() {
    stop_all
    exit "$unclean"
}
trap on_signal INT TERM HUP
trap stop_all EXIT

# The checkers' validating resolver (see the top of this file).
dns_answers() { # port: true once anything answers a query on 127.0.0.1:port
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, struct, sys
# localhost. A: answered by unbound itself, no recursion.
q = (struct.pack("!HHHHHH", 0x4d50, 0x0100, 1, 0, 0, 0) +
     b"\x09localhost\x00" + struct.pack("!HH", 1, 1))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
s.recvfrom(512)
EOF
}
if [ -z "${MPIC_DNS_RESOLVERS:-}" ]; then
    command -v unbound >/dev/null 2>&1 || die "unbound not installed (scripts/install-deps.sh)"
    [ -r /usr/share/dns/root.key ] || die "/usr/share/dns/root.key missing (package dns-root-data)"
    rdir=$ROOT/run/unbound
    mkdir -p "$rdir"
    # The RFC 5011 state must be writable: start from Debian's root key.
    cp /usr/share/dns/root.key "$rdir/root.key"
    cat >"$rdir/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$RESOLVER_PORT
  port: $RESOLVER_PORT
  do-ip6: no
  interface-automatic: no
  username: ""
  chroot: ""
  directory: "$rdir"
  pidfile: ""
  use-syslog: no
  logfile: ""
  access-control: 0.0.0.0/0 refuse
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  auto-trust-anchor-file: "$rdir/root.key"
  harden-dnssec-stripped: yes
  qname-minimisation: yes
remote-control:
  control-enable: no
EOF
    unbound-checkconf "$rdir/unbound.conf" >/dev/null || die "unbound-checkconf $rdir/unbound.conf failed"
    set -m # its own process group, as the daemons' below
    unbound -d -c "$rdir/unbound.conf" >"$LOG_DIR/unbound.log" 2>&1 </dev/null &
    resolver_pid=$!
    set +m
    rdeadline=$((SECONDS + HEALTH_TIMEOUT))
    until dns_answers "$RESOLVER_PORT"; do
        kill -0 "$resolver_pid" 2>/dev/null || die "unbound exited during start-up; see $LOG_DIR/unbound.log"
        [ $SECONDS -lt $rdeadline ] || die "unbound not answering on port $RESOLVER_PORT after ${HEALTH_TIMEOUT}s"
        sleep 0.2
    done
    export MPIC_DNS_RESOLVERS=127.0.0.1:$RESOLVER_PORT
    say "validating resolver on 127.0.0.1:$RESOLVER_PORT (log $LOG_DIR/unbound.log)"
fi

# Each daemon in its own process group (job control just for the start):
# Ctrl-C in a terminal signals only this script, which stops the daemons
# itself, coordinator first. Were they in its group, they would get the
# SIGINT too, and bash may lose the exit status of a child that exits while
# a trap runs.
for i in "${!plan[@]}"; do
    IFS='|' read -r name bin conf <<<"${plan[$i]}"
    set -m
    "$BIN/$bin" --config "$conf" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
    pids+=($!)
    set +m
    names+=("$name")
done

health_url() { # listen address -> URL (0.0.0.0/[::] mean loopback)
    local host=${1%:*} port=${1##*:}
    case "$host" in
    0.0.0.0 | "") host=127.0.0.1 ;;
    "[::]") host="[::1]" ;;
    esac
    printf 'http://%s:%s/healthz' "$host" "$port"
}

deadline=$((SECONDS + HEALTH_TIMEOUT))
for i in "${!names[@]}"; do
    url=$(health_url "${addrs[$i]}")
    until curl -sf -o /dev/null --max-time 2 "$url"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            say "${names[$i]} exited during start-up; last lines of $LOG_DIR/${names[$i]}.log:" >&2
            tail -n 20 "$LOG_DIR/${names[$i]}.log" >&2
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            say "${names[$i]} not healthy at $url after ${HEALTH_TIMEOUT}s; see $LOG_DIR/${names[$i]}.log" >&2
            exit 1
        fi
        sleep 0.2
    done
done

coord=${addrs[$((${#addrs[@]} - 1))]}
chost=${coord%:*}
case "$chost" in 0.0.0.0 | "") chost=127.0.0.1 ;; "[::]") chost="[::1]" ;; esac
cat <<EOF
run-local: ${#pids[@]} daemons healthy (logs in $LOG_DIR). Try:

curl -s -X POST http://$chost:${coord##*:}/mpic -H 'content-type: application/json' -d '{"check_type":"caa","domain_or_ip_target":"example.com"}'

run-local: Ctrl-C stops everything.
EOF

# Wait until a signal arrives or a daemon dies on its own.
while :; do
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            wait "${pids[$i]}"
            rc=$?
            say "${names[$i]} exited on its own (status $rc); see $LOG_DIR/${names[$i]}.log" >&2
            exit 1
        fi
    done
    sleep 1 &
    sleep_pid=$!
    wait "$sleep_pid" 2>/dev/null
done
