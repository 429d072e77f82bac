#!/usr/bin/env bash
# The container stage of scripts/test.sh: the three images built and
# compose.yaml run for real on Debian 12's own Docker engine, as an operator
# following README.md ("Container images", "Docker Compose") would.
#
#   1. install Debian's docker.io, docker-compose (1.29), debootstrap and
#      ldnsutils (scripts/install-deps.sh containers)
#   2. start a private dockerd: its own socket, pidfile, --data-root and
#      --exec-root in a temporary directory, its own bridge, no iptables
#      rules, no NAT, no IP forwarding
#   3. the base image docker.io/library/debian:bookworm-slim, when missing,
#      made locally (debootstrap --variant=minbase bookworm | docker import);
#      the root file system is kept in $MPIC_CONTAINER_CACHE
#      (/var/cache/open-mpic-c) so that later runs skip debootstrap
#   4. build the images named in compose.yaml from Dockerfile.coordinator,
#      Dockerfile.checker and Dockerfile.unbound, plus the test name server
#      (tests/containers/Dockerfile.nsd); only these builds use the host's
#      network (--network host, for apt)
#   5. run the `docker run` example of Dockerfile.coordinator as written
#   6. `docker-compose up` of compose.yaml with tests/containers/compose.test.yaml
#      (a signed test zone served by nsd; every perspective's unbound runs its
#      shipped configuration plus a stub zone and trust anchor for it), in a
#      copy of the files compose.yaml mounts, with the PKI of
#      scripts/gen-certs.sh; then tests/containers/check_compose.py checks
#      through POST /mpic (API key; mutual TLS to the checkers)
#   7. ps, logs and down without any MPIC_ variable (up read them from .env,
#      as README.md has it); down must leave no container, network or volume
#   8. stop dockerd (by its pid), remove its bridges and data: the machine is
#      left as it was, but for the packages and the cache of step 3
#
# Containers reach nothing beyond the machine: the override makes "egress"
# internal (the other networks but "edge" are internal already), and with no
# NAT and no forwarding the host routes nothing out. Each step prints its
# seconds. Needs root. Fails (never skips) when Docker cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

DOCKER=/usr/bin/docker # Debian's client, whatever else is on PATH
DOCKERD=/usr/sbin/dockerd
COMPOSE=/usr/bin/docker-compose
CACHE=${MPIC_CONTAINER_CACHE:-/var/cache/open-mpic-c}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
BASE_TAR=$CACHE/debian-bookworm-minbase.tar
BRIDGE=mpic-ct0            # dockerd's default bridge, ours alone
BRIDGE_ADDR=172.29.255.1/24
ADDR_POOL=172.30.0.0/16    # compose networks without a subnet; compose.yaml's are 172.31.x
PROJECT=mpicct
STAGE_TIMEOUT_HEALTHY=300

STAGE=containers
# shellcheck source=scripts/stage-lib.sh
. scripts/stage-lib.sh

[ "$(id -u)" -eq 0 ] || fail "needs root (dockerd, bridges, debootstrap)"

# ---- 1. packages
step "install packages (install-deps.sh containers)"
./scripts/install-deps.sh containers
for x in "$DOCKER" "$DOCKERD" "$COMPOSE" /usr/sbin/debootstrap /usr/bin/ldns-signzone; do
    [ -x "$x" ] || fail "$x missing after scripts/install-deps.sh containers"
done
if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)" != 0 ]; then
    fail "IPv4 forwarding is on here: containers could route beyond the machine; this stage runs only where net.ipv4.ip_forward=0"
fi

# ---- 2. dockerd
step "start dockerd"
W=$(mktemp -d /tmp/mpic-ct.XXXXXX)
DOCKERD_PID=
BRIDGES=
RUN_DOCKER_NEW=
cleanup() {
    local rc=$? pid
    set +e
    trap - EXIT INT TERM
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        # Whatever a failed run left: containers first, then the daemon.
        if [ -S "$W/docker.sock" ]; then
            (cd "$W/project" 2>/dev/null && COMPOSE_PROJECT_NAME=$PROJECT \
                timeout 120 "$COMPOSE" -f compose.yaml -f tests/containers/compose.test.yaml \
                down -v --remove-orphans -t 5 >/dev/null 2>&1)
            ids=$("$DOCKER" ps -aq 2>/dev/null)
            # shellcheck disable=SC2086
            [ -z "$ids" ] || timeout 60 "$DOCKER" rm -f $ids >/dev/null 2>&1
            for n in $("$DOCKER" network ls -q --filter type=custom 2>/dev/null); do
                BRIDGES="$BRIDGES br-${n:0:12}"
                "$DOCKER" network rm "$n" >/dev/null 2>&1
            done
        fi
        kill -TERM "$DOCKERD_PID"
        for _ in $(seq 1 60); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
            echo "test-containers: dockerd ($DOCKERD_PID) did not stop; killing it" >&2
            kill -KILL "$DOCKERD_PID"
            sleep 1
        fi
    fi
    # Mounts dockerd may have left below $W (overlays, network namespaces).
    mounts_below "$W" | while read -r m; do umount -l "$m" 2>/dev/null; done
    for b in $BRIDGES $BRIDGE; do
        ip link show "$b" >/dev/null 2>&1 && ip link delete "$b" 2>/dev/null
    done
    [ -z "$RUN_DOCKER_NEW" ] || rmdir /run/docker/plugins /run/docker 2>/dev/null
    rm -rf "$W"
    stage_exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

no_interface "$BRIDGE"
{ ip link add name "$BRIDGE" type bridge && ip addr add "$BRIDGE_ADDR" dev "$BRIDGE" &&
    ip link set "$BRIDGE" up; } ||
    fail "cannot make the bridge $BRIDGE: this stage needs to manage network interfaces (root in the host's network namespace)"
# dockerd 20.10 writes a key to /etc/docker/key.json unless told otherwise,
# and makes /run/docker/plugins.
printf '{"deprecated-key-path": "%s/key.json"}\n' "$W" >"$W/daemon.json"
[ -e /run/docker ] || RUN_DOCKER_NEW=1
export DOCKER_HOST="unix://$W/docker.sock"
"$DOCKERD" --config-file "$W/daemon.json" --data-root "$W/data" \
    --exec-root "$W/exec" -H "$DOCKER_HOST" --pidfile "$W/dockerd.pid" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --bridge="$BRIDGE" --default-address-pool "base=$ADDR_POOL,size=24" \
    --log-level=warn >"$W/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 120); do
    "$DOCKER" version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
done
if ! "$DOCKER" version >/dev/null 2>&1; then
    tail -n 30 "$W/dockerd.log" >&2
    fail "dockerd did not start (its log is above): this stage needs a Docker engine that can run here (root, cgroups, overlay or vfs storage, bridges)"
fi
"$DOCKER" version --format 'dockerd {{.Server.Version}}, client {{.Client.Version}}'
"$COMPOSE" version --short | sed 's/^/docker-compose /'

# ---- 3. base image
step "base image $BASE_IMAGE"
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    if [ ! -s "$BASE_TAR" ]; then
        echo "making $BASE_TAR with debootstrap (kept for later runs)"
        mkdir -p "$CACHE"
        debootstrap --variant=minbase bookworm "$W/rootfs" >"$W/debootstrap.log" 2>&1 ||
            { tail -n 30 "$W/debootstrap.log" >&2; fail "debootstrap failed"; }
        # Not in the image: the downloaded packages and the package lists.
        rm -rf "$W/rootfs/var/cache/apt/archives/"*.deb "$W/rootfs/var/lib/apt/lists/"*
        tar -C "$W/rootfs" -cf "$BASE_TAR.partial" .
        mv "$BASE_TAR.partial" "$BASE_TAR"
        rm -rf "$W/rootfs"
    fi
    "$DOCKER" import "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi

# ---- 4. images
image_of() { # name file: the image localhost/open-mpic-c/NAME:* that FILE names
    sed -n "s/^ *image: *\(localhost\/open-mpic-c\/$1:[^ ]*\) *\$/\1/p" "$2" | sort -u
}
coordinator_image=$(image_of coordinator compose.yaml)
checker_image=$(image_of checker compose.yaml)
unbound_image=$(image_of unbound compose.yaml)
nsd_image=$(image_of test-nsd tests/containers/compose.test.yaml)
for i in "$coordinator_image" "$checker_image" "$unbound_image" "$nsd_image"; do
    case "$i" in
    localhost/open-mpic-c/*:*) ;;
    *) fail "compose.yaml or compose.test.yaml: an image is not one localhost/open-mpic-c/NAME:TAG ($i)" ;;
    esac
done
build() { # image dockerfile context
    step "build $1"
    "$DOCKER" build --network host -q -f "$2" -t "$1" "$3" >"$W/build.log" 2>&1 ||
        { tail -n 40 "$W/build.log" >&2; fail "docker build of $1 failed"; }
}
build "$coordinator_image" Dockerfile.coordinator .
build "$checker_image" Dockerfile.checker .
build "$unbound_image" Dockerfile.unbound .
build "$nsd_image" tests/containers/Dockerfile.nsd tests/containers
"$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep open-mpic-c

# ---- the project as an operator has it: what compose.yaml mounts, the PKI
step "project copy, PKI (gen-certs.sh), signed test zone"
P=$W/project
mkdir -p "$P/config" "$P/tests" "$P/test-dns"
cp compose.yaml "$P/"
cp -r config/compose "$P/config/"
cp -r tests/containers "$P/tests/"
checkers=$(sed -n 's/^  \(\(caa\|dcv\)-[a-z0-9-]*\):$/\1/p' compose.yaml)
# shellcheck disable=SC2086
scripts/gen-certs.sh --chown 10001 "$P/deploy/compose/tls" $checkers >/dev/null
(
    cd "$P/test-dns"
    mkdir keys
    cd keys
    ksk=$(ldns-keygen -a ECDSAP256SHA256 -k compose.test)
    zsk=$(ldns-keygen -a ECDSAP256SHA256 compose.test)
    ldns-signzone -f ../signed "$REPO/tests/containers/compose.test.zone" "$ksk" "$zsk"
    cp "$ksk.ds" ../anchor.ds
)
hash=7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo
sed -e '/^bogus\.compose\.test\.[[:space:]].*CAA/s/"ca\.invalid"/"ca.example"/' \
    -e "/^_acme-challenge\.bogus\.compose\.test\.[[:space:]].*TXT/s/\"replaced-after-signing\"/\"$hash\"/" \
    "$P/test-dns/signed" >"$P/test-dns/compose.test.zone.signed"
grep -q "^bogus\.compose\.test\.[[:space:]].*CAA[[:space:]]*0 issue \"ca\.example\"" \
    "$P/test-dns/compose.test.zone.signed" || fail "could not alter the signed CAA of bogus.compose.test"
grep -q "^_acme-challenge\.bogus\.compose\.test\.[[:space:]].*TXT[[:space:]]*\"$hash\"" \
    "$P/test-dns/compose.test.zone.signed" || fail "could not alter the signed TXT of bogus.compose.test"
rm -rf "$P/test-dns/keys" "$P/test-dns/signed"
chmod -R a+rX "$P/test-dns"

# Secrets and the published port as an operator sets them (README: .env).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
MPIC_HASH_SECRET=$(openssl rand -hex 32)
MPIC_API_KEYS="$(openssl rand -hex 24),$(openssl rand -hex 24)"
export MPIC_HASH_SECRET MPIC_API_KEYS

# ---- 5. the docker run example of Dockerfile.coordinator
step "docker run example of Dockerfile.coordinator"
example=$(awk '/^#   docker run /{on=1} on{sub(/^# */, ""); print; if ($0 !~ /\\$/) exit}' Dockerfile.coordinator)
[ -n "$example" ] || fail "no docker run example in Dockerfile.coordinator"
printf '%s\n' "$example"
if python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8000), 1)' 2>/dev/null; then
    fail "127.0.0.1:8000 is in use: the example publishes there"
fi
(cd "$P" && exec sh -c "$example") >"$W/example.log" 2>&1 &
example_pid=$!
python3 tests/containers/check_compose.py wait-healthy http://127.0.0.1:8000 60 ||
    { cat "$W/example.log" >&2; fail "the docker run example did not become healthy"; }
python3 tests/containers/check_compose.py no-key http://127.0.0.1:8000 ||
    fail "the docker run example serves /mpic without an API key"
ids=$("$DOCKER" ps -q --filter "ancestor=$coordinator_image")
[ "$(printf '%s\n' "$ids" | grep -c .)" -eq 1 ] || fail "expected one example container, got: $ids"
"$DOCKER" stop -t 10 "$ids" >/dev/null
wait "$example_pid" || true
[ -z "$("$DOCKER" ps -aq)" ] || fail "the example's container (--rm) is still there"

# ---- 6. compose up
step "docker-compose up (compose.yaml + compose.test.yaml)"
cd "$P"
port=$(free_port)
compose() { "$COMPOSE" -p "$PROJECT" -f compose.yaml -f tests/containers/compose.test.yaml "$@"; }
show_unhealthy() { # the containers of the project that are not healthy, with their logs
    local states c
    states=$("$DOCKER" ps -a --filter "label=com.docker.compose.project=$PROJECT" \
        --format '{{.Names}} {{.Status}}')
    printf '%s\n' "$states" >&2
    for c in $(printf '%s\n' "$states" | grep -v '(healthy)' | cut -d' ' -f1); do
        echo "--- $c" >&2
        "$DOCKER" logs --tail 20 "$c" >&2 2>&1
    done
}
# The variables where README.md has the operator keep them: .env next to
# compose.yaml, and nothing in the environment.
(
    umask 077
    printf 'MPIC_HASH_SECRET=%s\nMPIC_API_KEYS=%s\nMPIC_DEFAULT_CAA_DOMAINS=%s\nMPIC_PUBLISH=%s\n' \
        "$MPIC_HASH_SECRET" "$MPIC_API_KEYS" ca.example "127.0.0.1:$port" >.env
)
api_keys=$MPIC_API_KEYS
for v in $(env | sed -n 's/^\(MPIC_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
compose up -d --no-build >"$W/up.log" 2>&1 ||
    { grep -v -e '^Creating' "$W/up.log" >&2; show_unhealthy; fail "docker-compose up"; }
nservices=$(compose config --services | grep -c .)
[ "$nservices" -eq 17 ] || fail "expected 16 services and test-nsd, got $nservices"

step "wait until every container is healthy"
deadline=$(($(date +%s) + STAGE_TIMEOUT_HEALTHY))
while :; do
    states=$("$DOCKER" ps -a --filter "label=com.docker.compose.project=$PROJECT" \
        --format '{{.Names}} {{.Status}}')
    n=$(printf '%s\n' "$states" | grep -c '(healthy)' || true)
    [ "$n" -eq "$nservices" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        show_unhealthy
        fail "not every container became healthy within $STAGE_TIMEOUT_HEALTHY s"
    fi
    sleep 2
done
echo "$nservices containers healthy after $(($(date +%s) - step_start)) s"

step "checks through POST /mpic"
coordinator=$(compose ps -q coordinator)
checker_ip=$("$DOCKER" inspect -f \
    "{{(index .NetworkSettings.Networks \"${PROJECT}_mesh\").IPAddress}}" "$(compose ps -q caa-us-east-1)")
cd "$REPO"
MPIC_CT_DOCKER=$DOCKER python3 tests/containers/check_compose.py checks \
    "http://127.0.0.1:$port" "$api_keys" "https://$checker_ip:8443" "$coordinator" ||
    fail "checks through POST /mpic"

# ---- 7. ps, logs, down with no MPIC_ variable: no .env either
step "ps, logs, down without the variables"
cd "$P"
rm .env
compose ps >"$W/ps.txt" || fail "docker-compose ps without the variables"
grep -q coordinator "$W/ps.txt" || fail "docker-compose ps lists no coordinator"
compose logs --no-color --tail 5 coordinator >"$W/logs.txt" || fail "docker-compose logs without the variables"
grep -q 'mpic audit' "$W/logs.txt" || fail "docker-compose logs shows no audit line"
networks=$("$DOCKER" network ls -q --filter "label=com.docker.compose.project=$PROJECT")
for n in $networks; do BRIDGES="$BRIDGES br-$n"; done
# dockerd can still be releasing a removed container's endpoint when
# compose removes its network ("has active endpoints"): only that is
# retried, and what is left afterwards is checked below.
down_ok=
for try in 1 2 3; do
    if compose down -v -t 10 >"$W/down.log" 2>&1; then
        down_ok=1
        break
    fi
    grep -q 'has active endpoints' "$W/down.log" || break
    echo "test-containers: down $try: a network still had an endpoint; again in 2 s" >&2
    sleep 2
done
[ -n "$down_ok" ] || { cat "$W/down.log" >&2; fail "docker-compose down without the variables"; }
left=$("$DOCKER" ps -aq; "$DOCKER" network ls -q --filter type=custom; "$DOCKER" volume ls -q)
[ -z "$left" ] || fail "docker-compose down left: $left"
for b in $BRIDGES; do
    ! ip link show "$b" >/dev/null 2>&1 || fail "docker-compose down left the bridge $b"
done
cd "$REPO"

# ---- 8. stop dockerd, remove what it made
step "stop dockerd, clean up"
kill -TERM "$DOCKERD_PID"
for _ in $(seq 1 60); do
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
done
kill -0 "$DOCKERD_PID" 2>/dev/null && fail "dockerd ($DOCKERD_PID) did not stop on SIGTERM"
DOCKERD_PID=
ip link delete "$BRIDGE"
# dockerd leaves its own network namespace mounted (exec-root/netns/default).
mounts_below "$W" | while read -r m; do umount "$m" || umount -l "$m"; done
if [ -n "$(mounts_below "$W")" ]; then
    fail "mounts left below $W after dockerd stopped"
fi
[ -z "$RUN_DOCKER_NEW" ] || rmdir /run/docker/plugins /run/docker
rm -rf "$W"
[ ! -e "$W" ] || fail "could not remove $W"
stage_summary
