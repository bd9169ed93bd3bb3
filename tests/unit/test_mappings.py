"""The driver's pure mappings, as tables: no engine, no Nova services."""

import os_vif
from oslo_utils.fixture import uuidsentinel as uuids
import testtools

from nova.compute import power_state
from nova import exception
from nova.network import model as network_model
from nova import objects
from nova.tests.unit import fake_network_cache_model
from nova.virt import event as virtevent

from novadocker import container
from novadocker import diagnostics
from novadocker import engine
from novadocker import flavor
from novadocker import host
from novadocker import image as image_mod
from novadocker import lifecycle
from novadocker import metadata
from novadocker import sandbox
from novadocker import vif
from novadocker import volumes


class _Container(object):
    def __init__(self, **state):
        self.attrs = {'State': state}


class PowerStateTestCase(testtools.TestCase):

    def test_engine_states(self):
        table = [
            ({'Status': 'running'}, power_state.RUNNING),
            ({'Status': 'restarting'}, power_state.RUNNING),
            ({'Status': 'paused', 'Paused': True}, power_state.PAUSED),
            ({'Status': 'created'}, power_state.SHUTDOWN),
            ({'Status': 'exited', 'ExitCode': 0}, power_state.SHUTDOWN),
            ({'Status': 'exited', 'ExitCode': 137}, power_state.SHUTDOWN),
            ({'Status': 'exited', 'ExitCode': 143}, power_state.SHUTDOWN),
            ({'Status': 'exited', 'ExitCode': 1}, power_state.SHUTDOWN),
            ({'Status': 'exited', 'ExitCode': 139}, power_state.SHUTDOWN),
            ({'Status': 'exited', 'ExitCode': 137, 'OOMKilled': True},
             power_state.SHUTDOWN),
            ({'Status': 'dead'}, power_state.CRASHED),
            ({'Status': 'removing'}, power_state.NOSTATE),
        ]
        for state, expected in table:
            self.assertEqual(expected,
                             container.power_state_of(_Container(**state)),
                             state)


class LifecycleEventTestCase(testtools.TestCase):

    def test_engine_events(self):
        table = [
            ('start', virtevent.EVENT_LIFECYCLE_STARTED),
            ('die', virtevent.EVENT_LIFECYCLE_STOPPED),
            ('pause', virtevent.EVENT_LIFECYCLE_PAUSED),
            ('unpause', virtevent.EVENT_LIFECYCLE_RESUMED),
            ('create', None),
            ('kill', None),
            ('oom', None),
            ('stop', None),
            ('destroy', None),
            ('exec_start: sh', None),
            ('health_status: healthy', None),
        ]
        for action, expected in table:
            event = lifecycle.lifecycle_event({
                'Action': action, 'timeNano': 1796154370123456789,
                'Actor': {'Attributes': {
                    engine.LABEL_INSTANCE: uuids.vm,
                    'name': engine.container_name(uuids.vm)}}})
            if expected is None:
                self.assertIsNone(event, action)
                continue
            self.assertEqual((uuids.vm, expected),
                             (event.get_instance_uuid(),
                              event.get_transition()), action)
            self.assertAlmostEqual(1796154370.123, event.get_timestamp(),
                                   places=3)


def _subnet(cidr, ips=(), gateway=None, dns=(), routes=(), dhcp_server=None):
    subnet = network_model.Subnet(
        cidr=cidr, ips=[network_model.FixedIP(address=a) for a in ips],
        gateway=gateway and network_model.IP(address=gateway, type='gateway'),
        dns=[network_model.IP(address=a, type='dns') for a in dns],
        routes=[network_model.Route(
            cidr=dest, gateway=network_model.IP(address=via))
            for dest, via in routes])
    if dhcp_server:
        subnet['meta']['dhcp_server'] = dhcp_server
    return subnet


def _vif(*subnets, port='port-1', mtu=None):
    network = network_model.Network(id='net', subnets=list(subnets))
    if mtu:
        network['meta']['mtu'] = mtu
    return network_model.VIF(id=port, address='fa:16:3e:00:00:01',
                             network=network, type='ovs')


class PortMappingTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # As nova-compute does at its start.
        os_vif.objects.register_all()

    def test_routes_of_subnets_with_an_address(self):
        port = _vif(
            _subnet('10.0.0.0/24', ['10.0.0.5'], '10.0.0.1',
                    routes=[('192.168.0.0/16', '10.0.0.254')]),
            _subnet('fd00::/64', ['fd00::5'], 'fd00::1'),
            _subnet('10.9.0.0/24', [], '10.9.0.1'))
        self.assertEqual([('0.0.0.0/0', '10.0.0.1'),
                          ('192.168.0.0/16', '10.0.0.254'),
                          ('::/0', 'fd00::1')], vif.routes(port))
        self.assertEqual([('10.0.0.5', 24), ('fd00::5', 64)],
                         vif.addresses(port))

    def test_subnet_without_gateway_has_no_default_route(self):
        self.assertEqual([], vif.routes(_vif(
            _subnet('10.0.0.0/24', ['10.0.0.5']))))

    def test_dns_servers_fall_back_to_the_dhcp_server(self):
        network_info = [
            _vif(_subnet('10.0.0.0/24', ['10.0.0.5'], dns=['10.0.0.53']),
                 _subnet('10.1.0.0/24', ['10.1.0.5'],
                         dhcp_server='10.1.0.2')),
            _vif(_subnet('10.2.0.0/24', ['10.2.0.5'], dns=['10.0.0.53']),
                 port='port-2'),
        ]
        self.assertEqual(['10.0.0.53', '10.1.0.2'],
                         sandbox.dns_servers(network_info))

    def test_mtu_defaults_to_ethernet(self):
        self.assertEqual(1450, vif.mtu(_vif(mtu=1450)))
        self.assertEqual(1500, vif.mtu(_vif()))

    def test_only_ports_not_yet_active_are_waited_for(self):
        active, pending = _vif(port='a'), _vif(port='b')
        active['active'], pending['active'] = True, False
        self.assertEqual([('network-vif-plugged', 'b')],
                         sandbox.neutron_events([active, pending]))

    def test_ports_that_can_never_be_plugged(self):
        hybrid = fake_network_cache_model.new_vif({
            'type': 'ovs', 'details': {'ovs_hybrid_plug': True,
                                       'port_filter': True}})
        error = self.assertRaises(vif.HybridPlugPort, sandbox.check_pluggable,
                                  [hybrid])
        self.assertIn('firewall_driver = openvswitch', str(error))
        self.assertIn('iptables_hybrid', str(error))
        bound_elsewhere = fake_network_cache_model.new_vif(
            {'type': 'binding_failed'})
        self.assertRaises(vif.UnsupportedVIFType, sandbox.check_pluggable,
                          [bound_elsewhere])


class PluggingTimeoutTestCase(testtools.TestCase):

    def test_fault_names_ports_timeout_host_and_what_to_check(self):
        instance = objects.Instance(uuid=uuids.instance)
        events = [('network-vif-plugged', 'port-1'),
                  ('network-vif-plugged', 'port-2')]
        error = sandbox.plugging_timed_out(instance, events, 300, 'compute-1')
        # Nova records a BuildAbortException's message as the fault.
        self.assertIsInstance(error, exception.BuildAbortException)
        self.assertEqual(
            'Build of instance %s aborted: Neutron did not report the ports '
            'plugged in 300 s (vif_plugging_timeout); check the agent: '
            'openstack network agent list --host compute-1. Ports: port-1, '
            'port-2' % uuids.instance, str(error))


class FaultLengthTestCase(testtools.TestCase):
    """Nova keeps the first 255 characters of a fault's message: the cause
    and what to do must be in them."""

    def test_port_faults_fit(self):
        instance = objects.Instance(uuid=uuids.instance)
        host = 'compute-%s.example.org' % ('x' * 12)
        timed_out = sandbox.plugging_timed_out(
            instance, [('network-vif-plugged', uuids.port)], 300,
            host).format_message()
        self.assertIn('openstack network agent list --host %s.' % host,
                      timed_out[:255])
        hybrid = exception.BuildAbortException(
            instance_uuid=instance.uuid,
            reason=vif.HybridPlugPort(port=uuids.port).format_message(),
        ).format_message()
        self.assertLessEqual(len(hybrid), 255, hybrid)


class NamesTestCase(testtools.TestCase):
    """The names users see in the engine, as the README gives them."""

    def test_containers_and_images(self):
        self.assertEqual('nova-%s' % uuids.vm,
                         engine.container_name(uuids.vm))
        self.assertEqual('nova-%s-sandbox' % uuids.vm,
                         engine.sandbox_name(uuids.vm))
        self.assertEqual('glance:%s' % uuids.image,
                         image_mod.reference(uuids.image))


class HostnameTestCase(testtools.TestCase):

    def test_hostname_and_hosts_entries(self):
        fqdn = 'web-1.' + 'a' * 70 + '.example.org'
        long_label = 'b' * 80
        table = [
            # instance hostname, ports' addresses -> kernel hostname, hosts
            ('web-1', [], 'web-1', {'web-1': '127.0.1.1'}),
            ('web-1', ['10.0.0.5'], 'web-1', {'web-1': '10.0.0.5'}),
            (None, [], None, {}),
            (fqdn, [], 'web-1', {fqdn + ' web-1': '127.0.1.1'}),
            (fqdn, ['fd00::5', '10.0.0.5'], 'web-1',
             {fqdn + ' web-1': '10.0.0.5'}),
            (fqdn, ['fd00::5'], 'web-1', {fqdn + ' web-1': 'fd00::5'}),
            (long_label, [], 'b' * 63, {long_label + ' ' + 'b' * 63:
                                        '127.0.1.1'}),
            # The API's FQDN pattern also accepts a leading dot.
            ('.example.org', [], None, {'.example.org': '127.0.1.1'}),
        ]
        for name, addresses, kernel_name, entries in table:
            self.assertEqual(kernel_name, container.hostname(name), name)
            self.assertEqual(entries, container.hosts_entries(name,
                                                              addresses))


class MetadataTestCase(testtools.TestCase):

    def test_reserved_keys(self):
        table = [
            ({}, {}),
            ({'GREETING': 'hi'}, {}),
            ({'docker:cmd': '["sh", "-c", "echo a b"]'},
             {'command': ['sh', '-c', 'echo a b']}),
            ({'docker:cmd': 'httpd -f -p "8080"'},
             {'command': ['httpd', '-f', '-p', '8080']}),
            ({'docker:user': 'nobody'}, {'user': 'nobody'}),
            ({'docker:user': '1000:1000'}, {'user': '1000:1000'}),
            ({'docker:tty': 'true', 'docker:stdin': 'yes',
              'docker:read_only': '0'},
             {'tty': True, 'stdin_open': True, 'read_only': False}),
        ]
        for given, options in table:
            self.assertEqual(options, metadata.create_options(given), given)

    def test_environment_is_the_other_keys(self):
        self.assertEqual({'GREETING': 'hi'}, metadata.environment(
            {'GREETING': 'hi', 'docker:cmd': 'sleep 1'}))

    def test_bad_keys_and_values_are_named(self):
        table = [
            ({'docker:command': 'x'}, 'docker:command is not one of '
             'docker:cmd, docker:read_only, docker:stdin, docker:tty, '
             'docker:user, docker:volumes'),
            ({'docker:cmd': '["sh", 1]'}, 'a JSON list of strings'),
            ({'docker:cmd': '[sh'}, 'a JSON list of strings'),
            ({'docker:cmd': '   '}, 'is not a command'),
            ({'docker:cmd': 'echo "open'}, 'is not a command'),
            ({'docker:tty': 'maybe'}, "docker:tty='maybe' is not true or "
             "false"),
            ({'docker:user': 'root; rm -rf /'}, 'is not a user, uid'),
            ({'docker:user': ''}, 'is not a user, uid'),
            ({'docker:volumes': 'data'}, 'is not an absolute directory'),
            ({'docker:volumes': '/'}, 'is not an absolute directory'),
            ({'docker:volumes': '/data/../etc'}, 'without . or ..'),
            ({'docker:volumes': '/proc/x'}, '/proc, /sys or /dev'),
        ]
        for given, message in table:
            error = self.assertRaises(metadata.Invalid,
                                      metadata.create_options, given)
            self.assertIn(message, str(error), given)


class VolumesTestCase(testtools.TestCase):

    def test_where_volumes_appear_in_the_container(self):
        self.assertEqual('/volumes', metadata.volumes_mount_point(
            {}, '/volumes'))
        self.assertEqual('/data', metadata.volumes_mount_point(
            {'docker:volumes': '/data/'}, '/volumes'))
        self.assertEqual({}, metadata.create_options(
            {'docker:volumes': '/srv/data'}))
        self.assertEqual('vdb', volumes.device_name('/dev/vdb'))
        for bad in (None, '/dev/', '/dev/VDB', '/dev/vd b'):
            self.assertRaises(volumes.Unattachable, volumes.device_name, bad)

    def test_only_rbd_connections_are_attached(self):
        self.assertEqual(('volumes', 'volume-1', 'cinder'), volumes.rbd_image(
            {'driver_volume_type': 'rbd', 'data': {
                'name': 'volumes/volume-1', 'auth_username': 'cinder'}}))
        error = self.assertRaises(volumes.Unattachable, volumes.rbd_image, {
            'driver_volume_type': 'iscsi', 'data': {}})
        self.assertIn("'iscsi' cannot be attached to containers: this "
                      "driver attaches Ceph RBD volumes only", str(error))


class FlavorLimitsTestCase(testtools.TestCase):

    def _flavor(self, **extra_specs):
        return objects.Flavor(name='f', memory_mb=64, vcpus=2,
                              extra_specs=extra_specs)

    def test_limits(self):
        self.assertEqual(
            {'mem_limit': 64 * 1024 * 1024,
             'memswap_limit': 128 * 1024 * 1024, 'cpu_shares': 2048,
             'pids_limit': 2048},
            flavor.limits(self._flavor()))
        for spec, engine_value in (('100', 100), ('0', -1), ('-1', -1)):
            self.assertEqual(engine_value, flavor.limits(self._flavor(**{
                'docker:pids_limit': spec}))['pids_limit'])
        limits = flavor.limits(self._flavor(**{'quota:cpu_quota': '5000',
                                               'quota:cpu_period': '10000'}))
        self.assertEqual((5000, 10000),
                         (limits['cpu_quota'], limits['cpu_period']))

    def test_resources_of_a_resize(self):
        self.assertEqual(
            {'Memory': 64 * 1024 * 1024, 'MemorySwap': 128 * 1024 * 1024,
             'CpuShares': 2048, 'PidsLimit': 2048, 'CpuQuota': -1,
             'CpuPeriod': 100000},
            flavor.resources(self._flavor()))
        resources = flavor.resources(self._flavor(**{
            'quota:cpu_quota': '5000', 'quota:cpu_period': '10000',
            'docker:pids_limit': '0'}))
        self.assertEqual((5000, 10000, -1), (
            resources['CpuQuota'], resources['CpuPeriod'],
            resources['PidsLimit']))

    def test_bad_extra_spec_names_flavor_and_key(self):
        # Nova's API validates these, but not for flavors made before.
        for key in ('quota:cpu_quota', 'docker:pids_limit'):
            error = self.assertRaises(exception.InvalidInput, flavor.limits,
                                      self._flavor(**{key: 'lots'}))
            self.assertIn("flavor f extra spec %s='lots'" % key, str(error))


CPUINFO = '''processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
physical id\t: 0
siblings\t: 4
cpu cores\t: 2
flags\t\t: fpu vme sse2 avx

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
physical id\t: 0
siblings\t: 4
cpu cores\t: 2
flags\t\t: fpu vme sse2 avx
'''

ARM_CPUINFO = '''processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes
CPU implementer\t: 0x41
'''


class CpuInfoTestCase(testtools.TestCase):

    def test_x86(self):
        self.assertEqual(
            {'arch': 'x86_64', 'model': 'Intel(R) Xeon(R) Processor',
             'vendor': 'Intel',
             'topology': {'cells': 1, 'sockets': 1, 'cores': 2,
                          'threads': 2},
             'features': ['avx', 'fpu', 'sse2', 'vme']},
            host.cpu_info(CPUINFO, 'x86_64'))

    def test_arm(self):
        info = host.cpu_info(ARM_CPUINFO, 'aarch64')
        self.assertEqual(['aes', 'asimd', 'evtstrm', 'fp'], info['features'])
        self.assertEqual({'cells': 1, 'sockets': 1, 'cores': 1,
                          'threads': 1}, info['topology'])


NET_DEV_HEADER = (
    'Inter-|   Receive                                                |  '
    'Transmit\n'
    ' face |bytes    packets errs drop fifo frame compressed multicast|'
    'bytes    packets errs drop fifo colls carrier compressed\n')


def _counters(rx_octets, rx_packets, rx_errors, rx_drop, tx_octets,
              tx_packets, tx_errors, tx_drop):
    return dict(rx_octets=rx_octets, rx_packets=rx_packets,
                rx_errors=rx_errors, rx_drop=rx_drop, tx_octets=tx_octets,
                tx_packets=tx_packets, tx_errors=tx_errors, tx_drop=tx_drop)


class NetDevTestCase(testtools.TestCase):

    def test_port_counters(self):
        # Each column its own value: fifo, frame, colls... must not leak.
        columns = ' '.join(str(n) for n in range(101, 117))
        table = [
            ('    lo:  58060 166    0    0    0     0          0         0 '
             ' 58060 166    0    0    0     0       0          0\n'
             '  eth0:    3838      49    0    0    0     0          0     '
             '    0     4946      48    0    0    0     0       0          '
             '0\n',
             [('eth0', _counters(3838, 49, 0, 0, 4946, 48, 0, 0))]),
            ('  eth0: %s\n' % columns,
             [('eth0', _counters(101, 102, 103, 104, 109, 110, 111, 112))]),
            # Counters of 8 digits and more follow the colon unspaced.
            ('  eth0:123456789 7 0 0 0 0 0 0 987654321 6 0 0 0 0 0 0\n',
             [('eth0', _counters(123456789, 7, 0, 0, 987654321, 6, 0, 0))]),
            # By number, not by name: eth10 after eth2.
            ('eth10: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n'
             '  eth2: 30 3 0 0 0 0 0 0 40 4 0 0 0 0 0 0\n'
             '  eth0: 50 5 1 2 0 0 0 0 60 6 3 4 0 0 0 0\n',
             [('eth0', _counters(50, 5, 1, 2, 60, 6, 3, 4)),
              ('eth2', _counters(30, 3, 0, 0, 40, 4, 0, 0)),
              ('eth10', _counters(10, 1, 0, 0, 20, 2, 0, 0))]),
            # Only the ports: not loopback nor the kernel's tunnels.
            ('    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n'
             '  sit0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n'
             'ethernet0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n', []),
            ('', []),
        ]
        for rows, expected in table:
            self.assertEqual(expected,
                             diagnostics.port_counters(NET_DEV_HEADER + rows),
                             rows)
