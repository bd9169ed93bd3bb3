"""An added compute host's network namespace and its two links, as a
machine's network cards: one into the management network
(aio.services.management), holding the host's management address, through
which it reaches the control plane; one into the first host's tunnel
bridge, the uplink of the host's own (aio.services.chassis), which carries
the geneve tunnels between the hosts' chassis. (The first host lives in
the machine's namespace beside the control plane, and its tunnel bridge
is the others' meeting point: it has no link of its own.)

Both ends of each link are marked as this state's (aio.hostwide) and the
namespace is recorded: ``stop`` removes them, and with the namespace every
link in it.
"""

import ipaddress
import subprocess

from aio import hostwide
from aio import layout as aio_layout
from aio import service
from aio.services import management
from aio.services import openvswitch

MANAGEMENT_LINK = 'mgmt0'
UPLINK = 'phy0'
TUNNEL_BRIDGE = 'br-phy'


def _run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


class HostNetwork(service.Service):
    name = 'host-network'
    after = ('management',)

    def preflight(self):
        if self.host.first:
            return []
        try:
            hostwide.check_namespace(self.layout, self.host.namespace,
                                     MANAGEMENT_LINK)
        except hostwide.Taken as e:
            return [str(e)]
        return []

    def _in_host(self, *argv):
        return _run(*self.host.command(argv))

    def _veth(self, outer_end, inner_end):
        """A veth from the machine's namespace into the host's; made
        again if either end is missing. Returns whether it made it."""
        namespace = self.host.namespace
        if hostwide.link(outer_end) is not None:
            if hostwide.link(inner_end, namespace) is not None:
                return False
            _run('ip', 'link', 'delete', 'dev', outer_end)
        hostwide.Record(self.layout).add('link', outer_end)
        _run('ip', 'link', 'add', outer_end, 'type', 'veth', 'peer', 'name',
             inner_end, 'netns', namespace)
        hostwide.set_alias(self.layout, outer_end)
        hostwide.set_alias(self.layout, inner_end, namespace)
        self._in_host('ip', 'link', 'set', inner_end, 'up')
        return True

    def started(self):
        host = self.host
        if host.first:
            return
        if not hostwide.claim_namespace(self.layout, host.namespace,
                                        MANAGEMENT_LINK):
            hostwide.Record(self.layout).add('netns', host.namespace)
            _run('ip', 'netns', 'add', host.namespace)
            self._in_host('ip', 'link', 'set', 'lo', 'up')
        if self._veth(host.link('mgmt'), MANAGEMENT_LINK):
            management.join(self.layout, host.link('mgmt'))
        self._in_host('ip', 'address', 'replace', '%s/%d' % (
            host.management_ip, ipaddress.ip_network(
                aio_layout.MANAGEMENT_NETWORK).prefixlen),
            'dev', MANAGEMENT_LINK)
        tunnel = host.link('tun')
        if self._veth(tunnel, UPLINK):
            # A new port, not the old one on a new device: ovs-vswitchd
            # (userspace datapath) keeps reading a deleted device of the
            # same name.
            openvswitch.vsctl(host.control, '--if-exists', 'del-port',
                              TUNNEL_BRIDGE, tunnel, '--', 'add-port',
                              TUNNEL_BRIDGE, tunnel)
            _run('ip', 'link', 'set', tunnel, 'up')

    def stopped(self):
        host = self.host
        if host.first:
            return []
        removed = []
        try:
            openvswitch.vsctl(host.control, '--if-exists', 'del-port',
                              TUNNEL_BRIDGE, host.link('tun'))
        except subprocess.CalledProcessError:
            pass  # Its switch is down: the next add-port replaces it.
        if hostwide.remove_namespace(self.layout, host.namespace,
                                     MANAGEMENT_LINK):
            removed.append('namespace ' + host.namespace)
        for link in (host.link('mgmt'), host.link('tun')):
            hostwide.remove_link(self.layout, link)
        return removed
