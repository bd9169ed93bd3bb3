"""Benchmarks of volumes (issue 20); method and results in
docs/benchmarks.md.

    .venv/bin/python bench/volumes_bench.py [--mib 256] [--rounds 5]

With the all-in-one up, as the demo user: boots a server and creates a
volume, then ``--rounds`` times attaches it (Nova's API call included)
until ``/volumes/vdb`` is a mount inside the running container, and
detaches it until Cinder shows it available. Then, side by side in each
round, ``--mib`` MiB written with fsync inside the container onto the
volume and onto the container's own filesystem (busybox ``dd
conv=fsync``). Last, the idle memory (PSS) of the processes volumes add
to the all-in-one (Ceph's and Cinder's) beside the rest.
"""

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

import aio_bench  # noqa: E402
from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import processes  # noqa: E402
from aio.services import ceph  # noqa: E402
from aio.services import cinder  # noqa: E402
from novadocker import engine  # noqa: E402

MOUNTED = "grep -q ' /volumes/vdb ' /proc/mounts"


def _until(condition, timeout=120, interval=0.02):
    if not processes.until(condition, timeout, interval):
        raise RuntimeError('timed out')


def _exec(container, command):
    result = container.exec_run(['/bin/sh', '-c', command])
    return result.exit_code, result.output.decode()


def attach_times(conn, server, container, volume, rounds):
    """Seconds from the attach request until the path is a mount in the
    container, per round (each followed by a detach)."""
    times = []
    for _ in range(rounds):
        start = time.monotonic()
        conn.compute.create_volume_attachment(server, volume_id=volume.id)
        _until(lambda: _exec(container, MOUNTED)[0] == 0)
        times.append(time.monotonic() - start)
        conn.compute.delete_volume_attachment(server, volume.id)
        _until(lambda: conn.block_storage.get_volume(
            volume.id).status == 'available')
    return times


def _write_mb_per_s(container, path, mib):
    start = time.monotonic()
    code, out = _exec(container, 'dd if=/dev/zero of=%s bs=1M count=%d '
                                 'conv=fsync 2>&1 && rm %s'
                      % (path, mib, path))
    if code:
        raise RuntimeError(out)
    return mib * 1.048576 / (time.monotonic() - start)


def writes(conn, server, container, volume, mib, rounds):
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    _until(lambda: _exec(container, MOUNTED)[0] == 0)
    on_volume, on_container = [], []
    for _ in range(rounds):
        on_volume.append(_write_mb_per_s(container, '/volumes/vdb/w', mib))
        on_container.append(_write_mb_per_s(container, '/w', mib))
    conn.compute.delete_volume_attachment(server, volume.id)
    _until(lambda: conn.block_storage.get_volume(
        volume.id).status == 'available')
    return on_volume, on_container


def memory(layout):
    """PSS (MiB) of the volume services' processes, and of the rest."""
    idle = aio_bench.memory(layout)
    volume_processes = {p.name for cls in (ceph.Ceph, cinder.Cinder)
                        for p in cls(layout).processes()}
    added = {name: kib for name, kib in idle.items()
             if name in volume_processes}
    rest = sum(kib for name, kib in idle.items()
               if name not in volume_processes)
    return added, rest


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--mib', type=int, default=256)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    conn = demo.cloud(layout, 'aio')
    name = 'bench-volumes-%s' % uuid.uuid4().hex[:6]
    server = conn.compute.create_server(
        name=name, image_id=conn.image.find_image(demo.IMAGE_NAME).id,
        flavor_id=conn.compute.find_flavor('m1.tiny').id, networks='none')
    volume = conn.block_storage.create_volume(
        name=name, size=max(1, (args.mib * 2) // 1024 + 1))
    try:
        server = conn.compute.wait_for_server(server, wait=300)
        conn.block_storage.wait_for_status(volume, 'available', wait=120)
        container = docker.from_env().containers.get(
            engine.container_name(server.id))
        times = attach_times(conn, server, container, volume, args.rounds)
        print('attach until /volumes/vdb is mounted in the running '
              'container, %d rounds: median %.2f s, min %.2f, max %.2f' % (
                  len(times), statistics.median(times), min(times),
                  max(times)))
        on_volume, on_container = writes(conn, server, container, volume,
                                         args.mib, args.rounds)
        print('%d MiB written with fsync, %d rounds side by side: volume '
              'median %.0f MB/s, container filesystem median %.0f MB/s, '
              'ratio volume / container %.2f' % (
                  args.mib, args.rounds, statistics.median(on_volume),
                  statistics.median(on_container),
                  statistics.median(on_volume)
                  / statistics.median(on_container)))
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, wait=120)
        conn.block_storage.wait_for_status(
            conn.block_storage.get_volume(volume.id), 'available', wait=120)
        conn.block_storage.delete_volume(volume)
    added, rest = memory(layout)
    print('idle memory (PSS): volumes add %.0f MiB to the rest\'s %.0f MiB' % (
        sum(added.values()) / 1024, rest / 1024))
    for process, kib in sorted(added.items()):
        print('  %-17s %6.0f MiB' % (process, kib / 1024))


if __name__ == '__main__':
    main()
