"""The all-in-one's services, one module each.

Adding a service means writing its module (a :class:`aio.service.Service`
subclass, see that module) and listing its class here; the order of this
list does not matter, each service names what it starts after.

The CONTROL services run once; the COMPUTE services run on every compute
host (aio.hosts): the first host's beside the control plane, in one
bring-up, and each added host's in a bring-up of its own, after the
control plane's.

A bring-up leaves out the optional services named in the environment
variable AIO_DISABLED_SERVICES (comma-separated, as DevStack's
``disable_service``); the choice is kept in the state directory for
``status``. ``stop`` and ``wipe`` act on every service.
"""

import os

from aio import hosts
from aio import plan

from aio.services import ceph
from aio.services import chassis
from aio.services import cinder
from aio.services import docker_engine
from aio.services import glance
from aio.services import heat
from aio.services import host_network
from aio.services import keystone
from aio.services import mariadb
from aio.services import neutron
from aio.services import nova
from aio.services import openvswitch
from aio.services import ovn
from aio.services import placement
from aio.services import rabbitmq
from aio.services import registry
from aio.services import management
from aio.services import zun

CONTROL = (
    mariadb.MariaDB,
    rabbitmq.RabbitMQ,
    management.Management,
    ceph.Ceph,
    ovn.OVN,
    keystone.Keystone,
    placement.Placement,
    glance.Glance,
    cinder.Cinder,
    neutron.Neutron,
    nova.Nova,
    registry.Registry,
    heat.Heat,
    zun.Zun,
)
COMPUTE = (
    host_network.HostNetwork,
    openvswitch.OpenvSwitch,
    chassis.Chassis,
    nova.Compute,
    zun.ZunCompute,
)
# The first host uses the machine's engine.
ADDED_COMPUTE = COMPUTE + (docker_engine.DockerEngine,)
ALL = CONTROL + COMPUTE


DISABLED_VARIABLE = 'AIO_DISABLED_SERVICES'


def described(layout, disabled=(), classes=ALL):
    """The services of the control plane and the first compute host, but
    the ``disabled`` ones (which must be optional)."""
    unknown = sorted(set(disabled) - {cls.name for cls in classes})
    required = sorted(cls.name for cls in classes
                      if cls.name in disabled and not cls.optional)
    if unknown or required:
        raise plan.Invalid(
            '%s=%s: %s; only these may be left out: %s' % (
                DISABLED_VARIABLE, ','.join(disabled),
                'no service is called %s' % ', '.join(unknown) if unknown
                else '%s cannot be left out' % ', '.join(required),
                ', '.join(cls.name for cls in classes if cls.optional)))
    first = hosts.first(layout)
    found = [cls(layout, first if cls in COMPUTE else None)
             for cls in classes if cls.name not in disabled]
    for each in found:
        each.peers = {other.name: other for other in found}
        needed = sorted(set(each.after) & set(disabled))
        if needed:
            raise plan.Invalid('%s=%s: %s needs %s; leave it out too' % (
                DISABLED_VARIABLE, ','.join(disabled), each.name,
                ', '.join(needed)))
    return found


def of_host(host):
    """An added compute host's services, those of the first host that the
    last bring-up chose (Zun's when Zun runs) and its own engine; their
    peers include the control plane's."""
    control = chosen(host.control)
    names = {each.name for each in control}
    found = [cls(host.layout, host) for cls in ADDED_COMPUTE
             if cls.name in names or cls is docker_engine.DockerEngine]
    for each in found:
        each.peers = {other.name: other for other in control + found}
    return found


def control_names():
    return [cls.name for cls in CONTROL]


def _names(text):
    """The names in a comma-separated list."""
    return [name.strip() for name in text.split(',') if name.strip()]


def _disabled_file(layout):
    return os.path.join(layout.state, 'disabled-services')


def chosen_for_bring_up(layout):
    """The services a bring-up starts: all but those AIO_DISABLED_SERVICES
    names; the choice is kept for ``status``."""
    disabled = _names(os.environ.get(DISABLED_VARIABLE, ''))
    found = described(layout, disabled)
    os.makedirs(layout.state, exist_ok=True)
    with open(_disabled_file(layout), 'w') as f:
        f.write(','.join(disabled) + '\n')
    return found


def chosen(layout):
    """The services the last bring-up started."""
    try:
        with open(_disabled_file(layout)) as f:
            disabled = _names(f.read())
    except FileNotFoundError:
        disabled = []
    return described(layout, disabled)


def process(layout, name):
    """One of the all-in-one's processes, by name."""
    found = {p.name: p for described in described(layout)
             for p in described.processes()}
    return found[name]
