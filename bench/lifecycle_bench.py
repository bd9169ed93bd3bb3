"""Benchmark of the engine's events and restarts (issue 12); method and
results in docs/benchmarks.md. Needs the all-in-one up (tools/aio); it
restarts dockerd twice and leaves the README's engine (live-restore)
running.

    .venv/bin/python -u bench/lifecycle_bench.py [--count 5]

--count servers (image busybox, m1.nano, one port on private), then:

1. For each server, one after the other: ``docker kill`` of its container
   until the API shows SHUTOFF; ``server start`` until ACTIVE; Nova's own
   stop (``os-stop``) until SHUTOFF; start again. Polled every 0.1 s.
2. dockerd restarted without live-restore (it stops every container), then
   started as the README's commands start it: from the engine answering
   until every server's workload runs again; side by side, the engine
   alone starting as many sandbox and workload pairs (``docker run``, the
   workload in the sandbox's network namespace).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

import aio_bench  # noqa: E402
from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import processes  # noqa: E402
from aio import sample_image  # noqa: E402

POLL = 0.1
TIMEOUT = 300
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _until(condition, what):
    if not processes.until(condition, TIMEOUT, POLL):
        raise RuntimeError('%s after %d s' % (what, TIMEOUT))


def _timed(action, condition, what):
    start = time.monotonic()
    action()
    _until(condition, what)
    return time.monotonic() - start


def _status(conn, server, status):
    return lambda: conn.compute.get_server(server.id).status == status


def _stop_dockerd():
    pid = int(subprocess.run(['pidof', 'dockerd'], capture_output=True,
                             text=True, check=True).stdout.split()[0])
    subprocess.run(['kill', str(pid)], check=True)
    _until(lambda: not os.path.exists('/proc/%d' % pid) or
           open('/proc/%d/stat' % pid).read().split()[2] == 'Z',
           'dockerd did not exit')


def _engine_answers():
    return subprocess.run(['docker', 'version'],
                          capture_output=True).returncode == 0


def _restart_without_live_restore(client, workloads):
    """Seconds from the engine answering until every workload runs."""
    _stop_dockerd()
    log = open(os.path.join(REPO, 'state', 'log',
                            'dockerd-without-live-restore.log'), 'ab')
    subprocess.Popen(['dockerd'], stdout=log, stderr=subprocess.STDOUT,
                     start_new_session=True)
    _until(_engine_answers, 'dockerd without live-restore did not start')
    _stop_dockerd()
    subprocess.Popen(['bash', '-c', '. tools/lib.sh && ensure_docker'],
                     cwd=REPO, stdout=subprocess.DEVNULL)
    _until(_engine_answers, 'dockerd did not start')
    start = time.monotonic()

    def all_running():
        return all(client.containers.get(name).status == 'running'
                   for name in workloads)
    _until(all_running, 'the servers did not run again')
    return time.monotonic() - start


def _engine_pairs(client, count):
    """Seconds for the engine alone to run ``count`` sandbox and workload
    pairs; they are removed after."""
    image = sample_image.import_busybox(
        client, 'novadocker-bench/pairs', 'latest',
        ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'])
    names = []
    start = time.monotonic()
    for _ in range(count):
        name = 'bench-pair-%s' % uuid.uuid4().hex[:6]
        sandbox = client.containers.run(image, name=name + '-sandbox',
                                        network_mode='none', detach=True)
        client.containers.run(image, name=name, detach=True,
                              network_mode='container:' + sandbox.id)
        names += [name, name + '-sandbox']
    elapsed = time.monotonic() - start
    for name in names:
        client.api.remove_container(name, force=True)
    client.images.remove(image)
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--count', type=int, default=5)
    args = parser.parse_args()
    conn = demo.cloud(aio_layout.Layout.from_environment(), 'aio')
    client = docker.from_env()
    name = 'bench-%s' % uuid.uuid4().hex[:6]
    conn.compute.post('/servers', json={'server': {
        'name': name, 'imageRef': conn.image.find_image(demo.IMAGE_NAME).id,
        'flavorRef': conn.compute.find_flavor('m1.nano').id,
        'networks': [{'uuid': conn.network.find_network(
            demo.NETWORK_NAME).id}],
        'min_count': args.count, 'max_count': args.count}}).raise_for_status()
    # Nova's name filter is a regular expression; the name is unique.
    pattern = '^' + name
    try:
        _until(lambda: [s.status for s in conn.compute.servers(
            name=pattern)] == ['ACTIVE'] * args.count,
            'servers %s not active' % name)
        servers = list(conn.compute.servers(name=pattern))
        noticed, asked = [], []
        for server in servers:
            container = client.containers.get('nova-' + server.id)
            noticed.append(_timed(container.kill,
                                  _status(conn, server, 'SHUTOFF'),
                                  'kill not seen'))
            conn.compute.start_server(server)
            _until(_status(conn, server, 'ACTIVE'), 'not started')
            asked.append(_timed(lambda: conn.compute.stop_server(server),
                                _status(conn, server, 'SHUTOFF'),
                                'not stopped'))
            conn.compute.start_server(server)
            _until(_status(conn, server, 'ACTIVE'), 'not started')
        print('docker kill until SHUTOFF: median %.2f s (%s); os-stop until '
              'SHUTOFF: median %.2f s (%s); ratio %.2f' % (
                  statistics.median(noticed),
                  ', '.join('%.2f' % t for t in noticed),
                  statistics.median(asked),
                  ', '.join('%.2f' % t for t in asked),
                  statistics.median(noticed) / statistics.median(asked)),
              flush=True)

        again = _restart_without_live_restore(
            docker.from_env(), ['nova-' + s.id for s in servers])
        pairs = _engine_pairs(docker.from_env(), args.count)
        print('engine restart without live-restore, from the engine '
              'answering until %d servers run again: %.2f s; the engine '
              'running %d sandbox and workload pairs: %.2f s; ratio %.2f' % (
                  args.count, again, args.count, pairs, again / pairs))
    finally:
        aio_bench.delete_all(conn, list(conn.compute.servers(name=pattern)))


if __name__ == '__main__':
    main()
