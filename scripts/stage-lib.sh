# shellcheck shell=bash
# What the deployment stages of scripts/test.sh share, sourced by
# scripts/test-containers.sh and scripts/test-ec2.sh after they set STAGE
# (containers, ec2):
#
#   log TEXT          "== STAGE: TEXT"
#   fail TEXT         "test-STAGE: FAIL: TEXT" on stderr, exit 1
#   step NAME         ends the step before (prints its seconds, keeps them
#                     for the summary) and begins NAME; step "" only ends
#   stage_seconds     seconds since the stage began
#   stage_summary     ends the last step, prints "STAGE stage: N s" and each
#                     step's seconds
#   stage_exit RC     the end of the stage's EXIT trap: says how long a
#                     failed stage ran, exits RC
#   no_interface NAME fails when the network interface NAME exists
#   mounts_below DIR  the mount points below DIR, deepest first

: "${STAGE:?set STAGE before sourcing scripts/stage-lib.sh}"

log() { printf '%s\n' "== $STAGE: $*"; }
fail() {
    printf 'test-%s: FAIL: %s\n' "$STAGE" "$*" >&2
    exit 1
}

stage_start=$(date +%s)
step_name=
step_start=$stage_start
timings=
step() {
    local now
    now=$(date +%s)
    if [ -n "$step_name" ]; then
        printf '   %s: %d s\n' "$step_name" $((now - step_start))
        timings="$timings$(printf '%-56s %4d s' "$step_name" $((now - step_start)))
"
    fi
    step_name=$1
    step_start=$now
    [ -z "$1" ] || log "$1"
}
stage_seconds() { echo $(($(date +%s) - stage_start)); }
stage_summary() {
    step ""
    echo "$STAGE stage: $(stage_seconds) s"
    printf '%s' "$timings"
}
stage_exit() {
    if [ "$1" -ne 0 ]; then
        echo "test-$STAGE: failed after $(stage_seconds) s" >&2
    fi
    exit "$1"
}

no_interface() {
    if ip link show "$1" >/dev/null 2>&1; then
        fail "network interface $1 exists already (another run of this stage?)"
    fi
}
mounts_below() {
    awk -v w="$1/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r
}
