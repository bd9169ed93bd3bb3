"""What every test needs: a real Docker engine and locally built images."""

import copy
import io
import select
import socket
import ssl
import threading

import docker
import fixtures
from oslo_utils import uuidutils

from nova.tests.fixtures import glance as glance_fixture

from aio import sample_image
from novadocker import engine
from novadocker import image as image_mod
from novadocker import privsep

# The engine the tests use, whatever the driver under test is configured
# to reach (some tests put a proxy in between).
ENGINE_SOCKET = '/var/run/docker.sock'
# The compute host the tests' driver labels its containers with: several
# test runs (clones of this repository) may share one engine.
TEST_HOST = 'test-%s' % uuidutils.generate_uuid()[:8]
TEST_REPOSITORY = 'novadocker-test/busybox'
# The driver's volumes directory in every test: the driver makes it a
# shared mount, which stays (as on a compute host), so one for all runs.
VOLUMES_DIR = '/run/novadocker-tests/volumes'
# The driver tests' serial consoles: outside Nova's default range, which
# the all-in-one's compute host uses while they run beside its tests (those
# check who listens on its console ports).
SERIAL_PORT_RANGE = '30000:30099'
# PID 1 of a container ignores SIGTERM unless it traps it; this command exits
# promptly on docker stop and writes a marker to its output.
LONG_RUNNING_CMD = ["/bin/sh", "-c",
                    "trap 'exit 0' TERM; echo container started; "
                    "sleep 86400 & wait"]
_IMAGE_CACHE = {}


class InProcessPrivsep(fixtures.Fixture):
    """The driver's privileged functions (mounts, links) run in the test's
    own process, as root, instead of through a privsep daemon, which
    Nova's test case refuses to start (as Nova's own PrivsepFixture
    does for its context)."""

    def _setUp(self):
        self.useFixture(fixtures.MockPatchObject(
            privsep.sys_admin_pctxt, 'client_mode', False))


def docker_client():
    """The engine the tests run against; failing, never skipping, if absent."""
    client = docker.DockerClient(base_url='unix://' + ENGINE_SOCKET,
                                 version='auto')
    client.ping()
    return client


def saved_image(cmd=None, tag='latest', padding_mib=0):
    """Bytes of ``docker save`` of a busybox image built with docker import,
    optionally with a file of random bytes to make it bigger.

    The image is imported once per command, tag and process.
    """
    cmd = cmd or LONG_RUNNING_CMD
    key = (tuple(cmd), tag, padding_mib)
    if key not in _IMAGE_CACHE:
        client = docker_client()
        ref = '%s:%s' % (TEST_REPOSITORY, tag)
        sample_image.import_busybox(client, TEST_REPOSITORY, tag, cmd,
                                    padding_mib)
        _IMAGE_CACHE[key] = b''.join(client.images.get(ref).save(named=ref))
    return _IMAGE_CACHE[key]


class StreamingGlanceFixture(glance_fixture.GlanceFixture):
    """Nova's Glance fixture, plus what real Glance does that the driver
    relies on: a download without a destination streams chunks, and an
    update with data stores the bytes."""

    CHUNK = 64 * 1024

    def __init__(self, test):
        super().__init__(test)
        self.download_failures = {}
        self._created = []

    def setUp(self):
        super().setUp()
        # Runs after the test's own cleanups (its containers go first), so
        # that snapshots the driver committed leave nothing in the engine.
        self.addCleanup(self._remove_engine_images)

    def create(self, context, metadata, data=None):
        image = super().create(context, metadata, data=data)
        self._created.append(image['id'])
        return image

    def _remove_engine_images(self):
        client = docker_client()
        for image_id in self._created:
            remove_engine_image(client, image_id)

    def download(self, context, image_id, data=None, dst_path=None,
                 trusted_certs=None):
        if data is not None or dst_path is not None:
            return super().download(context, image_id, data=data,
                                    dst_path=dst_path,
                                    trusted_certs=trusted_certs)
        self.show(context, image_id)
        payload = self._imagedata.get(image_id, b'')
        failure = self.download_failures.get(image_id)

        def chunks():
            for offset in range(0, len(payload), self.CHUNK):
                if failure is not None and offset >= len(payload) // 2:
                    raise failure
                yield payload[offset:offset + self.CHUNK]
        return chunks()

    def update(self, context, image_id, metadata, data=None,
               purge_props=False):
        image = super().update(context, image_id, copy.deepcopy(metadata),
                               purge_props=purge_props)
        if data is not None:
            self._imagedata[image_id] = data.read()
            image['size'] = len(self._imagedata[image_id])
        return image

    def data(self, image_id):
        return self._imagedata.get(image_id)

    def add_docker_image(self, payload, name='busybox-in-glance',
                         container_format='docker', properties=None):
        image_id = uuidutils.generate_uuid()
        self.create(None, {'id': image_id, 'name': name,
                           'container_format': container_format,
                           'disk_format': 'raw', 'status': 'active',
                           'size': len(payload),
                           'properties': properties or {}},
                    data=io.BytesIO(payload))
        return image_id


def remove_engine_image(client, image_id):
    try:
        client.images.remove(image_mod.reference(image_id), force=True)
    except docker.errors.ImageNotFound:
        pass


def instance_containers(client, uuid):
    """The names of the instance's containers: its workload and its
    sandbox."""
    return sorted(c.name for c in client.containers.list(
        all=True, filters={'name': engine.container_name(uuid)}))


def remove_instance_containers(client, uuid):
    for name in instance_containers(client, uuid):
        client.api.remove_container(name, force=True, v=True)


def _pump(src, dst, cut_on=None):
    """Copies what ``src`` sends to ``dst`` until either closes, or until
    a chunk holds ``cut_on``; then closes both."""
    try:
        while True:
            data = src.recv(65536)
            if not data or (cut_on and cut_on in data):
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _EngineProxy(object):
    """Serves each connection to ``server`` in a thread of its own
    (``_serve``), until closed."""

    def __init__(self, server):
        self._server = server
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._server.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()


class _UnixEngineProxy(_EngineProxy):
    """Listens on the unix socket ``path``; each connection goes on to
    the engine's socket."""

    def __init__(self, path, engine_socket):
        self.path = path
        self._engine_socket = engine_socket
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(16)
        super().__init__(server)

    @property
    def url(self):
        return 'unix://' + self.path

    def _upstream(self):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self._engine_socket)
        return upstream


class CuttingEngineProxy(_UnixEngineProxy):
    """A unix socket in front of the engine that drops every connection
    whose request matches ``cut_on``, as an engine that dies mid-call."""

    def __init__(self, path, engine_socket, cut_on):
        self._cut_on = cut_on.encode()
        super().__init__(path, engine_socket)

    def _serve(self, client):
        upstream = self._upstream()
        threading.Thread(target=_pump, args=(upstream, client),
                         daemon=True).start()
        _pump(client, upstream, self._cut_on)


class RestartingEngineProxy(_UnixEngineProxy):
    """A unix socket in front of the engine that acts out dockerd's
    shutdown and start: ``shut_down`` refuses new connections (each is
    closed at once and counted in ``refused``) while those it has go on,
    as dockerd closes its socket before it stops its containers;
    ``exit`` drops those; ``start`` serves new connections again."""

    def __init__(self, path, engine_socket):
        self.refused = 0
        self._accepting = True
        self._connections = []
        super().__init__(path, engine_socket)

    def shut_down(self):
        self._accepting = False

    def exit(self):
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._connections = []

    def start(self):
        self._accepting = True

    def _serve(self, client):
        if not self._accepting:
            self.refused += 1
            client.close()
            return
        upstream = self._upstream()
        self._connections += [client, upstream]
        threading.Thread(target=_pump, args=(upstream, client),
                         daemon=True).start()
        _pump(client, upstream)


class TLSEngineProxy(_EngineProxy):
    """The engine behind TLS on 127.0.0.1, as dockerd --tlsverify serves
    it: a client must present a certificate signed by ``client_ca_file``."""

    def __init__(self, engine_socket, cert_file, key_file, client_ca_file):
        self._engine_socket = engine_socket
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert_file, key_file)
        self._context.load_verify_locations(client_ca_file)
        self._context.verify_mode = ssl.CERT_REQUIRED
        super().__init__(socket.create_server(('127.0.0.1', 0)))

    @property
    def url(self):
        return 'tcp://127.0.0.1:%d' % self._server.getsockname()[1]

    def _serve(self, client):
        try:
            client = self._context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self._engine_socket)
        with client, upstream:
            self._relay(client, upstream)

    @staticmethod
    def _relay(client, upstream):
        # One thread per connection: a TLS socket must not be read and
        # written from two threads at once.
        peers = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [])
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        return
                    # Decrypted bytes select() cannot see.
                    while getattr(src, 'pending', lambda: 0)():
                        data += src.recv(src.pending())
                    peers[src].sendall(data)
        except OSError:
            pass
