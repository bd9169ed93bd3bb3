"""The sandbox: a small container per instance that holds the instance's
network namespace, as Kubernetes' pause container does.

Its ports are plugged into the sandbox before the workload's process
starts, and they stay there through the workload's stops, reboots and
pauses; the workload joins the namespace (network_mode container:<sandbox>).
The engine refuses a hostname, DNS servers or /etc/hosts lines on a
container that joins another's namespace, and gives it the sandbox's: they
are set here.

The sandbox's image holds one static program that only waits for signals
(Debian's catatonit in pause mode), copied from the host: nothing is
pulled. The sandbox runs it as nobody, without capabilities, on a
read-only root, with a few MiB of memory.
"""

import hashlib
import io
import json
import tarfile

from nova import exception
from nova.i18n import _

from novadocker import conf
from novadocker import container
from novadocker import engine

CONF = conf.CONF

REPOSITORY = 'novadocker/sandbox'
MEMORY_LIMIT = '8m'
# The engine's runc init starts the container inside its cgroup: its stages
# and their Go threads count. With 4, about one start in 200 under load
# failed ("cannot start a stopped process"); pause itself is one process.
PIDS_LIMIT = 16
NOBODY = '65534:65534'


class PauseProgramMissing(exception.NovaException):
    msg_fmt = _('The sandbox\'s pause program %(path)s cannot be read '
                '(%(reason)s); install Debian\'s catatonit or set [docker] '
                'sandbox_command to a static program that waits for '
                'signals.')


def _archive(path):
    """The image's only layer: the program, at its path on the host, and
    the image's tag, from the program's contents."""
    try:
        with open(path, 'rb') as f:
            program = f.read()
    except OSError as e:
        raise PauseProgramMissing(path=path, reason=e.strerror) from e
    command = json.dumps(CONF.docker.sandbox_command)
    tag = hashlib.sha256(program + command.encode()).hexdigest()[:16]
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode='w') as tar:
        member = tarfile.TarInfo(path.lstrip('/'))
        member.size = len(program)
        member.mode = 0o755
        tar.addfile(member, io.BytesIO(program))
    return layer.getvalue(), tag


def ensure_image(docker_engine):
    """The sandbox image's reference; imported into the engine when it is
    missing."""
    command = CONF.docker.sandbox_command
    layer, tag = _archive(command[0])
    ref = '%s:%s' % (REPOSITORY, tag)
    if not docker_engine.has_image(ref):
        docker_engine.import_image(layer, REPOSITORY, tag, [
            'CMD %s' % json.dumps(command), 'USER %s' % NOBODY])
    return ref


def create_kwargs(instance, image_ref, dns_servers=None, addresses=()):
    """Keyword arguments of ``containers.create`` for the instance's
    sandbox.

    Docker's own networking is off: the driver plugs Neutron's ports into
    this namespace (vif), whose fixed ``addresses`` the instance's full
    hostname resolves to. Docker turns IPv6 off in a namespace without
    networks; the ports' IPv6 addresses need it on.
    """
    kwargs = {
        'image': image_ref,
        'name': engine.sandbox_name(instance),
        'hostname': container.hostname(instance.hostname),
        'labels': {
            engine.LABEL_SANDBOX: instance.uuid,
            engine.LABEL_HOST: CONF.host,
        },
        'network_mode': 'none',
        'sysctls': {'net.ipv6.conf.all.disable_ipv6': '0',
                    'net.ipv6.conf.default.disable_ipv6': '0'},
        'cap_drop': ['ALL'],
        'security_opt': ['no-new-privileges'],
        'read_only': True,
        'mem_limit': MEMORY_LIMIT,
        'pids_limit': PIDS_LIMIT,
        'detach': True,
    }
    if dns_servers:
        kwargs['dns'] = dns_servers
    extra_hosts = container.hosts_entries(instance.hostname, addresses)
    if extra_hosts:
        kwargs['extra_hosts'] = extra_hosts
    return kwargs
