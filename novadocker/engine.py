"""The Docker engine, reached through the docker SDK: the only module that
uses the SDK or its HTTP transport.

Every engine call goes through :func:`translated_errors`, so an engine that
is down or answers with an error surfaces as a Nova exception whose message
names the engine and the cause.
"""

import contextlib
import os
import select
import time

import docker
from docker import errors as docker_errors
from docker import tls as docker_tls
import requests

from nova import exception
from nova.i18n import _

from novadocker.conf import CONF

# Docker 20.10's (Debian 12's docker.io); newer engines speak it too. A
# fixed version, not negotiated: the client makes no request before its
# settings are complete.
API_VERSION = '1.41'
# Seconds for an engine that is up to answer a ping on a new connection.
ACCEPTS_TIMEOUT = 5

LABEL_INSTANCE = 'org.openstack.nova.instance-uuid'
# On an instance's sandbox (sandbox module) instead of LABEL_INSTANCE, so
# that listing the instances does not count it.
LABEL_SANDBOX = 'org.openstack.nova.sandbox-of'
LABEL_HOST = 'org.openstack.nova.host'
LABEL_PROJECT = 'org.openstack.nova.project-id'
LABEL_USER = 'org.openstack.nova.user-id'
LABEL_NAME = 'org.openstack.nova.instance-name'
LABEL_FLAVOR = 'org.openstack.nova.flavor'
LABEL_ROOT_GB = 'org.openstack.nova.root-gb'
# On the containers and networks Zun makes for a host (zun_driver).
LABEL_ZUN_HOST = 'org.openstack.zun.host'


# Nova keeps 255 characters of a fault, after its own prefix of about 75:
# the cause and what to check come first, the transport's reason last.
class EngineUnavailable(exception.NovaException):
    msg_fmt = _('Docker engine %(url)s unreachable (is dockerd running? may '
                'nova-compute use its socket: root, or its group, usually '
                '"docker"?): %(reason)s')


class EngineTLSFailed(EngineUnavailable):
    msg_fmt = _('TLS to the Docker engine %(url)s failed; check [docker] '
                'tls_ca_file (the engine\'s CA), tls_cert_file and '
                'tls_key_file (signed by dockerd\'s --tlscacert): '
                '%(reason)s')


class EngineError(exception.NovaException):
    msg_fmt = _('The Docker engine failed to %(action)s: %(reason)s')


class EngineRefused(EngineError):
    """The engine refused the request itself; retrying cannot help."""
    msg_fmt = _('The Docker engine refused to %(action)s: %(reason)s')


def container_name(instance_uuid):
    """The workload's name: what ``docker ps`` shows for a server."""
    return 'nova-%s' % instance_uuid


def sandbox_name(instance_uuid):
    return 'nova-%s-sandbox' % instance_uuid


def _own_instances():
    """The label filter of this compute host's instance containers."""
    return [LABEL_INSTANCE, '%s=%s' % (LABEL_HOST, CONF.host)]


def is_instance_container(name, labels):
    """Whether a container of these name and labels is an instance's. Labels
    alone are no proof: whoever else creates containers in the engine (Zun's
    users, an image's own labels) may set them; only this driver names a
    container after the instance its label gives."""
    uuid = labels.get(LABEL_INSTANCE)
    return uuid is not None and name.lstrip('/') == container_name(uuid)


def _engine_reason(error):
    return getattr(error, 'explanation', None) or str(error)


@contextlib.contextmanager
def translated_errors(action):
    """Turn docker SDK and transport errors into Nova exceptions."""
    try:
        yield
    except docker_errors.ImageLoadError as e:
        raise EngineRefused(action=action, reason=e) from e
    except docker_errors.NotFound as e:
        raise EngineError(action=action, reason=_engine_reason(e)) from e
    except docker_errors.APIError as e:
        error = EngineRefused if e.is_client_error() else EngineError
        raise error(action=action, reason=_engine_reason(e)) from e
    except requests.exceptions.SSLError as e:
        raise EngineTLSFailed(url=CONF.docker.host_url, reason=e) from e
    except (requests.exceptions.ConnectionError,
            requests.exceptions.Timeout) as e:
        raise EngineUnavailable(url=CONF.docker.host_url, reason=e) from e


class Stream(object):
    """A connection the engine has handed over to a container's terminal
    (attach, exec): bytes both ways until either side closes."""

    def __init__(self, hijacked):
        # The SDK's object keeps the HTTP response, whose collection would
        # close the socket.
        self._hijacked = hijacked
        self._socket = getattr(hijacked, '_sock', hijacked)
        self._socket.settimeout(None)

    def recv(self, size):
        return self._socket.recv(size)

    def sendall(self, data):
        self._socket.sendall(data)

    def shutdown(self, how):
        self._socket.shutdown(how)

    def close(self):
        self._socket.close()
        self._hijacked.close()


class Engine(object):
    """A lazily connected docker SDK client and every call the driver
    makes to the engine."""

    def __init__(self):
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = self._new_client(CONF.docker.api_timeout)
        return self._client

    @classmethod
    def _new_client(cls, timeout):
        try:
            client = docker.DockerClient(
                base_url=CONF.docker.host_url,
                version=API_VERSION,
                timeout=timeout,
                tls=cls._tls_config())
        except docker_errors.DockerException as e:
            raise EngineUnavailable(url=CONF.docker.host_url,
                                    reason=e) from e
        # The [docker] options alone say how to reach the engine: the
        # environment's REQUESTS_CA_BUNDLE would replace tls_ca_file
        # in every request, and its proxies would come in between.
        client.api.trust_env = False
        return client

    @staticmethod
    def _tls_config():
        opts = CONF.docker
        if not (opts.tls_ca_file or opts.tls_cert_file):
            return False
        client_cert = None
        if opts.tls_cert_file:
            client_cert = (opts.tls_cert_file, opts.tls_key_file)
        return docker_tls.TLSConfig(
            client_cert=client_cert,
            ca_cert=opts.tls_ca_file,
            verify=opts.tls_ca_file if opts.tls_verify else False)

    def ping(self):
        with translated_errors('answer a ping'):
            self.client.ping()

    @classmethod
    def accepts_connections(cls):
        """Whether the engine answers on a new connection. An engine that
        shuts down closes its socket first and then stops its containers
        (all of them without live-restore), while it still serves the
        connections it has, the event stream's and any pooled one among
        them."""
        try:
            client = cls._new_client(ACCEPTS_TIMEOUT)
        except EngineUnavailable:
            return False
        try:
            client.ping()
        except (docker_errors.DockerException,
                requests.exceptions.RequestException):
            return False
        finally:
            client.close()
        return True

    def events(self, since=None):
        """The engine's stream of the events of this host's instance
        containers (not their sandboxes), as dicts, from ``since`` (an
        event's ``timeNano``) when given; it ends when the engine closes
        it. ``close()`` ends it from another thread."""
        filters = {'type': 'container', 'label': _own_instances()}
        if since is not None:
            since = '%d.%09d' % divmod(since, 10 ** 9)
        with translated_errors('stream its events'):
            return self.client.events(since=since, filters=filters,
                                      decode=True)

    def info(self):
        with translated_errors('report its host information'):
            return self.client.info()

    def is_running(self, name):
        """Whether the container ``name`` runs now."""
        with translated_errors('inspect %s' % name):
            try:
                return self.client.containers.get(name).attrs['State'][
                    'Running']
            except docker_errors.NotFound:
                return False

    def _find(self, name, label, instance):
        with translated_errors('inspect %s' % name):
            try:
                container = self.client.containers.get(name)
            except docker_errors.NotFound:
                return None
        if container.labels.get(label) != instance.uuid:
            return None
        return container

    def find(self, instance):
        """The instance's container, or None when the engine has none."""
        return self._find(container_name(instance.uuid), LABEL_INSTANCE,
                          instance)

    def get(self, instance):
        """The instance's container; InstanceNotFound when there is none."""
        container = self.find(instance)
        if container is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return container

    def find_sandbox(self, instance):
        """The instance's sandbox, or None when the engine has none."""
        return self._find(sandbox_name(instance.uuid), LABEL_SANDBOX, instance)

    def create(self, kwargs):
        """A new container from ``containers.create`` keyword arguments."""
        with translated_errors('create %s' % kwargs['name']):
            return self.client.containers.create(**kwargs)

    def remove(self, name):
        """Removes the container ``name`` and its anonymous volumes, if
        there is one."""
        with translated_errors('remove %s' % name):
            try:
                self.client.api.remove_container(name, v=True, force=True)
            except docker_errors.NotFound:
                return False
        return True

    @staticmethod
    def start(container):
        """Starts the container; its state is then the started one."""
        with translated_errors('start %s' % container.name):
            container.start()
            container.reload()

    @staticmethod
    def stop(container, timeout):
        """The stop signal, then a kill after ``timeout`` seconds."""
        with translated_errors('stop %s' % container.name):
            container.stop(timeout=timeout)

    @staticmethod
    def kill(container):
        with translated_errors('kill %s' % container.name):
            container.reload()
            if container.status == 'running':
                container.kill()

    @staticmethod
    def update_resources(container, resources):
        """``docker update``: the container's limits, as the engine API's
        Resources fields. The SDK's update_container cannot set PidsLimit,
        so this posts the API call itself through the client's public
        requests session."""
        api = container.client.api
        url = '%s/v%s/containers/%s/update' % (api.base_url, api.api_version,
                                               container.id)
        with translated_errors('update the limits of %s' % container.name):
            response = api.post(url, json=resources, timeout=api.timeout)
            try:
                response.raise_for_status()
            except requests.exceptions.HTTPError as e:
                raise docker_errors.create_api_error_from_http_exception(e)

    @staticmethod
    def pause(container):
        with translated_errors('pause %s' % container.name):
            container.pause()

    @staticmethod
    def unpause(container):
        with translated_errors('unpause %s' % container.name):
            container.unpause()

    @staticmethod
    def refresh(container):
        """Reads the container's state again."""
        with translated_errors('inspect %s' % container.name):
            container.reload()

    @staticmethod
    def output_tail(container, limit):
        """The last ``limit`` bytes of the container's stdout and stderr,
        as text."""
        tail = bytearray()
        with translated_errors('read the logs of %s' % container.name):
            for chunk in container.logs(stdout=True, stderr=True,
                                        stream=True, follow=False):
                tail += chunk
                if len(tail) > 2 * limit:
                    del tail[:-limit]
        return bytes(tail[-limit:]).decode('utf-8', errors='replace')

    @staticmethod
    def stats(container):
        with translated_errors('report the statistics of %s' %
                               container.name):
            return container.stats(stream=False)

    @classmethod
    def exits_within(cls, container, seconds):
        """Whether the container's process, just started, exits within
        ``seconds``; when it does, returns once the engine has recorded
        the exit. The kernel tells the exit, not the engine: the engine
        learns of one tens of milliseconds later, more on a busy host,
        and a window on its word would let such a process pass."""
        deadline = time.monotonic() + seconds
        cls.refresh(container)
        pid = container.attrs['State']['Pid']
        if pid and not _exits_before(pid, deadline):
            return False
        with translated_errors('wait for %s to exit' % container.name):
            container.wait(timeout=CONF.docker.api_timeout)
        return True

    def has_image(self, ref):
        with translated_errors('inspect image %s' % ref):
            try:
                self.client.images.get(ref)
            except docker_errors.ImageNotFound:
                return False
        return True

    def tags(self, repository):
        """The tags of the engine's images in ``repository``."""
        with translated_errors('list images'):
            images = self.client.images.list(name=repository)
        prefix = repository + ':'
        return [tag[len(prefix):] for image in images for tag in image.tags
                if tag.startswith(prefix)]

    def import_image(self, data, repository, tag, changes):
        """``docker import`` of a tar archive held in ``data``, with
        Dockerfile instructions ``changes`` (CMD, USER, ...)."""
        with translated_errors('import image %s:%s' % (repository, tag)):
            self.client.api.import_image_from_data(
                data, repository=repository, tag=tag, changes=changes)

    def load_image(self, data, action):
        """``docker load`` of a stream; the images it held."""
        with translated_errors(action):
            return self.client.images.load(data)

    def pull_image(self, repository, digest, auth_config):
        """``docker pull repository@digest``; the image."""
        with translated_errors('pull %s@%s' % (repository, digest)):
            return self.client.images.pull(repository, tag=digest,
                                           auth_config=auth_config)

    def push_image(self, image, repository, tag, auth_config):
        """``docker push`` of the image as ``repository:tag`` (the name is
        removed again); the manifest's digest."""
        action = 'push %s:%s' % (repository, tag)
        digest = None
        with translated_errors(action):
            image.tag(repository, tag)
            try:
                for status in self.client.images.push(
                        repository, tag=tag, auth_config=auth_config,
                        stream=True, decode=True):
                    if 'error' in status:
                        raise EngineRefused(action=action,
                                            reason=status['error'])
                    digest = status.get('aux', {}).get('Digest', digest)
            finally:
                self.client.images.remove('%s:%s' % (repository, tag))
        if not digest:
            raise EngineError(action=action, reason='no digest reported')
        return digest

    @staticmethod
    def tag_image(image, repository, tag):
        with translated_errors('tag image %s:%s' % (repository, tag)):
            image.tag(repository, tag)

    @staticmethod
    def commit(container, repository, tag):
        """A new image of the container's files; the engine pauses the
        container while it copies them."""
        with translated_errors('commit %s' % container.name):
            return container.commit(repository=repository, tag=tag)

    @staticmethod
    def save_image(image, ref):
        """Chunks of ``docker save`` of the image, named ``ref``."""
        with translated_errors('save image %s' % ref):
            yield from image.save(named=ref)

    def image_in_use(self, ref):
        """Whether any container of the engine, whichever host or tool
        made it, was created from ``ref``'s image or one built on it."""
        with translated_errors('list the containers of image %s' % ref):
            return bool(self.client.containers.list(
                all=True, filters={'ancestor': ref}))

    def remove_image(self, ref):
        """Untags ``ref`` and removes its layers no other image uses. An
        image a container still uses stays: False then (the engine
        answers 409 Conflict, unless the image has another tag: see
        image_in_use), or when there was none."""
        with translated_errors('remove image %s' % ref):
            try:
                self.client.images.remove(ref, noprune=False)
            except docker_errors.ImageNotFound:
                return False
            except docker_errors.APIError as e:
                if e.status_code != 409:
                    raise
                return False
        return True

    def container(self, name):
        """The container ``name``; EngineError when there is none."""
        with translated_errors('inspect %s' % name):
            return self.client.containers.get(name)

    @staticmethod
    def has_file(container, path):
        """Whether ``path`` is in the container's filesystem."""
        with translated_errors('look for %s in %s' % (path, container.name)):
            try:
                data, _ = container.client.api.get_archive(container.id,
                                                           path)
            except docker_errors.NotFound:
                return False
            # Read to its end (a link, or one file) so that the connection
            # goes back to the client's pool.
            for _ in data:
                pass
        return True

    @staticmethod
    def attach_socket(container):
        """The terminal of the container's main process, both ways
        (docker attach)."""
        with translated_errors('attach to %s' % container.name):
            return Stream(container.client.api.attach_socket(
                container.id, params={'stdin': 1, 'stdout': 1, 'stderr': 1,
                                      'stream': 1}))

    @staticmethod
    def exec_socket(container, command):
        """``command`` started in the container with a terminal, and that
        terminal (docker exec -it); returns it and the exec's id."""
        api = container.client.api
        with translated_errors('exec in %s' % container.name):
            exec_id = api.exec_create(container.id, command, stdin=True,
                                      tty=True)['Id']
            return Stream(api.exec_start(exec_id, tty=True,
                                         socket=True)), exec_id

    def exec_state(self, exec_id):
        """(running, the host's process id) of an exec; the id is 0 until
        its process has started."""
        with translated_errors('inspect exec %s' % exec_id):
            found = self.client.api.exec_inspect(exec_id)
        return found['Running'], found['Pid']

    def nova_containers(self):
        """The containers this compute host created, found by their labels.

        Several compute hosts (or a test's and an all-in-one's) may share one
        engine; each one owns only the containers labelled with its name.
        """
        with translated_errors('list containers'):
            containers = self.client.containers.list(
                all=True, filters={'label': _own_instances()})
        return [c for c in containers
                if is_instance_container(c.name, c.labels)]


def _exits_before(pid, deadline):
    """Whether host process ``pid`` exits (or has) before ``deadline``
    (time.monotonic()), as a pidfd reports it."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # select(), not poll(): eventlet, which nova-compute may run on,
        # has a green select() only.
        readable, _, _ = select.select(
            [pidfd], [], [], max(0, deadline - time.monotonic()))
        return bool(readable)
    finally:
        os.close(pidfd)
