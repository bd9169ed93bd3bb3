"""What a Nova instance becomes in the engine, and what the engine's state
means to Nova."""

from nova.compute import power_state

from novadocker import conf
from novadocker import engine
from novadocker import flavor as flavor_limits
from novadocker import metadata
from novadocker import volumes

CONF = conf.CONF

# A DNS label's length; the kernel holds a hostname of at most 64 bytes.
HOSTNAME_MAX = 63
# Where Debian resolves its own name on a host without a fixed address.
NO_ADDRESS = '127.0.1.1'


def hostname(instance_hostname):
    """The container's kernel hostname: the first label of what Nova's API
    accepted (since 2.94 an FQDN of up to 255 characters); None leaves
    the engine's default (also for a name that starts with a dot, which
    the API accepts)."""
    if not instance_hostname:
        return None
    return instance_hostname.split('.', 1)[0][:HOSTNAME_MAX] or None


def hosts_entries(instance_hostname, addresses):
    """The container's own line in /etc/hosts, as Debian writes it
    ("127.0.1.1 fqdn short"): the whole name first, so that it is the
    canonical one (hostname -f), then the kernel hostname. The names
    resolve to the first of the ports' ``addresses`` (IPv4 first), or to
    127.0.1.1 without one. Docker writes no line of the container's own
    without its networking, and joins the names of a line as given."""
    if not instance_hostname:
        return {}
    short = hostname(instance_hostname)
    names = instance_hostname
    if short and short != instance_hostname:
        names = '%s %s' % (instance_hostname, short)
    ordered = sorted(addresses, key=lambda address: ':' in address)
    return {names: ordered[0] if ordered else NO_ADDRESS}


def create_kwargs(instance, image_meta, image_ref, sandbox_id,
                  key_binds=None):
    """Keyword arguments of ``containers.create`` for the instance's
    workload, which joins the network namespace of its sandbox (sandbox
    module) and takes its hostname and DNS files from it."""
    kwargs = {
        'image': image_ref,
        'name': engine.container_name(instance.uuid),
        'labels': {
            engine.LABEL_INSTANCE: instance.uuid,
            engine.LABEL_HOST: CONF.host,
            engine.LABEL_NAME: instance.name,
            engine.LABEL_PROJECT: instance.project_id,
            engine.LABEL_USER: instance.user_id,
            engine.LABEL_FLAVOR: instance.flavor.name,
            engine.LABEL_ROOT_GB: str(instance.flavor.root_gb),
        },
        'environment': metadata.environment(instance.metadata),
        'network_mode': 'container:' + sandbox_id,
        'privileged': CONF.docker.privileged,
        'detach': True,
    }
    command = image_meta.properties.get('os_command_line')
    if command:
        kwargs['command'] = command
    # The instance's volumes directory, where later attaches show while
    # it runs (volumes module), and its key, if injected.
    kwargs['volumes'] = dict(key_binds or {}, **volumes.bind(
        instance.uuid, metadata.volumes_mount_point(
            instance.metadata, CONF.docker.volumes_mount_point)))
    kwargs.update(flavor_limits.limits(instance.flavor))
    kwargs.update(metadata.create_options(instance.metadata))
    return kwargs


def power_state_of(container):
    """A container that exited, whatever its exit code or whoever killed
    it, is shut down, as the libvirt driver reports a domain that is shut
    off: Nova's lifecycle-event sync acts on SHUTDOWN only. "dead" (one the
    engine failed to remove) is crashed."""
    state = container.attrs['State']
    status = state.get('Status')
    if status == 'paused' or state.get('Paused'):
        return power_state.PAUSED
    if status in ('running', 'restarting'):
        return power_state.RUNNING
    if status == 'dead':
        return power_state.CRASHED
    if status in ('created', 'exited'):
        return power_state.SHUTDOWN
    return power_state.NOSTATE


def pid(container):
    """The container's main process as the host sees it; 0 when it is not
    running."""
    return container.attrs['State']['Pid']


def exit_code(container):
    return container.attrs['State']['ExitCode']
