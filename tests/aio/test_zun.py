"""Zun beside Nova, end to end as the demo user: containers of the
containers service on the same engine, OVN networks and Placement
provider as Nova's servers.

Traffic goes only between containers of the all-in-one's own networks and
the all-in-one's outside world (the namespace aio-outside).
"""

import json
import subprocess
import sys
import time
import uuid

import websocket

from aio import demo
from aio import sample_image
from aio.services import zun
from novadocker import engine
from tests.aio import base as aio_base

GET = """
import json, sys, requests
options = json.loads(sys.argv[2])
if 'cert' in options:
    options['cert'] = tuple(options['cert'])
try:
    print(requests.get(sys.argv[1], timeout=5, **options).status_code)
except requests.exceptions.RequestException as e:
    print(type(e).__name__)
"""


class ZunTestCase(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.image = self.conn.image.find_image(demo.IMAGE_NAME)
        self.private = self.conn.network.find_network(demo.NETWORK_NAME)

    def _engine_container(self, container):
        return self.docker.containers.get('zun-' + container['uuid'])

    def _address(self, container):
        return [a['addr'] for a in container['addresses'][self.private.id]
                if a['version'] == 4][0]

    def _port(self, container, conn=None):
        return (conn or self.conn).network.get_port(
            container['addresses'][self.private.id][0]['port'])

    def test_container_on_private_talks_to_a_server_and_answers_outside(self):
        server = self._boot(self.image, 'e2e-zun-peer',
                            networks=[{'uuid': self.private.id}],
                            security_groups=[{'name': 'default'},
                                             {'name': demo.WEB_GROUP}])
        container = self._run_container('--security-group', 'default',
                              '--security-group', demo.WEB_GROUP)
        self.assertEqual('running', self._engine_container(container).status)
        # Its Neutron port is bound to the compute host's chassis and up.
        port = self._port(container, demo.cloud(self.layout, 'aio-admin'))
        self.assertEqual(self.layout.compute_host, port.binding_host_id)
        self.assertTrue(self._until(lambda: self.conn.network.get_port(
            port.id).status == 'ACTIVE'))

        zun_address = self._address(container)
        server_address = [a['addr'] for a in self.conn.compute.get_server(
            server.id).addresses[demo.NETWORK_NAME] if a['version'] == 4][0]
        nova_side = self._container(server)
        self.assertTrue(self._until(lambda: nova_side.exec_run(
            ['timeout', '3', 'wget', '-qO-', 'http://%s/' % zun_address])
            .output.decode().strip() == aio_base.ZUN_PAGE, 30, 0.5))
        zun_side = self._engine_container(container)
        self.assertEqual(sample_image.SAMPLE_PAGE, zun_side.exec_run(
            ['timeout', '3', 'wget', '-qO-', 'http://%s/' % server_address]
        ).output)

        fip = self.conn.network.create_ip(
            floating_network_id=self.conn.network.find_network(
                demo.PUBLIC_NETWORK).id, port_id=port.id)
        self.addCleanup(self.conn.network.delete_ip, fip,
                        ignore_missing=True)
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(fip.floating_ip_address)
            == (aio_base.ZUN_PAGE + '\n').encode(), 30, 0.5))

    def test_logs_exec_and_an_interactive_shell(self):
        container = self._run_container()
        self.assertIn('started', self._cli('appcontainer', 'logs',
                                           container['uuid']))
        done = demo.openstack_cli(
            self.layout, 'aio', 'appcontainer', 'exec', container['uuid'],
            'sh', '-c', 'echo $((6*7)); exit 3', check=False)
        self.assertEqual((3, '42'), (done.returncode, done.stdout.strip()))

        # What `openstack appcontainer exec --interactive` does: a shell
        # through zun-wsproxy's websocket.
        started = self._zun(
            'POST', '/containers/%s/execute?command=/bin/sh&run=false&'
            'interactive=true' % container['uuid']).json()
        self.assertTrue(started['proxy_url'].startswith(
            'ws://%s:%d/' % (aio_base.aio_layout.HOST, zun.WSPROXY_PORT)))
        self.assertIn(b'\n42\r\n', self._typed(
            started['proxy_url'], b'echo $((6*7))\n', b'\n42\r\n'))

    def _typed(self, url, line, expected):
        """What a websocket of zun-wsproxy's shows once ``line`` is
        typed into it (until ``expected`` is seen, 10 s at most)."""
        shell = websocket.create_connection(url, timeout=5,
                                            subprotocols=['binary'])
        self.addCleanup(shell.close)
        shell.send_binary(line)
        seen = b''
        deadline = time.time() + 10
        while expected not in seen and time.time() < deadline:
            seen += shell.recv()
        return seen

    def test_attach_reaches_the_main_process_through_the_engines_tls(self):
        # (The CLI's run --interactive attaches at once: its API call.)
        container = self._zun('POST', '/containers?run=true', json={
            'name': 'e2e-zun-%s' % uuid.uuid4().hex[:8],
            'image': demo.IMAGE_NAME, 'command': ['/bin/sh'],
            'interactive': True, 'tty': True,
            'nets': [{'network': self.private.id}]}).json()
        self.addCleanup(self._delete_container, container['uuid'])
        self._wait_container(container['uuid'], 'Running')
        url = self._zun('GET', '/containers/%s/attach' %
                        container['uuid']).json()
        self.assertIn(b'\n42\r\n', self._typed(url, b'echo $((6*7))\n',
                                                b'\n42\r\n'))
        # The engine's TCP port serves clients with the all-in-one's
        # certificate only, on the management address only.
        engine = 'https://%s:%d/version' % (aio_base.aio_layout.HOST,
                                            zun.ENGINE_TLS_PORT)
        authority = zun.authority(self.layout)
        self.assertEqual('SSLError', self._get(
            engine, verify=authority.cert_file))
        self.assertEqual('200', self._get(
            engine, verify=authority.cert_file,
            cert=authority.issue('zun-client')))
        self.assertEqual('ConnectionError', self._get(
            'https://127.0.0.1:%d/' % zun.ENGINE_TLS_PORT))

    @staticmethod
    def _get(url, **kwargs):
        """The status of a GET, or the name of the error it raised, from
        a process of its own (this one's ssl is eventlet's)."""
        return subprocess.run([sys.executable, '-c', GET, url,
                               json.dumps(kwargs)], capture_output=True,
                              text=True, timeout=30).stdout.strip()

    def _free_memory_mb(self, admin, provider):
        placement = {'service_type': 'placement'}
        inventory = admin.session.get(
            '/resource_providers/%s/inventories/MEMORY_MB' % provider.id,
            endpoint_filter=placement).json()
        used = admin.session.get(
            '/resource_providers/%s/usages' % provider.id,
            endpoint_filter=placement).json()['usages']
        return inventory['total'] - inventory['reserved'] - used['MEMORY_MB']

    @aio_base.alone('fills the host')
    def test_one_provider_counts_both_and_a_full_host_refuses_either(self):
        admin = demo.cloud(self.layout, 'aio-admin')
        provider = admin.placement.find_resource_provider(
            self.layout.compute_host)
        # Zun takes what the host has left: Nova's scheduler refuses the
        # next server.
        big = self._run_container('--memory', str(
            self._free_memory_mb(admin, provider) - 256))
        allocations = admin.session.get(
            '/allocations/%s' % big['uuid'],
            endpoint_filter={'service_type': 'placement'}).json()
        self.assertEqual([provider.id], list(allocations['allocations']))
        server = self.conn.compute.create_server(
            name='e2e-zun-no-room', image_id=self.image.id, networks='none',
            flavor_id=self.conn.compute.find_flavor('m1.tiny').id)
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ERROR')
        self.assertIn('No valid host', server.fault['message'])
        self._delete(server)
        self._delete_container(big['uuid'])

        # A Nova server takes it: Zun's scheduler refuses the next
        # container.
        flavor = admin.compute.create_flavor(
            name='e2e-zun-%s' % uuid.uuid4().hex[:8], vcpus=1, disk=1,
            ram=self._free_memory_mb(admin, provider) - 256)
        self.addCleanup(admin.compute.delete_flavor, flavor)
        server = self.conn.compute.create_server(
            name='e2e-zun-fills', image_id=self.image.id, networks='none',
            flavor_id=flavor.id)
        self.addCleanup(self._delete, server)
        self._wait_status(server, 'ACTIVE')
        refused = json.loads(self._cli(
            'appcontainer', 'run', '-f', 'json', '--net',
            'network=%s' % self.private.id, demo.IMAGE_NAME))
        self.addCleanup(self._delete_container, refused['uuid'])
        self._wait_container(refused['uuid'], 'Error')
        self.assertIn('not enough hosts',
                      self._show_container(refused['uuid'])['status_reason'])

    def test_each_service_leaves_the_others_containers_alone(self):
        server = self._boot(self.image, 'e2e-zun-neighbour')
        # Its user labels it as the server's container: no proof to Nova.
        container = self._run_container(
            '--label', '%s=%s' % (engine.LABEL_INSTANCE, server.id),
            '--label', '%s=%s' % (engine.LABEL_HOST,
                                  self.layout.compute_host))
        nova_started = self._started_at(server)
        zun_started = self._engine_container(container).attrs['State'][
            'StartedAt']
        # What tools/aio wipe removes it and its network by.
        mark = {engine.LABEL_ZUN_HOST: self.layout.compute_host}
        self.assertLessEqual(mark.items(), self._engine_container(
            container).labels.items())
        self.assertLessEqual(mark.items(), self.docker.networks.get(
            self.private.id).attrs['Labels'].items())

        self._cli('appcontainer', 'stop', container['uuid'])
        self._wait_container(container['uuid'], 'Stopped')
        self._cli('appcontainer', 'start', container['uuid'])
        self._wait_container(container['uuid'], 'Running')
        self.assertEqual(nova_started, self._started_at(server))
        self.assertEqual(['create'], self._actions(server))
        self.conn.compute.stop_server(server)
        self._wait_status(server, 'SHUTOFF')
        self.conn.compute.start_server(server)
        self._wait_status(server, 'ACTIVE')
        self.assertNotEqual(nova_started, self._started_at(server))
        self.assertEqual('running', self._engine_container(container).status)
        # Nova's power actions did not touch Zun's container, nor Zun's
        # Nova's: each restarted only its own.
        restarted = self._engine_container(container).attrs['State'][
            'StartedAt']
        self.assertNotEqual(zun_started, restarted)
        self.conn.compute.reboot_server(server, 'SOFT')
        self._wait_status(server, 'ACTIVE')
        self.assertEqual(restarted, self._engine_container(
            container).attrs['State']['StartedAt'])

        # Deleted: no container, no port, no veth left.
        port = self._port(container)
        self._delete_container(container['uuid'])
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': 'zun-' + container['uuid']}))
        self.assertIsNone(self.conn.network.find_port(port.id))
        self.assertEqual('running', self._container(server).status)

    def test_unknown_image_fails_the_container_naming_it(self):
        created = json.loads(self._cli(
            'appcontainer', 'run', '-f', 'json', '--net',
            'network=%s' % self.private.id, 'e2e-no-such-image'))
        self.addCleanup(self._delete_container, created['uuid'])
        self._wait_container(created['uuid'], 'Error')
        self.assertEqual('Image e2e-no-such-image could not be found.',
                         self._show_container(created['uuid'])['status_reason'])
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': 'zun-' + created['uuid']}))
        self.assertEqual([], list(self.conn.network.ports(
            device_id=created['uuid'])))

    def test_heat_stack_of_a_zun_container_runs_and_goes(self):
        name = 'e2e-zun-stack-%s' % uuid.uuid4().hex[:8]
        stack = self.conn.orchestration.create_stack(name=name, template={
            'heat_template_version': '2021-04-16',
            'resources': {'web': {
                'type': 'OS::Zun::Container',
                'properties': {
                    'image': demo.IMAGE_NAME, 'image_driver': 'glance',
                    'command': ' '.join(aio_base.ZUN_COMMAND[:2]) + " '%s'" %
                    aio_base.ZUN_COMMAND[2],
                    'networks': [{'network': self.private.id}]}}},
            'outputs': {'addresses': {
                'value': {'get_attr': ['web', 'addresses']}}}})
        self.addCleanup(self.conn.orchestration.delete_stack, stack,
                        ignore_missing=True)
        self.assertTrue(self._until(
            lambda: self.conn.orchestration.get_stack(stack.id).status
            in ('CREATE_COMPLETE', 'CREATE_FAILED'), interval=0.5))
        created = self.conn.orchestration.get_stack(stack.id)
        self.assertEqual('CREATE_COMPLETE', created.status,
                         created.status_reason)
        container_id = next(
            r.physical_resource_id
            for r in self.conn.orchestration.resources(created))
        container = self._show_container(container_id)
        self.assertEqual('Running', container['status'])
        self.assertEqual('running',
                         self._engine_container(container).status)
        self.assertIn('started', self._engine_container(
            container).logs().decode())

        self.conn.orchestration.delete_stack(created)
        self.assertTrue(self._until(
            lambda: self._zun('GET', '/containers/%s' % container_id,
                              raise_exc=False).status_code == 404,
            interval=0.5))
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': 'zun-' + container_id}))

    def _named(self, name):
        """The project's Zun containers called ``name``."""
        return [c for c in self._zun('GET', '/containers').json()[
            'containers'] if c['name'] == name]

    def test_privileged_container_is_refused(self):
        # Zun's policy denies it to everybody (nothing a tenant sets makes
        # a container privileged).
        name = 'e2e-zun-refused-%s' % uuid.uuid4().hex[:8]
        stderr = self._cli_fails('appcontainer', 'run', '--name', name,
                                 '--privileged', '--net',
                                 'network=%s' % self.private.id,
                                 demo.IMAGE_NAME)
        self.assertIn('403', stderr)
        self.assertEqual([], self._named(name))

    def test_network_of_another_project_is_refused_naming_it(self):
        admin = demo.cloud(self.layout, 'aio-admin')
        other = admin.network.create_network(
            name='e2e-zun-%s' % uuid.uuid4().hex[:8])
        self.addCleanup(admin.network.delete_network, other)
        name = 'e2e-zun-refused-%s' % uuid.uuid4().hex[:8]
        stderr = self._cli_fails('appcontainer', 'run', '--name', name,
                                 '--net', 'network=%s' % other.id,
                                 demo.IMAGE_NAME)
        self.assertIn('Neutron network %s could not be found' % other.id,
                      stderr)
        self.assertEqual([], self._named(name))

    @aio_base.alone("sets the demo project's container quota to what it "
                    "uses")
    def test_container_beyond_the_quota_is_refused(self):
        project = self.conn.current_project_id
        running = len(self._zun('GET', '/containers').json()['containers'])

        def quota(*args):
            return demo.openstack_cli(self.layout, 'aio-admin',
                                      'appcontainer', 'quota', *args)
        quota('update', '--containers', str(running), project)
        self.addCleanup(quota, 'delete', project)
        stderr = self._cli_fails('appcontainer', 'run', '--net',
                                 'network=%s' % self.private.id,
                                 demo.IMAGE_NAME)
        self.assertIn('Quota exceeded', stderr)
        self.assertEqual(running, len(self._zun(
            'GET', '/containers').json()['containers']))
