"""The all-in-one's compute hosts.

The first runs in this machine's own network namespace beside the control
plane, on its default Docker engine, and keeps its state in the
all-in-one's state directory. Each one ``tools/aio compute add NAME``
makes is as separate as another machine: its own network namespace whose
links (aio.services.host_network) are all it has, its own
Docker engine, Open vSwitch and ovn-controller, its own nova-compute, and
its state under ``hosts/NAME`` of the all-in-one's. What differs between
hosts is here; what they run is aio.services' COMPUTE services.
"""

import dataclasses
import ipaddress
import os
import re
import typing

from aio import layout as aio_layout

HOSTS_DIR = 'hosts'
# Nova's host name, the OVN chassis and the engine's label: a DNS label.
NAME = re.compile(r'^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$')
# An address's last byte: .1 is the first host's, .254 the last.
LAST_INDEX = 254


class Invalid(Exception):
    pass


def _address(network, index):
    return str(ipaddress.ip_network(network).network_address + index)


@dataclasses.dataclass(frozen=True)
class ComputeHost:
    # Its own state (configuration, data, logs, pid files), which names
    # it.
    layout: aio_layout.Layout
    # The all-in-one's: its passwords, its control plane.
    control: aio_layout.Layout
    # The last byte of its addresses: 1 for the first host.
    index: int

    @property
    def name(self):
        return self.layout.compute_host

    @property
    def first(self):
        return self.index == 1

    @property
    def namespace(self):
        """Its network namespace; None for the first host (the
        machine's own)."""
        return None if self.first else 'aio-host-' + self.name

    @property
    def management_ip(self):
        return _address(aio_layout.MANAGEMENT_NETWORK, self.index)

    @property
    def tunnel_ip(self):
        return _address(aio_layout.TUNNEL_NETWORK, self.index)

    def link(self, network):
        """The name of its link for ``network`` ('mgmt' or 'tun') in the
        machine's namespace."""
        return 'aio-h%d-%s' % (self.index, network)

    @property
    def docker_url(self):
        """Its engine: the machine's default one for the first host."""
        if self.first:
            return os.environ.get('DOCKER_HOST',
                                  'unix:///var/run/docker.sock')
        return 'unix://' + self.docker_socket

    @property
    def docker_exec_root(self):
        """Where its engine keeps its state while it runs (the sandbox
        keys of its containers' network namespaces are under it)."""
        if self.first:
            return '/var/run/docker'
        return os.path.join(self.layout.state, 'run', 'docker')

    @property
    def docker_socket(self):
        return os.path.join(self.layout.state, 'run', 'docker.sock')

    def command(self, argv):
        """``argv`` run in the host's network namespace. (Not by ``ip
        netns exec``: its private /sys hides the cgroup hierarchies an
        engine needs.)"""
        if self.first:
            return list(argv)
        return ['nsenter', '--net=/run/netns/' + self.namespace,
                '--'] + list(argv)


def first(layout):
    return ComputeHost(layout, layout, 1)


def _host_layout(layout, name):
    return aio_layout.Layout(layout.repo,
                             os.path.join(layout.state, HOSTS_DIR, name))


def _read_index(host_layout):
    try:
        with open(os.path.join(host_layout.state, 'index')) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def added(layout):
    """The hosts ``compute add`` made, by name."""
    root = os.path.join(layout.state, HOSTS_DIR)
    found = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else ():
        host_layout = _host_layout(layout, name)
        index = _read_index(host_layout)
        if index:
            found.append(ComputeHost(host_layout, layout, index))
    return found


def find(layout, name) -> typing.Optional[ComputeHost]:
    return next((host for host in added(layout) if host.name == name), None)


def create(layout, name):
    """The added host ``name``, its state directory and addresses made
    on first use."""
    existing = find(layout, name)
    if existing:
        return existing
    if not NAME.match(name):
        raise Invalid(
            '"%s" cannot name a compute host: use lower-case letters, '
            'digits and hyphens (at most 32, not starting or ending with a '
            'hyphen), as a DNS label' % name)
    if name == layout.compute_host:
        raise Invalid('"%s" is the first compute host\'s name' % name)
    taken = {host.index for host in added(layout)}
    index = next((i for i in range(2, LAST_INDEX + 1) if i not in taken),
                 None)
    if index is None:
        raise Invalid('the all-in-one has %d compute hosts, as many as its '
                      'management network holds' % LAST_INDEX)
    host_layout = _host_layout(layout, name)
    host_layout.make_dirs()
    with open(os.path.join(host_layout.state, 'compute-host'), 'w') as f:
        f.write(name + '\n')
    with open(os.path.join(host_layout.state, 'index'), 'w') as f:
        f.write('%d\n' % index)
    return ComputeHost(host_layout, layout, index)
