"""Links in the host and in a container's network namespace (pyroute2).

Every function here runs in the privileged daemon and takes plain values,
since its arguments cross the privsep channel.
"""

import contextlib
import errno
import os
import socket

from pyroute2 import IPRoute
from pyroute2 import NetNS
from pyroute2.ethtool import Ethtool
from pyroute2.netlink import exceptions as netlink_exceptions

from novadocker import privsep

# Set on IPv6 addresses Neutron allocated: duplicate address detection
# would hold them back for seconds after every start, and Neutron already
# guarantees they are unique on the network.
_IFA_F_NODAD = 0x02


@contextlib.contextmanager
def _namespace(pid):
    """A netlink socket in the network namespace of process ``pid``.

    The namespace is opened here and handed to pyroute2 as a descriptor:
    given the path of a process of another user (the sandbox runs as
    nobody), pyroute2 0.9 fails with EACCES in this daemon, while this
    open succeeds.
    """
    fd = os.open('/proc/%d/ns/net' % pid, os.O_RDONLY)
    try:
        with NetNS(fd) as ns:
            yield ns
    finally:
        os.close(fd)


def _index(ipr, ifname):
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


@privsep.sys_admin_pctxt.entrypoint
def link_exists(ifname):
    with IPRoute() as ipr:
        return _index(ipr, ifname) is not None


@privsep.sys_admin_pctxt.entrypoint
def add_veth(host_end, container_end, mtu):
    """A veth pair in the host, host end up.

    The container's end computes its checksums itself (ethtool -K tx off):
    Open vSwitch's userspace datapath cannot put a tunnel header on a
    packet that leaves them to the device, and drops it, so TCP to an
    instance on another host would fail.
    """
    with IPRoute() as ipr:
        ipr.link('add', ifname=host_end, kind='veth', peer=container_end)
        ipr.link('set', index=_index(ipr, host_end), mtu=mtu, state='up')
    ethtool = Ethtool()
    try:
        features = ethtool.get_features(container_end)
        for name, feature in features.features.items():
            if name.startswith('tx-checksum-'):
                feature.enable = False
        ethtool.set_features(container_end, features)
    finally:
        ethtool.close()


@privsep.sys_admin_pctxt.entrypoint
def delete_link(ifname):
    with IPRoute() as ipr:
        index = _index(ipr, ifname)
        if index is not None:
            ipr.link('del', index=index)


@privsep.sys_admin_pctxt.entrypoint
def move_into_container(container_end, pid, mac, mtu, addresses, routes):
    """Moves a link into the namespace of process ``pid`` and sets it up.

    It is named after the first free ethN. ``addresses`` are
    (address, prefix length) pairs; ``routes`` are (destination, gateway)
    pairs, where a default route that already exists through another link
    is kept. Returns the name the link got.
    """
    with IPRoute() as ipr:
        ipr.link('set', index=_index(ipr, container_end), net_ns_pid=pid)
    with _namespace(pid) as ns:
        index = _index(ns, container_end)
        taken = {link.get_attr('IFLA_IFNAME') for link in ns.get_links()}
        ifname = next('eth%d' % n for n in range(len(taken) + 1)
                      if 'eth%d' % n not in taken)
        ns.link('set', index=index, ifname=ifname, address=mac, mtu=mtu)
        for address, prefixlen in addresses:
            flags = _IFA_F_NODAD if ':' in address else 0
            ns.addr('add', index=index, address=address,
                    prefixlen=prefixlen, flags=flags)
        ns.link('set', index=index, state='up')
        ns.link('set', index=_index(ns, 'lo'), state='up')
        for destination, gateway in routes:
            family = socket.AF_INET6 if ':' in gateway else socket.AF_INET
            try:
                ns.route('add', dst=destination, gateway=gateway,
                         oif=index, family=family)
            except netlink_exceptions.NetlinkError as e:
                if e.code != errno.EEXIST:
                    raise
        return ifname
