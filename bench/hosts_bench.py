"""Benchmarks of several compute hosts (issue 19); method and results in
docs/benchmarks.md.

    .venv/bin/python bench/hosts_bench.py [--many 20]

With the all-in-one up: adds a compute host (``python -m aio compute
add``, timed), reads the idle memory (PSS) of its processes, then boots
``--many`` servers with a port each in one request twice, side by side:
with the added host's nova-compute disabled (one host), and with both
hosts; then removes the host.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aio_bench  # noqa: E402
from aio import demo  # noqa: E402
from aio import hosts  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import processes  # noqa: E402
from aio import services  # noqa: E402


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--many', type=int, default=20)
    parser.add_argument('--flavor', default='m1.nano')
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
    finally:
        _aio(layout, 'compute', 'remove', name)


if __name__ == '__main__':
    main()
