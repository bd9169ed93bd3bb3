"""Nova's own virt driver conformance suite, run on the real engine."""

from nova.compute import power_state
import nova.conf
from nova.network import model as network_model
from nova import exception
from nova import test
from nova.tests.unit.virt import test_virt_drivers
from nova.tests.unit import utils as test_utils

from novadocker import engine
from novadocker import volumes
from tests import base


class DockerDriverConformanceTestCase(test_virt_drivers._VirtDriverTestCase,
                                      test.TestCase):
    REQUIRES_LOCKING = True

    def setUp(self):
        self.driver_module = 'novadocker.driver.DockerDriver'
        super().setUp()
        self.flags(host=base.TEST_HOST)
        self.flags(volumes_dir=base.VOLUMES_DIR, group='docker')
        self.flags(port_range=base.SERIAL_PORT_RANGE, group='serial_console')
        self.useFixture(base.InProcessPrivsep())
        self.client = base.docker_client()
        self.image_service = self.useFixture(
            base.StreamingGlanceFixture(self))
        self.image_id = self.image_service.add_docker_image(
            base.saved_image())
        self.addCleanup(base.remove_engine_image, self.client, self.image_id)

    def _get_running_instance(self, obj=True):
        # Nova's suite boots its fake 'raw' image; boot a docker image.
        instance = test_utils.get_test_instance(obj=obj)
        instance['image_ref'] = self.image_id
        self.addCleanup(base.remove_instance_containers, self.client,
                        instance['uuid'])
        # Ports are plugged for real in the end-to-end tests, which have
        # Neutron and Open vSwitch; this suite's port is a made-up one.
        network_info = network_model.NetworkInfo()
        image_meta = test_utils.get_test_image_object(None, instance)
        self.connection.spawn(self.ctxt, instance, image_meta, [], 'herp', {},
                              network_info=network_info)
        return instance, network_info

    def test_spawn_lists_container_in_engine(self):
        instance, _ = self._get_running_instance()
        container = self.client.containers.get(
            engine.container_name(instance.uuid))
        self.assertEqual('running', container.status)

    def test_migrate_disk_and_power_off(self):
        # The suite's destination is another host, which the driver
        # refuses (test_driver); a resize on this host powers it off.
        instance, network_info = self._get_running_instance()
        self.connection.migrate_disk_and_power_off(
            self.ctxt, instance, nova.conf.CONF.my_ip,
            test_utils.get_test_flavor(), network_info)
        self.assertEqual(power_state.SHUTDOWN,
                         self.connection.get_info(instance).state)

    # Nova's volume tests attach its made-up "fake" connection type, which
    # this driver refuses, as libvirt refuses a type it has no connector
    # for; the refusal is what is checked here, and Ceph volumes are
    # attached for real in the end-to-end tests.

    def _assert_fake_volume_refused(self, instance):
        error = self.assertRaises(
            exception.InvalidVolume, self.connection.attach_volume, None,
            {'driver_volume_type': 'fake', 'serial': 'fake_serial',
             'data': {}}, instance, '/dev/vdb')
        self.assertIn("volumes of type 'fake' cannot be attached to "
                      "containers: this driver attaches Ceph RBD volumes "
                      "only", error.format_message())
        self.assertEqual([], volumes.mounted(instance.uuid))

    def test_attach_detach_volume(self):
        instance, _ = self._get_running_instance()
        self._assert_fake_volume_refused(instance)

    def test_attach_detach_different_power_states(self):
        instance, _ = self._get_running_instance()
        self.connection.power_off(instance)
        self._assert_fake_volume_refused(instance)

    def test_swap_volume(self):
        instance, _ = self._get_running_instance()
        self._assert_fake_volume_refused(instance)
        self.assertRaises(NotImplementedError, self.connection.swap_volume,
                          None, {}, {}, instance, '/dev/vdb', 1)

    def test_live_migration(self):
        self.skipTest('Containers are not live-migrated: the driver does '
                      'not implement live migration.')

    def test_live_migration_force_complete(self):
        self.skipTest('Containers are not live-migrated; this test also '
                      'writes into libvirt\'s active_migrations attribute, '
                      'which this driver does not have.')
