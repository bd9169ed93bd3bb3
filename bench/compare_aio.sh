#!/usr/bin/env bash
# Side by side in one run: two all-in-ones, each a commit in a git worktree
# (the second by default this checkout as it is), one after the other on the
# same machine and venv, each from an empty state directory of its own, each
# measured with its own bench/aio_bench.py (which knows its own processes).
#
#     bench/compare_aio.sh <before> [<after>|.] [aio_bench.py arguments]
#
# For each: `python -m aio up` timed to the demo server ACTIVE, the bench
# (idle PSS, boots, many), `python -m aio stop` timed, then wipe. The venv's
# novadocker is the one of the all-in-one being measured. A running
# all-in-one of this checkout is stopped first (its state is kept).
set -euo pipefail
. "$(dirname "$0")/../tools/lib.sh"
before=${1:?usage: bench/compare_aio.sh <before> [<after>|.] [aio_bench.py arguments]}
after=${2:-.}
shift $(($# < 2 ? $# : 2))
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--boots 20 --many 50)
py=$VENV/bin/python

# A worktree of the commit, made once.
worktree() {
    local tree
    tree=$STATE/compare/$(git -C "$REPO" rev-parse --short "$1")
    [ -d "$tree" ] || git -C "$REPO" worktree add --detach "$tree" "$1" > /dev/null
    echo "$tree"
}

measure() {
    local tree=$1 label=$2
    local state=$STATE/compare/state-$label
    rm -rf "$state"
    "$VENV/bin/pip" install -q --no-deps "$tree"
    cd "$tree"
    echo "### $label ($(git -C "$tree" log -1 --format='%h %s' | cut -c1-72))"
    local start=$EPOCHREALTIME
    AIO_STATE=$state "$py" -m aio up > "$STATE/log/compare-$label-up.log" 2>&1 \
        || die "$label did not come up; read $STATE/log/compare-$label-up.log"
    awk -v s="$start" -v e="$EPOCHREALTIME" \
        'BEGIN { printf "bring-up from an empty state, to the demo server ACTIVE: %.1f s\n", e - s }'
    AIO_STATE=$state "$py" -u bench/aio_bench.py "${bench_args[@]}"
    start=$EPOCHREALTIME
    AIO_STATE=$state "$py" -m aio stop > /dev/null
    awk -v s="$start" -v e="$EPOCHREALTIME" \
        'BEGIN { printf "python -m aio stop: %.1f s\n", e - s }'
    AIO_STATE=$state "$py" -m aio wipe > /dev/null
}

"$py" -m aio stop > /dev/null 2>&1 || true
# What an all-in-one on ML2/OVS (before issue 9) needs besides ours.
ensure_debian_packages dnsmasq-base dnsmasq-utils ethtool conntrack
trap '"$VENV/bin/pip" install -q --no-deps "$REPO"' EXIT
measure "$(worktree "$before")" before
if [ "$after" = . ]; then
    measure "$REPO" after
else
    measure "$(worktree "$after")" after
fi
