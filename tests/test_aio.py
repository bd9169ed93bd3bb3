"""End to end against the running all-in-one (tools/aio), through the
stock clients, as its users see it: the API, the engine and Glance.

tools/run-tests brings the all-in-one up before these run; without it they
fail, they never skip.
"""

import hashlib
import os
import subprocess
import sys
import tempfile

import testtools

from aio import demo
from aio import layout as aio_layout
from aio import processes
from aio import services
from tests import aio_base
from tests.aio_base import WAIT

MARKER_CMD = ['/bin/sh', '-c',
              "trap 'exit 0' TERM; echo e2e > /tmp/booted; "
              "sleep 86400 & wait"]


class AllInOneTestCase(aio_base.AllInOneBase):

    def test_server_lifecycle_reaches_the_engine(self):
        image, sent = self._upload_image('e2e-busybox', MARKER_CMD)
        stored = hashlib.sha256(
            self.conn.image.download_image(image).content).hexdigest()
        self.assertEqual(sent, stored)
        self.assertEqual('docker', image.container_format)

        server = self._boot(image, 'e2e-lifecycle')
        container = self._container(server)
        self.assertEqual('running', container.status)
        self.assertEqual('glance:' + image.id, container.image.tags[0])
        self.assertEqual(MARKER_CMD, container.attrs['Config']['Cmd'])

        self._act(self.conn.compute.stop_server, server, 'SHUTOFF', 'exited')
        self._act(self.conn.compute.start_server, server, 'ACTIVE', 'running')

        for reboot_type in ('SOFT', 'HARD'):
            before = self._started_at(server)
            self.conn.compute.reboot_server(server, reboot_type)
            self._wait_restarted(server, before)
            self._wait_status(server, 'ACTIVE')
            after = self._container(server)
            self.assertNotEqual(before, after.attrs['State']['StartedAt'])
            self.assertEqual('running', after.status)

        self._act(self.conn.compute.pause_server, server, 'PAUSED', 'paused')
        self._act(self.conn.compute.unpause_server, server, 'ACTIVE',
                  'running')

        self._container(server).exec_run(
            ['/bin/sh', '-c', 'echo kept > /root/written-before-snapshot'])
        snapshot_id = self.conn.compute.create_server_image(
            server, 'e2e-snapshot', wait=True, timeout=WAIT).id
        snapshot = self.conn.image.get_image(snapshot_id)
        self.addCleanup(self.conn.image.delete_image, snapshot,
                        ignore_missing=True)
        self.assertEqual(('active', 'docker'),
                         (snapshot.status, snapshot.container_format))
        self.assertGreater(snapshot.size, 0)

        from_snapshot = self._boot(snapshot, 'e2e-from-snapshot')
        output = self._container(from_snapshot).exec_run(
            ['cat', '/root/written-before-snapshot']).output
        self.assertEqual(b'kept\n', output)

        for each in (server, from_snapshot):
            self._delete(each)
        names = {c.name for c in self.docker.containers.list(all=True)}
        self.assertNotIn('nova-' + server.id, names)
        self.assertNotIn('nova-' + from_snapshot.id, names)

    def test_bad_image_gives_error_with_reason_and_no_container(self):
        image = self.conn.image.create_image(
            'e2e-not-docker', data=b'not a tarball',
            container_format='bare', disk_format='raw')
        self.addCleanup(self.conn.image.delete_image, image,
                        ignore_missing=True)
        server = self.conn.compute.create_server(
            name='e2e-bad-image', image_id=image.id, networks='none',
            flavor_id=self.conn.compute.find_flavor('m1.tiny').id)
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ERROR')
        server = self.conn.compute.get_server(server)
        self.assertIn('container_format is bare', server.fault['message'])
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': 'nova-' + server.id}))

    def test_stock_cli_with_the_written_clouds_yaml(self):
        out = demo.openstack_cli(self.layout, 'aio', 'server', 'show',
                                 demo.SERVER_NAME, '-f', 'value',
                                 '-c', 'status').stdout
        self.assertEqual('ACTIVE\n', out)
        out = demo.openstack_cli(self.layout, 'aio-admin', 'hypervisor',
                                 'list', '-f', 'value',
                                 '-c', 'Hypervisor Type').stdout
        self.assertEqual('docker\n', out)


class BringUpFailureTestCase(testtools.TestCase):
    """What a failed bring-up tells the operator, and what it leaves."""

    def _aio(self, state, **env):
        return subprocess.run(
            [sys.executable, '-m', 'aio', 'up'], capture_output=True,
            text=True, cwd=self.layout.repo, timeout=120,
            env=dict(os.environ, AIO_STATE=state, **env))

    def setUp(self):
        super().setUp()
        self.layout = aio_layout.Layout.from_environment()

    def test_ports_taken_and_engine_missing_name_the_cause(self):
        # The running all-in-one holds every port a second one needs.
        with tempfile.TemporaryDirectory() as state:
            result = self._aio(state, DOCKER_HOST='unix:///nonexistent.sock')
            self.assertEqual(1, result.returncode)
            self.assertIn('port 5000 (keystone) is already in use',
                          result.stderr)
            self.assertIn('the Docker engine does not answer', result.stderr)
            self.assertEqual([], os.listdir(os.path.join(state, 'run')))

    def test_service_dying_at_start_names_its_log_and_is_not_left(self):
        with tempfile.TemporaryDirectory() as state:
            layout = aio_layout.Layout(self.layout.repo, state)
            layout.make_dirs()
            service = services.Service(
                'broken', ['/bin/sh', '-c', 'echo cannot bind >&2; exit 3'],
                lambda: False)
            processes.start(layout, service.name, service.argv)
            error = self.assertRaises(
                processes.ServiceFailed, processes.wait, layout,
                service.name, service.ready, 10)
            self.assertEqual('broken exited during start-up with code 3; '
                             'read %s' % layout.log('broken'), str(error))
            with open(layout.log('broken')) as log:
                self.assertIn('cannot bind', log.read())
            self.assertIsNone(processes.running_pid(layout, 'broken'))
