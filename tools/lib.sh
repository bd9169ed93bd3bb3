# Shared by the README's commands: install what is missing, start what is
# not running. Everything this writes lives under $STATE (git-ignored).
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${STATE:-$REPO/state}
VENV=$REPO/.venv
# What both README commands install from Debian (catatonit: the sandboxes'
# program).
DEBIAN_PACKAGES=(docker.io busybox-static rabbitmq-server mariadb-server iproute2
    openvswitch-switch ovn-central ovn-host catatonit docker-registry ethtool
    pciutils socat)
# Ceph for the volumes (aio/services/ceph.py): rbd-fuse and loop devices
# attach them (the kernel here has no rbd module); python3-rados and
# python3-rbd are the bindings Cinder's RBD driver imports, qemu-utils its
# image conversions, xfsprogs the volumes' filesystem. Without their
# recommends: rbd-fuse's would replace fuse3 with fuse 2.
CEPH_PACKAGES=(ceph-mon ceph-mgr ceph-osd ceph-common rbd-fuse python3-rados
    python3-rbd qemu-utils xfsprogs)
mkdir -p "$STATE/log"

stage() { STAGE_START=$EPOCHREALTIME; printf '==> %s\n' "$*"; }
stage_done() { awk -v s="$STAGE_START" -v e="$EPOCHREALTIME" 'BEGIN { printf "    done in %.1fs\n", e - s }'; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

ensure_debian_packages() {
    local missing=() options=()
    [ "$1" = --no-install-recommends ] && { options=("$1"); shift; }
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    stage "Installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${options[@]}" "${missing[@]}" > "$STATE/log/apt.log" 2>&1 || {
        apt-get update -q >> "$STATE/log/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${options[@]}" "${missing[@]}" >> "$STATE/log/apt.log" 2>&1
    } || die "apt-get install ${missing[*]} failed; read $STATE/log/apt.log"
    stage_done
}

ensure_docker() {
    docker version >/dev/null 2>&1 && return 0
    stage "Starting dockerd (no Docker engine answered)"
    command -v dockerd >/dev/null || die "dockerd is not installed; apt-get install docker.io"
    # --live-restore: containers keep running while dockerd restarts (as a
    # package upgrade does), as guests do while libvirtd restarts.
    # --insecure-registry: the all-in-one's registry is on its own
    # management network (aio/layout.py), without TLS.
    nohup dockerd --live-restore --insecure-registry 172.24.5.0/24 \
        > "$STATE/log/dockerd.log" 2>&1 &
    echo $! > "$STATE/dockerd.pid"
    for _ in $(seq 60); do
        docker version >/dev/null 2>&1 && { stage_done; return 0; }
        kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || break
        sleep 0.5
    done
    die "dockerd did not start; read $STATE/log/dockerd.log"
}

ensure_venv() {
    stage "Python environment in $VENV (pinned by constraints.txt)"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/pip" install -q -c "$REPO/constraints.txt" -r "$REPO/requirements.txt" \
        > "$STATE/log/pip.log" 2>&1 || die "pip install failed; read $STATE/log/pip.log"
    # A regular install: the nova/virt/docker shim must land inside Nova's
    # own package directory, which an editable install does not do.
    "$VENV/bin/pip" install -q --no-deps "$REPO" >> "$STATE/log/pip.log" 2>&1 \
        || die "installing novadocker failed; read $STATE/log/pip.log"
    stage_done
}
