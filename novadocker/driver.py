"""Nova compute driver whose instances are Docker containers.

The driver maps each Nova call onto the engine; what a container looks like
(container), the network namespace that holds its ports (sandbox), where
its image comes from (image), the host's figures (host) and statistics
(diagnostics) live in their own modules.

Left out on purpose: these ComputeDriver methods keep Nova's default, which
raises NotImplementedError, so the API refuses the action or Nova does
without it.

- live_migration, check_can_live_migrate_source,
  cleanup_live_migration_destination_check, pre_live_migration,
  post_live_migration_at_source and _destination,
  rollback_live_migration_at_destination, live_migration_abort,
  live_migration_force_complete, get_instance_disk_info: a running
  container's memory moves only with CRIU, whose checkpoint fails on this
  kernel (criu 3.17 does not know kernel 6.18's vDSO layout). The
  destination's check (check_can_live_migrate_destination) refuses every
  live migration, saying so, before anything moves.
- check_instance_shared_storage_local and _remote: an instance has no files
  on shared storage; Nova then takes them as not shared.
- rebuild: Nova's own (destroy, then spawn the new image) is what a
  container needs.
- rescue, unrescue: a container's files are no disk that a rescue image
  could boot beside; boot a snapshot of it instead.
- set_admin_password: nothing in a container receives it (libvirt needs
  the QEMU guest agent).
- quiesce, unquiesce: docker commit pauses the container itself.
- trigger_crash_dump: a container has no NMI to inject.
- swap_volume: a running container's open files hold the old volume's
  filesystem, which cannot be moved under it as libvirt copies a disk.
- get_all_volume_usage, block_stats, volume_snapshot_create and _delete:
  not yet; Nova refuses them.
- default_device_names_for_instance, get_device_name_for_instance:
  Nova's own naming after the root's name (default_root_device_name):
  the first volume is /dev/vdb, which names its directory in the
  container.
- mount_share, umount_share, is_share_mounted: Manila shares come later.
- get_vnc_console, get_spice_console, get_mks_console: a container has no
  display; its console is the serial one (console module), its output
  get_console_output's.
- cache_image: no pre-caching through aggregates; a boot loads its image,
  once per host.
- poll_rebooting_instances: a reboot returns once the container runs
  again, so none stays rebooting for [DEFAULT] reboot_timeout.
- host_power_action, host_maintenance_mode, set_host_enabled: the host is
  not the driver's to power off or drain (os-hosts API, as with libvirt).
- power_update_event: Nova sends it for Ironic's nodes only.
- get_host_cpu_stats: only the cpu.virt_driver compute monitor asks.
"""

import os

from oslo_log import log as logging
from oslo_utils import units

from nova.compute import power_state
from nova.compute import task_states
from nova.compute import vm_states
import nova.conf
from nova.console import type as ctype
from nova import context as nova_context
from nova import exception
from nova.i18n import _
from nova import objects
from nova import utils
from nova.virt import driver
from nova.virt import event as virtevent
from nova.virt import hardware

from novadocker import console
from novadocker import container as container_mod
from novadocker import diagnostics
from novadocker import engine
from novadocker import flavor as flavor_limits
from novadocker import host
from novadocker import image
from novadocker import keys
from novadocker import lifecycle
from novadocker import metadata
from novadocker import migration
from novadocker import ovn
from novadocker import sandbox
from novadocker import vif
from novadocker import volumes

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

CONSOLE_LOG_BYTES = 100 * units.Ki
ROOT_DEVICE_NAME = '/dev/vda'
FAILED_START_OUTPUT_LINES = 20
FAULT_OUTPUT_CHARS = 60
POWER_TRANSITIONS = {
    power_state.RUNNING: virtevent.EVENT_LIFECYCLE_STARTED,
    power_state.PAUSED: virtevent.EVENT_LIFECYCLE_PAUSED,
    power_state.SHUTDOWN: virtevent.EVENT_LIFECYCLE_STOPPED,
}


class DockerDriver(driver.ComputeDriver):
    capabilities = dict(
        driver.ComputeDriver.capabilities,
        # Nova's image cache manager ages out engine images (image module).
        has_imagecache=True,
        # Glance images are raw (disk_format=raw, container_format=docker).
        supports_image_type_raw=True,
        supports_attach_interface=True,
        # Nova's rebuild on another host (spawn from the image) is what a
        # container of a dead host needs.
        supports_evacuate=True,
        # An attached volume's filesystem grows in the running container.
        supports_extend_volume=True,
    )

    def __init__(self, virtapi):
        super().__init__(virtapi)
        self._engine = engine.Engine()
        self._images = image.ImageStore(self._engine)
        self._watcher = None
        self._ports_ready_by = sandbox.NEUTRON
        self._consoles = console.Consoles(self._engine)

    # Host

    def init_host(self, host):
        self._engine.ping()
        os.makedirs(CONF.docker.data_dir, mode=0o700, exist_ok=True)
        volumes.prepare_host()
        sandbox.ensure_image(self._engine)
        if ovn.is_chassis():
            self._ports_ready_by = sandbox.OVN
        LOG.info('A workload starts once its ports are wired, as %s tells',
                 'ovn-controller' if self._ports_ready_by == sandbox.OVN
                 else 'Neutron')
        if self._watcher is None:
            self._watcher = lifecycle.Watcher(self.emit_event,
                                              self._engine_returned)
            self._watcher.start()

    def cleanup_host(self, host):
        self._consoles.close_all()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def _engine_returned(self):
        """After the engine's event stream was lost (dockerd stopped or
        restarted), as nova-compute does for resume_guests_state_on_host_boot
        after a host's reboot: instances Nova has running whose containers
        stopped meanwhile (an engine without live-restore stops them all)
        start again, their sandboxes and ports first; running ones get any
        port they lost plugged again. Then Nova is told each container's
        state, so that its power-state sync settles what could not start."""
        context = nova_context.get_admin_context()
        for instance in objects.InstanceList.get_by_host(
                context, CONF.host,
                expected_attrs=['info_cache', 'flavor', 'metadata']):
            try:
                utils.synchronized(instance.uuid)(self._recover)(instance)
            except engine.EngineUnavailable:
                raise
            except Exception:
                LOG.exception('Could not bring back the container after the '
                              'Docker engine\'s outage', instance=instance)
            container = self._engine.find(instance)
            if container is None:
                continue
            transition = POWER_TRANSITIONS.get(
                container_mod.power_state_of(container))
            if transition is not None:
                self.emit_event(
                    virtevent.LifecycleEvent(instance.uuid, transition))

    def _recover(self, instance):
        """Under the instance's lock, as Nova's own actions on it."""
        container = self._engine.find(instance)
        if container is None:
            return
        instance.refresh()
        network_info = instance.get_network_info()
        if container_mod.power_state_of(container) in (power_state.RUNNING,
                                                       power_state.PAUSED):
            sandbox.replug_lost_ports(self._engine, instance, network_info)
        elif (instance.vm_state == vm_states.ACTIVE and
                instance.task_state is None and
                instance.power_state == power_state.RUNNING):
            self._start_with_ports(instance, network_info, container)
            LOG.info('Started again after the Docker engine\'s outage',
                     instance=instance)

    def _created_with_ports(self, instance, network_info, power_on):
        """The new sandbox (sandbox.created_with_ports); a workload that
        starts waits for its ports to be wired."""
        return sandbox.created_with_ports(
            self._engine, self.virtapi, instance, network_info,
            self._ports_ready_by if power_on else None)

    def get_available_nodes(self, refresh=False):
        return [host.nodename()]

    def get_nodenames_by_uuid(self, refresh=False):
        return {host.node_uuid(): host.nodename()}

    def get_available_resource(self, nodename):
        return host.available_resource(self._engine)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        ratios = self._get_allocation_ratios(
            provider_tree.data(nodename).inventory)
        provider_tree.update_inventory(
            nodename, host.inventory(self._engine.info(), ratios))

    def get_host_uptime(self):
        return host.uptime()

    def get_host_ip_addr(self):
        return CONF.my_ip

    # Instances

    def list_instances(self):
        return [c.labels.get(engine.LABEL_NAME, c.name)
                for c in self._engine.nova_containers()]

    def list_instance_uuids(self):
        return [c.labels[engine.LABEL_INSTANCE]
                for c in self._engine.nova_containers()]

    def instance_exists(self, instance):
        return self._engine.find(instance) is not None

    def get_info(self, instance, use_cache=True):
        container = self._engine.get(instance)
        return hardware.InstanceInfo(
            state=container_mod.power_state_of(container),
            internal_id=container.id)

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        network_info = network_info or []
        try:
            sandbox.check_pluggable(network_info)
            metadata.create_options(instance.metadata)
            _check_no_root_volume(block_device_info)
        except vif.UnpluggablePort as e:
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=e.format_message()) from e
        except metadata.Invalid as e:
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=str(e)) from e
        except exception.InvalidInput as e:
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=e.format_message()) from e
        image_ref = self._images.ensure_loaded(context, image_meta)
        try:
            self._connect_volumes(instance, block_device_info)
            key_binds = keys.binds(instance)
            with self._created_with_ports(instance, network_info,
                                          power_on) as held:
                workload = self._engine.create(container_mod.create_kwargs(
                    instance, image_meta, image_ref, held.id, key_binds))
            if power_on:
                self._start_workload(instance, workload)
        except Exception as e:
            self._discard(instance, network_info)
            # What no other host can boot either: no rescheduling.
            if isinstance(e, (engine.EngineRefused, exception.Invalid)):
                raise exception.BuildAbortException(
                    instance_uuid=instance.uuid,
                    reason=e.format_message()) from e
            raise
        LOG.info('Spawned container %s', engine.container_name(instance.uuid),
                 instance=instance)

    def _discard(self, instance, network_info):
        """Removes what a failed spawn left: containers, ports, key. The
        ports and key go even when the engine cannot be reached; the
        containers then stay for the server's delete, and the spawn's
        own failure remains the one reported."""
        try:
            self._remove(instance, network_info)
        except (engine.EngineUnavailable, engine.EngineError) as e:
            LOG.warning('Could not remove the containers of a failed spawn: '
                        '%s', e, instance=instance)
            sandbox.unplug_ports(instance, network_info)
        keys.remove(instance)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        if instance.task_state == task_states.RESIZE_REVERTING and \
                self._resized_in_place(context, instance):
            # Nova destroys the resized instance at its destination before
            # reverting at the source: here both are this host, and this
            # is the container to revert.
            self.power_off(instance, CONF.docker.stop_timeout)
            return
        self._remove(instance, network_info)
        self.cleanup(context, instance, network_info, block_device_info,
                     destroy_disks=destroy_disks, destroy_vifs=False,
                     destroy_secrets=destroy_secrets)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        if destroy_vifs:
            sandbox.unplug_ports(instance, network_info)
        keys.remove(instance)

    # Network

    def plug_vifs(self, instance, network_info):
        """At nova-compute's start: plugs the ports of a running sandbox
        whose veth is gone. A port that cannot be plugged puts only this
        instance in ERROR (VirtualInterfacePlugException), never stops
        nova-compute from starting."""
        sandbox.replug_lost_ports(self._engine, instance, network_info)

    def unplug_vifs(self, instance, network_info):
        sandbox.unplug_ports(instance, network_info)

    def attach_interface(self, context, instance, image_meta, port):
        sandbox.plug_port(self._engine, instance, port)

    def detach_interface(self, context, instance, port):
        vif.unplug(instance, port)

    # Volumes

    def get_volume_connector(self, instance):
        """What Cinder learns of this host when it exports a volume to it.
        Ceph volumes need nothing of it; the host's address and name are
        what other backends ask for."""
        return {'ip': CONF.my_block_storage_ip, 'host': CONF.host,
                'initiator': None, 'multipath': False,
                'platform': 'x86_64', 'os_type': 'linux'}

    def default_root_device_name(self, instance, image_meta, root_bdm):
        """The image's root, as a virtio disk would be named: volumes are
        then vdb, vdc, ... as on libvirt hosts."""
        return ROOT_DEVICE_NAME

    def attach_volume(self, context, connection_info, instance, mountpoint,
                      disk_bus=None, device_type=None, encryption=None):
        if encryption:
            raise exception.VolumeEncryptionNotSupported(
                volume_type='encrypted', volume_id=_volume_id(connection_info))
        try:
            volumes.connect(instance.uuid, _volume_id(connection_info),
                            connection_info, mountpoint)
        except volumes.Unattachable as e:
            raise exception.InvalidVolume(reason=str(e)) from e
        LOG.info('Volume %s mounted at %s in the container',
                 _volume_id(connection_info), volumes.device_name(mountpoint),
                 instance=instance)

    def detach_volume(self, context, connection_info, instance, mountpoint,
                      encryption=None):
        volumes.disconnect(instance.uuid, mountpoint)

    def extend_volume(self, context, connection_info, instance,
                      requested_size):
        try:
            volumes.grow(instance.uuid, _volume_id(connection_info),
                         requested_size)
        except volumes.Unattachable as e:
            raise exception.VolumeExtendFailed(
                volume_id=_volume_id(connection_info), reason=str(e)) from e
        LOG.info('Volume %s grown to %d GiB in the container',
                 _volume_id(connection_info), requested_size // units.Gi,
                 instance=instance)

    def _connect_volumes(self, instance, block_device_info):
        """The instance's attached volumes mounted where its container sees
        them (those already mounted stay), in the host's shared volumes
        directory without which no container starts."""
        volumes.prepare_host()
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            try:
                volumes.connect(instance.uuid,
                                _volume_id(bdm['connection_info']),
                                bdm['connection_info'], bdm['mount_device'])
            except volumes.Unattachable as e:
                raise exception.InvalidVolume(reason=str(e)) from e

    # Power

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        container = self._engine.get(instance)
        self._unpause(container)
        self._connect_volumes(instance, block_device_info)
        if reboot_type == 'SOFT':
            self._engine.stop(container, CONF.docker.stop_timeout)
        else:
            self._engine.kill(container)
        self._start_with_ports(instance, network_info, container)

    def power_off(self, instance, timeout=0, retry_interval=0):
        container = self._engine.get(instance)
        self._unpause(container)
        self._engine.stop(container, timeout)

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        container = self._engine.get(instance)
        self._unpause(container)
        if container_mod.power_state_of(container) != power_state.RUNNING:
            # After the host's restart, the volumes are mounted again.
            self._connect_volumes(instance, block_device_info)
            self._start_with_ports(instance, network_info, container)

    def pause(self, instance):
        container = self._engine.get(instance)
        if container_mod.power_state_of(container) == power_state.RUNNING:
            self._engine.pause(container)

    def unpause(self, instance):
        self._unpause(self._engine.get(instance))

    # A container's memory cannot be saved to disk without CRIU, so suspend
    # freezes its processes like pause; resume thaws them where they were.
    def suspend(self, context, instance):
        self.pause(instance)

    def resume(self, context, instance, network_info, block_device_info=None,
               share_info=None):
        self.unpause(instance)

    def soft_delete(self, instance):
        self.power_off(instance, timeout=CONF.docker.stop_timeout)

    def restore(self, instance):
        self.power_on(None, instance, instance.get_network_info())

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):
        self.power_on(context, instance, network_info, block_device_info)

    # Resize and cold migration. On its own host, the same container gets
    # other limits; to another, its files move through the registry
    # (migration module) and a new container is made there, with the
    # instance's ports; the old one waits, stopped and unplugged, for the
    # move's confirmation (removed) or revert (started again).

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):
        if dest == CONF.my_ip:
            self.power_off(instance, timeout)
            return ''
        try:
            migration.check_movable(context)
        except migration.Unmovable as e:
            raise exception.InstanceFaultRollback(
                inner_exception=exception.MigrationPreCheckError(
                    reason=e.format_message())) from e
        container = self._engine.get(instance)
        was_running = container_mod.power_state_of(container) in (
            power_state.RUNNING, power_state.PAUSED)
        self.power_off(instance, timeout)
        try:
            disk_info = migration.send(self._engine, container, instance,
                                       context)
        except engine.EngineError as e:
            migration.forget(self._engine, instance)
            if was_running:
                self._start(instance, container)
            raise exception.InstanceFaultRollback(
                inner_exception=exception.MigrationError(reason=_(
                    'could not move the container\'s files through the '
                    'registry: %s') % e.format_message())) from e
        sandbox.unplug_ports(instance, network_info)
        volumes.disconnect_all(instance.uuid)
        self._consoles.close(instance.uuid)
        return disk_info

    def finish_migration(self, context, migration_record, instance,
                         disk_info, network_info, image_meta,
                         resize_instance, allocations, block_device_info=None,
                         power_on=True, share_info=None):
        if not disk_info:
            self._resized(instance, network_info, power_on)
            return
        image_ref = migration.receive(self._engine, disk_info, instance,
                                      context)
        try:
            self._connect_volumes(instance, block_device_info)
            with self._created_with_ports(instance, network_info,
                                          power_on) as held:
                workload = self._engine.create(container_mod.create_kwargs(
                    instance, image_meta, image_ref, held.id,
                    keys.binds(instance)))
            if power_on:
                self._start(instance, workload)
        except Exception:
            self._discard(instance, network_info)
            migration.forget(self._engine, instance)
            raise
        LOG.info('Moved container %s here from %s',
                 engine.container_name(instance.uuid),
                 migration_record.source_compute, instance=instance)

    def confirm_migration(self, context, migration_record, instance,
                          network_info):
        """On the host the instance left: its old container, sandbox and
        image go. (On its own host nothing of the old size is kept.)"""
        if migration_record.source_compute == \
                migration_record.dest_compute:
            return
        self._remove(instance, network_info)
        keys.remove(instance)

    def finish_revert_migration(self, context, instance, network_info,
                                migration_record, block_device_info=None,
                                power_on=True, share_info=None):
        migration.forget(self._engine, instance)
        self._connect_volumes(instance, block_device_info)
        self._resized(instance, network_info, power_on)

    @staticmethod
    def _resized_in_place(context, instance):
        if instance.migration_context is None:
            return True
        record = objects.Migration.get_by_id(
            context, instance.migration_context.migration_id)
        return record.source_compute == record.dest_compute

    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info,
                                           dst_compute_info,
                                           block_migration=False,
                                           disk_over_commit=False):
        raise exception.MigrationPreCheckError(reason=_(
            'a running container cannot move live: its memory would need '
            'checkpoint/restore (CRIU), which this driver does not do; use '
            'a cold migration (openstack server migrate, without '
            '--live-migration)'))

    def _resized(self, instance, network_info, power_on):
        """The stopped container given the limits of the instance's
        flavor (the new one, or the old one again on a revert)."""
        container = self._engine.get(instance)
        self._engine.update_resources(
            container, flavor_limits.resources(instance.flavor))
        if power_on:
            self._start_with_ports(instance, network_info, container)

    # Images and output

    def snapshot(self, context, instance, image_id, update_task_state):
        container = self._engine.find(instance)
        if container is None:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        # docker commit pauses the container while it copies the layer.
        committed = self._images.commit(container, image_id)
        update_task_state(task_state=task_states.IMAGE_UPLOADING,
                          expected_state=task_states.IMAGE_PENDING_UPLOAD)
        self._images.upload(context, committed, image_id)

    def manage_image_cache(self, context, all_instances):
        if CONF.image_cache.remove_unused_base_images:
            self._images.age_out(
                {instance.image_ref for instance in all_instances},
                CONF.image_cache.remove_unused_original_minimum_age_seconds)

    def get_serial_console(self, context, instance):
        self._engine.get(instance)
        address, port = self._consoles.endpoint(instance)
        return ctype.ConsoleSerial(host=address, port=port)

    def get_console_output(self, context, instance):
        return self._engine.output_tail(self._engine.get(instance),
                                        CONSOLE_LOG_BYTES)

    def get_diagnostics(self, instance):
        container = self._engine.get(instance)
        return diagnostics.legacy_diagnostics(
            container, self._engine.stats(container),
            diagnostics.sandbox_nics(sandbox.pid(self._engine, instance)),
            instance)

    def get_instance_diagnostics(self, instance):
        container = self._engine.get(instance)
        return diagnostics.instance_diagnostics(
            container, self._engine.stats(container),
            diagnostics.sandbox_nics(sandbox.pid(self._engine, instance)),
            instance)

    # Helpers

    def _start_with_ports(self, instance, network_info, container):
        """A start after the first: the sandbox, which may have stopped
        with the engine or the host, running with its ports first."""
        sandbox.ensure_running_with_ports(self._engine, instance,
                                          network_info)
        self._start(instance, container)

    def _start_workload(self, instance, workload):
        """Its first start. Its sandbox has just started on this engine,
        so a failure is the container's own (a user or command its image
        lacks): no other host would do better."""
        try:
            self._start(instance, workload)
        except engine.EngineRefused:
            raise
        except engine.EngineError as e:
            raise engine.EngineRefused(action='start %s' % workload.name,
                                       reason=e.kwargs['reason']) from e

    def _start(self, instance, container):
        """Start the container; fail if its process exits at once."""
        self._engine.start(container)
        if CONF.docker.spawn_check_seconds and self._engine.exits_within(
                container, CONF.docker.spawn_check_seconds):
            self._raise_if_exited(instance, container)

    def _raise_if_exited(self, instance, container):
        self._engine.refresh(container)
        if container.status in ('running', 'paused'):
            return
        output = self._engine.output_tail(container, CONSOLE_LOG_BYTES)
        last_lines = '\n'.join(
            output.splitlines()[-FAILED_START_OUTPUT_LINES:])
        LOG.warning('The container\'s process exited at once; its last '
                    'output was:\n%s', last_lines, instance=instance)
        # Nova keeps 255 characters of a fault: the cause and the fix first,
        # then the end of the output.
        raise exception.BuildAbortException(
            instance_uuid=instance.uuid,
            reason=_('the container\'s process exited at once (code '
                     '%(code)s); the image needs a long-running command '
                     '(CMD/ENTRYPOINT or property os_command_line). '
                     'Output: %(output)r') % {
                'code': container_mod.exit_code(container),
                'output': last_lines[-FAULT_OUTPUT_CHARS:]})

    def _unpause(self, container):
        if container_mod.power_state_of(container) == power_state.PAUSED:
            self._engine.unpause(container)

    def _remove(self, instance, network_info):
        """The workload, then its sandbox with the ports, and the image a
        move to or from this host left."""
        name = engine.container_name(instance.uuid)
        if not self._engine.remove(name):
            LOG.debug('No container %s to remove', name, instance=instance)
        sandbox.remove(self._engine, instance, network_info)
        volumes.disconnect_all(instance.uuid)
        self._consoles.close(instance.uuid)
        migration.forget(self._engine, instance)


def _volume_id(connection_info):
    return connection_info.get('serial') or \
        connection_info['data'].get('volume_id')


def _check_no_root_volume(block_device_info):
    """A container's root filesystem is its image: a server booted from a
    volume is refused."""
    if any(bdm.get('boot_index') == 0 for bdm in
           driver.block_device_info_get_mapping(block_device_info)):
        raise exception.InvalidInput(reason=_(
            'a container\'s root filesystem is its image and cannot be a '
            'volume: boot from a docker image, and attach the volume '
            '(openstack server create --image ... --block-device '
            'source_type=volume,uuid=VOLUME,destination_type=volume,'
            'boot_index=-1, or openstack server add volume)'))
