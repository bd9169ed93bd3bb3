"""Neutron's data plane: Open vSwitch's database and integration bridge,
and the DHCP namespaces that outlive the DHCP agent."""

import datetime
import os
import signal
import subprocess
import time

from aio import layout as aio_layout
from aio import processes

INTEGRATION_BRIDGE = 'br-int'
SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


def create_ovsdb(layout):
    """Creates Open vSwitch's run directory, and its database once, before
    its first start."""
    os.makedirs(layout.ovs_rundir, exist_ok=True)
    path = layout.data('openvswitch', 'conf.db')
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(['ovsdb-tool', 'create', path, SCHEMA],
                   check=True, capture_output=True, text=True)


def _vsctl(layout, *args):
    subprocess.run(['ovs-vsctl', '--db=' + layout.ovsdb_connection,
                    '--timeout=30'] + list(args),
                   check=True, capture_output=True, text=True)


def configure_ovsdb(layout):
    """Before ovs-vswitchd starts, which reads the setting only then:
    without userspace TSO, TCP and UDP between veths on a netdev bridge
    fail (ping works)."""
    _vsctl(layout, '--no-wait', '--', 'init', '--', 'set', 'Open_vSwitch',
           '.', 'other_config:userspace-tso-enable=true')


def add_integration_bridge(layout):
    """Returns once ovs-vswitchd has created it, before the agents start:
    the DHCP agent plugs into a bridge the OVS agent would create only
    later."""
    _vsctl(layout, '--may-exist', 'add-br', INTEGRATION_BRIDGE, '--', 'set',
           'Bridge', INTEGRATION_BRIDGE, 'datapath_type=netdev')


def wait_for_agents(layout, conn, binaries, timeout=120):
    """Until each agent has reported alive from the compute host since its
    process started (an earlier run's record reads alive for 75 s; an
    agent that was running already reports every 30 s). Neutron keeps
    whole seconds."""
    host = aio_layout.compute_host(layout)
    started = {binary: processes.started_at(layout, binary).replace(
        microsecond=0) for binary in binaries}
    deadline = time.monotonic() + timeout
    while True:
        alive = {a.binary: datetime.datetime.fromisoformat(a.last_heartbeat_at)
                 for a in conn.network.agents(host=host) if a.is_alive}
        missing = [b for b in binaries
                   if b not in alive or alive[b] < started[b]]
        if not missing:
            return
        for binary in missing:
            processes.check_alive(layout, binary)
        if time.monotonic() > deadline:
            raise processes.ServiceFailed(
                missing[0], layout.log(missing[0]),
                'did not report alive within %d s' % timeout)
        time.sleep(0.3)


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
    deadline = time.monotonic() + timeout
    while _owned_pid(pid_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _owned_pid(pid_file):
        os.kill(pid, signal.SIGKILL)


def remove_dhcp_namespaces(layout):
    """Stops the dnsmasq of each network this all-in-one's DHCP agent
    serves and removes its namespace qdhcp-<network id> (and with it the
    veth into br-int): the agent leaves both behind when it stops, so
    that DHCP goes on during its restarts. The networks are the agent's
    directories in this state directory; other namespaces are not touched.
    Returns the namespaces removed."""
    confs = layout.data('neutron', 'dhcp')
    if not os.path.isdir(confs):
        return []
    removed = []
    for network_id in sorted(os.listdir(confs)):
        _stop_dnsmasq(os.path.join(confs, network_id, 'pid'))
        namespace = 'qdhcp-' + network_id
        if os.path.exists(os.path.join('/run/netns', namespace)):
            subprocess.run(['ip', 'netns', 'delete', namespace],
                           check=True, capture_output=True, text=True)
            removed.append(namespace)
    return removed
