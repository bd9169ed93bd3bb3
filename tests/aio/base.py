"""What the end-to-end tests share: clients of the running all-in-one
(tools/aio) and waits on what its users see."""

import glob
import hashlib
import json
import subprocess
import sys
import tempfile
import uuid

import testtools

from aio import demo
from aio import layout as aio_layout
from aio import processes
from aio import sample_image
from aio.services import ovn
from aio.services import zun
from novadocker import engine
from tests import base

WAIT = 120
# A Zun container's command: a page of its own, and its output before it.
ZUN_PAGE = 'served by zun'
ZUN_COMMAND = ['sh', '-c', 'echo started; mkdir -p /www && echo %s > '
               '/www/index.html && exec httpd -f -p 80 -h /www' % (
                   ZUN_PAGE.replace(' ', '\\ '))]


# How often a wait asks the API: a server's show costs nova-api and
# neutron-api 90 ms of CPU together, so two tests asking five times a
# second would keep one of the machine's two cores busy.
API_POLL = 0.5


def alone(reason):
    """Marks a test, or a test class, that runs while no other end-to-end
    test does (tests.aio.schedule): it stops, restarts or fills something
    the others use, as ``reason`` says. The others run two at a time."""
    def mark(test):
        test.runs_alone = reason
        return test
    return mark


def aio_command(*argv):
    """tools/aio's command line, as an operator runs it."""
    layout = aio_layout.Layout.from_environment()
    return subprocess.run([sys.executable, '-m', 'aio'] + list(argv),
                          capture_output=True, text=True, cwd=layout.repo,
                          timeout=300)


class AllInOneBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.layout = aio_layout.Layout.from_environment()
        self.conn = demo.cloud(self.layout, 'aio')
        self.docker = base.docker_client()

    def _upload_image(self, name, cmd, **rootfs):
        """docker save | openstack image create, as the seeds do; returns
        the image and the sha256 of the bytes that were sent."""
        ref = sample_image.import_busybox(self.docker, 'novadocker-e2e/' +
                                          name, 'latest', cmd, **rootfs)
        self.addCleanup(self.docker.images.remove, ref, force=True)
        saved = subprocess.run(['docker', 'save', ref], check=True,
                               capture_output=True).stdout
        with tempfile.TemporaryFile() as stdin:
            stdin.write(saved)
            stdin.seek(0)
            demo.openstack_cli(self.layout, 'aio', 'image', 'create',
                               '--container-format', 'docker',
                               '--disk-format', 'raw', name, stdin=stdin)
        image = self.conn.image.find_image(name)
        self.addCleanup(self.conn.image.delete_image, image,
                        ignore_missing=True)
        return image, hashlib.sha256(saved).hexdigest()

    def _new_user(self, project, role):
        """A user with ``role`` in ``project``, deleted after the test;
        returns its name and password."""
        admin = demo.cloud(self.layout, 'aio-admin')
        name, password = 'e2e-%s' % uuid.uuid4().hex[:8], uuid.uuid4().hex
        user = admin.identity.create_user(name=name, password=password,
                                          domain_id='default',
                                          default_project_id=project.id)
        self.addCleanup(admin.identity.delete_user, user)
        admin.identity.assign_project_role_to_user(
            project, user, admin.identity.find_role(role))
        return name, password

    def _boot(self, image, name, networks='none', conn=None, **kwargs):
        conn = conn or self.conn
        server = conn.compute.create_server(
            name=name, image_id=image.id, networks=networks,
            flavor_id=conn.compute.find_flavor('m1.tiny').id, **kwargs)
        self.addCleanup(self._delete, server, conn)
        return self._wait_status(server, 'ACTIVE', conn)

    def _delete(self, server, conn=None):
        conn = conn or self.conn
        conn.compute.delete_server(server, ignore_missing=True)
        # The SDK's default asks every 2 s.
        conn.compute.wait_for_delete(server, interval=API_POLL, wait=WAIT)

    def _container(self, server):
        return self.docker.containers.get(engine.container_name(server.id))

    def _sandbox(self, server):
        return self.docker.containers.get(engine.sandbox_name(server.id))

    def _wait_status(self, server, status, conn=None):
        """Until the API shows ``status`` with no task under way (the SDK's
        own wait trusts the status of the object it is given)."""
        conn = conn or self.conn
        seen = [server]

        def reached():
            seen[0] = conn.compute.get_server(server.id)
            if seen[0].status == 'ERROR' != status:
                self.fail('server %s went ERROR: %s' % (
                    server.id, (seen[0].fault or {}).get('message')))
            return seen[0].status == status and not seen[0].task_state
        if not self._until(reached, interval=API_POLL):
            self.fail('server %s is %s (task %s) after %d s, not %s' % (
                server.id, seen[0].status, seen[0].task_state, WAIT,
                status))
        return seen[0]

    def _floating_ip(self, server):
        """A floating IP on the external network for the server's first
        port, deleted after the test."""
        port = next(iter(self.conn.network.ports(device_id=server.id)))
        fip = self.conn.network.create_ip(
            floating_network_id=self.conn.network.find_network(
                demo.PUBLIC_NETWORK).id, port_id=port.id)
        self.addCleanup(self.conn.network.delete_ip, fip,
                        ignore_missing=True)
        return fip

    @staticmethod
    def _fetch_from_outside(address):
        """The page at ``address``, fetched from the namespace
        aio-outside; None when nothing answers within 3 s."""
        done = subprocess.run(
            ['ip', 'netns', 'exec', ovn.OUTSIDE_NAMESPACE, 'timeout', '3',
             'busybox', 'wget', '-q', '-O-', 'http://%s/' % address],
            capture_output=True)
        return done.stdout if done.returncode == 0 else None

    @staticmethod
    def _until(condition, timeout=WAIT, interval=0.2):
        """Polls ``condition()``; False if it is still false after
        ``timeout`` seconds."""
        return processes.until(condition, timeout, interval)

    def _actions(self, server):
        """The server's instance actions, as openstack server event list
        shows them."""
        return sorted(action.action for action in
                      self.conn.compute.server_actions(server))

    def _started_at(self, server):
        return self._container(server).attrs['State']['StartedAt']

    def _wait_restarted(self, server, started):
        """Until the container has started again since ``started``."""
        if not self._until(lambda: self._started_at(server) != started):
            self.fail('%s was not restarted' % server.name)

    def _act(self, action, server, status, container_status):
        """A server action, its status in the API, then in the engine."""
        action(server)
        self._wait_status(server, status)
        self.assertEqual(container_status, self._container(server).status)

    # Volumes

    # Zun's containers

    def _zun(self, method, path, **kwargs):
        """Zun's API as the demo user."""
        return zun.request(self.conn, method, path, **kwargs)

    def _show_container(self, container_id):
        return self._zun('GET', '/containers/%s' % container_id).json()

    def _run_container(self, *args, command=ZUN_COMMAND,
                       image=demo.IMAGE_NAME):
        """openstack appcontainer run on the demo network, until Running;
        deleted after the test."""
        name = 'e2e-zun-%s' % uuid.uuid4().hex[:8]
        network = self.conn.network.find_network(demo.NETWORK_NAME)
        created = json.loads(self._cli(
            'appcontainer', 'run', '-f', 'json', '--name', name,
            '--net', 'network=%s' % network.id, *args, image, *command))
        self.addCleanup(self._delete_container, created['uuid'])
        self._wait_container(created['uuid'], 'Running')
        return self._show_container(created['uuid'])

    def _wait_container(self, container_id, status):
        seen = [None]

        def reached():
            seen[0] = self._show_container(container_id)
            if seen[0]['status'] == 'Error' != status:
                self.fail('container %s went Error: %s' % (
                    container_id, seen[0]['status_reason']))
            return seen[0]['status'] == status and not seen[0]['task_state']
        if not self._until(reached, interval=API_POLL):
            self.fail('container %s is %s, not %s' % (
                container_id, seen[0]['status'], status))

    def _delete_container(self, container_id):
        self._zun('DELETE', '/containers/%s?force=True&stop=True' %
                  container_id, raise_exc=False)
        self._until(lambda: self._zun(
            'GET', '/containers/%s' % container_id,
            raise_exc=False).status_code == 404)

    def _cli(self, *args):
        return demo.openstack_cli(self.layout, 'aio', *args).stdout

    def _cli_fails(self, *args):
        done = demo.openstack_cli(self.layout, 'aio', *args, check=False)
        self.assertNotEqual(0, done.returncode, done.stdout)
        return done.stderr

    def _attach(self, server, volume):
        """openstack server add volume, until Cinder shows it in use."""
        self._cli('server', 'add', 'volume', server.id, volume)
        self._wait_volume(volume, 'in-use')

    def _detach(self, server, volume):
        self._cli('server', 'remove', 'volume', server.id, volume)
        self._wait_volume(volume, 'available')

    def _rbd_fuse_processes(self, volume_id):
        """How many rbd-fuse processes serve the volume."""
        return len([line for line in self._leftovers(volume_id)
                    if line.startswith('rbd-fuse')])

    def _volume(self, *args):
        """openstack volume create; deleted after the test."""
        name = 'e2e-%s' % uuid.uuid4().hex[:8]
        volume = json.loads(self._cli('volume', 'create', '-f', 'json',
                                      *args, name))
        self.addCleanup(self._delete_volume, volume['id'])
        self._wait_volume(volume['id'], 'available')
        return volume['id']

    def _delete_volume(self, volume_id):
        """Detached from its servers, then deleted."""
        volume = self.conn.block_storage.find_volume(volume_id)
        if volume is None:
            return
        for attachment in volume.attachments:
            self.conn.compute.delete_volume_attachment(
                attachment['server_id'], volume_id, ignore_missing=True)
        self._wait_volume(volume_id, 'available')
        self.conn.block_storage.delete_volume(volume_id)
        self._until(lambda: self.conn.block_storage.find_volume(
            volume_id) is None)

    def _delete_snapshot(self, snapshot_id):
        self.conn.block_storage.delete_snapshot(snapshot_id,
                                                ignore_missing=True)
        self._until(lambda: self.conn.block_storage.find_snapshot(
            snapshot_id) is None)

    def _booted_with(self, volume, name):
        """A server booted from the image with the volume attached, as
        openstack server create --image ... --block-device does."""
        return self._boot(self.image, name, block_device_mapping=[
            {'uuid': self.image.id, 'source_type': 'image',
             'destination_type': 'local', 'boot_index': 0,
             'delete_on_termination': True},
            {'uuid': volume, 'source_type': 'volume',
             'destination_type': 'volume', 'boot_index': -1}])

    def _wait_volume(self, volume_id, status):
        seen = [None]

        def reached():
            seen[0] = self.conn.block_storage.get_volume(volume_id)
            if seen[0].status.startswith('error'):
                self.fail('volume %s went %s' % (volume_id, seen[0].status))
            return seen[0].status == status
        if not self._until(reached):
            self.fail('volume %s is %s, not %s' % (volume_id, seen[0].status,
                                                   status))

    def _assert_released(self, volume_id):
        """Nothing of the volume's attachment is left on the host (an
        rbd-fuse process exits a moment after its unmount)."""
        if not self._until(lambda: not self._leftovers(volume_id), 10):
            self.fail('left of volume %s: %s' % (
                volume_id, self._leftovers(volume_id)))

    def _leftovers(self, volume_id):
        """What of the volume's attachment is still on the host: mounts
        under the volumes directory, loop devices, rbd-fuse processes."""
        # A filesystem still mounted would hold its loop device.
        with open('/proc/self/mountinfo') as f:
            found = [line.split()[4] for line in f if volume_id in line]
        for backing in glob.glob('/sys/block/loop*/loop/backing_file'):
            with open(backing) as f:
                if volume_id in f.read():
                    found.append(backing)
        found += [line for line in subprocess.run(
            ['ps', '-eo', 'args'], capture_output=True,
            text=True).stdout.splitlines()
            if line.startswith('rbd-fuse') and volume_id in line]
        return found
