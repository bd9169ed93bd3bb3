"""Benchmarks of several compute hosts (issue 19); method and results in
docs/benchmarks.md.

    .venv/bin/python bench/hosts_bench.py [--many 20] [--migrate-mib 100]

With the all-in-one up: adds a compute host (``python -m aio compute
add``, timed), reads the idle memory (PSS) of its processes, then boots
``--many`` servers with a port each in one request twice, side by side:
with the added host's nova-compute disabled (one host), and with both
hosts. Then a cold migration of a server whose container wrote
``--migrate-mib`` MiB, from the request until VERIFY_RESIZE, beside the
same move by hand: a second server's container writes as much, and its
``docker commit``, ``docker push`` to the registry and ``docker pull``
into the added host's engine are timed. Then it removes the host.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

import aio_bench  # noqa: E402
from aio import demo  # noqa: E402
from aio import hosts  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import processes  # noqa: E402
from aio import services  # noqa: E402
from aio.services import registry  # noqa: E402
from novadocker import engine  # noqa: E402
from novadocker import registry as novadocker_registry  # noqa: E402


def _aio(layout, *argv):
    subprocess.run([sys.executable, '-m', 'aio'] + list(argv), check=True,
                   cwd=layout.repo, capture_output=True)


def idle_memory(host):
    """PSS (KiB) of each of the host's processes and what they started
    (containerd, privsep daemons)."""
    result = {}
    for described in services.of_host(host):
        for process in described.processes():
            pid = processes.running_pid(host.layout, process.name)
            if pid:
                result[process.name] = aio_bench._session_pss_kib(pid)
    return result


def _server_writing(conn, admin, host, name, mib):
    """A server on ``host`` whose container wrote ``mib`` MiB."""
    others = [s for s in admin.compute.services(binary='nova-compute')
              if s.host != host]
    for service in others:
        admin.compute.disable_service(service, disabled_reason='benchmark')
    try:
        server = conn.compute.create_server(
            name=name, image_id=conn.image.find_image(demo.IMAGE_NAME).id,
            flavor_id=conn.compute.find_flavor('m1.tiny').id,
            networks='none')
        server = conn.compute.wait_for_server(server, wait=300)
    finally:
        for service in others:
            admin.compute.enable_service(service)
    container = docker.from_env().containers.get(
        engine.container_name(server.id))
    written = container.exec_run([
        'dd', 'if=/dev/urandom', 'of=/written', 'bs=1M', 'count=%d' % mib])
    if written.exit_code:
        raise RuntimeError(written.output)
    return server, container


def migration(layout, conn, admin, added, mib):
    """Seconds of the cold migration, and of the move by hand."""
    first = layout.compute_host
    moved, _ = _server_writing(conn, admin, first, 'bench-migrated', mib)
    by_hand, container = _server_writing(conn, admin, first, 'bench-by-hand',
                                         mib)
    try:
        start = time.monotonic()
        admin.compute.migrate_server(moved)
        while conn.compute.get_server(moved.id).status != 'VERIFY_RESIZE':
            if conn.compute.get_server(moved.id).status == 'ERROR':
                raise RuntimeError('the migration failed')
            time.sleep(0.1)
        migrated = time.monotonic() - start

        auth = {'username': novadocker_registry.TOKEN_USER,
                'password': conn.auth_token}
        # Where the driver pushes: no Glance image is made of it.
        remote = '%s/demo/%s' % (registry.ADDRESS,
                                 novadocker_registry.MIGRATIONS)
        start = time.monotonic()
        container.stop(timeout=0)
        image = container.commit(repository=remote, tag='bench')
        for status in docker.from_env().images.push(
                remote, tag='bench', stream=True, decode=True,
                auth_config=auth):
            if 'error' in status:
                raise RuntimeError(status['error'])
        docker.DockerClient(added.docker_url).images.pull(
            remote, tag='bench', auth_config=auth)
        by_hand_seconds = time.monotonic() - start
        docker.from_env().images.remove(image.id, force=True)
        docker.DockerClient(added.docker_url).images.remove(
            remote + ':bench', force=True)
        return migrated, by_hand_seconds
    finally:
        aio_bench.delete_all(conn, [moved, by_hand])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--many', type=int, default=20)
    parser.add_argument('--flavor', default='m1.nano')
    parser.add_argument('--migrate-mib', type=int, default=100)
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    name = 'bench-%s' % uuid.uuid4().hex[:6]
    start = time.monotonic()
    _aio(layout, 'compute', 'add', name)
    print('compute add until its nova-compute is up and mapped: %.1f s' % (
        time.monotonic() - start))
    try:
        time.sleep(5)
        idle = idle_memory(hosts.find(layout, name))
        print('added host idle memory (PSS): %.0f MiB in all' % (
            sum(idle.values()) / 1024))
        for process, kib in idle.items():
            print('  %-15s %6.0f MiB' % (process, kib / 1024))
        admin = demo.cloud(layout, 'aio-admin')
        conn = demo.cloud(layout, 'aio')
        added = next(admin.compute.services(binary='nova-compute',
                                            host=name))
        admin.compute.disable_service(added, disabled_reason='benchmark')
        try:
            one, _ = aio_bench.many(conn, layout, args.many, args.flavor)
        finally:
            admin.compute.enable_service(added)
        two, _ = aio_bench.many(conn, layout, args.many, args.flavor)
        print('%d servers with a port each in one request (%s): one host '
              '%.1f s, two hosts %.1f s, ratio two / one %.2f' % (
                  args.many, args.flavor, one, two, two / one))
        migrated, by_hand = migration(layout, conn, admin,
                                      hosts.find(layout, name),
                                      args.migrate_mib)
        print('cold migration of a server that wrote %d MiB until '
              'VERIFY_RESIZE: %.1f s; docker commit + push + pull of the '
              'same by hand: %.1f s; ratio %.2f' % (
                  args.migrate_mib, migrated, by_hand, migrated / by_hand))
    finally:
        _aio(layout, 'compute', 'remove', name)


if __name__ == '__main__':
    main()
