"""Neutron: ML2 with the ovn mechanism driver (geneve project networks),
OVN's routers (SNAT, floating IPs) and its native DHCP; no agents."""

import os
import signal
import subprocess

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.services import keystone
from aio.services import mariadb
from aio.services import ovn
from aio.services import rabbitmq

API_PORT = 9696


def _owned_pid(pid_file):
    """The pid in the DHCP agent's pid file if that process is still the
    dnsmasq it started (whose command line names the pid file)."""
    try:
        with open(pid_file) as f:
            pid = int(f.read())
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            owned = ('--pid-file=%s' % pid_file).encode() in f.read()
    except (OSError, ValueError):
        return None
    return pid if owned else None


def _stop_dnsmasq(pid_file, timeout=5):
    pid = _owned_pid(pid_file)
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    if not processes.until(lambda: not _owned_pid(pid_file), timeout, 0.05):
        os.kill(pid, signal.SIGKILL)


class Neutron(service.Service):
    name = 'neutron'
    after = ('mariadb', 'rabbitmq', 'keystone', 'ovn')
    ports = {'neutron-api': API_PORT}
    databases = ('neutron',)
    user = 'neutron'
    catalog = (service.Endpoint('neutron', 'network',
                                aio_layout.url(API_PORT)),)

    def preflight(self):
        """An all-in-one made by the version on ML2/Open vSwitch (Neutron
        set up before OVN ever ran): its networks have no OVN
        counterpart."""
        if not os.path.exists(self.data('.initialized')) or \
                os.path.isdir(self.layout.data('ovn')):
            return []
        return ['%s was made by an earlier version of the all-in-one '
                '(Neutron on ML2/Open vSwitch with agents; it now uses '
                'ML2/OVN): run "tools/aio wipe" (it removes that '
                'all-in-one\'s servers, images and networks too), then '
                '"tools/aio"' % self.layout.state]

    def _neutron_conf(self):
        layout = self.layout
        return service.ini({
            'DEFAULT': {
                'use_stderr': 'true',
                'bind_host': aio_layout.HOST,
                'core_plugin': 'ml2',
                'service_plugins': 'ovn-router',
                'transport_url': rabbitmq.transport_url(layout),
                'state_path': self.data(),
                'api_workers': '1',
                # No agents: nothing to cast router updates to over RPC.
                'rpc_workers': '0',
                # OVN serves DHCP: no DHCP agent to schedule networks on,
                # notify, or wait for (provisioning block).
                'enable_traditional_dhcp': 'false',
                'notify_nova_on_port_status_changes': 'true',
                'notify_nova_on_port_data_changes': 'true',
                # Events (network-vif-plugged, which a boot waits for) go
                # to Nova in batches, every 2 s by default.
                'send_events_interval': '1',
                'api_paste_config': layout.wheel_etc('neutron',
                                                     'api-paste.ini'),
            },
            'database': {'connection': mariadb.url(layout, 'neutron')},
            'keystone_authtoken': keystone.authtoken(layout, 'neutron'),
            'nova': keystone.service_auth(layout, 'nova'),
            'oslo_concurrency': {'lock_path': self.data('locks')},
            'ml2': {
                'type_drivers': 'flat,geneve',
                'project_network_types': 'geneve',
                'mechanism_drivers': 'ovn',
                'extension_drivers': 'port_security',
            },
            # OVN's geneve header carries more than the 30-byte default:
            # project networks get an MTU of 1442.
            'ml2_type_geneve': {'vni_ranges': '1:65536',
                                'max_header_size': '38'},
            'ml2_type_flat': {'flat_networks': ovn.PHYSICAL_NETWORK},
            'ovn': {
                'ovn_nb_connection': ovn.nb_connection(layout),
                'ovn_sb_connection': ovn.sb_connection(layout),
                'ovn_l3_scheduler': 'leastloaded',
                # Containers have no cloud-init asking 169.254.169.254.
                'ovn_metadata_enabled': 'false',
                'enable_distributed_floating_ip': 'false',
            },
        })

    def config_files(self):
        return {'neutron.conf': self._neutron_conf()}

    def initialize(self):
        self.run([self.layout.bin('neutron-db-manage'),
                  '--config-file', self.etc('neutron.conf'),
                  'upgrade', 'heads'])

    def processes(self):
        layout = self.layout
        config = ['--config-file', self.etc('neutron.conf')]
        env = ovn.client_env(layout)
        return [
            # Neutron reads its API worker count (the OVN hash ring needs
            # it) from uWSGI, mod_wsgi or ASGI_WORKERS.
            # On SIGTERM its worker leaves the OVN hash ring at once but
            # does not exit: gunicorn kills it after the graceful timeout.
            self.gunicorn('neutron-api', 'neutron.wsgi.api', API_PORT, dict(
                env, OS_NEUTRON_CONFIG_DIR=self.etc(),
                OS_NEUTRON_CONFIG_FILES='neutron.conf', ASGI_WORKERS='1'),
                graceful_timeout=1),
            service.Process(
                'neutron-ovn-maintenance',
                self.one_process('neutron-ovn-maintenance-worker') + config,
                service.is_running(), env, after=('neutron-api',)),
        ]

    def wipe(self):
        """What the DHCP agent of the version on ML2/Open vSwitch left
        running: a dnsmasq and a namespace qdhcp-<network id> for each
        network it served, found by its directories in this state
        directory (other namespaces are not touched)."""
        served = self.data('dhcp')
        if not os.path.isdir(served):
            return []
        removed = []
        for network_id in sorted(os.listdir(served)):
            _stop_dnsmasq(os.path.join(served, network_id, 'pid'))
            namespace = 'qdhcp-' + network_id
            if os.path.exists(os.path.join('/run/netns', namespace)):
                subprocess.run(['ip', 'netns', 'delete', namespace],
                               check=True, capture_output=True, text=True)
                removed.append('namespace ' + namespace)
        return removed
