"""Benchmark of Heat's DockerInc::Docker::Container (issue 11); method and
results in docs/benchmarks.md. Needs the all-in-one up (tools/aio).

    .venv/bin/python bench/heat_bench.py [--count 10] [--rounds 3]

Each round, one after the other: a stack of --count containers (an
OS::Heat::ResourceGroup of DockerInc::Docker::Container, image busybox,
m1.nano, one port on private) from the create call until
CREATE_COMPLETE; and --count servers of the same image, flavor and network
created through Nova's API in one request (min_count) until all are
ACTIVE. Both are polled every 0.2 s and deleted before the next.
"""

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402

POLL = 0.2
TIMEOUT = 600


def _until(condition, what):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL)
    raise RuntimeError('%s after %d s' % (what, TIMEOUT))


def _stack(conn, count):
    name = 'bench-%s' % uuid.uuid4().hex[:6]
    template = {
        'heat_template_version': '2021-04-16',
        'resources': {'group': {
            'type': 'OS::Heat::ResourceGroup',
            'properties': {'count': count, 'resource_def': {
                'type': 'DockerInc::Docker::Container',
                'properties': {'image': demo.IMAGE_NAME, 'flavor': 'm1.nano',
                               'networks': [{'network': demo.NETWORK_NAME}]},
            }},
        }},
    }
    start = time.monotonic()
    stack = conn.orchestration.create_stack(name=name, template=template)

    def complete():
        status = conn.orchestration.get_stack(stack.id).status
        if status == 'CREATE_FAILED':
            raise RuntimeError('stack %s failed' % name)
        return status == 'CREATE_COMPLETE'
    _until(complete, 'stack %s not complete' % name)
    elapsed = time.monotonic() - start
    conn.orchestration.delete_stack(stack.id)
    # openstacksdk finds no stack once Heat shows it DELETE_COMPLETE.
    _until(lambda: conn.orchestration.find_stack(stack.id) is None,
           'stack %s not deleted' % name)
    return elapsed


def _servers(conn, count):
    name = 'bench-%s' % uuid.uuid4().hex[:6]
    network = conn.network.find_network(demo.NETWORK_NAME)
    start = time.monotonic()
    conn.compute.post('/servers', json={'server': {
        'name': name, 'imageRef': conn.image.find_image(demo.IMAGE_NAME).id,
        'flavorRef': conn.compute.find_flavor('m1.nano').id,
        'networks': [{'uuid': network.id}],
        'min_count': count, 'max_count': count}}).raise_for_status()

    def all_active():
        found = [s for s in conn.compute.servers(name='^%s' % name)]
        if any(s.status == 'ERROR' for s in found):
            raise RuntimeError('a server of %s failed' % name)
        return len(found) == count and all(s.status == 'ACTIVE'
                                           for s in found)
    _until(all_active, 'servers %s not active' % name)
    elapsed = time.monotonic() - start
    for server in conn.compute.servers(name='^%s' % name):
        conn.compute.delete_server(server)
    _until(lambda: not list(conn.compute.servers(name='^%s' % name)),
           'servers %s not deleted' % name)
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--count', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    conn = demo.cloud(aio_layout.Layout.from_environment(), 'aio')
    stacks, servers = [], []
    for _ in range(args.rounds):
        stacks.append(_stack(conn, args.count))
        servers.append(_servers(conn, args.count))
        print('stack %.1f s, servers %.1f s' % (stacks[-1], servers[-1]),
              flush=True)
    print('stack of %d containers until CREATE_COMPLETE: median %.1f s '
          '(%s); %d servers in one request until ACTIVE: median %.1f s '
          '(%s); ratio %.2f' % (
              args.count, statistics.median(stacks),
              ', '.join('%.1f' % t for t in stacks), args.count,
              statistics.median(servers),
              ', '.join('%.1f' % t for t in servers),
              statistics.median(stacks) / statistics.median(servers)))


if __name__ == '__main__':
    main()
