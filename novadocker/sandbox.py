"""The sandbox: a small container per instance that holds the instance's
network namespace with its ports in it, as Kubernetes' pause container
does.

Its ports are plugged into the sandbox (vif, one port at a time) before the
workload's process starts, and they stay there through the workload's
stops, reboots and pauses; the workload joins the namespace (network_mode
container:<sandbox>). A sandbox that stopped loses its namespace and the
ports in it: it is started again with every port plugged again before the
workload starts. The engine refuses a hostname, DNS servers or /etc/hosts
lines on a container that joins another's namespace, and gives it the
sandbox's: they are set here.

The sandbox's image holds one static program that only waits for signals
(Debian's catatonit in pause mode), copied from the host: nothing is
pulled. The sandbox runs it as nobody, without capabilities, on a
read-only root, with a few MiB of memory.
"""

import contextlib
import hashlib
import io
import json
import tarfile

from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.i18n import _

from novadocker import container
from novadocker import engine
from novadocker import ovn
from novadocker import vif

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

REPOSITORY = 'novadocker/sandbox'
MEMORY_LIMIT = '8m'
# The engine's runc init starts the container inside its cgroup: its stages
# and their Go threads count. With 4, about one start in 200 under load
# failed ("cannot start a stopped process"); pause itself is one process.
PIDS_LIMIT = 16
NOBODY = '65534:65534'
# Who tells that an instance's ports are wired (created_with_ports).
NEUTRON = 'neutron'
OVN = 'ovn'


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
        'name': engine.sandbox_name(instance.uuid),
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


def check_pluggable(network_info):
    """Raises UnpluggablePort (vif) before anything is created for a port
    that could never be plugged."""
    for port in network_info:
        vif.check_pluggable(port)


def dns_servers(network_info):
    """The DNS servers of the instance's ports, each once, in port order."""
    servers = []
    for port in network_info:
        for server in vif.dns_servers(port):
            if server not in servers:
                servers.append(server)
    return servers


def _fixed_addresses(network_info):
    """Every fixed IP of the instance's ports, in port order."""
    return [address for port in network_info
            for address, _ in vif.addresses(port)]


def neutron_events(network_info):
    """The network-vif-plugged events to wait for: ports not yet active."""
    return [('network-vif-plugged', port['id'])
            for port in network_info if port.get('active', True) is False]


def plugging_timed_out(instance, events, timeout, host):
    """The build failure when Neutron did not report the ports plugged.
    Nova keeps 255 characters of a fault: the port ids come last."""
    return exception.BuildAbortException(
        instance_uuid=instance.uuid,
        reason=_('Neutron did not report the ports plugged in %(timeout)d s '
                 '(vif_plugging_timeout); check the agent: openstack network '
                 'agent list --host %(host)s. Ports: %(ports)s') % {
            'ports': ', '.join(port for _, port in events),
            'timeout': timeout, 'host': host})


def _neutron_failed(event_name, instance):
    LOG.error('Neutron reported failure on event %s', event_name,
              instance=instance)
    if CONF.vif_plugging_is_fatal:
        raise exception.BuildAbortException(
            instance_uuid=instance.uuid,
            reason=_('Neutron reported that it failed to plug a port '
                     '(event %(event)s); read the log of the Neutron '
                     'agent on host %(host)s.') % {
                'event': event_name, 'host': CONF.host})


def _not_installed(instance, ports, timeout, host):
    """The build failure when ovn-controller did not wire the ports."""
    return exception.BuildAbortException(
        instance_uuid=instance.uuid,
        reason=_('ovn-controller did not install the ports in %(timeout)d s '
                 '(vif_plugging_timeout); check it: openstack network agent '
                 'list --host %(host)s. Ports: %(ports)s') % {
            'ports': ', '.join(ports), 'timeout': timeout, 'host': host})


def _wait_installed(instance, network_info):
    """Until ovn-controller has wired every port (ovn module)."""
    by_interface = {vif.interface(port): port['id']
                    for port in network_info}
    left = ovn.wait_installed(list(by_interface), CONF.vif_plugging_timeout)
    if not left:
        return
    if CONF.vif_plugging_is_fatal:
        raise _not_installed(instance, [by_interface[i] for i in left],
                            CONF.vif_plugging_timeout, CONF.host)
    LOG.warning('ovn-controller did not install the ports in %d s; '
                'starting the container anyway (vif_plugging_is_fatal = '
                'False)', CONF.vif_plugging_timeout, instance=instance)


@contextlib.contextmanager
def created_with_ports(docker_engine, virtapi, instance, network_info,
                       ports_ready_by):
    """The instance's new sandbox, running with its ports plugged, for the
    block that creates the workload. The block's end waits, when
    ``ports_ready_by`` is NEUTRON, until Neutron reports the ports plugged
    (as libvirt does), when OVN, until ovn-controller has installed them
    (vif_plugging_timeout, vif_plugging_is_fatal), so that the workload's
    process starts with its ports wired. Neutron's events are expected
    either way, waited for or not: nova-compute warns of an event no one
    prepared for."""
    events = []
    if CONF.vif_plugging_timeout:
        events = neutron_events(network_info)
    try:
        with virtapi.wait_for_instance_event(
                instance, events, timeout=CONF.vif_plugging_timeout,
                error_callback=_neutron_failed):
            held = docker_engine.create(create_kwargs(
                instance, ensure_image(docker_engine),
                dns_servers(network_info), _fixed_addresses(network_info)))
            docker_engine.start(held)
            _plug_all(instance, network_info, container.pid(held))
            if (ports_ready_by == OVN and network_info and
                    CONF.vif_plugging_timeout):
                _wait_installed(instance, network_info)
            yield held
            if ports_ready_by != NEUTRON and events:
                virtapi.exit_wait_early(events)
    except exception.InstanceEventTimeout as e:
        if CONF.vif_plugging_is_fatal:
            raise plugging_timed_out(instance, events,
                                     CONF.vif_plugging_timeout,
                                     CONF.host) from e
        LOG.warning('Neutron did not report the ports plugged in %d s; '
                    'starting the container anyway (vif_plugging_is_fatal '
                    '= False)', CONF.vif_plugging_timeout, instance=instance)


def ensure_running_with_ports(docker_engine, instance, network_info):
    """Before the workload starts: its sandbox running with every port
    plugged. A sandbox that stopped (the engine or the host restarted) is
    started again, and its ports plugged into its new namespace; a running
    one keeps the ports it has and gets those it lacks."""
    held = docker_engine.find_sandbox(instance)
    if held is None:
        raise exception.InstanceNotFound(instance_id=instance.uuid)
    sandbox_pid = container.pid(held)
    if sandbox_pid:
        _plug_missing(instance, network_info, sandbox_pid)
        return
    docker_engine.start(held)
    _plug_all(instance, network_info, container.pid(held))


def pid(docker_engine, instance):
    """The process whose namespace holds the instance's ports; 0 when its
    sandbox is not running (or there is none)."""
    held = docker_engine.find_sandbox(instance)
    return container.pid(held) if held else 0


def replug_lost_ports(docker_engine, instance, network_info):
    """Plugs again the ports of a running sandbox whose veth is gone; a
    stopped sandbox gets them all when it starts again. A port that cannot
    be plugged is a VirtualInterfacePlugException."""
    sandbox_pid = pid(docker_engine, instance)
    if not sandbox_pid:
        return
    try:
        _plug_missing(instance, network_info, sandbox_pid)
    except Exception as e:
        raise exception.VirtualInterfacePlugException(
            _('could not plug the ports of sandbox %(name)s: '
              '%(error)s') % {'name': engine.sandbox_name(instance.uuid),
                              'error': e}) from e


def plug_port(docker_engine, instance, port):
    """Plugs an attached port into the running sandbox. Without a running
    sandbox (the engine restarted), the port is plugged when the instance
    next starts, from its network info."""
    sandbox_pid = pid(docker_engine, instance)
    if sandbox_pid:
        vif.plug(instance, port, sandbox_pid)


def _plug_all(instance, network_info, sandbox_pid):
    for port in network_info or []:
        vif.plug(instance, port, sandbox_pid)


def _plug_missing(instance, network_info, sandbox_pid):
    """Plugs the ports whose veth is gone (a port attached while the
    sandbox was stopped, or one whose plugging failed); the plugged ones
    are left alone."""
    for port in network_info or []:
        if not vif.is_plugged(port):
            vif.plug(instance, port, sandbox_pid)


def unplug_ports(instance, network_info):
    """Unplugs every port; a failure is logged, not raised, as Nova's
    libvirt driver does, so that deleting a server never stops half-way
    because a switch is unreachable."""
    for port in network_info or []:
        try:
            vif.unplug(instance, port)
        except vif.UnpluggablePort:
            LOG.debug('Port %s was never plugged', port['id'],
                      instance=instance)
        except Exception:
            LOG.exception('Could not unplug port %s; its OVS port and veth '
                          'may remain', port['id'], instance=instance)


def remove(docker_engine, instance, network_info):
    """The ports, then the sandbox. The ports go while the sandbox holds
    them: its namespace, and the veths in it, go away some time after the
    sandbox does, while os-vif would be deleting them."""
    unplug_ports(instance, network_info)
    name = engine.sandbox_name(instance.uuid)
    if not docker_engine.remove(name):
        LOG.debug('No container %s to remove', name, instance=instance)
