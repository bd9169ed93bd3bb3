"""Serial consoles: each server's console is a TCP port on the compute
host's ``[serial_console] proxyclient_address``, which Nova's serial proxy
(nova-serialproxy) connects a client's websocket to once it has checked
the client's token, as it does with QEMU's serial ports under libvirt.

A connection gets the server's main process when the server was started
with a terminal and its standard input open (``docker:tty`` and
``docker:stdin``: ``docker attach``); otherwise a shell of its own, the
image's /bin/sh with a terminal (``docker exec -it``), hung up when the
connection closes. Like QEMU's, the port checks nothing itself: it listens
on the management network only, which Nova's proxy reaches and instances
do not.

The ports are opened on the first ask (nova-compute's start forgets them:
a client asks Nova for a new URL, as after a token's expiry) and closed
when the server is deleted or leaves the host.
"""

import os
import signal
import socket
import threading
import time

from nova.console import serial as serial_ports
import nova.conf
from oslo_log import log as logging

from novadocker import engine as engine_mod
from novadocker import privsep

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

SHELL = '/bin/sh'
NO_SHELL = ('This server has no console: it was not started with a terminal '
            'and its standard input open (metadata docker:tty=true and '
            'docker:stdin=true), and its image has no %s to start a shell '
            'with.\r\n' % SHELL)
NOT_RUNNING = ('This server is not running: start it (openstack server '
               'start), then open its console again.\r\n')
_CHUNK = 65536
# How long the engine may take to start a console's shell.
SHELL_START_SECONDS = 5


class Consoles(object):
    """This host's console ports, one per server asked for."""

    def __init__(self, engine):
        self._engine = engine
        self._ports = {}
        self._lock = threading.Lock()

    def endpoint(self, instance):
        """(address, port) of the instance's console, opened if it was
        not."""
        with self._lock:
            port = self._ports.get(instance.uuid)
            if port is None:
                port = _Port(self._engine, instance.uuid)
                self._ports[instance.uuid] = port
            return port.address, port.number

    def close(self, instance_uuid):
        """The instance's console port closed; its sessions end with its
        container."""
        with self._lock:
            port = self._ports.pop(instance_uuid, None)
        if port is not None:
            port.close()

    def close_all(self):
        for instance_uuid in list(self._ports):
            self.close(instance_uuid)


class _Port(object):
    """A listening socket and the thread that accepts on it."""

    def __init__(self, engine, instance_uuid):
        self._engine = engine
        self._instance_uuid = instance_uuid
        self.address = CONF.serial_console.proxyclient_address
        self.number = serial_ports.acquire_port(self.address)
        try:
            self._socket = socket.create_server((self.address, self.number))
        except OSError:
            serial_ports.release_port(self.address, self.number)
            raise
        threading.Thread(target=self._accept, daemon=True,
                         name='console-%s' % instance_uuid).start()
        LOG.info('Console of %s on %s:%d', instance_uuid, self.address,
                 self.number)

    def _accept(self):
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=_session, daemon=True,
                             args=(self._engine, self._instance_uuid,
                                   connection)).start()

    def close(self):
        # shutdown() wakes the thread that waits in accept().
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        serial_ports.release_port(self.address, self.number)


def _session(engine, instance_uuid, connection):
    """One client's console: the main process, or a shell of its own."""
    name = engine_mod.container_name(instance_uuid)
    stream, exec_id = None, None
    try:
        container = engine.container(name)
        config = container.attrs['Config']
        if not container.attrs['State']['Running']:
            connection.sendall(NOT_RUNNING.encode())
            return
        if config.get('Tty') and config.get('OpenStdin'):
            stream = engine.attach_socket(container)
        elif not engine.has_file(container, SHELL):
            connection.sendall(NO_SHELL.encode())
            return
        else:
            stream, exec_id = engine.exec_socket(container, [SHELL])
        _relay(connection, stream)
    except Exception:
        LOG.exception('Console session of %s failed', instance_uuid)
    finally:
        connection.close()
        if stream is not None:
            stream.close()
        if exec_id is not None:
            _end_shell(engine, exec_id)


def _relay(connection, stream):
    """Bytes both ways until either side closes (a thread each way: a TLS
    engine's socket buffers what select() would not see)."""
    back = threading.Thread(target=_copy, args=(stream, connection),
                            daemon=True)
    back.start()
    _copy(connection, stream)
    back.join()


def _copy(source, destination):
    try:
        while True:
            data = source.recv(_CHUNK)
            if not data:
                break
            destination.sendall(data)
    except OSError:
        pass
    # Either side gone ends both ways.
    for end in (source, destination):
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _end_shell(engine, exec_id):
    """Hangs up the session's shell (the engine keeps a terminal's
    programs running after its client has gone), once it has started: a
    client that leaves at once may close before the engine has."""
    deadline = time.monotonic() + SHELL_START_SECONDS
    while True:
        running, pid = engine.exec_state(exec_id)
        if not running:
            return
        if pid:
            _hang_up(pid)
            return
        if time.monotonic() > deadline:
            LOG.warning('The console shell of exec %s did not start within '
                        '%d s; it is left to end by itself', exec_id,
                        SHELL_START_SECONDS)
            return
        time.sleep(0.05)


def _session_of(pid):
    """The session id of process ``pid``; None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            # After the command's name: state, ppid, pgrp, session.
            return int(f.read().rpartition(')')[2].split()[3])
    except (OSError, ValueError, IndexError):
        return None


@privsep.sys_admin_pctxt.entrypoint
def _hang_up(leader):
    """SIGHUP to each process of the terminal session that ``leader``
    leads (a shell the engine started with a terminal), as the kernel
    sends when a terminal closes."""
    if leader <= 1 or _session_of(leader) != leader:
        return
    for entry in os.listdir('/proc'):
        if entry.isdigit() and _session_of(int(entry)) == leader:
            try:
                os.kill(int(entry), signal.SIGHUP)
            except ProcessLookupError:
                pass
