"""Neutron: ML2 with the openvswitch mechanism driver (vxlan project
networks), its Open vSwitch and DHCP agents, and the DHCP namespaces that
outlive the DHCP agent."""

import datetime
import os
import signal
import subprocess

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.layout import HOST
from aio.services import keystone
from aio.services import mariadb
from aio.services import openvswitch
from aio.services import rabbitmq

API_PORT = 9696
# The OpenFlow controller that programs br-int.
OPENFLOW_PORT = 6633
# Every privsep context of neutron.privileged.
PRIVSEP_CONTEXTS = (
    'privsep', 'privsep_dhcp_release', 'privsep_ovs_vsctl',
    'privsep_namespace', 'privsep_conntrack', 'privsep_link')


def reports_alive(layout, binary):
    """Ready once the agent has reported alive from the compute host since
    its process started (an earlier run's record reads alive for 75 s; a
    running agent reports every 30 s). Neutron keeps whole seconds."""
    def alive(conn):
        started = processes.started_at(layout, binary).replace(microsecond=0)
        return any(
            agent.is_alive and datetime.datetime.fromisoformat(
                agent.last_heartbeat_at) >= started
            for agent in conn.network.agents(host=layout.compute_host,
                                             binary=binary))
    return keystone.asks_api(
        layout, "reports alive in Neutron's agents API", alive)


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
    after = ('mariadb', 'rabbitmq', 'keystone')
    ports = {'neutron-api': API_PORT,
             'neutron-openvswitch-agent': OPENFLOW_PORT}
    databases = ('neutron',)
    user = 'neutron'
    catalog = (service.Endpoint('neutron', 'network',
                                aio_layout.url(API_PORT)),)

    def _neutron_conf(self):
        layout = self.layout
        return service.ini({
            'DEFAULT': {
                'use_stderr': 'true',
                'bind_host': HOST,
                'core_plugin': 'ml2',
                'service_plugins': '',
                'transport_url': rabbitmq.transport_url(layout),
                'state_path': self.data(),
                'api_workers': '1',
                'rpc_workers': '1',
                # The RPC worker consumes agents' state reports too; a
                # worker of its own would cost another Neutron process
                # (~90 MiB).
                'rpc_state_report_workers': '0',
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
                'type_drivers': 'flat,vlan,vxlan',
                'tenant_network_types': 'vxlan',
                'mechanism_drivers': 'openvswitch',
                'extension_drivers': 'port_security',
            },
            'ml2_type_vxlan': {'vni_ranges': '1:1000'},
            # The agents' commands run as root already.
            'agent': {'root_helper': 'env'},
        })

    def _agent_privsep_helpers(self, agent_file):
        return self.privsep_helpers(PRIVSEP_CONTEXTS, [
            self.etc('neutron.conf'), self.etc(agent_file)])

    def _agent_ovs(self):
        return {
            'integration_bridge': openvswitch.INTEGRATION_BRIDGE,
            # There is no openvswitch kernel module: the userspace datapath.
            'datapath_type': 'netdev',
            'ovsdb_connection': openvswitch.ovsdb_connection(self.layout),
        }

    def _openvswitch_agent_ini(self):
        return service.ini({
            # Nova binds ports to its compute host; the agent must carry
            # the same name.
            'DEFAULT': {'host': self.layout.compute_host},
            'ovs': dict(
                self._agent_ovs(),
                of_listen_address=HOST,
                of_listen_port=OPENFLOW_PORT,
                bridge_mappings='',
                # Tenant networks are vxlan, which ML2 binds only on agents
                # that have the tunnel type; one host has no peer to reach.
                local_ip=HOST),
            # A new port is wired on the next pass of the agent's loop
            # (every 2 s by default), and a boot waits for that.
            'agent': {'tunnel_types': 'vxlan', 'polling_interval': '1'},
            'securitygroup': {'firewall_driver': 'openvswitch'},
            **self._agent_privsep_helpers('openvswitch_agent.ini'),
        })

    def _dhcp_agent_ini(self):
        return service.ini({
            'DEFAULT': {
                'host': self.layout.compute_host,
                'interface_driver': 'openvswitch',
                # An internal port moved into the namespace dies whenever
                # ovs-vswitchd restarts; a veth pair does not.
                'ovs_use_veth': 'true',
            },
            'ovs': self._agent_ovs(),
            **self._agent_privsep_helpers('dhcp_agent.ini'),
        })

    def config_files(self):
        return {'neutron.conf': self._neutron_conf(),
                'openvswitch_agent.ini': self._openvswitch_agent_ini(),
                'dhcp_agent.ini': self._dhcp_agent_ini()}

    def initialize(self):
        self.run([self.layout.bin('neutron-db-manage'),
                  '--config-file', self.etc('neutron.conf'),
                  'upgrade', 'heads'])

    def processes(self):
        layout = self.layout
        config = ['--config-file', self.etc('neutron.conf')]

        def agent(binary, ini, **kwargs):
            return service.Process(
                binary, [layout.bin(binary)] + config + [
                    '--config-file', self.etc(ini)],
                reports_alive(layout, binary),
                openvswitch.client_env(layout), timeout=120,
                after=('openvswitch', 'neutron-rpc'), **kwargs)
        return [
            self.gunicorn('neutron-api', 'neutron.wsgi.api', API_PORT, {
                'OS_NEUTRON_CONFIG_DIR': self.etc(),
                'OS_NEUTRON_CONFIG_FILES': 'neutron.conf'}),
            # The agents' first calls must not come before the server
            # consumes their topics: RabbitMQ drops them, and the DHCP
            # agent's first one then waits out a 60 s timeout and a
            # back-off.
            service.Process(
                'neutron-rpc', [layout.bin('neutron-rpc-server')] + config,
                rabbitmq.queues_consumed(layout,
                                         ('q-plugin', 'q-reports-plugin'))),
            # After SIGTERM it leaves its loop within a polling interval,
            # then hangs in os-ken's shutdown until killed; the switch
            # keeps its flows.
            agent('neutron-openvswitch-agent', 'openvswitch_agent.ini',
                  stop_timeout=5),
            # Its shutdown idles 5 s for its RPC server, then 5 s more, and
            # leaves every dnsmasq running anyway (stopped() removes them).
            agent('neutron-dhcp-agent', 'dhcp_agent.ini', stop_timeout=5),
        ]

    def stopped(self):
        """Stops the dnsmasq of each network this all-in-one's DHCP agent
        serves and removes its namespace qdhcp-<network id> (and with it
        the veth into br-int): the agent leaves both behind when it stops,
        so that DHCP goes on during its restarts. The networks are the
        agent's directories in this state directory; other namespaces are
        not touched."""
        confs = self.data('dhcp')
        if not os.path.isdir(confs):
            return []
        removed = []
        for network_id in sorted(os.listdir(confs)):
            _stop_dnsmasq(os.path.join(confs, network_id, 'pid'))
            namespace = 'qdhcp-' + network_id
            if os.path.exists(os.path.join('/run/netns', namespace)):
                subprocess.run(['ip', 'netns', 'delete', namespace],
                               check=True, capture_output=True, text=True)
                removed.append('namespace ' + namespace)
        return removed
