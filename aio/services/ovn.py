"""OVN (Debian's): the northbound and southbound databases, ovn-northd, and
ovn-controller making this host a chassis that also hosts routers'
gateways; the provider bridge of the external network, and the namespace
that plays the world outside it.

The outside world is the namespace ``aio-outside``: it holds the external
subnet's gateway address on a veth into the provider bridge, so that it,
and nothing in the host's own namespace, can reach floating IPs. It is
this state directory's own (aio.hostwide): another's stop leaves it alone.
"""

import os
import subprocess

from aio import hostwide
from aio import processes
from aio import service
from aio.services import openvswitch

NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'
SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'
# The external network's physical network, and its bridge.
PHYSICAL_NETWORK = 'public'
PROVIDER_BRIDGE = 'br-ex'
OUTSIDE_NAMESPACE = 'aio-outside'
# The host end, on the provider bridge, and its peer in the namespace.
OUTSIDE_LINK = 'aio-outside-br'
OUTSIDE_PEER = 'eth0'
EXTERNAL_CIDR = '172.24.4.0/24'
OUTSIDE_ADDRESS = '172.24.4.1'


def rundir(layout):
    return os.path.join(layout.state, 'run', 'ovn')


def nb_connection(layout):
    return 'unix:' + os.path.join(rundir(layout), 'ovnnb_db.sock')


def sb_connection(layout):
    return 'unix:' + os.path.join(rundir(layout), 'ovnsb_db.sock')


def client_env(layout):
    """ovn-controller, which has no --unixctl option in 23.03, puts its
    control socket in OVN_RUNDIR."""
    return dict(openvswitch.client_env(layout), OVN_RUNDIR=rundir(layout))


def _run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


def _chassis_registered(layout):
    """Whether ovn-controller has registered this host as a chassis in the
    southbound database (Neutron lists it as an agent from then on)."""
    return layout.compute_host in _run(
        'ovn-sbctl', '--db=' + sb_connection(layout), '--timeout=5',
        '--bare', '--columns=name', 'find', 'Chassis',
        'name=' + layout.compute_host).split()


def _chassis_caught_up(layout):
    """Whether this host's chassis is registered and its ovn-controller
    has processed the northbound database's latest change: a round trip
    through ovn-northd and ovn-controller's main loop, which now and then
    hangs at start (its log then ends at "OVS OpenFlow connection
    reconnected", and no port is ever claimed)."""
    if not _chassis_registered(layout):
        return False
    _run('ovn-nbctl', '--db=' + nb_connection(layout), '--wait=hv',
         '--timeout=5', 'sync')
    return True


def _outside_whole(layout):
    """Whether this state's outside world is all there: the namespace,
    its marked end, and the host end up as a port of the provider bridge
    (ovs-vswitchd in promiscuous mode on it)."""
    if hostwide.owner(OUTSIDE_PEER, OUTSIDE_NAMESPACE) != layout.state:
        return False
    host_end = hostwide.link(OUTSIDE_LINK)
    return host_end is not None and \
        {'UP', 'PROMISC'} <= set(host_end['flags']) and OUTSIDE_LINK in \
        openvswitch.vsctl(layout, 'list-ports', PROVIDER_BRIDGE).split()


def ensure_outside(layout, remake=False):
    """The outside world: a namespace holding the external subnet's
    gateway address on a veth into the provider bridge. The host's end
    has no address (IPv6 off, so not even a link-local one).

    Made again when any part is missing, or when ``remake``: the switch's
    port is deleted and added with the new veth, since ovs-vswitchd (on
    the userspace datapath) keeps reading a deleted device of the same
    name and forwards nothing to its successor."""
    if not remake and _outside_whole(layout):
        return
    if hostwide.claim_namespace(layout, OUTSIDE_NAMESPACE, OUTSIDE_PEER):
        _run('ip', 'netns', 'delete', OUTSIDE_NAMESPACE)
    openvswitch.vsctl(layout, '--if-exists', 'del-port', PROVIDER_BRIDGE,
                      OUTSIDE_LINK)
    hostwide.Record(layout).add('netns', OUTSIDE_NAMESPACE)
    _run('ip', 'netns', 'add', OUTSIDE_NAMESPACE)
    _run('ip', 'link', 'add', OUTSIDE_LINK, 'type', 'veth', 'peer',
         'name', OUTSIDE_PEER, 'netns', OUTSIDE_NAMESPACE)
    hostwide.set_alias(layout, OUTSIDE_LINK)
    hostwide.set_alias(layout, OUTSIDE_PEER, OUTSIDE_NAMESPACE)
    _run('sysctl', '-q', '-w',
         'net.ipv6.conf.%s.disable_ipv6=1' % OUTSIDE_LINK)
    _run('ip', 'link', 'set', OUTSIDE_LINK, 'up')
    openvswitch.vsctl(layout, 'add-port', PROVIDER_BRIDGE, OUTSIDE_LINK)
    in_outside('ip', 'link', 'set', 'lo', 'up')
    in_outside('ip', 'address', 'add', '%s/%s' % (
        OUTSIDE_ADDRESS, EXTERNAL_CIDR.split('/')[1]), 'dev', OUTSIDE_PEER)
    in_outside('ip', 'link', 'set', OUTSIDE_PEER, 'up')


def answers_from_outside(address, seconds):
    """Whether ``address`` answers a ping from the outside world within
    ``seconds``."""
    return processes.until(lambda: subprocess.run(
        ['ip', 'netns', 'exec', OUTSIDE_NAMESPACE, 'busybox', 'ping', '-c',
         '1', '-W', '1', address], capture_output=True).returncode == 0,
        seconds, interval=0)


def in_outside(*argv):
    """Runs a command in the outside world's namespace."""
    return _run('ip', 'netns', 'exec', OUTSIDE_NAMESPACE, *argv)


class OVN(service.Service):
    name = 'ovn'
    after = ('openvswitch',)

    def preflight(self):
        try:
            hostwide.check_namespace(self.layout, OUTSIDE_NAMESPACE,
                                     OUTSIDE_PEER)
        except hostwide.Taken as e:
            return [str(e)]
        return []

    def _database(self, name, schema, socket):
        def create():
            os.makedirs(rundir(self.layout), exist_ok=True)
            path = self.data(name + '.db')
            if not os.path.exists(path):
                os.makedirs(self.data(), exist_ok=True)
                _run('ovsdb-tool', 'create', path, schema)
        run = rundir(self.layout)
        return service.Process(
            'ovn-%s-db' % name, [
                '/usr/sbin/ovsdb-server', self.data(name + '.db'),
                '--remote=punix:' + os.path.join(run, socket),
                '--unixctl=' + os.path.join(run, 'ovn%s_db.ctl' % name),
            ], service.unix_socket_answers(os.path.join(run, socket)),
            client_env(self.layout), prepare=create, timeout=10)

    def _configure_chassis(self):
        """This host as a chassis: its name, as Nova and Neutron know the
        compute host; the integration bridge on the userspace datapath;
        the external network's bridge; and a gateway for routers (without
        a gateway chassis, SNAT and floating IPs do nothing)."""
        layout = self.layout
        openvswitch.vsctl(
            layout, '--may-exist', 'add-br', PROVIDER_BRIDGE,
            '--', 'set', 'Bridge', PROVIDER_BRIDGE, 'datapath_type=netdev',
            '--', 'set', 'Open_vSwitch', '.',
            'external_ids:system-id=' + layout.compute_host,
            'external_ids:hostname=' + layout.compute_host,
            'external_ids:ovn-remote=' + sb_connection(layout),
            'external_ids:ovn-encap-type=geneve',
            # One chassis: no tunnel to any peer.
            'external_ids:ovn-encap-ip=127.0.0.1',
            'external_ids:ovn-bridge=' + openvswitch.INTEGRATION_BRIDGE,
            'external_ids:ovn-bridge-datapath-type=netdev',
            'external_ids:ovn-bridge-mappings=%s:%s' % (
                PHYSICAL_NETWORK, PROVIDER_BRIDGE),
            'external_ids:ovn-cms-options=enable-chassis-as-gw')

    def _initialize_databases(self):
        _run('ovn-nbctl', '--db=' + nb_connection(self.layout), '--no-wait',
             'init')
        _run('ovn-sbctl', '--db=' + sb_connection(self.layout), 'init')

    def processes(self):
        layout = self.layout
        run = rundir(layout)
        env = client_env(layout)
        northd_control = os.path.join(run, 'ovn-northd.ctl')
        return [
            self._database('nb', NB_SCHEMA, 'ovnnb_db.sock'),
            self._database('sb', SB_SCHEMA, 'ovnsb_db.sock'),
            service.Process('ovn-northd', [
                '/usr/bin/ovn-northd',
                '--ovnnb-db=' + nb_connection(layout),
                '--ovnsb-db=' + sb_connection(layout),
                '--unixctl=' + northd_control,
            ], service.unix_socket_answers(northd_control), env,
                after=('ovn-nb-db', 'ovn-sb-db'),
                prepare=self._initialize_databases, timeout=10),
            service.Process('ovn-controller', [
                '/usr/bin/ovn-controller',
                openvswitch.ovsdb_connection(layout),
            ], service.Check(
                'has registered chassis %s in the southbound database and '
                'caught up with the northbound one' % layout.compute_host,
                lambda: _chassis_caught_up(layout)), env,
                after=('ovn-sb-db', 'ovn-northd'),
                prepare=self._configure_chassis, timeout=20, attempts=2),
        ]

    def started(self):
        """The outside world, made or repaired."""
        ensure_outside(self.layout)

    def stopped(self):
        """Removes the outside world's namespace, and with it the veth,
        if this state made it."""
        if hostwide.remove_namespace(self.layout, OUTSIDE_NAMESPACE,
                                     OUTSIDE_PEER):
            return ['namespace ' + OUTSIDE_NAMESPACE]
        return []
