"""Nova with the Docker driver: API, conductor, scheduler and compute."""

import docker

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.layout import HOST
from aio.services import ceph
from aio.services import cinder
from aio.services import docker_engine
from aio.services import keystone
from aio.services import mariadb
from aio.services import openvswitch
from aio.services import rabbitmq
from aio.services import registry
from novadocker import engine
from novadocker import volumes

API_PORT = 8774
# nova-serialproxy, on the control plane's address: a server's console
# URL is ws://172.24.5.1:6083/?token=...
SERIALPROXY_PORT = 6083
# os-vif's Open vSwitch plugin, and the driver's own.
PRIVSEP_CONTEXTS = ('vif_plug_ovs_privileged', 'novadocker_privileged')


def reports_up(control, own, host, binary, forced_down_ok=False):
    """Ready once Nova's services API shows the process's service on
    ``host`` up and updated since the process started (its pid file in
    the ``own`` state; an earlier run's record reads up for a minute).
    With ``forced_down_ok``, a service an operator forced down (a host
    whose servers were evacuated, which must start so before they unset
    it) is ready once it has reported."""
    def up(conn):
        return any(
            (s.state == 'up' or forced_down_ok and s.is_forced_down)
            and processes.reported_since_start(own, binary, s.updated_at)
            for s in conn.compute.services(binary=binary, host=host))
    return keystone.asks_api(
        control, "reports up in Nova's compute services API", up)


def _shared(control):
    """What every Nova process of the all-in-one reads, on any host."""
    return {
        'DEFAULT': {
            'use_stderr': 'true',
            'transport_url': rabbitmq.transport_url(control),
        },
        'service_user': dict(keystone.service_auth(control, 'nova'),
                             send_service_user_token='true'),
        'placement': keystone.service_auth(control, 'nova'),
        'neutron': dict(keystone.service_auth(control, 'neutron'),
                        service_metadata_proxy='false'),
        'glance': {'region_name': aio_layout.REGION},
        # Volumes: Nova calls Cinder as the user, and as itself where it
        # cleans up after one.
        'cinder': dict(keystone.service_auth(control, 'nova'),
                       os_region_name=aio_layout.REGION,
                       catalog_info=cinder.CATALOG_INFO),
        'vnc': {'enabled': 'false'},
        # Each server's console is a port of its compute host (novadocker
        # .console), which nova-serialproxy joins to the user's websocket.
        'serial_console': {
            'enabled': 'true',
            'base_url': 'ws://%s:%d/' % (HOST, SERIALPROXY_PORT),
            'serialproxy_host': HOST,
            'serialproxy_port': str(SERIALPROXY_PORT),
        },
    }


# What a compute host keeps for itself and how far it is overcommitted:
# Nova's [DEFAULT] options, and Zun's [compute] ones on the hosts it
# shares with Nova (both write them into the host's one provider). A
# container's vCPUs are CPU shares, not dedicated cores: 32 per core lets
# a 2-core host take fifty m1.nano servers.
HOST_RESOURCES = {
    'reserved_host_cpus': '0',
    'reserved_host_memory_mb': '512',
    'reserved_host_disk_mb': '0',
    'cpu_allocation_ratio': '32.0',
    'ram_allocation_ratio': '1.0',
    'disk_allocation_ratio': '1.0',
}


class Nova(service.Service):
    name = 'nova'
    after = ('mariadb', 'rabbitmq', 'keystone')
    ports = {'nova-api': API_PORT, 'nova-serialproxy': SERIALPROXY_PORT}
    databases = ('nova_api', 'nova_cell0', 'nova_cell1')
    user = 'nova'
    catalog = (service.Endpoint('nova', 'compute',
                                aio_layout.url(API_PORT, '/v2.1')),)

    def preflight(self):
        try:
            docker.from_env().ping()
        except Exception as e:
            return ['the Docker engine does not answer (%s); start dockerd '
                    '(tools/aio starts it when it is installed)' % e]
        return []

    def _nova_conf(self):
        layout = self.layout
        return service.ini(service.merged(_shared(layout), {
            'DEFAULT': {
                # The conductor's and scheduler's host: the first compute
                # host's, as on a cloud's first machine.
                'host': layout.compute_host,
                'my_ip': HOST,
                'state_path': self.data(),
                'osapi_compute_workers': '1',
                # A resize may stay on the server's host (the container
                # updated in place) or move it (nova.conf's default is
                # False, which on one host refuses every resize).
                'allow_resize_to_same_host': 'True',
                'metadata_workers': '1',
            },
            'api': {'auth_strategy': 'keystone'},
            'api_database': {'connection': mariadb.url(layout, 'nova_api')},
            'database': {'connection': mariadb.url(layout, 'nova_cell1')},
            'wsgi': {'api_paste_config': self._paste_file},
            'conductor': {'workers': '1'},
            # A build that fails for a cause of its host (the engine gone)
            # is tried on another (Nova's default); bad input is not
            # rescheduled (the driver raises BuildAbortException), so its
            # fault names its cause on any number of hosts.
            'scheduler': {'workers': '1', 'max_attempts': '3',
                          'discover_hosts_in_cells_interval': '-1'},
            'keystone_authtoken': keystone.authtoken(layout, 'nova'),
            # Containers are small: room for a hundred of them per project.
            'quota': {'instances': '100', 'cores': '200', 'ram': '204800'},
            'oslo_concurrency': {'lock_path': self.data('locks')},
            'oslo_policy': {'policy_file': self.etc('policy.yaml')},
        }))

    @property
    def _paste_file(self):
        return self.layout.wheel_etc('nova', 'api-paste.ini')

    def config_files(self):
        return {
            'nova.conf': self._nova_conf(),
            # A server's owner reads why an action failed in its events'
            # details (admin only by default): the driver's messages are
            # written for them, and Nova shows only the class name of any
            # exception but its own.
            'policy.yaml': '"%s": "rule:project_reader_or_admin"\n' % (
                'os_compute_api:os-instance-actions:events:details'),
        }

    def manage(self, *args):
        self.run([self.layout.bin('nova-manage'),
                  '--config-file', self.etc('nova.conf')] + list(args))

    def initialize(self):
        self.manage('api_db', 'sync')
        self.manage('cell_v2', 'map_cell0', '--database_connection',
                     mariadb.url(self.layout, 'nova_cell0'))
        self.manage('cell_v2', 'create_cell', '--name', 'cell1')
        self.manage('db', 'sync')

    def processes(self):
        config = ['--config-file', self.etc('nova.conf')]

        def console_script(binary, **kwargs):
            return service.Process(
                binary, [self.layout.bin(binary)] + config,
                reports_up(self.layout, self.layout,
                           self.layout.compute_host, binary),
                timeout=120, **kwargs)
        return [
            # Nova loads its paste pipeline from the first of these files.
            self.gunicorn('nova-api', 'nova.wsgi.osapi_compute', API_PORT, {
                'OS_NOVA_CONFIG_DIR': self.etc(),
                'OS_NOVA_CONFIG_FILES': '%s;nova.conf' % self._paste_file}),
            # An RPC server stops once its idle poll (which backs off to
            # 5 s) returns, one after the other: nova-compute takes about
            # 11 s, the conductor 6. Nothing is lost by not waiting: the
            # services stop together, and containers do not depend on
            # them.
            console_script('nova-conductor', stop_timeout=2),
            console_script('nova-scheduler', stop_timeout=2),
            service.Process(
                'nova-serialproxy',
                [self.layout.bin('nova-serialproxy')] + config,
                service.port_answers(SERIALPROXY_PORT), stop_timeout=2),
        ]


class Compute(service.Service):
    """A compute host's nova-compute, with its own configuration file
    (DevStack's nova-cpu.conf): the settings that differ between hosts
    are all in ``_own``."""
    name = 'nova-compute'
    # Set for the bring-up of a host Nova has forced down.
    forced_down_ok = False

    @property
    def after(self):
        # After the conductor, which nova-compute otherwise waits for and
        # retries only every 10 s; after Placement, where it records its
        # resources at start; after its chassis, which creates the
        # integration bridge, and Neutron's API; after its engine, on an
        # added host (the first uses the machine's).
        return ('nova', 'placement', 'neutron', 'ovn-controller') + (
            () if self.host.first else ('docker-engine',))

    def _own(self):
        host = self.host
        return {
            'DEFAULT': {
                'host': host.name,
                'my_ip': host.management_ip,
                'state_path': self.data(),
                'instances_path': self.data('instances'),
            },
            'oslo_concurrency': {'lock_path': self.data('locks')},
            # Its servers' consoles listen on its management address only.
            'serial_console': {'proxyclient_address': host.management_ip},
            'docker': dict({'host_url': host.docker_url,
                            'data_dir': self.data('docker'),
                            'volumes_dir': self.data('volumes')}, **(
                {'registry': registry.ADDRESS}
                if registry.Registry.name in self.peers else {}), **(
                {'ceph_conf': ceph.conf(host.control)}
                if ceph.Ceph.name in self.peers else {})),
            'os_vif_ovs': {
                'ovsdb_connection': openvswitch.ovsdb_connection(
                    self.layout)},
            **self.privsep_helpers(PRIVSEP_CONTEXTS,
                                   [self.etc('nova-cpu.conf')]),
        }

    def _config(self):
        return service.ini(service.merged(_shared(self.host.control), {
            'DEFAULT': {
                'compute_driver': 'docker.DockerDriver',
                **HOST_RESOURCES,
                # A boot waits this long for its ports to be wired (OVN
                # marks them installed within a second here).
                'vif_plugging_timeout': '30',
                # Servers that were running when the host (or dockerd) went
                # down are started again, with their ports, by
                # nova-compute.
                'resume_guests_state_on_host_boot': 'true',
            },
            # A failed build is most often its image's own doing (a process
            # that exits at once): its host is neither avoided by the
            # scheduler (BuildFailureWeigher) nor, after ten, disabled, as
            # Nova's default does.
            'compute': {'consecutive_build_service_disable_threshold': '0'},
            # An engine image no instance uses goes after an hour unused,
            # checked every 5 minutes (Nova's defaults: a day; 40 minutes).
            'image_cache': {
                'manager_interval': '300',
                'remove_unused_original_minimum_age_seconds': '3600'},
        }, self._own()))

    def config_files(self):
        return {'nova-cpu.conf': self._config()}

    def processes(self):
        host = self.host
        return [service.Process(
            'nova-compute', host.command([
                self.layout.bin('nova-compute'),
                '--config-file', self.etc('nova-cpu.conf')]),
            reports_up(host.control, self.layout, host.name, 'nova-compute',
                       self.forced_down_ok),
            openvswitch.client_env(self.layout), timeout=120,
            stop_timeout=5)]

    def started(self):
        """Maps the host into its cell once its node record exists (nova-
        manage cell_v2 discover_hosts, run once rather than periodically
        by the scheduler)."""
        name = self.host.name
        # Only this host's hypervisor: since 2.88 the list asks each
        # host's nova-compute its uptime, and one just stopped (still up
        # for Nova) makes the whole list wait a minute and fail.
        mapped = keystone.asks_api(
            self.host.control, 'lists hypervisor %s' % name,
            lambda conn: any(
                (h.service_details or {}).get('host') == name
                for h in conn.compute.hypervisors(
                    details=True, hypervisor_hostname_pattern=name)))
        control = Nova(self.host.control)

        def discovered():
            control.manage('cell_v2', 'discover_hosts')
            return mapped()
        if not processes.until(discovered, 60, interval=1):
            raise processes.ServiceFailed(
                'nova-compute', self.layout.log('nova-compute'),
                'has no hypervisor mapped after 60 s')

    def stopped(self):
        """An added host's stop is its power going off (its engine stops
        its containers): its volumes' mounts go too, as they would, and
        its start mounts them again for the servers it runs."""
        return [] if self.host.first else self._release_volumes()

    def _release_volumes(self):
        return ['mount ' + path for path in volumes.release(
            self.data('volumes'))]

    def wipe(self):
        """The host's volume mounts (they hold loop devices and rbd-fuse
        processes, and the shared mount of its volumes directory); on the
        first host, the containers of its instances, in the machine's
        engine, since their database goes too (an added host's engine
        keeps them under its state)."""
        removed = self._release_volumes()
        if not self.host.first:
            return removed
        _, containers = docker_engine.remove_labelled_containers(
            self.host.docker_url, '%s=%s' % (engine.LABEL_HOST,
                                             self.host.name))
        return removed + containers
