"""Neutron ports in containers, end to end against the running all-in-one.

Traffic goes only between containers of the all-in-one's own networks and
the all-in-one's outside world (the namespace aio-outside).
"""

import ipaddress
import json
import os
import re
import subprocess
import time
import uuid

import fixtures
import openstack

from aio import demo
from aio import layout as aio_layout
from aio import processes
from aio import sample_image
from aio import services
from aio.services import keystone
from aio.services import openvswitch
from aio.services import ovn
from novadocker import engine
from tests.aio import base as aio_base

# How long a change in the switch (a plugged port, a security group rule)
# may take to reach the data path.
CONVERGE = 30


class NetworkTestCase(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.image = self.conn.image.find_image(demo.IMAGE_NAME)
        self.private = self.conn.network.find_network(demo.NETWORK_NAME)

    def _boot_on(self, name, network=None, conn=None, image=None,
                 **kwargs):
        network = network or self.private
        return self._boot(image or self.image, name,
                          networks=[{'uuid': network.id}], conn=conn,
                          **kwargs)

    def _api_addresses(self, server, conn=None):
        server = (conn or self.conn).compute.get_server(server.id)
        return {(a['addr'], a['OS-EXT-IPS-MAC:mac_addr'])
                for addrs in server.addresses.values() for a in addrs}

    def _container_addresses(self, server):
        """(address, MAC) of each global address inside the container."""
        out = self._exec(server, 'ip', '-o', 'link').output.decode()
        macs = dict(re.findall(r'^\d+: (\w+)[@:].*link/ether (\S+)', out,
                               re.M))
        out = self._exec(server, 'ip', '-o', 'addr').output.decode()
        # .get: while ports are being plugged, a link can be renamed
        # between the two commands.
        return {(addr, macs.get(ifname)) for ifname, addr in re.findall(
            r'^\d+: (\w+)\s+inet6? (\S+)/\d+ scope global', out, re.M)}

    def _exec(self, server, *argv):
        return self._container(server).exec_run(list(argv))

    def _fetch(self, client, address, timeout=3):
        """Exit code of an HTTP GET from ``client`` to the server's httpd."""
        host = '[%s]' % address if ':' in address else address
        # busybox 1.35's wget -T crashes (exit 139): time it out instead.
        return self._exec(client, 'timeout', str(timeout), 'wget', '-q',
                          '-O', '/dev/null', 'http://%s/' % host).exit_code

    def _assert_reaches(self, client, address, expected=True, when=''):
        """Until ``client`` reaches ``address`` on port 80 (or no longer
        does, when ``expected`` is False)."""
        if not self._until(
                lambda: (self._fetch(client, address) == 0) == expected,
                CONVERGE, 0.5):
            self.fail('%s %s %s on port 80 after %d s%s' % (
                client.name, 'still cannot reach' if expected
                else 'still reaches', address, CONVERGE, when))

    def _fixed_ips(self, server, version, conn=None):
        return [addr for addr, _ in self._api_addresses(server, conn)
                if ipaddress.ip_address(addr).version == version]

    def _assert_serves_both_families(self, client, server, when=''):
        for version in (4, 6):
            for address in self._fixed_ips(server, version):
                self._assert_reaches(client, address, when=when)

    def _wait_addresses(self, server, when):
        """Until the container has the addresses the API shows."""
        if not self._until(lambda: self._api_addresses(
                server) == self._container_addresses(server), CONVERGE):
            self.assertEqual(self._api_addresses(server),
                             self._container_addresses(server), when)

    def _host_links(self):
        out = subprocess.run(['ip', '-o', 'link'], capture_output=True,
                             text=True, check=True).stdout
        return set(re.findall(r'^\d+: ([^:@]+)', out, re.M))

    def _ovs_ports(self):
        return set(openvswitch.vsctl(self.layout, 'list-ports',
                                     openvswitch.INTEGRATION_BRIDGE).split())

    def _ports(self, server):
        return list(self.conn.network.ports(device_id=server.id))

    def test_two_servers_talk_over_tcp_v4_and_v6(self):
        server = self._boot_on('e2e-net-server')
        client = self._boot_on('e2e-net-client')
        for each in (server, client):
            self.assertEqual(self._api_addresses(each),
                             self._container_addresses(each))
            versions = {ipaddress.ip_address(addr).version
                        for addr, _ in self._api_addresses(each)}
            self.assertEqual({4, 6}, versions)
        self._assert_serves_both_families(client, server)
        mtu = self.private.mtu
        out = self._exec(server, 'cat', '/sys/class/net/eth0/mtu').output
        self.assertEqual(mtu, int(out))

    def test_nic_auto_gets_a_new_project_a_network(self):
        # server create --nic auto in a project without networks (tempest's
        # AutoAllocateNetworkTest): Neutron makes the project a network
        # from the default subnet pool, routed to the default external
        # network.
        admin = demo.cloud(self.layout, 'aio-admin')
        name = 'e2e-auto-%s' % uuid.uuid4().hex[:8]
        project = admin.identity.create_project(name=name,
                                                domain_id='default')
        self.addCleanup(admin.identity.delete_project, project)
        user, password = self._new_user(project, 'member')
        self.addCleanup(lambda: [
            admin.network.delete_security_group(group) for group in
            admin.network.security_groups(project_id=project.id)])
        conn = openstack.connection.Connection(
            auth_url=keystone.URL, username=user, password=password,
            project_id=project.id, user_domain_id='default',
            region_name=aio_layout.REGION, identity_api_version='3')
        self.addCleanup(conn.network.delete_auto_allocated_topology,
                        project.id, ignore_missing=True)

        server = self._boot(self.image, 'e2e-net-auto', networks='auto',
                            conn=conn)
        address, = self._fixed_ips(server, 4, conn)
        self.assertIn(ipaddress.ip_address(address),
                      ipaddress.ip_network(demo.DEFAULT_POOL[1]))
        self.assertTrue(self._until(lambda: address in {
            addr for addr, _ in self._container_addresses(server)},
            CONVERGE), 'the container has no %s' % address)
        topology = conn.network.get_auto_allocated_topology(project.id)
        self.assertEqual(
            [topology.id],
            [p.network_id for p in conn.network.ports(device_id=server.id)])

    def test_network_named_beyond_ascii(self):
        name = '网络测试'
        created = json.loads(demo.openstack_cli(
            self.layout, 'aio', 'network', 'create', '-f', 'json',
            name).stdout)
        self.addCleanup(self.conn.network.delete_network, created['id'])
        self.assertEqual(name, self.conn.network.get_network(
            created['id']).name)

    def test_network_survives_power_actions(self):
        server = self._boot_on('e2e-net-survivor')
        client = self._boot_on('e2e-net-survivor-client')
        addresses = self._api_addresses(server)
        compute = self.conn.compute
        actions = [
            ('soft reboot', lambda: compute.reboot_server(server, 'SOFT'),
             'ACTIVE'),
            ('hard reboot', lambda: compute.reboot_server(server, 'HARD'),
             'ACTIVE'),
            ('stop', lambda: compute.stop_server(server), 'SHUTOFF'),
            ('start', lambda: compute.start_server(server), 'ACTIVE'),
            ('pause', lambda: compute.pause_server(server), 'PAUSED'),
            ('unpause', lambda: compute.unpause_server(server), 'ACTIVE'),
            ('suspend', lambda: compute.suspend_server(server), 'SUSPENDED'),
            ('resume', lambda: compute.resume_server(server), 'ACTIVE'),
        ]
        veth = self._host_veth(server)
        for name, action, status in actions:
            started = self._started_at(server)
            action()
            if name.endswith('reboot'):
                self._wait_restarted(server, started)
            self._wait_status(server, status)
            # The ports stay plugged in the sandbox: no re-plug.
            self.assertEqual(veth, self._host_veth(server),
                             'host-side veth after %s' % name)
            if status == 'ACTIVE':
                self.assertEqual(addresses, self._container_addresses(server),
                                 'addresses after %s' % name)
                self._assert_serves_both_families(client, server,
                                                  ' after ' + name)

    def _host_veth(self, server):
        """(name, interface index) of the host end of the server's port."""
        tap = 'tap' + self._ports(server)[0].id[:11]
        with open('/sys/class/net/%s/ifindex' % tap) as f:
            return tap, int(f.read())

    @aio_base.alone('stops nova-compute')
    def test_ports_come_back_when_compute_restarts_after_host_reboot(self):
        # As after a host reboot: nova-compute is down while the sandbox's
        # and the workload's processes (and so the namespace and its
        # veths) go away; when nova-compute starts,
        # resume_guests_state_on_host_boot starts them again.
        server = self._boot_on('e2e-net-host-reboot')
        client = self._boot_on('e2e-net-host-reboot-client')
        compute = services.process(self.layout, 'nova-compute')
        processes.stop(self.layout, compute)
        try:
            self._container(server).kill()
            self._sandbox(server).kill()
        finally:
            processes.start(self.layout, compute)

        def restarted_by_compute():
            processes.check_alive(self.layout, compute.name)
            return self._container(server).status == 'running'
        if not self._until(restarted_by_compute, interval=0.5):
            self.fail('nova-compute did not restart %s' % server.name)
        self._wait_addresses(server, 'after nova-compute started it')
        self._assert_serves_both_families(client, server)

    @aio_base.alone('stops nova-compute')
    def test_compute_start_replugs_a_running_containers_vanished_veth(self):
        server = self._boot_on('e2e-net-vanished-veth')
        client = self._boot_on('e2e-net-vanished-veth-client')
        tap = 'tap' + self._ports(server)[0].id[:11]
        compute = services.process(self.layout, 'nova-compute')
        processes.stop(self.layout, compute)
        try:
            subprocess.run(['ip', 'link', 'delete', tap], check=True)
            self.assertEqual([], self._container_links(server))
            self.assertEqual('running', self._container(server).status)
        finally:
            processes.start(self.layout, compute)
        self._wait_addresses(server, 'after nova-compute started')
        self.assertIn(tap, self._host_links())
        self._assert_serves_both_families(client, server)

    def test_security_group_rule_applies_to_running_server(self):
        group = self.conn.network.create_security_group(name='e2e-web')
        self.addCleanup(self.conn.network.delete_security_group, group)
        server = self._boot_on('e2e-net-guarded',
                               security_groups=[{'name': group.name}])
        client = self._boot_on('e2e-net-guard-client')
        address = self._fixed_ips(server, 4)[0]
        self._assert_reaches(client, address, expected=False)
        rule = self.conn.network.create_security_group_rule(
            security_group_id=group.id, direction='ingress',
            ethertype='IPv4', protocol='tcp', port_range_min=80,
            port_range_max=80, remote_ip_prefix='0.0.0.0/0')
        self._assert_reaches(client, address)
        self.conn.network.delete_security_group_rule(rule)
        self._assert_reaches(client, address, expected=False)

    def test_interface_attach_and_detach_on_running_server(self):
        network = self.conn.network.create_network(name='e2e-net-second')
        self.addCleanup(self.conn.network.delete_network, network)
        self.conn.network.create_subnet(network_id=network.id, ip_version=4,
                                        cidr='10.2.0.0/24')
        server = self._boot_on('e2e-net-hotplug')
        client = self._boot_on('e2e-net-hotplug-client', network=network)
        port = self.conn.network.create_port(network_id=network.id)
        self.addCleanup(self.conn.network.delete_port, port,
                        ignore_missing=True)
        attachment = self.conn.compute.create_server_interface(
            server, port_id=port.id)
        self._wait_interfaces(server, 2)
        added = {(ip['ip_address'], port.mac_address)
                 for ip in port.fixed_ips}
        self.assertTrue(added <= self._container_addresses(server))
        self._assert_reaches(client, port.fixed_ips[0]['ip_address'])

        self.conn.compute.delete_server_interface(attachment, server)
        self._wait_interfaces(server, 1)
        self.assertFalse(added & self._container_addresses(server))
        self.assertNotIn('tap' + port.id[:11], self._host_links())
        self.assertNotIn('tap' + port.id[:11], self._ovs_ports())
        self._assert_reaches(client, port.fixed_ips[0]['ip_address'],
                             expected=False)

    def _wait_interfaces(self, server, count):
        if not self._until(
                lambda: len(list(self.conn.compute.server_interfaces(
                    server))) == count
                and len(self._container_links(server)) == count,
                interval=0.5):
            self.fail('%s does not have %d interfaces' % (
                server.name, count))

    def _container_links(self, server):
        out = self._exec(server, 'ip', '-o', 'link').output.decode()
        return re.findall(r'^\d+: (eth\d+)', out, re.M)

    def test_delete_leaves_no_veth_ovs_port_or_neutron_port(self):
        server = self._boot_on('e2e-net-deleted')
        ports = self._ports(server)
        self.assertEqual(1, len(ports))
        tap = 'tap' + ports[0].id[:11]
        self.assertIn(tap, self._host_links())
        self.assertIn(tap, self._ovs_ports())
        self._delete(server)
        self.assertNotIn(tap, self._host_links())
        self.assertNotIn(tap, self._ovs_ports())
        self.assertEqual([], self._ports(server))

    def test_failed_spawn_leaves_no_veth_or_ovs_port(self):
        image, _ = self._upload_image('e2e-exits', ['/bin/false'])
        port = self.conn.network.create_port(network_id=self.private.id)
        self.addCleanup(self.conn.network.delete_port, port,
                        ignore_missing=True)
        server = self.conn.compute.create_server(
            name='e2e-net-failed', image_id=image.id,
            networks=[{'port': port.id}],
            flavor_id=self.conn.compute.find_flavor('m1.tiny').id)
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ERROR')
        self.assertIn('exited at once', server.fault['message'])
        tap = 'tap' + port.id[:11]
        self.assertNotIn(tap, self._host_links())
        self.assertNotIn(tap, self._ovs_ports())

    @aio_base.alone('stops ovn-controller')
    def test_port_never_plugged_fails_the_boot_and_leaves_nothing(self):
        # With ovn-controller down, no one installs the port, and the
        # driver gives up after vif_plugging_timeout.
        agent = services.process(self.layout, 'ovn-controller')
        processes.stop(self.layout, agent)
        self.addCleanup(self._restart_agent, agent)
        port = self.conn.network.create_port(network_id=self.private.id)
        self.addCleanup(self.conn.network.delete_port, port,
                        ignore_missing=True)
        server = self.conn.compute.create_server(
            name='e2e-net-never-plugged', image_id=self.image.id,
            networks=[{'port': port.id}],
            flavor_id=self.conn.compute.find_flavor('m1.tiny').id)
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ERROR')
        self.assertIn('ovn-controller did not install the ports in 30 s '
                      '(vif_plugging_timeout); check it: openstack network '
                      'agent list --host %s. Ports: %s' % (
                          self.layout.compute_host, port.id),
                      server.fault['message'])
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': engine.container_name(server.id)}))
        tap = 'tap' + port.id[:11]
        self.assertNotIn(tap, self._host_links())
        self.assertNotIn(tap, self._ovs_ports())

    def _restart_agent(self, agent):
        """Starts the agent and waits until it is ready."""
        processes.start(self.layout, agent)
        processes.wait(self.layout, agent)

    def test_projects_on_their_own_networks_are_isolated(self):
        # The admin project's subnet overlaps the demo one and its server
        # lets anyone reach port 80: only the networks' separation keeps
        # it out of reach.
        admin = demo.cloud(self.layout, 'aio-admin')
        network = admin.network.create_network(name='e2e-admin-net')
        self.addCleanup(admin.network.delete_network, network)
        admin.network.create_subnet(
            network_id=network.id, ip_version=4, cidr='10.0.0.0/24',
            allocation_pools=[{'start': '10.0.0.200', 'end': '10.0.0.250'}])
        open_web = admin.network.create_security_group(name='e2e-open-web')
        self.addCleanup(admin.network.delete_security_group, open_web)
        admin.network.create_security_group_rule(
            security_group_id=open_web.id, direction='ingress',
            ethertype='IPv4', protocol='tcp', port_range_min=80,
            port_range_max=80, remote_ip_prefix='0.0.0.0/0')
        outsider = self._boot_on('e2e-net-outsider', network=network,
                                 conn=admin,
                                 security_groups=[{'name': open_web.name}])
        outsider_ip = self._fixed_ips(outsider, 4, admin)[0]
        insider = self._boot_on('e2e-net-insider', network=network,
                                conn=admin)
        self._assert_reaches(insider, outsider_ip)
        neighbour = self._boot_on('e2e-net-neighbour')
        client = self._boot_on('e2e-net-isolated-client')
        self._assert_reaches(client, self._fixed_ips(neighbour, 4)[0])
        self.assertNotEqual(0, self._fetch(client, outsider_ip))

    # The outside world

    def _web_server(self, name):
        return self._boot_on(name, security_groups=[
            {'name': 'default'}, {'name': demo.WEB_GROUP}])

    def test_floating_ip_serves_the_outside_until_removed(self):
        server = self._web_server('e2e-net-floating')
        fip = self._floating_ip(server)
        address = fip.floating_ip_address
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is not None,
            CONVERGE, 0.5), 'no answer from %s in aio-outside' % address)
        self.assertEqual(sample_image.SAMPLE_PAGE,
                         self._fetch_from_outside(address))
        self.conn.network.delete_ip(fip)
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is None,
            CONVERGE, 0.5), '%s still answers after its removal' % address)

    def test_server_reaches_the_outside_through_the_routers_snat(self):
        # An httpd in aio-outside tells each client the address it came
        # from: the router's gateway address, not the server's.
        root = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(root, 'cgi-bin'))
        script = os.path.join(root, 'cgi-bin', 'from')
        with open(script, 'w') as f:
            f.write('#!/bin/busybox sh\n'
                    'printf "Content-Type: text/plain\\r\\n\\r\\n"\n'
                    'echo "$REMOTE_ADDR"\n')
        os.chmod(script, 0o755)
        httpd = subprocess.Popen(
            ['ip', 'netns', 'exec', ovn.OUTSIDE_NAMESPACE, 'busybox',
             'httpd', '-f', '-p', '%s:8080' % ovn.OUTSIDE_ADDRESS, '-h',
             root])
        self.addCleanup(httpd.wait)
        self.addCleanup(httpd.terminate)
        server = self._boot_on('e2e-net-snat')
        url = 'http://%s:8080/cgi-bin/from' % ovn.OUTSIDE_ADDRESS
        router = self.conn.network.find_router(demo.ROUTER_NAME)
        gateway = router.external_gateway_info[
            'external_fixed_ips'][0]['ip_address']

        def seen_from():
            done = self._exec(server, 'timeout', '3', 'wget', '-q', '-O-',
                              url)
            return done.output.decode().strip() if done.exit_code == 0 \
                else None
        self.assertTrue(self._until(lambda: seen_from() is not None,
                                    CONVERGE, 0.5),
                        '%s cannot reach %s' % (server.name, url))
        self.assertEqual(gateway, seen_from())

    def test_server_binding_its_fixed_ip_at_start_serves_at_once(self):
        # The command exits unless eth0 has its address when it starts.
        image, _ = self._upload_image('e2e-binds-fixed-ip', [
            '/bin/sh', '-c',
            "trap 'exit 0' TERM; "
            "set -- $(ip -o -4 addr show dev eth0); "
            "[ -n \"$4\" ] || { echo no address; exit 1; }; "
            "echo bound > /tmp/index.html; "
            "httpd -f -p ${4%/*}:80 -h /tmp & wait"])
        server = self._boot(image, 'e2e-net-binds-fixed-ip',
                            networks=[{'uuid': self.private.id}])
        client = self._boot_on('e2e-net-binds-client')
        address = self._fixed_ips(server, 4)[0]
        self.assertEqual(0, self._fetch(client, address))
        self.assertEqual('running', self._container(server).status)

    def test_first_packet_of_a_starting_server_reaches_another(self):
        # Its command fetches a page once, at once: the workload starts
        # when its port is wired (ovn-installed), not before.
        demo_server = self.conn.compute.get_server(
            self.conn.compute.find_server(demo.SERVER_NAME))
        address = next(a['addr'] for a in demo_server.addresses[
            demo.NETWORK_NAME] if a['OS-EXT-IPS:type'] == 'fixed' and
            a['version'] == 4)
        image, _ = self._upload_image('e2e-fetches-at-start', [
            '/bin/sh', '-c',
            "trap 'exit 0' TERM; "
            "timeout 3 wget -qO /tmp/page http://%s/ 2>/tmp/error && "
            "echo fetched > /tmp/result || echo failed: $(cat /tmp/error) "
            "> /tmp/result; "
            "sleep 600 & wait" % address])
        server = self._boot_on('e2e-net-fetches-at-start', image=image)
        self.assertTrue(self._until(lambda: self._container(server).exec_run(
            ['cat', '/tmp/result']).exit_code == 0, 10, 0.2))
        self.assertEqual(b'fetched\n', self._container(server).exec_run(
            ['cat', '/tmp/result']).output)

    def test_neutrons_plugged_event_is_expected_though_not_waited_for(self):
        # The workload starts on ovn-installed; Neutron's network-vif-plugged
        # still comes, and nova-compute warns of an event no one expected.
        # Neutron may send it more than once: the first is the expected one.
        server = self._boot_on('e2e-net-plugged-event')
        port = self._ports(server)[0].id

        def count(service, text):
            with open(self.layout.log(service)) as log:
                return log.read().count(text)

        def sent():
            return count('nova-api', 'Creating event network-vif-plugged:%s '
                         'for instance %s' % (port, server.id))

        def unexpected():
            return count('nova-compute', 'Received unexpected event '
                         'network-vif-plugged-%s' % port)
        self.assertTrue(self._until(lambda: sent() >= 1, CONVERGE),
                        'Neutron sent no network-vif-plugged')
        self.assertTrue(self._until(lambda: unexpected() >= sent() - 1, 10))
        time.sleep(2)   # what nova-api has passed on reaches nova-compute
        self.assertEqual(sent() - 1, unexpected())

    def test_host_namespace_has_no_address_or_route_on_public(self):
        public = ipaddress.ip_network(ovn.EXTERNAL_CIDR)
        addresses = json.loads(subprocess.run(
            ['ip', '-j', 'address'], check=True, capture_output=True,
            text=True).stdout)
        for link in addresses:
            for info in link.get('addr_info', []):
                self.assertNotIn(ipaddress.ip_address(info['local']), public,
                                 link['ifname'])
        routes = subprocess.run(['ip', '-4', 'route', 'show', 'table', 'all',
                                 'to', 'match', ovn.OUTSIDE_ADDRESS],
                                check=True, capture_output=True,
                                text=True).stdout
        self.assertNotIn(ovn.EXTERNAL_CIDR, routes)
        self.assertNotIn(ovn.OUTSIDE_ADDRESS, routes)

    def test_network_agents_are_ovns_only(self):
        agents = json.loads(demo.openstack_cli(
            self.layout, 'aio-admin', 'network', 'agent', 'list', '-f',
            'json').stdout)
        self.assertEqual(
            {('OVN Controller Gateway agent', 'ovn-controller',
              self.layout.compute_host)},
            {(a['Agent Type'], a['Binary'], a['Host']) for a in agents})
