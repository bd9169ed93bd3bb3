"""A compute host as an OVN chassis: its ovn-controller, which programs
the host's Open vSwitch from the southbound database.

Its tunnel (geneve) endpoint is the address of its bridge ``br-phy``:
with the userspace datapath, OVS sends tunnel packets itself, so the
endpoint must be on one of its bridges. An added host's ``br-phy`` has an
uplink into the first host's (aio.services.host_network). The first host
is also the gateway chassis: the external network's bridge and the
routers' gateways are there.
"""

import ipaddress
import os
import subprocess

from aio import hostwide
from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.services import host_network
from aio.services import openvswitch
from aio.services import ovn



def _run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


def _chassis_registered(control, name):
    """Whether the host's ovn-controller has registered it as a chassis
    in the southbound database (Neutron lists it as an agent from then
    on)."""
    return name in _sb(control, '--bare', '--columns=name', 'find',
                       'Chassis', 'name=' + name).split()


def _sb(control, *args):
    return _run('ovn-sbctl', '--db=' + ovn.sb_connection(control),
                '--timeout=5', *args).strip()


def _caught_up(control, name):
    """Whether the chassis is registered and its ovn-controller has
    processed the northbound database's latest change: a round trip
    through ovn-northd and ovn-controller's main loop, which now and then
    hangs at start (its log then ends at "OVS OpenFlow connection
    reconnected", and no port is ever claimed). (Not ``--wait=hv``, which
    waits for every chassis, a stopped host's too.)"""
    if not _chassis_registered(control, name):
        return False
    _run('ovn-nbctl', '--db=' + ovn.nb_connection(control), '--wait=sb',
         '--timeout=5', 'sync')
    wanted = int(_sb(control, 'get', 'SB_Global', '.', 'nb_cfg'))
    return processes.until(lambda: int(_sb(
        control, '--bare', '--columns=nb_cfg', 'find', 'Chassis_Private',
        'name=' + name) or 0) >= wanted, 5)


class Chassis(service.Service):
    name = 'ovn-controller'
    after = ('openvswitch', 'host-network', 'ovn')

    def _vsctl(self, *args):
        return openvswitch.vsctl(self.layout, *args)

    def _tunnel_endpoint(self):
        """The tunnel bridge, its uplink on an added host, and the host's
        tunnel address on it."""
        host = self.host
        bridge = host_network.TUNNEL_BRIDGE
        self._vsctl('--may-exist', 'add-br', bridge, '--', 'set', 'Bridge',
                    bridge, 'datapath_type=netdev')
        if not host.first:
            self._vsctl('--may-exist', 'add-port', bridge,
                        host_network.UPLINK)
        # A bridge already in the database gets its device once
        # ovs-vswitchd has read it, after its start.
        if not processes.until(lambda: subprocess.run(
                host.command(['ip', 'link', 'show', 'dev', bridge]),
                capture_output=True).returncode == 0, 10):
            raise processes.ServiceFailed(
                'ovs-vswitchd', self.layout.log('ovs-vswitchd'),
                'made no device for the bridge %s in 10 s' % bridge)
        _run(*host.command([
            'ip', 'address', 'replace', '%s/%d' % (
                host.tunnel_ip, ipaddress.ip_network(
                    aio_layout.TUNNEL_NETWORK).prefixlen), 'dev', bridge]))
        _run(*host.command(['ip', 'link', 'set', bridge, 'up']))

    def _configure(self):
        """The host as a chassis: its name, as Nova and Neutron know the
        compute host; its tunnel endpoint; the integration bridge on the
        userspace datapath; on the first host, the external network's
        bridge and a gateway for routers (without a gateway chassis, SNAT
        and floating IPs do nothing)."""
        host = self.host
        os.makedirs(ovn.rundir(self.layout), exist_ok=True)
        self._tunnel_endpoint()
        gateway = []
        if host.first:
            self._vsctl('--may-exist', 'add-br', ovn.PROVIDER_BRIDGE, '--',
                        'set', 'Bridge', ovn.PROVIDER_BRIDGE,
                        'datapath_type=netdev')
            gateway = [
                'external_ids:ovn-bridge-mappings=%s:%s' % (
                    ovn.PHYSICAL_NETWORK, ovn.PROVIDER_BRIDGE),
                'external_ids:ovn-cms-options=enable-chassis-as-gw']
        self._vsctl(
            'set', 'Open_vSwitch', '.',
            'external_ids:system-id=' + host.name,
            'external_ids:hostname=' + host.name,
            'external_ids:ovn-remote=' + ovn.sb_remote(),
            'external_ids:ovn-encap-type=geneve',
            'external_ids:ovn-encap-ip=' + host.tunnel_ip,
            'external_ids:ovn-bridge=' + openvswitch.INTEGRATION_BRIDGE,
            'external_ids:ovn-bridge-datapath-type=netdev', *gateway)

    def processes(self):
        host = self.host
        return [
            service.Process('ovn-controller', host.command([
                '/usr/bin/ovn-controller',
                openvswitch.ovsdb_connection(self.layout),
            ]), service.Check(
                'has registered chassis %s in the southbound database and '
                'caught up with the northbound one' % host.name,
                lambda: _caught_up(host.control, host.name)),
                ovn.client_env(self.layout),
                prepare=self._configure, timeout=20, attempts=2),
        ]

    # The outside world hangs off the gateway chassis' provider bridge.

    def preflight(self):
        if not self.host.first:
            return []
        try:
            hostwide.check_namespace(self.layout, ovn.OUTSIDE_NAMESPACE,
                                     ovn.OUTSIDE_PEER)
        except hostwide.Taken as e:
            return [str(e)]
        return []

    def started(self):
        """The outside world, made or repaired."""
        if self.host.first:
            ovn.ensure_outside(self.layout)

    def stopped(self):
        """Removes the outside world's namespace, and with it the veth,
        if this state made it."""
        if self.host.first and hostwide.remove_namespace(
                self.layout, ovn.OUTSIDE_NAMESPACE, ovn.OUTSIDE_PEER):
            return ['namespace ' + ovn.OUTSIDE_NAMESPACE]
        return []
