"""Benchmark of the serial console (issue 22); method and results in
docs/benchmarks.md.

    .venv/bin/python bench/console_bench.py [--keys 50]

With the all-in-one up, as the demo user: boots a server, opens its
console through Nova (the URL of ``openstack console url show --serial``,
a websocket to nova-serialproxy, which joins the compute host's console
port, where the driver's shell runs), and times ``--keys`` typed
characters until the terminal echoes each; side by side, the same through
a shell of ``docker exec -it`` on the engine's socket.
"""

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402
import websocket  # noqa: E402

from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from novadocker import engine  # noqa: E402

# Ctrl-U: the typed line is erased between rounds.
ERASE_LINE = b'\x15'


def _echo_times(send, receive, keys):
    """Seconds from a key sent until the terminal echoes it, per key."""
    receive_until(receive, b'# ')
    times = []
    for _ in range(keys):
        start = time.monotonic()
        send(b'x')
        receive_until(receive, b'x')
        times.append(time.monotonic() - start)
    send(ERASE_LINE)
    return times


def receive_until(receive, expected):
    seen = b''
    while expected not in seen:
        seen += receive()


def through_nova(conn, server, keys):
    url = conn.compute.create_console(server, console_type='serial')['url']
    session = websocket.create_connection(url, subprotocols=['binary'],
                                          timeout=30)
    try:
        return _echo_times(session.send_binary, session.recv, keys)
    finally:
        session.close()


def through_the_engine(container, keys):
    api = container.client.api
    exec_id = api.exec_create(container.id, ['/bin/sh'], stdin=True,
                              tty=True)['Id']
    hijacked = api.exec_start(exec_id, tty=True, socket=True)
    sock = hijacked._sock
    sock.settimeout(30)
    try:
        return _echo_times(sock.sendall, lambda: sock.recv(4096), keys)
    finally:
        sock.sendall(b'exit\n')
        hijacked.close()


def _report(name, times):
    print('%s: median %.1f ms, min %.1f, max %.1f (%d keys)' % (
        name, statistics.median(times) * 1000, min(times) * 1000,
        max(times) * 1000, len(times)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--keys', type=int, default=50)
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    conn = demo.cloud(layout, 'aio')
    server = conn.compute.create_server(
        name='bench-console-%s' % uuid.uuid4().hex[:6],
        image_id=conn.image.find_image(demo.IMAGE_NAME).id,
        flavor_id=conn.compute.find_flavor('m1.tiny').id, networks='none')
    try:
        server = conn.compute.wait_for_server(server, wait=300)
        container = docker.from_env().containers.get(
            engine.container_name(server.id))
        nova = through_nova(conn, server, args.keys)
        direct = through_the_engine(container, args.keys)
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, wait=120)
    _report('typed key echoed through Nova\'s serial console', nova)
    _report('typed key echoed through docker exec -it', direct)
    print('ratio Nova console / docker exec %.2f' % (
        statistics.median(nova) / statistics.median(direct)))


if __name__ == '__main__':
    main()
