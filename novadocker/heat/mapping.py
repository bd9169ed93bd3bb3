"""How the old ``DockerInc::Docker::Container`` properties become a Nova
server of the Docker hypervisor: pure functions, no client."""

import json
import math
import re

from novadocker import metadata

MIB = 2 ** 20
# ``docker run`` without -m sets no limit; a server needs a flavor: the
# smallest with at least this much memory (m1.tiny's).
DEFAULT_MEMORY = 512 * MIB
CPU_SHARES_PER_VCPU = 1024
# Nova's limits on a metadata item.
_METADATA_KEY = re.compile(r'^[a-zA-Z0-9-_:. ]{1,255}$')
METADATA_VALUE_MAX = 255

# What the old plugin could do only by handing the Docker host to the
# template's author, and what to use instead.
REFUSED = {
    'docker_endpoint': 'containers are Nova servers on the cloud\'s Docker '
                       'hosts, chosen by Nova\'s scheduler; remove it',
    'privileged': 'a container gets privileges only from the cloud\'s '
                  'operator ([docker] privileged in nova.conf)',
    'volumes': 'host paths are not given to containers; keep data in the '
               'image or on the network',
    'volumes_from': 'containers do not share host volumes',
    'port_bindings': 'give the server a floating IP (OS::Neutron::'
                     'FloatingIP) and open its ports with port_specs',
    'links': 'reach the other container by its network_ip attribute on '
             'a shared network',
    'cap_add': 'capabilities come only from the cloud\'s operator',
    'cap_drop': 'containers already run without extra capabilities',
    'devices': 'host devices are not given to containers',
    'cpu_set': 'containers share the host\'s CPUs by cpu_shares; use '
               'cpu_shares or a flavor',
    'dns': 'set dns_nameservers on the subnet of its network',
    'restart_policy': 'Nova restarts a server: use openstack server start; '
                      'only Name: "no" is accepted',
}


class Invalid(ValueError):
    """A property value the container cannot have; the message names the
    property."""


def refused(properties):
    """(name, why) of each property set to what only the Docker host could
    grant; false, empty and a restart policy of "no" are accepted."""
    found = []
    for name, why in sorted(REFUSED.items()):
        value = properties.get(name)
        if name == 'restart_policy':
            value = (value or {}).get('Name', 'no') not in ('no', '')
        if value:
            found.append((name, why))
    return found


# Image references.

def reference_names(reference):
    """Glance image names a user's image reference may stand for, most
    literal first: as written; without docker.io/ and library/; without
    :latest; and with "_" for ":" (the registry's images)."""
    names = [reference]
    name, tag = reference, None
    if '@' not in name:
        repository, _, maybe_tag = name.rpartition(':')
        if repository and '/' not in maybe_tag:
            name, tag = repository, maybe_tag
    for prefix in ('docker.io/', 'index.docker.io/', 'registry-1.docker.io/'):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.startswith('library/'):
        name = name[len('library/'):]
    if tag in (None, 'latest'):
        names.append(name)
    if tag:
        names += ['%s:%s' % (name, tag), '%s_%s' % (name, tag)]
    return list(dict.fromkeys(names))


def names_a_registry(reference):
    """Whether the reference's first component is a registry's address
    (as docker reads it: with a "." or ":", or localhost)."""
    first, slash, _ = reference.partition('/')
    return bool(slash) and ('.' in first or ':' in first or
                            first == 'localhost')


def registry_reference(reference, registry):
    """(repository, tag) when the reference names ``registry`` (the cloud's
    own, whose pushes are Glance images), else None."""
    if not registry or not reference.startswith(registry + '/'):
        return None
    repository = reference[len(registry) + 1:]
    tag = 'latest'
    last = repository.rsplit('/', 1)[-1]
    if ':' in last:
        repository, tag = repository.rsplit(':', 1)
    return repository, tag


def upload_hint(reference):
    return ('no docker image "%s" in Glance; upload it: docker save %s | '
            'openstack image create --container-format docker '
            '--disk-format raw %s' % (
                reference, reference, reference_names(reference)[-1]))


# Flavors.

def smallest_flavor(flavors, memory=None, cpu_shares=None):
    """The flavor with the least memory, then vCPUs, then disk, that has
    ``memory`` bytes and ``cpu_shares`` (1024 a vCPU); ``flavors`` are
    (name, ram MiB, vcpus, disk GiB)."""
    ram = math.ceil((memory or DEFAULT_MEMORY) / MIB)
    vcpus = math.ceil((cpu_shares or 0) / CPU_SHARES_PER_VCPU)
    fitting = sorted((f[1], f[2], f[3], f[0]) for f in flavors
                     if f[1] >= ram and f[2] >= vcpus)
    if not fitting:
        largest = max(flavors, key=lambda f: (f[1], f[2]), default=None)
        raise Invalid(
            'no flavor has %d MiB of memory and %d vCPUs (memory, '
            'cpu_shares)%s' % (ram, vcpus, '; the largest is %s (%d MiB, %d '
                               'vCPUs)' % largest[:3] if largest else ''))
    return fitting[0][3]


# What runs in the container.

def _environment(env):
    found = {}
    for item in env or []:
        key, sep, value = item.partition('=')
        if not sep or not _METADATA_KEY.match(key) or \
                key.startswith(metadata.PREFIX):
            raise Invalid(
                'env item %r is not NAME=value with a NAME of letters, '
                'digits, "-", "_", "." (at most 255, not starting with '
                '%s)' % (item, metadata.PREFIX))
        if len(value) > METADATA_VALUE_MAX:
            raise Invalid('env item %s has a value of %d characters; Nova '
                          'keeps at most %d' % (key, len(value),
                                                METADATA_VALUE_MAX))
        found[key] = value
    return found


def server_metadata(properties):
    """The server's metadata: the environment, and the reserved keys
    (novadocker.metadata) for the command, user, tty, stdin and read-only
    root."""
    result = _environment(properties.get('env'))
    cmd = properties.get('cmd')
    if cmd:
        encoded = json.dumps(list(cmd))
        if len(encoded) > METADATA_VALUE_MAX:
            raise Invalid('cmd is %d characters as JSON; Nova keeps at most '
                          '%d' % (len(encoded), METADATA_VALUE_MAX))
        result[metadata.CMD] = encoded
    if properties.get('user'):
        result[metadata.USER] = properties['user']
    for name, key in (('tty', metadata.TTY), ('open_stdin', metadata.STDIN),
                      ('read_only', metadata.READ_ONLY)):
        if properties.get(name):
            result[key] = 'true'
    try:
        metadata.create_options(result)
    except metadata.Invalid as e:
        raise Invalid(str(e))
    return result


def port_rules(port_specs):
    """(port, protocol) of each item of port_specs: 80, "80", "80/tcp",
    "53/udp"."""
    rules = []
    for spec in port_specs or []:
        port, _, protocol = str(spec).partition('/')
        protocol = protocol or 'tcp'
        if not port.isdigit() or not 0 < int(port) < 65536 or \
                protocol not in ('tcp', 'udp'):
            raise Invalid('port_specs item %r is not a port (1-65535), '
                          'optionally with /tcp or /udp' % (spec,))
        rules.append((int(port), protocol))
    return list(dict.fromkeys(rules))


# Updates.

REBUILT_BY = ('image', 'env', 'cmd', 'user', 'tty', 'open_stdin',
              'read_only', 'hostname')
RESIZED_BY = ('memory', 'cpu_shares', 'flavor')
IN_PLACE = ('name', 'port_specs', 'security_groups') + REBUILT_BY + \
    RESIZED_BY


def update_steps(changed):
    """What a change of these properties needs, in order: rename, rebuild
    (the container made again: same server, ports and addresses), resize,
    port rules, security groups."""
    steps = []
    if 'name' in changed:
        steps.append('rename')
    if any(name in changed for name in REBUILT_BY):
        steps.append('rebuild')
    if any(name in changed for name in RESIZED_BY):
        steps.append('resize')
    if 'port_specs' in changed:
        steps.append('port_rules')
    if 'security_groups' in changed:
        steps.append('security_groups')
    return steps
