"""End to end against the running all-in-one (tools/aio), through the
stock clients, as its users see it: the API, the engine and Glance.

tools/run-tests brings the all-in-one up before these run; without it they
fail, they never skip.
"""

import concurrent.futures
import hashlib
import subprocess
import sys

from aio import demo
from aio.services import keystone
from novadocker import engine
from novadocker import image as image_mod
from tests.aio import base as aio_base
from tests.aio.base import WAIT

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
        self.assertEqual(image_mod.reference(image.id),
                         container.image.tags[0])
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
        self.assertNotIn(engine.container_name(server.id), names)
        self.assertNotIn(engine.container_name(from_snapshot.id), names)

    def test_resize_on_the_host_keeps_container_and_port(self):
        private = self.conn.network.find_network('private')
        server = self._boot(self.conn.image.find_image('busybox'),
                            'e2e-resize', networks=[{'uuid': private.id}])
        before = self._container(server)

        demo.openstack_cli(self.layout, 'aio', 'server', 'resize',
                           '--flavor', 'm1.small', server.id,
                           timeout=WAIT)
        resized = self._wait_status(server, 'VERIFY_RESIZE')
        demo.openstack_cli(self.layout, 'aio', 'server', 'resize', 'confirm',
                           server.id)
        confirmed = self._wait_status(server, 'ACTIVE')

        after = self._container(server)
        self.assertEqual((before.id, 'running'), (after.id, after.status))
        self.assertEqual(2048 * 2**20, after.attrs['HostConfig']['Memory'])
        self.assertEqual('m1.small', confirmed.flavor['original_name'])
        self.assertEqual(server.addresses, resized.addresses)
        self.assertEqual(server.addresses, confirmed.addresses)

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
            all=True, filters={'name': engine.container_name(server.id)}))

    def test_stock_cli_with_the_written_clouds_yaml(self):
        out = demo.openstack_cli(self.layout, 'aio', 'server', 'show',
                                 demo.SERVER_NAME, '-f', 'value',
                                 '-c', 'status').stdout
        self.assertEqual('ACTIVE\n', out)
        out = demo.openstack_cli(self.layout, 'aio-admin', 'hypervisor',
                                 'list', '-f', 'value',
                                 '-c', 'Hypervisor Type').stdout
        self.assertEqual('docker\n', out)

    @aio_base.alone('forces nova-compute down')
    def test_status_shows_compute_down_in_nova_while_its_process_runs(self):
        admin = demo.cloud(self.layout, 'aio-admin')
        compute = next(admin.compute.services(
            binary='nova-compute', host=self.layout.compute_host))
        # Down in Nova's API (as a hung nova-compute is after
        # service_down_time), its process still running.
        admin.compute.update_service_forced_down(compute, forced=True)
        self.addCleanup(admin.compute.update_service_forced_down, compute,
                        forced=False)
        status = subprocess.run([sys.executable, '-m', 'aio', 'status'],
                                cwd=self.layout.repo, capture_output=True,
                                text=True)
        self.assertEqual(3, status.returncode)
        line = next(line for line in status.stdout.splitlines()
                    if line.startswith('nova-compute '))
        self.assertIn("NOT ready (check: reports up in Nova's compute "
                      "services API)", line)
        self.assertRegex(line, r'running \(pid \d+\)')

    def test_keystone_serves_concurrent_clients(self):
        # On SQLite, two of these at once answered 500 "database is
        # locked".
        admin = demo.cloud(self.layout, 'aio-admin')
        project = keystone.ensure_project(admin, 'e2e-concurrent')
        self.addCleanup(admin.identity.delete_project, project)

        def churn(index):
            conn = keystone.connect(self.layout, 'demo')
            conn.authorize()
            user = admin.identity.create_user(
                name='e2e-concurrent-%d' % index, password='secret',
                domain_id='default', default_project_id=project.id)
            admin.identity.delete_user(user)
            conn.close()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(churn, i) for i in range(24)]:
                future.result()
        self.assertEqual([], list(admin.identity.users(
            name='e2e-concurrent-0')))

    def test_glance_metadata_definitions_are_loaded(self):
        out = demo.openstack_cli(self.layout, 'aio-admin', 'image',
                                 'metadef', 'namespace', 'list', '-f',
                                 'value').stdout.split()
        self.assertIn('OS::Compute::Hypervisor', out)
        self.assertIn('OS::Compute::Quota', out)

    def test_fqdn_hostname_longer_than_a_kernel_hostname_boots(self):
        fqdn = 'e2e-%s.example.org' % ('long-label.' * 6).rstrip('.')
        self.assertGreater(len(fqdn), 64)
        server_id = demo.openstack_cli(
            self.layout, 'aio', '--os-compute-api-version', '2.94', 'server',
            'create', '--hostname', fqdn, '--image', demo.IMAGE_NAME,
            '--flavor', 'm1.tiny', '--nic', 'none', '-f', 'value', '-c', 'id',
            'e2e-fqdn').stdout.strip()
        server = self.conn.compute.get_server(server_id)
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ACTIVE')
        container = self._container(server)
        self.assertEqual(b'e2e-long-label\n',
                         container.exec_run(['hostname']).output)
        # As Debian writes it without a fixed address: the FQDN first, so
        # that it is the canonical name.
        hosts = container.exec_run(['cat', '/etc/hosts']).output.decode()
        self.assertIn('127.0.1.1\t%s e2e-long-label\n' % fqdn, hosts)

    def test_hypervisor_details_at_every_microversion(self):
        # From 2.28 to 2.87 Nova parses the driver's cpu_info as JSON.
        admin = demo.cloud(self.layout, 'aio-admin')
        for version in ('2.1', '2.28', '2.53', '2.87', '2.88'):
            response = admin.compute.get('/os-hypervisors/detail',
                                         microversion=version)
            self.assertEqual(200, response.status_code, version)
            hypervisor = response.json()['hypervisors'][0]
            if version in ('2.28', '2.53', '2.87'):
                self.assertEqual({'arch', 'model', 'vendor', 'topology',
                                  'features'},
                                 set(hypervisor['cpu_info']))

    def test_diagnostics_report_the_port_and_its_traffic(self):
        private = self.conn.network.find_network('private')
        server = self._boot(self.conn.image.find_image('busybox'),
                            'e2e-diagnostics',
                            networks=[{'uuid': private.id}])
        port = next(iter(self.conn.network.ports(device_id=server.id)))
        gateway = next(subnet.gateway_ip for subnet in (
            self.conn.network.get_subnet(ip['subnet_id'])
            for ip in port.fixed_ips) if subnet.ip_version == 4)
        admin = demo.cloud(self.layout, 'aio-admin')

        def diagnostics(version):
            response = admin.compute.get(
                '/servers/%s/diagnostics' % server.id, microversion=version)
            self.assertEqual(200, response.status_code, version)
            return response.json()

        before = diagnostics('2.48')
        self.assertEqual(1, before['num_nics'])
        ping = self._container(server).exec_run(
            ['ping', '-c', '3', '-W', '5', gateway])
        self.assertIn(b'3 packets received', ping.output)
        after = diagnostics('2.48')

        # One of the drivers Nova's and Tempest's schemas accept.
        self.assertEqual('libvirt', after['driver'])
        self.assertEqual(1, after['num_nics'])
        nic, earlier = after['nic_details'][0], before['nic_details'][0]
        self.assertEqual(port.mac_address, nic['mac_address'])
        for direction in ('rx', 'tx'):
            # 3 echoes each way, of 84 bytes of IPv4 at least.
            self.assertGreaterEqual(nic[direction + '_packets'] -
                                    earlier[direction + '_packets'], 3)
            self.assertGreaterEqual(nic[direction + '_octets'] -
                                    earlier[direction + '_octets'], 3 * 84)
            for counter in ('_errors', '_drop'):
                self.assertIsInstance(nic[direction + counter], int)

        legacy = diagnostics('2.1')
        self.assertGreaterEqual(legacy['nic0_tx_packets'], nic['tx_packets'])
        self.assertGreaterEqual(legacy['nic0_rx_octets'], nic['rx_octets'])
        self.assertNotIn('nic1_rx_octets', legacy)
