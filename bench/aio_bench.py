"""Benchmarks of the all-in-one (issue 3); method and results in
docs/benchmarks.md.

    .venv/bin/python bench/aio_bench.py [--bring-up] [--boots 20] [--many 50]

--bring-up stops the all-in-one and times ``python -m aio up`` to the demo
server ACTIVE twice: with its state kept, and after ``wipe`` (databases and
keys created again). Then, with the all-in-one up: POST /servers -> ACTIVE
for a cached image, one server at a time, alternating a server with no
network and one with a port on ``private`` (issue 4), so both see the same
machine; ``--many`` servers with a port each in one request; the memory
(PSS) of every service when idle.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import processes  # noqa: E402
from aio import services  # noqa: E402


def _timed_up(layout, *before):
    for command in before:
        subprocess.run([sys.executable, '-m', 'aio', command], check=True,
                       cwd=layout.repo, capture_output=True)
    start = time.monotonic()
    subprocess.run([sys.executable, '-m', 'aio', 'up'], check=True,
                   cwd=layout.repo, capture_output=True)
    return time.monotonic() - start


def _servers(conn, name_pattern, *statuses, details=False):
    """The servers whose name matches, in any of ``statuses``."""
    return conn.compute.get(
        '/servers/detail' if details else '/servers',
        params={'name': name_pattern, 'status': list(statuses)},
    ).json()['servers']


def wait_active(conn, server, poll=0.05):
    """Until the server (its name unique) is ACTIVE. Asks Nova's list
    filtered by name and status, which costs nova-api one query while the
    list is empty; GET /servers/<id> also asks Neutron for the server's
    security groups (about 85 ms of the two APIs' CPU), so polling it
    every 50 ms would load the machine being measured."""
    pattern = '^%s$' % re.escape(server.name)
    while True:
        found = _servers(conn, pattern, 'ACTIVE', 'ERROR', details=True)
        if found and found[0]['status'] == 'ACTIVE':
            return
        if found:
            raise RuntimeError('server %s went ERROR: %s' % (
                server.id, found[0].get('fault')))
        time.sleep(poll)


def delete_all(conn, servers):
    for server in servers:
        conn.compute.delete_server(server, ignore_missing=True)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=300)


def _networks(conn):
    """What each kind of boot asks for: no network, or a port."""
    private = conn.network.find_network(demo.NETWORK_NAME)
    return {'no network': 'none', 'one port': [{'uuid': private.id}]}


def boots(conn, count, flavor):
    """{kind: [seconds]}: the kinds take turns, one server at a time."""
    image = conn.image.find_image(demo.IMAGE_NAME)
    flavor = conn.compute.find_flavor(flavor)
    kinds = _networks(conn)
    times = {kind: [] for kind in kinds}
    for i in range(count):
        for kind, networks in kinds.items():
            start = time.monotonic()
            server = conn.compute.create_server(
                name='bench-%d' % i, image_id=image.id, flavor_id=flavor.id,
                networks=networks)
            try:
                wait_active(conn, server)
                times[kind].append(time.monotonic() - start)
            finally:
                delete_all(conn, [server])
    return times


def _session_pss_kib(pid):
    """Proportional set size (KiB) of every process in the session ``pid``
    leads: pages shared between processes (forked workers) count once."""
    total = 0
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) != pid:
                continue
            with open('/proc/%s/smaps_rollup' % entry) as f:
                total += next(int(line.split()[1]) for line in f
                              if line.startswith('Pss:'))
        except (OSError, StopIteration):
            continue
    return total


def memory(layout):
    result = {}
    for described in services.described(layout):
        for process in described.processes():
            pid = processes.running_pid(layout, process.name)
            if pid:
                result[process.name] = _session_pss_kib(pid)
    return result


def many(conn, layout, count, flavor):
    image = conn.image.find_image(demo.IMAGE_NAME)
    flavor = conn.compute.find_flavor(flavor)
    compute_pid = processes.running_pid(layout, 'nova-compute')
    peak = _session_pss_kib(compute_pid)
    start = time.monotonic()
    conn.compute.create_server(
        name='bench-many', image_id=image.id, flavor_id=flavor.id,
        networks=_networks(conn)['one port'], min_count=count,
        max_count=count)
    try:
        while True:
            peak = max(peak, _session_pss_kib(compute_pid))
            failed = _servers(conn, '^bench-many', 'ERROR', details=True)
            if failed:
                raise RuntimeError('a server went ERROR: %s' % (
                    failed[0].get('fault'),))
            if len(_servers(conn, '^bench-many', 'ACTIVE')) == count:
                return time.monotonic() - start, peak
            time.sleep(0.5)
    finally:
        delete_all(conn, list(conn.compute.servers(name='^bench-many')))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--bring-up', action='store_true')
    parser.add_argument('--boots', type=int, default=20)
    parser.add_argument('--many', type=int, default=50)
    parser.add_argument('--flavor', default='m1.nano')
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()

    if args.bring_up:
        print('bring-up, state kept (stop; up): %.1f s'
              % _timed_up(layout, 'stop'))
        print('bring-up, state wiped (wipe; up): %.1f s'
              % _timed_up(layout, 'wipe'))
    conn = demo.cloud(layout, 'aio')
    time.sleep(5)
    idle = memory(layout)
    print('idle memory (PSS): %.0f MiB in all' % (sum(idle.values()) / 1024))
    for name, kib in idle.items():
        print('  %-15s %6.0f MiB' % (name, kib / 1024))
    if args.boots:
        times = boots(conn, args.boots, args.flavor)
        for kind, each in times.items():
            print('POST /servers -> ACTIVE, cached image, %s, %d boots (%s): '
                  'median %.2f s, min %.2f, max %.2f, stdev %.2f' % (
                      kind, len(each), args.flavor, statistics.median(each),
                      min(each), max(each),
                      statistics.stdev(each) if len(each) > 1 else 0))
        print('ratio of medians, one port / no network: %.2f' % (
            statistics.median(times['one port'])
            / statistics.median(times['no network'])))
    if args.many:
        elapsed, peak = many(conn, layout, args.many, args.flavor)
        print('%d servers with a port each in one request (%s): all ACTIVE '
              'after %.1f s; nova-compute peak memory (PSS) %.0f MiB' % (
                  args.many, args.flavor, elapsed, peak / 1024))


if __name__ == '__main__':
    main()
