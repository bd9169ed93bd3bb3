"""What a Nova instance becomes in the engine, and what the engine's state
means to Nova."""

from nova.compute import power_state

from novadocker import engine
from novadocker import flavor as flavor_limits

CONF = engine.CONF

# Exit codes of a process ended by the stop signal or by a kill: the
# container was shut down, it did not crash.
_STOPPED_EXIT_CODES = (0, 128 + 9, 128 + 15)


def create_kwargs(instance, image_meta, image_ref, key_binds=None,
                  dns_servers=None):
    """Keyword arguments of ``containers.create`` for the instance.

    Docker's own networking is off: the driver plugs Neutron's ports into
    the container's namespace (vif). Docker turns IPv6 off in a namespace
    without networks; the ports' IPv6 addresses need it on.
    """
    kwargs = {
        'image': image_ref,
        'name': engine.container_name(instance),
        'hostname': instance.hostname,
        'labels': {
            engine.LABEL_INSTANCE: instance.uuid,
            engine.LABEL_HOST: CONF.host,
            engine.LABEL_NAME: instance.name,
            engine.LABEL_PROJECT: instance.project_id,
            engine.LABEL_USER: instance.user_id,
            engine.LABEL_FLAVOR: instance.flavor.name,
            engine.LABEL_ROOT_GB: str(instance.flavor.root_gb),
        },
        'environment': dict(instance.metadata or {}),
        'network_mode': 'none',
        'sysctls': {'net.ipv6.conf.all.disable_ipv6': '0',
                    'net.ipv6.conf.default.disable_ipv6': '0'},
        'privileged': CONF.docker.privileged,
        'detach': True,
    }
    command = image_meta.properties.get('os_command_line')
    if command:
        kwargs['command'] = command
    if dns_servers:
        kwargs['dns'] = dns_servers
    if key_binds:
        kwargs['volumes'] = key_binds
    kwargs.update(flavor_limits.limits(instance.flavor))
    return kwargs


def power_state_of(container):
    state = container.attrs['State']
    status = state.get('Status')
    if status == 'paused' or state.get('Paused'):
        return power_state.PAUSED
    if status in ('running', 'restarting'):
        return power_state.RUNNING
    if status == 'dead' or state.get('OOMKilled'):
        return power_state.CRASHED
    if status == 'exited' and state.get('ExitCode') not in \
            _STOPPED_EXIT_CODES:
        return power_state.CRASHED
    if status in ('created', 'exited'):
        return power_state.SHUTDOWN
    return power_state.NOSTATE
