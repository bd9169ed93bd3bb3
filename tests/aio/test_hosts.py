"""Two compute hosts under one cloud, end to end: the all-in-one's first
host and one that ``tools/aio compute add`` makes for these tests (and
``compute remove`` removes after them): scheduling, networking, moving
servers between them, and a host's death.

Traffic goes only between containers of the all-in-one's networks and its
outside world (the namespace aio-outside).
"""

import contextlib
import ipaddress
import subprocess
import urllib.parse
import uuid

import docker
import openstack
import websocket

from aio import demo
from aio import hosts
from aio import sample_image
from aio.services import openvswitch
from aio.services import zun
from novadocker import engine
from novadocker import migration
from tests.aio import base as aio_base

# How long a change in the switch (a plugged port, a security group rule)
# may take to reach the data path.
CONVERGE = 30


@aio_base.alone("adds a compute host, and disables the others' "
                "nova-compute while it boots")
class ComputeHostsTestCase(aio_base.AllInOneBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.added_name = 'e2e-%s' % uuid.uuid4().hex[:6]
        added = aio_base.aio_command('compute', 'add', cls.added_name)
        if added.returncode:
            raise AssertionError('compute add failed:\n%s%s' % (
                added.stdout, added.stderr))
        cls.add_output = added.stdout

    @classmethod
    def tearDownClass(cls):
        removed = aio_base.aio_command('compute', 'remove', cls.added_name)
        super().tearDownClass()
        if removed.returncode:
            raise AssertionError('compute remove failed:\n%s%s' % (
                removed.stdout, removed.stderr))

    def setUp(self):
        super().setUp()
        self.admin = demo.cloud(self.layout, 'aio-admin')
        self.image = self.conn.image.find_image(demo.IMAGE_NAME)
        self.private = self.conn.network.find_network(demo.NETWORK_NAME)
        self.added = hosts.find(self.layout, self.added_name)
        self.first = self.layout.compute_host
        self.engines = {
            self.first: self.docker,
            self.added_name: docker.DockerClient(self.added.docker_url)}

    # Helpers

    @contextlib.contextmanager
    def _only(self, host):
        """Boots within land on ``host``: the other hosts' nova-compute is
        disabled meanwhile, as an operator does before maintenance."""
        others = [s for s in self.admin.compute.services(
            binary='nova-compute') if s.host != host]
        for service in others:
            self.admin.compute.disable_service(
                service, disabled_reason='e2e: booting on %s only' % host)
        try:
            yield
        finally:
            for service in others:
                self.admin.compute.enable_service(service)

    @contextlib.contextmanager
    def _only_zun(self, host):
        """Containers run within land on ``host``: the other hosts'
        zun-compute is disabled meanwhile."""
        others = [s['host'] for s in zun.request(
            self.admin, 'GET', '/services').json()['services']
            if s['binary'] == 'zun-compute' and s['host'] != host]
        for other in others:
            zun.request(self.admin, 'PUT', '/services/disable?' +
                        urllib.parse.urlencode({
                            'host': other, 'binary': 'zun-compute',
                            'disabled_reason': 'e2e: on %s only' % host}))
        try:
            yield
        finally:
            for other in others:
                zun.request(self.admin, 'PUT', '/services/enable?' +
                            urllib.parse.urlencode({
                                'host': other, 'binary': 'zun-compute'}))

    def _container_on_host(self, host):
        """A Zun container serving ZUN_PAGE on ``host``, in its engine."""
        with self._only_zun(host):
            container = self._run_container()
        self.assertEqual(host, zun.request(
            self.admin, 'GET', '/containers/%s' % container['uuid']).json()[
                'host'])
        self.assertEqual('running', self.engines[host].containers.get(
            'zun-' + container['uuid']).status)
        return container

    def _boot_on_host(self, host, name, **kwargs):
        with self._only(host):
            server = self._boot(self.image, name,
                                networks=[{'uuid': self.private.id}],
                                **kwargs)
        self.assertEqual(host, self._host_of(server))
        return server

    def _host_of(self, server):
        return self.admin.compute.get_server(server.id).compute_host

    def _engine_of(self, server):
        return self.engines[self._host_of(server)]

    def _in_engines(self, server):
        """The hosts whose engine has the server's container."""
        found = set()
        for host, client in self.engines.items():
            try:
                client.containers.get(engine.container_name(server.id))
                found.add(host)
            except docker.errors.NotFound:
                pass
        return found

    def _fetch(self, client, address):
        """Exit code of an HTTP GET from the server ``client`` to
        ``address``, port 80."""
        host = '[%s]' % address if ':' in address else address
        container = self._engine_of(client).containers.get(
            engine.container_name(client.id))
        # busybox 1.35's wget -T crashes (exit 139): time it out instead.
        return container.exec_run(['timeout', '3', 'wget', '-q', '-O',
                                   '/dev/null', 'http://%s/' % host]
                                  ).exit_code

    def _assert_reaches(self, client, address, expected=True):
        if not self._until(
                lambda: (self._fetch(client, address) == 0) == expected,
                CONVERGE, 0.5):
            self.fail('%s %s %s on port 80 after %d s' % (
                client.name, 'still cannot reach' if expected
                else 'still reaches', address, CONVERGE))

    def _addresses(self, server, version):
        server = self.conn.compute.get_server(server.id)
        return [a['addr'] for addrs in server.addresses.values()
                for a in addrs
                if ipaddress.ip_address(a['addr']).version == version]

    def _exec(self, server, *argv):
        container = self._engine_of(server).containers.get(
            engine.container_name(server.id))
        return container.exec_run(list(argv))

    def _left_on(self, host, server, taps):
        """What of the server remains on ``host``: containers, its
        migration image, its ports' veths and OVS ports."""
        client = self.engines[host]
        left = []
        for name in (engine.container_name(server.id),
                     engine.sandbox_name(server.id)):
            try:
                client.containers.get(name)
                left.append('container ' + name)
            except docker.errors.NotFound:
                pass
        try:
            client.images.get(migration.local_name(server.id))
            left.append('image ' + migration.local_name(server.id))
        except docker.errors.ImageNotFound:
            pass
        ovs = hosts.first(self.layout) if host == self.first else self.added
        links = subprocess.run(
            ovs.command(['ip', '-o', 'link']), capture_output=True,
            text=True, check=True).stdout
        ports = openvswitch.vsctl(ovs.layout, 'list-ports',
                                  openvswitch.INTEGRATION_BRIDGE).split()
        for tap in taps:
            if tap + ':' in links or tap + '@' in links:
                left.append('veth ' + tap)
            if tap in ports:
                left.append('OVS port ' + tap)
        return left

    def _fixed_ips(self, server):
        return sorted(ip['ip_address']
                      for port in self.conn.network.ports(device_id=server.id)
                      for ip in port.fixed_ips)

    def _taps(self, server):
        return ['tap' + port.id[:11]
                for port in self.conn.network.ports(device_id=server.id)]

    def _wait_on(self, server, status, host):
        server = self._wait_status(server, status)
        self.assertEqual(host, self._host_of(server))
        return server

    # Tests

    def test_added_host_is_up_in_nova_placement_and_neutron(self):
        self.assertIn('compute host %s is up' % self.added_name,
                      self.add_output)
        hypervisors = {h.name: h for h in
                       self.admin.compute.hypervisors(details=True)}
        self.assertEqual('up', hypervisors[self.added_name].state)
        self.assertEqual(self.added.management_ip,
                         hypervisors[self.added_name].host_ip)
        providers = {p.name for p in
                     self.admin.placement.resource_providers()}
        self.assertLessEqual({self.first, self.added_name}, providers)
        agents = {a.host: a for a in self.admin.network.agents()}
        self.assertTrue(agents[self.added_name].is_alive)
        # Idempotent: adding it again brings it up again, nothing more.
        again = aio_base.aio_command('compute', 'add', self.added_name)
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertEqual(2, len([
            s for s in self.admin.compute.services(binary='nova-compute')
            if s.host in (self.first, self.added_name)]))

    def test_multi_create_spreads_each_container_in_its_hosts_engine(self):
        self.conn.compute.create_server(
            name='e2e-spread', image_id=self.image.id,
            flavor_id=self.conn.compute.find_flavor('m1.tiny').id,
            networks=[{'uuid': self.private.id}], min_count=4, max_count=4)
        servers = [s for s in self.conn.compute.servers(name='^e2e-spread')]
        for server in servers:
            self.addCleanup(self._delete, server)
        self.assertEqual(4, len(servers))
        for server in servers:
            self._wait_status(server, 'ACTIVE')
        placed = {server.id: self._host_of(server) for server in servers}
        self.assertEqual({self.first, self.added_name}, set(placed.values()))
        for server in servers:
            self.assertEqual({placed[server.id]}, self._in_engines(server))
        usage = {p.name: self.admin.placement.get(
            '/resource_providers/%s/usages' % p.id).json()['usages']
            for p in self.admin.placement.resource_providers()}
        for host in (self.first, self.added_name):
            self.assertGreaterEqual(
                usage[host].get('VCPU', 0),
                list(placed.values()).count(host), host)

    def test_tcp_v4_and_v6_between_servers_on_different_hosts(self):
        web = [{'name': 'default'}, {'name': demo.WEB_GROUP}]
        here = self._boot_on_host(self.first, 'e2e-hosts-here',
                                  security_groups=web)
        there = self._boot_on_host(self.added_name, 'e2e-hosts-there',
                                   security_groups=web)
        for client, server in ((here, there), (there, here)):
            for version in (4, 6):
                for address in self._addresses(server, version):
                    self._assert_reaches(client, address)

    def test_floating_ip_of_a_server_on_the_added_host_answers_outside(self):
        server = self._boot_on_host(
            self.added_name, 'e2e-hosts-floating',
            security_groups=[{'name': 'default'}, {'name': demo.WEB_GROUP}])
        address = self._floating_ip(server).floating_ip_address
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is not None,
            CONVERGE, 0.5), 'no answer from %s in aio-outside' % address)
        self.assertEqual(sample_image.SAMPLE_PAGE,
                         self._fetch_from_outside(address))

    def test_security_group_change_applies_on_both_hosts(self):
        group = self.conn.network.create_security_group(
            name='e2e-hosts-%s' % uuid.uuid4().hex[:6])
        self.addCleanup(self.conn.network.delete_security_group, group)
        guarded = [{'name': group.name}]
        here = self._boot_on_host(self.first, 'e2e-hosts-guarded-here',
                                  security_groups=guarded)
        there = self._boot_on_host(self.added_name, 'e2e-hosts-guarded-there',
                                   security_groups=guarded)
        pairs = ((here, self._addresses(there, 4)[0]),
                 (there, self._addresses(here, 4)[0]))
        for client, address in pairs:
            self._assert_reaches(client, address, expected=False)
        self.conn.network.create_security_group_rule(
            security_group_id=group.id, direction='ingress',
            ethertype='IPv4', protocol='tcp', port_range_min=80,
            port_range_max=80, remote_ip_prefix='0.0.0.0/0')
        for client, address in pairs:
            self._assert_reaches(client, address)

    def test_remove_refuses_a_host_with_servers_and_names_them(self):
        server = self._boot_on_host(self.added_name, 'e2e-hosts-left')
        refused = aio_base.aio_command('compute', 'remove', self.added_name)
        self.assertEqual(1, refused.returncode)
        self.assertIn('compute host %s still has server e2e-hosts-left '
                      '(%s)' % (self.added_name, server.id), refused.stderr)
        self.assertEqual({self.added_name}, self._in_engines(server))
        self.assertEqual('ACTIVE',
                         self.conn.compute.get_server(server.id).status)

    def test_zun_runs_on_each_host_and_reaches_across_the_tunnel(self):
        # TCP through the hosts' tunnel needs kuryr's veth to compute its
        # own checksums too.
        server = self._boot_on_host(
            self.added_name, 'e2e-hosts-zun-peer',
            security_groups=[{'name': 'default'}, {'name': demo.WEB_GROUP}])
        added = self._container_on_host(self.added_name)
        first = self._container_on_host(self.first)
        port = self.admin.network.get_port(
            next(iter(added['addresses'].values()))[0]['port'])
        self.assertEqual(self.added_name, port.binding_host_id)

        pages = [(address, sample_image.SAMPLE_PAGE.decode().strip())
                 for version in (4, 6)
                 for address in self._addresses(server, version)]
        pages += [(address, aio_base.ZUN_PAGE)
                  for version in (4, 6)
                  for address in self._zun_addresses(added, version)]
        for address, page in pages:
            host = '[%s]' % address if ':' in address else address
            self.assertTrue(self._until(lambda: demo.openstack_cli(
                self.layout, 'aio', 'appcontainer', 'exec',
                first['uuid'], 'sh', '-c',
                'timeout 3 wget -qO- http://%s/' % host,
                check=False).stdout.strip() == page, CONVERGE, 0.5),
                'no page from %s' % address)

        refused = aio_base.aio_command('compute', 'remove', self.added_name)
        self.assertEqual(1, refused.returncode)
        self.assertIn('container %s (%s)' % (added['name'], added['uuid']),
                      refused.stderr)

    @staticmethod
    def _zun_addresses(container, version):
        return [a['addr'] for addresses in container['addresses'].values()
                for a in addresses if a['version'] == version]

    def test_cold_migration_moves_files_addresses_and_floating_ip(self):
        server = self._boot_on_host(
            self.first, 'e2e-hosts-migrated',
            security_groups=[{'name': 'default'}, {'name': demo.WEB_GROUP}],
            metadata={'purpose': 'e2e'})
        self.assertEqual(0, self._exec(
            server, 'sh', '-c', 'echo written-before > /proof').exit_code)
        address = self._floating_ip(server).floating_ip_address
        fixed = self._fixed_ips(server)
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is not None,
            CONVERGE, 0.5), 'no answer from %s before the move' % address)
        taps = self._taps(server)

        self.admin.compute.migrate_server(server)
        server = self._wait_on(server, 'VERIFY_RESIZE', self.added_name)
        self.conn.compute.confirm_server_resize(server)
        server = self._wait_on(server, 'ACTIVE', self.added_name)

        self.assertEqual({self.added_name}, self._in_engines(server))
        self.assertEqual(b'written-before\n',
                         self._exec(server, 'cat', '/proof').output)
        self.assertEqual(fixed, self._fixed_ips(server))
        # Its console now on the added host's management address.
        url = self.conn.compute.create_console(
            server, console_type='serial')['url']
        session = websocket.create_connection(url, subprotocols=['binary'],
                                              timeout=15)
        self.addCleanup(session.close)
        session.send_binary(b'cat /proof\n')
        self.assertTrue(self._until(
            lambda: b'written-before' in session.recv(), 15))
        self.assertEqual({'purpose': 'e2e'}, self.conn.compute.get_server(
            server.id).metadata)
        memory = self._engine_of(server).containers.get(
            engine.container_name(server.id)).attrs['HostConfig']['Memory']
        self.assertEqual(
            self.conn.compute.find_flavor('m1.tiny').ram * 1024 * 1024,
            memory)
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) == (
                sample_image.SAMPLE_PAGE), CONVERGE, 0.5),
            '%s does not serve the page after the move' % address)
        self.assertEqual([], self._left_on(self.first, server, taps))

    def test_volume_follows_its_server_to_the_other_host(self):
        server = self._boot_on_host(self.first, 'e2e-hosts-volume')
        volume = self._volume('--size', '1')
        self._attach(server, volume)
        write = self._exec(server, 'sh', '-c', 'head -c 1048576 /dev/urandom'
                           ' > /volumes/vdb/data && sync && sha256sum '
                           '/volumes/vdb/data')
        self.assertEqual(0, write.exit_code, write.output)

        self.admin.compute.migrate_server(server)
        server = self._wait_on(server, 'VERIFY_RESIZE', self.added_name)
        self.conn.compute.confirm_server_resize(server)
        server = self._wait_on(server, 'ACTIVE', self.added_name)
        self.assertEqual(write.output, self._exec(
            server, 'sha256sum', '/volumes/vdb/data').output)
        self.assertEqual('in-use', self.conn.block_storage.get_volume(
            volume).status)
        # Nothing of it is left on the host it left: the volume is mounted
        # once, by the added host (its rbd-fuse and loop device).
        self.assertEqual(1, self._rbd_fuse_processes(volume))

        # The host's power goes off and comes back: its mounts went with
        # it, and its nova-compute mounts the volume again as it starts the
        # server.
        stopped = aio_base.aio_command('compute', 'stop', self.added_name)
        self.assertEqual(0, stopped.returncode, stopped.stderr)
        self._assert_released(volume)
        self._bring_back()

        def read_again():
            try:
                return self._exec(server, 'sha256sum',
                                  '/volumes/vdb/data').output == write.output
            except docker.errors.APIError:
                return False    # not started again yet
        self.assertTrue(self._until(read_again, CONVERGE, 0.5),
                        'the volume is not back after the host\'s restart')

    def test_resize_to_the_other_host_and_revert_restores_it(self):
        server = self._boot_on_host(self.added_name, 'e2e-hosts-resized')
        self.assertEqual(0, self._exec(
            server, 'sh', '-c', 'echo written-before > /proof').exit_code)
        taps = self._taps(server)
        bigger = self.conn.compute.find_flavor('m1.small')
        with self._only(self.first):
            self.conn.compute.resize_server(server, bigger)
            server = self._wait_on(server, 'VERIFY_RESIZE', self.first)
        memory = self._engine_of(server).containers.get(
            engine.container_name(server.id)).attrs['HostConfig']['Memory']
        self.assertEqual(bigger.ram * 1024 * 1024, memory)
        self.assertEqual(b'written-before\n',
                         self._exec(server, 'cat', '/proof').output)

        self.conn.compute.revert_server_resize(server)
        server = self._wait_on(server, 'ACTIVE', self.added_name)
        self.assertEqual({self.added_name}, self._in_engines(server))
        self.assertEqual(b'written-before\n',
                         self._exec(server, 'cat', '/proof').output)
        memory = self._engine_of(server).containers.get(
            engine.container_name(server.id)).attrs['HostConfig']['Memory']
        self.assertEqual(
            self.conn.compute.find_flavor('m1.tiny').ram * 1024 * 1024,
            memory)
        self.assertEqual([], self._left_on(self.first, server, taps))

    def test_migration_of_a_stopped_server_leaves_it_stopped(self):
        server = self._boot_on_host(self.first, 'e2e-hosts-stopped')
        self.conn.compute.stop_server(server)
        self._wait_status(server, 'SHUTOFF')
        self.admin.compute.migrate_server(server)
        server = self._wait_on(server, 'VERIFY_RESIZE', self.added_name)
        self.conn.compute.confirm_server_resize(server)
        server = self._wait_on(server, 'SHUTOFF', self.added_name)
        container = self._engine_of(server).containers.get(
            engine.container_name(server.id))
        self.assertNotEqual('running', container.status)
        self.conn.compute.start_server(server)
        self._wait_status(server, 'ACTIVE')

    def test_live_migration_is_refused_saying_why(self):
        server = self._boot_on_host(self.first, 'e2e-hosts-live')
        for host in (self.added_name, None):
            self.assertRaises(
                openstack.exceptions.BadRequestException,
                self.admin.compute.live_migrate_server, server, host=host,
                block_migration='auto')
        server = self._wait_on(server, 'ACTIVE', self.first)
        self.assertEqual({self.first}, self._in_engines(server))
        # What openstack server event show prints of the refusal.
        refused = [action for action in self.admin.compute.server_actions(
            server) if action.action == 'live-migration']
        self.assertEqual(2, len(refused))
        for action in refused:
            events = self.admin.compute.get_server_action(
                action.request_id, server).events
            self.assertIn(
                ('compute_check_can_live_migrate_destination', 'Error'),
                [(e.event, e.result) for e in events])
            self.assertIn('checkpoint/restore (CRIU)',
                          ' '.join(e.details or '' for e in events))

    def test_evacuation_rebuilds_elsewhere_and_the_return_runs_none_twice(
            self):
        web = [{'name': 'default'}, {'name': demo.WEB_GROUP}]
        evacuated = self._boot_on_host(self.added_name, 'e2e-hosts-evacuated',
                                       security_groups=web)
        fixed = self._addresses(evacuated, 4)
        taps = self._taps(evacuated)
        volume = self._volume('--size', '1')
        self._attach(evacuated, volume)
        written = self._exec(evacuated, 'sh', '-c', 'echo kept > '
                             '/volumes/vdb/proof && sync').exit_code
        self.assertEqual(0, written)
        # The host dies: its nova-compute and engine stop, and Nova is told.
        stopped = aio_base.aio_command('compute', 'stop', self.added_name)
        self.assertEqual(0, stopped.returncode, stopped.stderr)
        self.addCleanup(self._bring_back)
        service = next(self.admin.compute.services(
            binary='nova-compute', host=self.added_name))
        self.admin.compute.update_service_forced_down(service, forced=True)
        self.addCleanup(self.admin.compute.update_service_forced_down,
                        service, forced=False)

        # Since API 2.95 an evacuated server waits stopped for its user.
        self.admin.compute.evacuate_server(evacuated)
        evacuated = self._wait_on(evacuated, 'SHUTOFF', self.first)
        self.conn.compute.start_server(evacuated)
        evacuated = self._wait_on(evacuated, 'ACTIVE', self.first)
        self.assertEqual(fixed, self._addresses(evacuated, 4))
        # Its volume, released by the dead host, is mounted here.
        self.assertEqual(b'kept\n', self._exec(
            evacuated, 'cat', '/volumes/vdb/proof').output)
        bystander = self._boot_on_host(self.first, 'e2e-hosts-bystander',
                                       security_groups=web)
        self._assert_reaches(bystander, fixed[0])

        # It comes back: its nova-compute removes what it ran of the
        # evacuated server, then the operator lets Nova use it again.
        back = self._bring_back()
        self.assertIn('It is forced down', back.stdout)
        self.admin.compute.update_service_forced_down(service, forced=False)
        self.assertEqual({self.first}, self._in_engines(evacuated))
        self.assertEqual([], self._left_on(self.added_name, evacuated, taps))
        self.assertEqual(1, self._rbd_fuse_processes(volume))
        for server in (evacuated, bystander):
            self.assertEqual('ACTIVE', self.conn.compute.get_server(
                server.id).status)
            self.assertEqual('running', self._engine_of(
                server).containers.get(
                    engine.container_name(server.id)).status)
        self._assert_reaches(bystander, fixed[0])

    def _bring_back(self):
        back = aio_base.aio_command('compute', 'add', self.added_name)
        self.assertEqual(0, back.returncode, back.stderr)
        return back

    def test_unknown_and_invalid_names_are_refused(self):
        unknown = aio_base.aio_command('compute', 'remove', 'e2e-no-such-host')
        self.assertEqual(1, unknown.returncode)
        self.assertIn('has no added compute host e2e-no-such-host (it has: '
                      '%s' % self.added_name, unknown.stderr)
        invalid = aio_base.aio_command('compute', 'add', 'Bad_Name')
        self.assertEqual(1, invalid.returncode)
        self.assertIn('"Bad_Name" cannot name a compute host',
                      invalid.stderr)
        self.assertIsNone(hosts.find(self.layout, 'Bad_Name'))
