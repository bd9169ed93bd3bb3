"""Driver behaviour that Nova's API does not show, checked on the engine."""

import os
import signal
import socket
import ssl
import threading
import time

import fixtures
import os_vif
from nova.compute import power_state
from nova import exception
from nova.network import model as network_model
from nova import test
from nova.tests.unit import fake_network_cache_model
from nova.tests.unit import utils as test_utils
from nova.virt import event as virtevent
from nova.virt import fake
import nova.virt.node

from aio import processes
from aio import tls
from novadocker import driver as driver_mod
from novadocker import engine
from novadocker import lifecycle
from tests import base

EXITS_LATER_CMD = ["/bin/sh", "-c", "sleep 1; exit 3"]
# A port bound for the iptables_hybrid firewall driver.
HYBRID_PORT = fake_network_cache_model.new_vif({
    'type': 'ovs', 'details': {'ovs_hybrid_plug': True, 'port_filter': True}})
# Nova's TestCase stubs the node identity file out; this test needs it.
_READ_NODE_UUID = nova.virt.node.read_local_node_uuid
_WRITE_NODE_UUID = nova.virt.node.write_local_node_uuid


class DockerDriverTestCase(test.TestCase):
    def setUp(self):
        super().setUp()
        self.client = base.docker_client()
        self.flags(state_path=self.useFixture(fixtures.TempDir()).path,
                   host=base.TEST_HOST)
        self.flags(volumes_dir=base.VOLUMES_DIR, group='docker')
        self.flags(port_range=base.SERIAL_PORT_RANGE, group='serial_console')
        self.useFixture(base.InProcessPrivsep())
        self.glance = self.useFixture(base.StreamingGlanceFixture(self))
        self.driver = driver_mod.DockerDriver(fake.FakeVirtAPI())
        self.addCleanup(self.driver.cleanup_host, 'compute')
        self.ctxt = test_utils.get_test_admin_context()
        # As nova-compute does at its start.
        os_vif.objects.register_all()

    def _spawn(self, cmd=None, tag='latest', network_info=None,
               instance=None):
        image_id = self.glance.add_docker_image(base.saved_image(cmd, tag))
        self.addCleanup(base.remove_engine_image, self.client, image_id)
        instance = instance or test_utils.get_test_instance(obj=True)
        instance.image_ref = image_id
        self.addCleanup(base.remove_instance_containers, self.client,
                        instance.uuid)
        image_meta = test_utils.get_test_image_object(None, instance)
        self.driver.spawn(self.ctxt, instance, image_meta, [], None, {},
                          network_info=network_info)
        return instance

    def test_spawn_failing_with_the_engine_gone_removes_the_key(self):
        # Nova's own cleanup after a failed build also removes it; the
        # driver does not rely on that.
        self.flags(inject_key=True, group='docker')
        instance = test_utils.get_test_instance(obj=True)
        instance.key_data = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test@key'
        base.saved_image()
        socket_dir = self.useFixture(fixtures.TempDir()).path
        proxy = base.CuttingEngineProxy(
            os.path.join(socket_dir, 'docker.sock'), base.ENGINE_SOCKET,
            cut_on='/containers/')
        self.addCleanup(proxy.close)
        self.flags(host_url=proxy.url, group='docker')
        self.assertRaises(engine.EngineUnavailable, self._spawn,
                          instance=instance)
        self.assertEqual([], os.listdir(
            os.path.join(engine.CONF.docker.data_dir, 'keys')))
        self.assertEqual(
            [], base.instance_containers(self.client, instance.uuid))

    def test_hybrid_plug_port_refuses_the_boot_naming_the_option(self):
        error = self.assertRaises(
            exception.BuildAbortException, self._spawn,
            network_info=network_model.NetworkInfo([HYBRID_PORT]))
        self.assertIn('[securitygroup] firewall_driver = openvswitch',
                      str(error))
        self.assertEqual([], self.client.containers.list(
            all=True, filters={'label': engine.LABEL_HOST + '=' +
                               engine.CONF.host}))

    def test_port_that_cannot_be_plugged_at_start_fails_only_its_instance(
            self):
        # nova-compute's start re-plugs the ports of running containers;
        # Nova puts the instance in ERROR for this exception and goes on.
        instance = self._spawn()
        error = self.assertRaises(
            exception.VirtualInterfacePlugException, self.driver.plug_vifs,
            instance, network_model.NetworkInfo([HYBRID_PORT]))
        self.assertIn(engine.sandbox_name(instance.uuid), str(error))
        self.assertIn('firewall_driver', str(error))

    def test_ports_of_a_missing_container_are_not_plugged(self):
        instance = test_utils.get_test_instance(obj=True)
        self.assertIsNone(self.driver.plug_vifs(
            instance, network_model.NetworkInfo([HYBRID_PORT])))

    def test_unreachable_engine_names_socket_and_permission(self):
        self.flags(host_url='unix:///nonexistent/docker.sock', group='docker')
        error = self.assertRaises(engine.EngineUnavailable,
                                  self.driver.init_host, 'compute')
        self.assertIn('unix:///nonexistent/docker.sock', str(error))
        self.assertIn('group', str(error))

    def _engine_behind_tls(self):
        """The engine served over TLS with client certificates; the driver
        configured with the certificates of its CA."""
        # The unit-test package of Nova patches eventlet into ssl after
        # urllib3 took the original SSLContext, whose setters then recurse
        # into the green one; nova-compute runs unpatched (native threads).
        self.useFixture(fixtures.MonkeyPatch('urllib3.util.ssl_.SSLContext',
                                             ssl.SSLContext))
        directory = self.useFixture(fixtures.TempDir()).path
        ca = tls.CertificateAuthority(directory, 'engine')
        server_cert, server_key = ca.issue('server', ip_address='127.0.0.1')
        client_cert, client_key = ca.issue('client')
        proxy = base.TLSEngineProxy(base.ENGINE_SOCKET, server_cert,
                                    server_key, ca.cert_file)
        self.addCleanup(proxy.close)
        self.flags(host_url=proxy.url, tls_ca_file=ca.cert_file,
                   tls_cert_file=client_cert, tls_key_file=client_key,
                   group='docker')
        return proxy, directory

    def test_engine_over_tls_with_a_client_certificate(self):
        self._engine_behind_tls()
        self.driver.init_host('compute')
        instance = self._spawn()
        container = self.client.containers.get(
            engine.container_name(instance.uuid))
        self.assertEqual('running', container.status)
        self.assertIn('container started',
                      self.driver.get_console_output(self.ctxt, instance))
        self.driver.destroy(self.ctxt, instance, [])
        self.assertFalse(self.driver.instance_exists(instance))

    def test_engine_certificate_of_another_ca_is_refused(self):
        proxy, directory = self._engine_behind_tls()
        other = tls.CertificateAuthority(directory, 'other')
        self.flags(tls_ca_file=other.cert_file, group='docker')
        error = self.assertRaises(engine.EngineUnavailable,
                                  self.driver.init_host, 'compute')
        self.assertIn(proxy.url, str(error))
        self.assertIn('CERTIFICATE_VERIFY_FAILED', str(error))
        self.assertIn('tls_ca_file', str(error))

    def test_engine_over_tls_refuses_a_driver_without_certificate(self):
        proxy, _ = self._engine_behind_tls()
        self.flags(tls_cert_file=None, tls_key_file=None, group='docker')
        error = self.assertRaises(engine.EngineUnavailable,
                                  self.driver.init_host, 'compute')
        self.assertIn(proxy.url, str(error))
        self.assertIn('certificate required', str(error))
        self.assertIn('tls_cert_file', str(error))

    def test_lists_only_its_own_hosts_containers(self):
        base.saved_image()
        foreign = self.client.containers.create(
            '%s:latest' % base.TEST_REPOSITORY,
            name='not-nova-%d' % os.getpid())
        self.addCleanup(foreign.remove, force=True)
        other_host = self._spawn()
        self.flags(host=base.TEST_HOST + '-another')
        instance = self._spawn()
        self.assertEqual([instance.uuid], self.driver.list_instance_uuids())
        self.assertEqual([instance.name], self.driver.list_instances())
        self.assertNotIn(other_host.uuid, self.driver.list_instance_uuids())
        self.assertNotIn(foreign.name, self.driver.list_instances())

    def test_others_containers_with_an_instances_labels_are_not_its(self):
        # Labels are anyone's to set: a Zun user's container (or an image)
        # may carry those of another tenant's server.
        instance = self._spawn()
        events = []
        watcher = lifecycle.Watcher(events.append, lambda: None)
        watcher.start()
        self.addCleanup(watcher.stop)

        def next_event():
            self.assertTrue(processes.until(lambda: events, 10, 0.1),
                            'no lifecycle event')
            return (events[0].uuid, events.pop(0).transition)

        # The stream is followed once the server's own pause shows.
        self.driver.pause(instance)
        self.assertEqual((instance.uuid, virtevent.EVENT_LIFECYCLE_PAUSED),
                         next_event())
        forged = self.client.containers.create(
            '%s:latest' % base.TEST_REPOSITORY, ['sleep', '600'],
            name='zun-forged-%d' % os.getpid(), labels={
                engine.LABEL_INSTANCE: instance.uuid,
                engine.LABEL_HOST: base.TEST_HOST})
        self.addCleanup(forged.remove, force=True)
        forged.start()
        forged.kill()
        self.driver.unpause(instance)
        self.assertEqual((instance.uuid, virtevent.EVENT_LIFECYCLE_RESUMED),
                         next_event())
        self.assertEqual([], events)
        self.assertEqual([instance.uuid], self.driver.list_instance_uuids())

    def test_process_that_exits_with_an_error_is_shut_down(self):
        # As libvirt reports a domain that is shut off, however it ended:
        # Nova's sync of a lifecycle event acts on SHUTDOWN only.
        instance = self._spawn(EXITS_LATER_CMD, tag='exits-later')
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_info(instance).state)
        self.client.containers.get(engine.container_name(instance.uuid)).wait(timeout=10)
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_info(instance).state)

    def test_exit_the_engine_learns_of_late_still_fails_the_spawn(self):
        # A busy engine records an exit tens of milliseconds or more after
        # it: produced here for real by stopping the container's shim, the
        # process that reaps it and tells the engine, until well after the
        # spawn check's window.
        self.flags(spawn_check_seconds=1.5, group='docker')
        instance = test_utils.get_test_instance(obj=True)
        docker_engine = self.driver._engine
        start = docker_engine.start

        def start_with_a_late_engine(container):
            start(container)
            if container.name != engine.container_name(instance.uuid):
                return
            container.reload()
            with open('/proc/%d/stat' % container.attrs['State']['Pid']) as f:
                shim = int(f.read().rpartition(')')[2].split()[1])
            os.kill(shim, signal.SIGSTOP)
            self.addCleanup(os.kill, shim, signal.SIGCONT)
            threading.Timer(2.5, os.kill, (shim, signal.SIGCONT)).start()

        self.useFixture(fixtures.MockPatchObject(
            docker_engine, 'start', side_effect=start_with_a_late_engine))
        error = self.assertRaises(
            exception.BuildAbortException, self._spawn,
            ['/bin/sh', '-c', 'sleep 0.2; exit 3'], tag='exits-soon',
            instance=instance)
        self.assertIn('exited at once (code 3)', error.format_message())
        self.assertEqual([], self.client.containers.list(
            all=True, filters={'name': engine.container_name(instance.uuid)}))

    def test_move_without_a_registry_is_refused_and_leaves_it_running(self):
        instance = self._spawn()
        self.flags(registry=None, group='docker')
        # Another host's address (never contacted).
        error = self.assertRaises(
            exception.InstanceFaultRollback,
            self.driver.migrate_disk_and_power_off, self.ctxt, instance,
            '172.24.5.9', instance.flavor, [])
        self.assertIn('[docker] registry is not set',
                      error.inner_exception.format_message())
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_info(instance).state)

    def test_power_off_honours_timeout(self):
        # This image's shell ignores SIGTERM as PID 1, so only the kill at
        # the end of the timeout stops it.
        instance = self._spawn(["/bin/sh", "-c", "sleep 86400"],
                               tag='ignores-term')
        started = time.monotonic()
        self.driver.power_off(instance, timeout=2)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 2)
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_info(instance).state)

    def test_node_identity_survives_restart(self):
        for name, real in (('read_local_node_uuid', _READ_NODE_UUID),
                           ('write_local_node_uuid', _WRITE_NODE_UUID),
                           ('LOCAL_NODE_UUID', None)):
            self.useFixture(fixtures.MonkeyPatch('nova.virt.node.' + name,
                                                 real))
        first = self.driver.get_nodenames_by_uuid()
        nova.virt.node.LOCAL_NODE_UUID = None
        restarted = driver_mod.DockerDriver(fake.FakeVirtAPI())
        self.assertEqual(first, restarted.get_nodenames_by_uuid())
        with open(os.path.join(engine.CONF.state_path, 'compute_id')) as f:
            self.assertEqual(list(first)[0], f.read().strip())

    def test_resources_count_what_instances_were_given(self):
        before = self.driver.get_available_resource('compute')
        instance = self._spawn()
        after = self.driver.get_available_resource('compute')
        self.assertEqual(instance.flavor.vcpus,
                         after['vcpus_used'] - before['vcpus_used'])
        self.assertEqual(instance.flavor.memory_mb,
                         after['memory_mb_used'] - before['memory_mb_used'])
        self.assertEqual(self.client.info()['NCPU'], after['vcpus'])
        self.assertEqual('docker', after['hypervisor_type'])

    def _console_shells(self, instance):
        return [p for p in self.client.containers.get(engine.container_name(
            instance.uuid)).top()['Processes'] if p[-1] == '/bin/sh']

    def test_serial_console_is_a_shell_hung_up_when_it_closes(self):
        instance = self._spawn()
        console = self.driver.get_serial_console(self.ctxt, instance)
        # Nova's default proxyclient_address.
        self.assertEqual('127.0.0.1', console.host)
        with socket.create_connection((console.host, console.port),
                                      timeout=10) as client:
            client.sendall(b'echo $((6*7))\n')
            seen = b''
            while b'\n42\r\n' not in seen:
                data = client.recv(4096)
                self.assertTrue(data, seen)
                seen += data
            self.assertEqual(1, len(self._console_shells(instance)))
        self.assertTrue(processes.until(
            lambda: not self._console_shells(instance), 10, 0.1))
        # A client gone before its shell has started: hung up once it has.
        socket.create_connection((console.host, console.port), 10).close()
        self.assertTrue(processes.until(
            lambda: not self._console_shells(instance), 10, 0.1))
        self.assertEqual(console.port, self.driver.get_serial_console(
            self.ctxt, instance).port)

        self.driver.destroy(self.ctxt, instance, [])
        self.assertRaises(ConnectionRefusedError, socket.create_connection,
                          (console.host, console.port), 2)

    def test_missing_container_is_instance_not_found(self):
        instance = test_utils.get_test_instance(obj=True)
        self.assertFalse(self.driver.instance_exists(instance))
        self.assertRaises(exception.InstanceNotFound,
                          self.driver.get_info, instance)
