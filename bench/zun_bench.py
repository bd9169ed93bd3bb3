"""Benchmarks of Zun beside Nova (issue 21); method and results in
docs/benchmarks.md.

    .venv/bin/python bench/zun_bench.py [--rounds 10]

With the all-in-one up, as the demo user, ``--rounds`` times side by
side: a Zun container of the demo image on the network private (one port)
from the API call until Zun shows it Running, and a Nova server of the
same image on the same network (one port, m1.tiny) from the API call until
ACTIVE; each deleted before the next round. Both are polled every 50 ms
(Nova through aio_bench.wait_active).
Last, the idle memory (PSS) of Zun's processes beside the rest.
"""

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aio_bench  # noqa: E402
from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import processes  # noqa: E402
from aio.services import zun  # noqa: E402

POLL = 0.05


def _until(condition, timeout=300):
    if not processes.until(condition, timeout, POLL):
        raise RuntimeError('timed out')


def zun_run(conn, network):
    """Seconds from the run request until Running; the container is then
    deleted."""
    start = time.monotonic()
    container = zun.request(conn, 'POST', '/containers?run=true', json={
        'name': 'bench-zun-%s' % uuid.uuid4().hex[:6],
        'image': demo.IMAGE_NAME, 'image_driver': 'glance',
        'nets': [{'network': network.id}]}).json()
    path = '/containers/%s' % container['uuid']

    def running():
        status = zun.request(conn, 'GET', path).json()['status']
        if status == 'Error':
            raise RuntimeError(zun.request(conn, 'GET', path).json()[
                'status_reason'])
        return status == 'Running'
    try:
        _until(running)
        return time.monotonic() - start
    finally:
        zun.request(conn, 'DELETE', path + '?force=True&stop=True')
        _until(lambda: zun.request(conn, 'GET', path,
                            raise_exc=False).status_code == 404)


def nova_boot(conn, network, image, flavor):
    """Seconds from the create request until ACTIVE; the server is then
    deleted."""
    start = time.monotonic()
    server = conn.compute.create_server(
        name='bench-zun-nova-%s' % uuid.uuid4().hex[:6], image_id=image.id,
        flavor_id=flavor.id, networks=[{'uuid': network.id}])
    try:
        aio_bench.wait_active(conn, server, POLL)
        return time.monotonic() - start
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)


def memory(layout):
    """PSS (KiB) of Zun's processes, and of the rest."""
    idle = aio_bench.memory(layout)
    zun_processes = {p.name for p in zun.Zun(layout).processes()} | {
        'zun-compute', 'kuryr-server'}
    added = {name: kib for name, kib in idle.items() if name in zun_processes}
    rest = sum(kib for name, kib in idle.items() if name not in zun_processes)
    return added, rest


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=10)
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    conn = demo.cloud(layout, 'aio')
    network = conn.network.find_network(demo.NETWORK_NAME)
    image = conn.image.find_image(demo.IMAGE_NAME)
    flavor = conn.compute.find_flavor('m1.tiny')
    # The first of each loads the image into the engine: not measured.
    zun_run(conn, network)
    nova_boot(conn, network, image, flavor)
    zun_times, nova_times = [], []
    for _ in range(args.rounds):
        zun_times.append(zun_run(conn, network))
        nova_times.append(nova_boot(conn, network, image, flavor))
    print('one port each, %d rounds side by side: appcontainer run until '
          'Running median %.2f s (%.2f-%.2f), server create until ACTIVE '
          'median %.2f s (%.2f-%.2f), ratio Zun / Nova %.2f' % (
              args.rounds, statistics.median(zun_times), min(zun_times),
              max(zun_times), statistics.median(nova_times),
              min(nova_times), max(nova_times),
              statistics.median(zun_times) / statistics.median(nova_times)))
    added, rest = memory(layout)
    print('idle memory (PSS): Zun adds %.0f MiB to the rest\'s %.0f MiB' % (
        sum(added.values()) / 1024, rest / 1024))
    for process, kib in sorted(added.items()):
        print('  %-17s %6.0f MiB' % (process, kib / 1024))


if __name__ == '__main__':
    main()
