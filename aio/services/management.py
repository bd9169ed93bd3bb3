"""The management network: a Linux bridge holding the control plane's
address, into which every added compute host (aio.hosts) has a link, as
machines have into their rack's switch. The hosts reach the control plane
through it (their packets end here; a bridge of this machine forwards
nothing between two of its ports: Docker's firewall drops what it would
forward).

The bridge is this state directory's own (aio.hostwide): made before any
service listens on its address, removed once they have all stopped.
"""

import ipaddress
import json
import subprocess

from aio import hostwide
from aio import layout as aio_layout
from aio import service

BRIDGE = 'aio-mgmt'


def _run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


def _others_in_our_ranges(ours):
    """Addresses in the project's ranges on links other than ``ours``."""
    networks = [ipaddress.ip_network(aio_layout.MANAGEMENT_NETWORK),
                ipaddress.ip_network(aio_layout.TUNNEL_NETWORK)]
    found = []
    for link in json.loads(_run('ip', '-j', 'address', 'show') or '[]'):
        if link['ifname'] in ours:
            continue
        for address in link.get('addr_info', []):
            if address['family'] == 'inet' and any(
                    ipaddress.ip_address(address['local']) in net
                    for net in networks):
                found.append('%s on %s' % (address['local'], link['ifname']))
    return found


def join(layout, link):
    """Plugs a host's link (its end in this namespace) into the bridge,
    marked as this state's."""
    hostwide.set_alias(layout, link)
    _run('ip', 'link', 'set', link, 'master', BRIDGE, 'up')


class Management(service.Service):
    name = 'management'

    def preflight(self):
        problems = []
        try:
            hostwide.check_owner(self.layout, 'bridge ' + BRIDGE,
                                 hostwide.owner(BRIDGE))
        except hostwide.Taken as e:
            problems.append(str(e))
        # The tunnel bridge's address is the first host's (chassis).
        elsewhere = _others_in_our_ranges((BRIDGE, 'br-phy'))
        if elsewhere:
            problems.append(
                'the all-in-one\'s networks %s and %s are already in use '
                'on this machine (%s): remove those addresses' % (
                    aio_layout.MANAGEMENT_NETWORK,
                    aio_layout.TUNNEL_NETWORK, ', '.join(elsewhere)))
        return problems

    def started(self):
        """The bridge with the management address, made or taken over."""
        if hostwide.link(BRIDGE) is None:
            hostwide.Record(self.layout).add('link', BRIDGE)
            _run('ip', 'link', 'add', BRIDGE, 'type', 'bridge')
        hostwide.set_alias(self.layout, BRIDGE)
        # No IPv6 (not even link-local): the hosts speak IPv4 here.
        _run('sysctl', '-q', '-w', 'net.ipv6.conf.%s.disable_ipv6=1' % BRIDGE)
        _run('ip', 'address', 'replace', '%s/%d' % (
            aio_layout.HOST, ipaddress.ip_network(
                aio_layout.MANAGEMENT_NETWORK).prefixlen), 'dev', BRIDGE)
        _run('ip', 'link', 'set', BRIDGE, 'up')

    def stopped(self):
        if hostwide.remove_link(self.layout, BRIDGE):
            return ['bridge ' + BRIDGE]
        return []
