"""Nova with the Docker driver: API, conductor, scheduler and compute."""

import datetime

import docker

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.layout import HOST
from aio.services import keystone
from aio.services import mariadb
from aio.services import openvswitch
from aio.services import rabbitmq
from aio.services import registry
from novadocker import engine

API_PORT = 8774
# os-vif's Open vSwitch plugin, and the driver's own.
PRIVSEP_CONTEXTS = ('vif_plug_ovs_privileged', 'novadocker_privileged')


def _naive_utc(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=None)


def reports_up(layout, binary):
    """Ready once Nova's services API shows the process's service up and
    updated since the process started (an earlier run's record reads up
    for a minute)."""
    def up(conn):
        started = processes.started_at(layout, binary)
        return any(
            s.state == 'up' and s.updated_at
            and _naive_utc(s.updated_at) > started
            for s in conn.compute.services(binary=binary,
                                           host=layout.compute_host))
    return keystone.asks_api(
        layout, "reports up in Nova's compute services API", up)


class Nova(service.Service):
    name = 'nova'
    after = ('mariadb', 'rabbitmq', 'keystone')
    ports = {'nova-api': API_PORT}
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
        return service.ini({
            'DEFAULT': {
                'use_stderr': 'true',
                'compute_driver': 'docker.DockerDriver',
                'host': layout.compute_host,
                'transport_url': rabbitmq.transport_url(layout),
                'my_ip': HOST,
                'state_path': self.data(),
                'instances_path': self.data('instances'),
                'osapi_compute_workers': '1',
                # A container's vCPUs are CPU shares, not dedicated cores:
                # 32 per core lets a 2-core host take fifty m1.nano servers.
                'cpu_allocation_ratio': '32.0',
                # The driver resizes a container in place, on its own host
                # (docker update); it moves none to another.
                'allow_resize_to_same_host': 'True',
                'metadata_workers': '1',
                # A boot waits this long for Neutron's network-vif-plugged.
                'vif_plugging_timeout': '60',
                # Servers that were running when the host (or dockerd) went
                # down are started again, with their ports, by
                # nova-compute.
                'resume_guests_state_on_host_boot': 'true',
            },
            'api': {'auth_strategy': 'keystone'},
            'api_database': {'connection': mariadb.url(layout, 'nova_api')},
            'database': {'connection': mariadb.url(layout, 'nova_cell1')},
            'wsgi': {'api_paste_config': self._paste_file},
            'conductor': {'workers': '1'},
            # One host: a failed build's fault names its cause instead of
            # "Exceeded maximum number of retries".
            'scheduler': {'workers': '1', 'max_attempts': '1',
                          'discover_hosts_in_cells_interval': '-1'},
            # An engine image no instance uses goes after an hour unused,
            # checked every 5 minutes (Nova's defaults: a day; 40 minutes).
            'image_cache': {
                'manager_interval': '300',
                'remove_unused_original_minimum_age_seconds': '3600'},
            'keystone_authtoken': keystone.authtoken(layout, 'nova'),
            'service_user': dict(keystone.service_auth(layout, 'nova'),
                                 send_service_user_token='true'),
            'placement': keystone.service_auth(layout, 'nova'),
            'neutron': dict(keystone.service_auth(layout, 'neutron'),
                            service_metadata_proxy='false'),
            'glance': {'region_name': aio_layout.REGION},
            'vnc': {'enabled': 'false'},
            # Containers are small: room for a hundred of them per project.
            'quota': {'instances': '100', 'cores': '200', 'ram': '204800'},
            'oslo_concurrency': {'lock_path': self.data('locks')},
            'docker': dict({'data_dir': self.data('docker')}, **(
                {'registry': registry.ADDRESS}
                if registry.Registry.name in self.peers else {})),
            'os_vif_ovs': {
                'ovsdb_connection': openvswitch.ovsdb_connection(layout)},
            **self.privsep_helpers(PRIVSEP_CONTEXTS,
                                   [self.etc('nova.conf')]),
        })

    @property
    def _paste_file(self):
        return self.layout.wheel_etc('nova', 'api-paste.ini')

    def config_files(self):
        return {'nova.conf': self._nova_conf()}

    def _manage(self, *args):
        self.run([self.layout.bin('nova-manage'),
                  '--config-file', self.etc('nova.conf')] + list(args))

    def initialize(self):
        self._manage('api_db', 'sync')
        self._manage('cell_v2', 'map_cell0', '--database_connection',
                     mariadb.url(self.layout, 'nova_cell0'))
        self._manage('cell_v2', 'create_cell', '--name', 'cell1')
        self._manage('db', 'sync')

    def processes(self):
        config = ['--config-file', self.etc('nova.conf')]

        def console_script(binary, **kwargs):
            return service.Process(
                binary, [self.layout.bin(binary)] + config,
                reports_up(self.layout, binary), timeout=120, **kwargs)
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
            # After the conductor, which nova-compute otherwise waits for
            # and retries only every 10 s; after Placement, where it
            # records its resources at start; after OVN, which creates
            # the integration bridge, and Neutron's API.
            console_script(
                'nova-compute',
                env=openvswitch.client_env(self.layout),
                after=('nova-conductor', 'placement', 'ovn', 'neutron-api'),
                stop_timeout=5),
        ]

    def started(self):
        """Maps the compute host into its cell once its node record exists
        (nova-manage cell_v2 discover_hosts, run once rather than
        periodically by the scheduler)."""
        mapped = keystone.asks_api(
            self.layout, 'lists a hypervisor',
            lambda conn: bool(list(conn.compute.hypervisors())))

        def discovered():
            self._manage('cell_v2', 'discover_hosts')
            return mapped()
        if not processes.until(discovered, 60, interval=1):
            raise processes.ServiceFailed(
                'nova-compute', self.layout.log('nova-compute'),
                'has no hypervisor to map after 60 s')

    def wipe(self):
        """The containers of this all-in-one's instances, since their
        database goes too."""
        client = docker.from_env()
        removed = []
        for container in client.containers.list(all=True, filters={
                'label': '%s=%s' % (engine.LABEL_HOST,
                                    self.layout.compute_host)}):
            container.remove(force=True)
            removed.append('container ' + container.name)
        return removed
