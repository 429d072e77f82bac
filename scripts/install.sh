#!/bin/sh
# Install open-mpic-c on a bare host (EC2 or any systemd machine) from a
# build: the Debian packages it needs, binaries, example configuration,
# systemd units and, per role, the nginx site (coordinator) or the unbound
# configuration (perspective).
#
#   scripts/install.sh [--role coordinator|perspective|all] [--build-dir DIR]
#                      [--prefix DIR] [--destdir DIR] [--no-systemctl]
#                      [--no-packages]
#
#   --role        coordinator: mpic-coordinator + nginx site
#                 perspective: mpic-caa-checker + mpic-dcv-checker + unbound
#                 all (default): both
#   --build-dir   a finished build (default: build); binaries from DIR/bin
#   --prefix      where the binaries go (default /usr/local; the units'
#                 ExecStart= follows it)
#   --destdir     stage everything under DIR instead of / (packaging, tests);
#                 implies --no-systemctl and --no-packages
#   --no-systemctl  do not run systemctl daemon-reload / enable / restart
#   --no-packages   do not apt-get install what is missing
#
# Packages: the shared libraries the daemons load (install-deps.sh runtime),
# openssl, and per role nginx (coordinator; any nginx already there is kept)
# or unbound (perspective), with apt-get when missing. Debian's default nginx
# site is disabled (its link in sites-enabled removed): it would answer on
# port 80 instead of the redirect to HTTPS.
#
# Never overwrites an existing file under /etc: configuration, keys and
# environment files that are already there are kept. A fresh install makes a
# random API key (never a placeholder). Units are enabled, not started: put
# the TLS material in /etc/mpic/tls and the secrets in /etc/mpic/*.env first
# (README.md, "Bare hosts (EC2)"), then start them.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
role=all
build=$ROOT/build
prefix=/usr/local
destdir=
systemctl=1
packages=1

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }
need() { [ $# -ge 2 ] || { usage >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
    --role) need "$@"; role=$2; shift ;;
    --build-dir) need "$@"; build=$2; shift ;;
    --prefix) need "$@"; prefix=$2; shift ;;
    --destdir) need "$@"; destdir=$2; systemctl=0; packages=0; shift ;;
    --no-systemctl) systemctl=0 ;;
    --no-packages) packages=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
case "$role" in
coordinator) bins="mpic-coordinator" ;;
perspective) bins="mpic-caa-checker mpic-dcv-checker" ;;
all) bins="mpic-coordinator mpic-caa-checker mpic-dcv-checker" ;;
*) echo "install: unknown role: $role" >&2; exit 2 ;;
esac
case "$prefix" in /*) ;; *) echo "install: --prefix must be absolute" >&2; exit 2 ;; esac

say() { printf 'install: %s\n' "$*"; }
for b in $bins; do
    [ -x "$build/bin/$b" ] || { say "$build/bin/$b not built" >&2; exit 1; }
done

# ---- Debian packages
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
if [ "$packages" = 1 ]; then
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "no dpkg/apt-get here: install the packages of" \
            "'scripts/install-deps.sh runtime', openssl, nginx and unbound" \
            "yourself, then run again with --no-packages" >&2
        exit 1
    fi
    want="$(sh "$ROOT/scripts/install-deps.sh" --list runtime) openssl"
    case "$role" in coordinator | all)
        # Any nginx flavour there already is kept (nginx, nginx-light, ...).
        command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want="$want nginx"
        ;;
    esac
    case "$role" in perspective | all) want="$want unbound" ;; esac
    missing=
    for p in $want; do
        installed "$p" || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        # shellcheck disable=SC2086
        say "packages: all there:" $want
    else
        say "packages: apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        # Waits for a running apt (cloud-init, unattended-upgrades) instead
        # of failing; updates the package lists only when the ones there
        # do not have the packages.
        # shellcheck disable=SC2086
        apt-get install -y -q -o DPkg::Lock::Timeout=300 $missing || {
            say "apt-get install failed: updating the package lists and trying again"
            apt-get update -q -o DPkg::Lock::Timeout=300 &&
                apt-get install -y -q -o DPkg::Lock::Timeout=300 $missing
        } || { say "could not install:$missing" >&2; exit 1; }
        for p in $missing; do
            installed "$p" || { say "$p still not installed" >&2; exit 1; }
        done
        say "packages: installed$missing"
    fi
fi

D=$destdir
unbound_new=
etc=$D/etc/mpic
units=$D/etc/systemd/system

# keep_or_install MODE SRC DST: install unless DST exists.
keep_or_install() {
    if [ -e "$3" ]; then
        say "keeping existing $3"
    else
        install -D -m "$1" "$2" "$3"
        say "installed $3"
    fi
}

for b in $bins; do
    install -D -m 0755 "$build/bin/$b" "$D$prefix/bin/$b"
    say "installed $D$prefix/bin/$b"
    unit=$ROOT/deploy/ec2/systemd/$b.service
    tmp=$(mktemp)
    sed "s#/usr/local/bin/#$prefix/bin/#g" "$unit" >"$tmp"
    install -D -m 0644 "$tmp" "$units/$b.service"
    rm -f "$tmp"
    say "installed $units/$b.service"
done

install -d -m 0755 "$etc"
install -d -m 0750 "$etc/tls"
keep_or_install 0644 "$ROOT/config/ec2/available_perspectives.yaml" \
    "$etc/available_perspectives.yaml"

case "$role" in coordinator | all)
    keep_or_install 0644 "$ROOT/config/ec2/coordinator.yaml" "$etc/coordinator.yaml"
    # A fresh random API key, never a placeholder: nginx checks it
    # (mpic-api-keys.map) and so does the coordinator (MPIC_API_KEYS).
    # Files already there are kept as they are.
    keymap=$D/etc/nginx/mpic-api-keys.map
    api_key=
    if [ ! -e "$etc/coordinator.env" ] && [ ! -e "$keymap" ]; then
        api_key=$(openssl rand -hex 24)
    fi
    if [ ! -e "$etc/coordinator.env" ]; then
        umask 077
        {
            echo "# Secrets of mpic-coordinator (0600 root). Keep MPIC_API_KEYS in"
            echo "# step with /etc/nginx/mpic-api-keys.map (comma separated)."
            echo "MPIC_HASH_SECRET=$(openssl rand -hex 32)"
            echo "MPIC_API_KEYS=$api_key"
        } >"$etc/coordinator.env"
        umask 022
        chmod 600 "$etc/coordinator.env"
        if [ -n "$api_key" ]; then
            say "installed $etc/coordinator.env (new random MPIC_HASH_SECRET and API key)"
        else
            say "installed $etc/coordinator.env (new random MPIC_HASH_SECRET;" \
                "add the keys of $keymap to MPIC_API_KEYS)"
        fi
    fi
    keep_or_install 0644 "$ROOT/deploy/ec2/nginx/mpic-coordinator.conf" \
        "$D/etc/nginx/sites-available/mpic-coordinator.conf"
    if [ -e "$keymap" ]; then
        say "keeping existing $keymap"
    else
        tmp=$(mktemp)
        cat "$ROOT/deploy/ec2/nginx/mpic-api-keys.map.example" >"$tmp"
        if [ -n "$api_key" ]; then
            printf '"%s" 1;\n' "$api_key" >>"$tmp"
        fi
        install -D -m 0640 "$tmp" "$keymap"
        rm -f "$tmp"
        if [ -n "$api_key" ]; then
            say "installed $keymap (the new API key, also in coordinator.env)"
        else
            say "installed $keymap (no key yet: nginx refuses every request)"
        fi
    fi
    install -d "$D/etc/nginx/sites-enabled"
    [ -e "$D/etc/nginx/sites-enabled/mpic-coordinator.conf" ] ||
        ln -s ../sites-available/mpic-coordinator.conf \
            "$D/etc/nginx/sites-enabled/mpic-coordinator.conf"
    # Debian's default site takes port 80 (default_server) from the redirect
    # to HTTPS and serves a welcome page: disabled. Its file stays in
    # sites-available; a site of that name that is not Debian's link is the
    # operator's and stays.
    default_site=$D/etc/nginx/sites-enabled/default
    if [ -L "$default_site" ]; then
        case "$(readlink "$default_site")" in
        /etc/nginx/sites-available/default | ../sites-available/default)
            rm -f "$default_site"
            say "disabled Debian's default nginx site (removed $default_site)"
            ;;
        *) say "keeping $default_site (not Debian's default site)" ;;
        esac
    elif [ -e "$default_site" ]; then
        say "keeping $default_site (not Debian's default site)"
    fi
    if [ -n "$api_key" ]; then
        say "the API key for /mpic: MPIC_API_KEYS in $etc/coordinator.env" \
            "and $keymap (not printed here)"
    fi
    ;;
esac
case "$role" in perspective | all)
    keep_or_install 0644 "$ROOT/config/ec2/caa-checker.yaml" "$etc/caa-checker.yaml"
    keep_or_install 0644 "$ROOT/config/ec2/dcv-checker.yaml" "$etc/dcv-checker.yaml"
    unbound_conf=$D/etc/unbound/unbound.conf.d/mpic-perspective.conf
    [ -e "$unbound_conf" ] || unbound_new=1
    keep_or_install 0644 "$ROOT/deploy/ec2/unbound/mpic-perspective.conf" "$unbound_conf"
    ;;
esac

if [ "$systemctl" = 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    for b in $bins; do
        systemctl enable "$b.service"
    done
    say "enabled: $bins (not started)"
    # unbound, started by its package with Debian's configuration, must run
    # the perspective's one from now on.
    if [ -n "$unbound_new" ] && systemctl is-active --quiet unbound.service; then
        if ! unbound-checkconf >/dev/null 2>&1; then
            unbound-checkconf >&2 || true
            say "unbound's configuration is not valid: unbound not restarted" >&2
            exit 1
        fi
        systemctl restart unbound.service
        say "restarted unbound with $unbound_conf"
    fi
fi
cat <<EOF
install: next steps
  1. TLS: put the files named by LoadCredential= in $etc/tls
     (scripts/gen-certs.sh makes a private PKI for coordinator <-> checkers;
     the nginx certificate for /mpic is /etc/mpic/tls/api.crt + api.key).
  2. Secrets: the API key for /mpic is in $etc/coordinator.env
     (MPIC_API_KEYS) and /etc/nginx/mpic-api-keys.map; keep the two in
     step. Set perspective_code in $etc/*-checker.yaml.
  3. Check: $prefix/bin/<daemon> --check-config --config $etc/<file>.yaml
     (the units run it before every start: ExecStartPre=)
  4. Start: systemctl start $bins
EOF
case "$role" in coordinator | all)
    echo "     then: nginx -t && systemctl reload nginx" ;;
esac
