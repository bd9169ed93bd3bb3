"""The all-in-one's services, one module each.

Adding a service means writing its module (a :class:`aio.service.Service`
subclass, see that module) and listing its class here; the order of this
list does not matter, each service names what it starts after.
"""

from aio.services import glance
from aio.services import heat
from aio.services import keystone
from aio.services import mariadb
from aio.services import neutron
from aio.services import nova
from aio.services import openvswitch
from aio.services import ovn
from aio.services import placement
from aio.services import rabbitmq
from aio.services import registry

ALL = (
    mariadb.MariaDB,
    rabbitmq.RabbitMQ,
    openvswitch.OpenvSwitch,
    ovn.OVN,
    keystone.Keystone,
    placement.Placement,
    glance.Glance,
    neutron.Neutron,
    nova.Nova,
    registry.Registry,
    heat.Heat,
)


def described(layout, classes=ALL):
    return [cls(layout) for cls in classes]


def process(layout, name):
    """One of the all-in-one's processes, by name."""
    found = {p.name: p for described in described(layout)
             for p in described.processes()}
    return found[name]
