"""One Neutron port as a network interface of an instance's sandbox.

A port's host side is the host end of a veth pair, which os-vif plugs into
the integration bridge exactly as it would a libvirt guest's tap, so that
Neutron's back end (ovn-controller, or the Open vSwitch agent) wires and
firewalls it the same way. The other end is moved into the network
namespace of the instance's sandbox with the port's MAC, addresses, MTU
and routes. A namespace lives only as long as the sandbox's process, and
its end of the pair goes with it: the sandbox module, which walks an
instance's ports, plugs them again into a sandbox started again.
"""

import netaddr
import os_vif
from os_vif.objects import vif as osvif_objects
from oslo_log import log as logging

from nova import exception
from nova.i18n import _
from nova.network import model as network_model
from nova.network import os_vif_util

from novadocker import netns

LOG = logging.getLogger(__name__)

DEFAULT_MTU = 1500
SUPPORTED_VIF_TYPES = (network_model.VIF_TYPE_OVS,)


class UnpluggablePort(exception.NovaException):
    """A port this driver cannot plug, whatever the host's state."""


class UnsupportedVIFType(UnpluggablePort):
    msg_fmt = _('Port %(port)s has VIF type "%(vif_type)s"; the Docker '
                'driver plugs only "ovs" ports (Neutron ML2 with the ovn '
                'or the openvswitch mechanism driver, serving this host).')


class HybridPlugPort(UnpluggablePort):
    # Nova keeps 255 characters of a fault: the cause and the fix first.
    msg_fmt = _('Port %(port)s needs a hybrid plug (iptables_hybrid), which '
                'a container cannot have: set Neutron\'s [securitygroup] '
                'firewall_driver = openvswitch.')


def _osvif(vif):
    if vif['type'] not in SUPPORTED_VIF_TYPES:
        raise UnsupportedVIFType(port=vif['id'], vif_type=vif['type'])
    vif_obj = os_vif_util.nova_to_osvif_vif(vif)
    if isinstance(vif_obj, osvif_objects.VIFBridge):
        raise HybridPlugPort(port=vif['id'])
    return vif_obj


def check_pluggable(vif):
    """Raises UnpluggablePort for a port that could never be plugged."""
    _osvif(vif)


def _container_end(vif):
    return ('ns' + vif['id'])[:network_model.NIC_NAME_LEN]


def mtu(vif):
    return vif['network'].get_meta('mtu') or DEFAULT_MTU


def addresses(vif):
    """(address, prefix length) of each fixed IP of the port."""
    return [(ip['address'], netaddr.IPNetwork(subnet['cidr']).prefixlen)
            for subnet in vif['network']['subnets'] for ip in subnet['ips']]


def routes(vif):
    """(destination, gateway) of the port's subnets: default and host
    routes, for the subnets where the port has an address."""
    found = []
    for subnet in vif['network']['subnets']:
        if not subnet['ips']:
            continue
        gateway = subnet['gateway'] and subnet['gateway']['address']
        if gateway:
            found.append(('::/0' if subnet['version'] == 6 else '0.0.0.0/0',
                          gateway))
        found.extend((route['cidr'], route['gateway']['address'])
                     for route in subnet['routes'])
    return found


def dns_servers(vif):
    """The DNS servers of the port's subnets; where a subnet names none,
    its DHCP server, which Neutron's DHCP agent runs as the network's
    resolver."""
    servers = []
    for subnet in vif['network']['subnets']:
        found = [ip['address'] for ip in subnet['dns']]
        if not found and subnet.get_meta('dhcp_server'):
            found = [subnet.get_meta('dhcp_server')]
        servers.extend(found)
    return servers


def interface(vif):
    """The name of the port's host end, its interface on the bridge."""
    return _osvif(vif).vif_name


def is_plugged(vif):
    """Whether the port's veth exists: it goes with the namespace of a
    sandbox that stopped, or was never made when plugging failed."""
    return netns.link_exists(interface(vif))


def plug(instance, vif, pid):
    """Plugs the port and gives the sandbox process ``pid`` its end.

    What an earlier sandbox left is removed first (os-vif deletes the OVS
    port and the host end, and with it the pair): the port's interface went
    with the old namespace, ovs-vswitchd does not open a new device of the
    same name for an unchanged port, and a new port is also what makes
    Neutron's back end wire it again.
    """
    vif_obj = _osvif(vif)
    instance_info = os_vif_util.nova_to_osvif_instance(instance)
    container_end = _container_end(vif)
    port_mtu = mtu(vif)
    os_vif.unplug(vif_obj, instance_info)
    netns.add_veth(vif_obj.vif_name, container_end, port_mtu)
    try:
        os_vif.plug(vif_obj, instance_info)
        ifname = netns.move_into_container(
            container_end, pid, vif['address'], port_mtu, addresses(vif),
            routes(vif))
    except Exception:
        netns.delete_link(vif_obj.vif_name)
        raise
    LOG.info('Plugged port %(port)s as %(ifname)s',
             {'port': vif['id'], 'ifname': ifname}, instance=instance)


def unplug(instance, vif):
    """Removes the port from the bridge and deletes its veth (and so the
    container's end)."""
    vif_obj = _osvif(vif)
    os_vif.unplug(vif_obj, os_vif_util.nova_to_osvif_instance(instance))
    netns.delete_link(vif_obj.vif_name)
