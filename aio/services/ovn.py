"""OVN (Debian's) central: the northbound and southbound databases, which
listen on the management address too (for the compute hosts' chassis,
aio.services.chassis), and ovn-northd. Also the world outside the external
network, on the gateway chassis' provider bridge.

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
from aio.layout import HOST
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
NB_PORT = 6641
SB_PORT = 6642
OUTSIDE_ADDRESS = '172.24.4.1'


def rundir(layout):
    return os.path.join(layout.state, 'run', 'ovn')


def nb_connection(layout):
    return 'unix:' + os.path.join(rundir(layout), 'ovnnb_db.sock')


def sb_connection(layout):
    return 'unix:' + os.path.join(rundir(layout), 'ovnsb_db.sock')


def sb_remote():
    """The southbound database, as the chassis reach it."""
    return 'tcp:%s:%d' % (HOST, SB_PORT)


def client_env(layout):
    """ovn-controller, which has no --unixctl option in 23.03, puts its
    control socket in OVN_RUNDIR."""
    return dict(openvswitch.client_env(layout), OVN_RUNDIR=rundir(layout))


def _run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout


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
    # Its packets to a server on another host are tunnelled by Open
    # vSwitch's userspace datapath, which drops those leaving their
    # checksums to the device.
    in_outside('ethtool', '-K', OUTSIDE_PEER, 'tx', 'off')
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
    after = ('management',)
    ports = {'ovn-nb-db': NB_PORT, 'ovn-sb-db': SB_PORT}

    def _database(self, name, schema, socket, port):
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
                '--remote=ptcp:%d:%s' % (port, HOST),
                '--unixctl=' + os.path.join(run, 'ovn%s_db.ctl' % name),
            ], service.unix_socket_answers(os.path.join(run, socket)),
            client_env(self.layout), prepare=create, timeout=10)

    def _initialize_databases(self):
        _run('ovn-nbctl', '--db=' + nb_connection(self.layout), '--no-wait',
             'init')
        _run('ovn-sbctl', '--db=' + sb_connection(self.layout), 'init')

    def processes(self):
        layout = self.layout
        northd_control = os.path.join(rundir(layout), 'ovn-northd.ctl')
        return [
            self._database('nb', NB_SCHEMA, 'ovnnb_db.sock', NB_PORT),
            self._database('sb', SB_SCHEMA, 'ovnsb_db.sock', SB_PORT),
            service.Process('ovn-northd', [
                '/usr/bin/ovn-northd',
                '--ovnnb-db=' + nb_connection(layout),
                '--ovnsb-db=' + sb_connection(layout),
                '--unixctl=' + northd_control,
            ], service.unix_socket_answers(northd_control),
                client_env(layout), after=('ovn-nb-db', 'ovn-sb-db'),
                prepare=self._initialize_databases, timeout=10),
        ]
