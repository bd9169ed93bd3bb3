"""Cinder volumes on the all-in-one's Ceph, attached into running
containers, through the stock CLI as the demo user."""

import json
import os
import signal
import subprocess

from aio import demo
from aio import processes
from aio.services import ceph
from tests.aio import base as aio_base

# What the tests write and read back: random bytes, their sha256.
WRITE = ('head -c 1048576 /dev/urandom > %(path)s && sync && '
         'sha256sum %(path)s | cut -d" " -f1')
READ = 'sha256sum %(path)s | cut -d" " -f1'


class VolumesTestCase(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.image = self.conn.image.find_image(demo.IMAGE_NAME)

    def _sh(self, server, command):
        result = self._container(server).exec_run(['/bin/sh', '-c',
                                                   command])
        return result.exit_code, result.output.decode().strip()

    def _written_volume(self, server):
        """A new volume attached to the server as vdb, with 1 MiB of
        random bytes written; returns it and their sha256."""
        volume = self._volume('--size', '1')
        self._attach(server, volume)
        _, written = self._sh(server, WRITE % {'path': '/volumes/vdb/data'})
        return volume, written

    def _mounted_in(self, server):
        """The volume mounts the container sees."""
        _, mounts = self._sh(server, 'cut -d" " -f2 /proc/mounts')
        return sorted(m for m in mounts.split()
                      if m.startswith('/volumes/'))

    def test_volume_moves_between_running_servers_and_keeps_its_bytes(self):
        first = self._boot(self.image, 'e2e-volume-first')
        started = self._started_at(first)
        volume = self._volume('--size', '1')

        attached = json.loads(self._cli('server', 'add', 'volume', '-f',
                                        'json', first.id, volume))
        self.assertEqual('/dev/vdb', attached['Device'])
        self._wait_volume(volume, 'in-use')
        # In the running container, without a restart.
        self.assertEqual(['/volumes/vdb'], self._mounted_in(first))
        self.assertEqual(started, self._started_at(first))
        code, written = self._sh(first, WRITE % {'path': '/volumes/vdb/data'})
        self.assertEqual(0, code, written)

        self._detach(first, volume)
        self.assertEqual([], self._mounted_in(first))
        self.assertEqual(started, self._started_at(first))
        self._assert_released(volume)

        # Booted with it: read in the second server at its start.
        second = self._booted_with(volume, 'e2e-volume-second')
        self.assertEqual(['/volumes/vdb'], self._mounted_in(second))
        self.assertEqual((0, written),
                         self._sh(second, READ % {
                             'path': '/volumes/vdb/data'}))

        # Kept through a stop and start, and a hard reboot.
        self._act(self.conn.compute.stop_server, second, 'SHUTOFF', 'exited')
        self._act(self.conn.compute.start_server, second, 'ACTIVE',
                  'running')
        self.conn.compute.reboot_server(second, 'HARD')
        self._wait_status(second, 'ACTIVE')
        self.assertEqual((0, written),
                         self._sh(second, READ % {
                             'path': '/volumes/vdb/data'}))

        # The server's deletion detaches it and keeps its bytes.
        self._delete(second)
        self._wait_volume(volume, 'available')
        self._assert_released(volume)
        self._attach(first, volume)
        self.assertEqual((0, written),
                         self._sh(first, READ % {
                             'path': '/volumes/vdb/data'}))

    def test_resize_on_the_host_and_revert_keep_the_volume(self):
        server = self._boot(self.image, 'e2e-volume-resized')
        volume, written = self._written_volume(server)

        self._cli('server', 'resize', '--flavor', 'm1.small', server.id)
        self._wait_status(server, 'VERIFY_RESIZE')
        self.assertEqual((0, written), self._sh(
            server, READ % {'path': '/volumes/vdb/data'}))
        self._cli('server', 'resize', 'revert', server.id)
        self._wait_status(server, 'ACTIVE')
        self.assertEqual((0, written), self._sh(
            server, READ % {'path': '/volumes/vdb/data'}))
        self.assertEqual('in-use', self.conn.block_storage.get_volume(
            volume).status)

    def test_volume_from_a_snapshot_has_the_snapshot_bytes(self):
        server = self._boot(self.image, 'e2e-volume-snapshot')
        volume, written = self._written_volume(server)
        self._detach(server, volume)

        snapshot = json.loads(self._cli(
            'volume', 'snapshot', 'create', '-f', 'json', '--volume', volume,
            'e2e-snapshot-%s' % volume[:8]))
        self.addCleanup(self._delete_snapshot, snapshot['id'])
        self.assertTrue(self._until(
            lambda: self.conn.block_storage.get_snapshot(
                snapshot['id']).status == 'available'))
        copy = self._volume('--snapshot', snapshot['id'])
        # Later writes to the original do not reach the copy.
        self._attach(server, volume)
        self._sh(server, WRITE % {'path': '/volumes/vdb/data'})
        self._attach(server, copy)
        self.assertEqual(['/volumes/vdb', '/volumes/vdc'],
                         self._mounted_in(server))
        self.assertEqual((0, written),
                         self._sh(server, READ % {
                             'path': '/volumes/vdc/data'}))
        # Snapshots live beside the volumes in Ceph's pool.
        images = subprocess.run(
            ['rbd', '--conf', ceph.conf(self.layout), 'ls', '-l',
             ceph.VOLUMES_POOL], capture_output=True, text=True,
            check=True).stdout
        self.assertIn('volume-%s@snapshot-%s' % (volume, snapshot['id']),
                      images)

    def test_volume_in_use_is_neither_attached_again_nor_deleted(self):
        first = self._boot(self.image, 'e2e-volume-owner')
        second = self._boot(self.image, 'e2e-volume-other')
        volume = self._volume('--size', '1')
        self._attach(first, volume)

        error = self._cli_fails('server', 'add', 'volume', second.id, volume)
        self.assertIn('already attached', error)
        self.assertEqual([], self._mounted_in(second))
        error = self._cli_fails('volume', 'delete', volume)
        self.assertIn('attached', error)
        self.assertEqual(['/volumes/vdb'], self._mounted_in(first))

    def test_extended_volume_grows_in_the_running_container_and_detached(
            self):
        server = self._boot(self.image, 'e2e-volume-extended')
        started = self._started_at(server)
        volume, written = self._written_volume(server)

        # In use: Cinder grows the image and tells Nova, whose driver grows
        # the filesystem while the container runs (Cinder's 3.42).
        self._cli('--os-volume-api-version', '3.42', 'volume', 'set',
                  '--size', '2', volume)
        self.assertTrue(self._until(
            lambda: 1500 < self._size_mib(server) < 2100),
            self._size_mib(server))
        self.assertEqual(started, self._started_at(server))
        self._wait_volume(volume, 'in-use')

        # Detached: it grows at the next attach.
        self._detach(server, volume)
        self._cli('volume', 'set', '--size', '3', volume)
        self.assertTrue(self._until(
            lambda: self.conn.block_storage.get_volume(volume).size == 3))
        self._wait_volume(volume, 'available')
        self._attach(server, volume)
        self.assertGreater(self._size_mib(server), 2500)
        self.assertEqual((0, written), self._sh(
            server, READ % {'path': '/volumes/vdb/data'}))

    def _size_mib(self, server):
        """The size of /volumes/vdb's filesystem as df shows it inside."""
        _, size = self._sh(server, "df -m /volumes/vdb | awk 'NR==2 {print "
                                   "$2}'")
        return int(size)

    def test_image_of_a_volume_makes_a_volume_with_its_bytes(self):
        server = self._boot(self.image, 'e2e-volume-image-round-trip')
        volume, written = self._written_volume(server)
        self._detach(server, volume)

        # raw, the CLI's default: os-brick reads the volume through librbd
        # with the key it finds in /etc/ceph (cinder-volume's own).
        uploaded = json.loads(self._cli(
            'image', 'create', '-f', 'json', '--volume', volume,
            'e2e-of-volume-%s' % volume[:8]))
        self.addCleanup(self.conn.image.delete_image, uploaded['image_id'],
                        ignore_missing=True)
        self.assertTrue(self._until(
            lambda: self.conn.image.get_image(
                uploaded['image_id']).status == 'active'))
        self.assertEqual('raw', self.conn.image.get_image(
            uploaded['image_id']).disk_format)
        copy = self._volume('--size', '1', '--image', uploaded['image_id'])
        self._attach(server, copy)
        self.assertEqual((0, written), self._sh(
            server, READ % {'path': '/volumes/vdb/data'}))

    def test_volume_from_an_image_is_not_formatted_over(self):
        server = self._boot(self.image, 'e2e-volume-from-image')
        volume = self._volume('--size', '1', '--image', self.image.id)
        started = self._started_at(server)
        self._cli('server', 'add', 'volume', server.id, volume)
        # The attach fails, not the server: the volume is left as it was.
        self._wait_volume(volume, 'available')
        self.assertEqual('ACTIVE', self.conn.compute.get_server(
            server.id).status)
        self.assertEqual(started, self._started_at(server))
        self.assertEqual([], self._mounted_in(server))
        self._assert_released(volume)
        # Its owner reads why in the server's events.
        self.assertIn('holds data but no filesystem',
                      self._failed_event_details(server, 'attach_volume'))
        # Its bytes are still the image's (docker save's archive).
        head = self.conn.image.download_image(self.image).content[:65536]
        self.assertEqual(head, subprocess.run(
            ['rbd', '--conf', ceph.conf(self.layout), 'export',
             '%s/volume-%s' % (ceph.VOLUMES_POOL, volume), '-'],
            capture_output=True, check=True).stdout[:65536])

    def _failed_event_details(self, server, action):
        """What openstack server event show prints of the failed event of
        the server's ``action`` (its details since microversion 2.84)."""
        cli = ('--os-compute-api-version', '2.84', 'server', 'event')
        request = next(event['Request ID'] for event in json.loads(
            self._cli(*cli, 'list', '-f', 'json', server.id))
            if event['Action'] == action)
        shown = json.loads(self._cli(*cli, 'show', '-f', 'json', server.id,
                                     request))
        return ' '.join(event.get('details') or ''
                        for event in shown['events']
                        if event['result'] == 'Error')

    def test_boot_from_a_volume_is_refused_with_the_reason(self):
        volume = self._volume('--size', '1', '--bootable')
        server = self.conn.compute.create_server(
            name='e2e-volume-root', networks='none',
            flavor_id=self.conn.compute.find_flavor('m1.tiny').id,
            block_device_mapping=[{
                'uuid': volume, 'source_type': 'volume',
                'destination_type': 'volume', 'boot_index': 0}])
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ERROR')
        self.assertIn("a container's root filesystem is its image",
                      server.fault['message'])
        self._delete(server)
        self._wait_volume(volume, 'available')
        self._assert_released(volume)

    @aio_base.alone("kills Ceph's daemons")
    def test_ceph_killed_and_brought_back_loses_nothing(self):
        server = self._boot(self.image, 'e2e-volume-ceph-killed')
        volume, written = self._written_volume(server)

        for process in ceph.Ceph(self.layout).processes():
            os.kill(processes.running_pid(self.layout, process.name),
                    signal.SIGKILL)
        up = aio_base.aio_command()
        self.assertEqual(0, up.returncode, up.stdout + up.stderr)

        # The attached volume, its rbd-fuse reconnected, reads and writes.
        self.assertEqual((0, written), self._sh(
            server, READ % {'path': '/volumes/vdb/data'}))
        self.assertEqual((0, 'after'), self._sh(
            server, 'echo after > /volumes/vdb/after && sync && '
                    'cat /volumes/vdb/after'))
        self.assertEqual(b'HEALTH_OK', subprocess.run(
            ['ceph', '--conf', ceph.conf(self.layout), 'health'],
            capture_output=True, check=True).stdout.strip()[:9])
