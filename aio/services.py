"""The all-in-one's processes: how each is started and how it shows ready."""

import dataclasses
import functools
import os
import typing

import amqp

from aio import layout as aio_layout
from aio import processes
from aio.layout import HOST, PORTS


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    argv: typing.Sequence[str]
    ready: typing.Callable[[], bool]
    env: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    timeout: int = 90
    # A command that asks the process to exit, instead of SIGTERM.
    stop_argv: typing.Sequence[str] = ()
    # Seconds to wait for it to exit before SIGKILL.
    stop_timeout: int = 20


def _port_answers(port):
    return functools.partial(processes.port_in_use, HOST, port)


def _queues_consumed(layout, queues):
    """True once each RabbitMQ queue has a consumer."""
    try:
        with amqp.Connection(
                '%s:%d' % (HOST, PORTS['rabbitmq']),
                userid=aio_layout.RABBIT_USER,
                password=aio_layout.load_secrets(layout)['rabbit'],
                connect_timeout=2) as connection:
            return all(connection.channel().queue_declare(
                queue, passive=True).consumer_count for queue in queues)
    except (OSError, amqp.exceptions.AMQPError):
        return False


def _gunicorn(layout, name, module, env, threads=4):
    return Service(
        name,
        [layout.bin('gunicorn'), '--no-control-socket',
         '--chdir', layout.repo,
         '--bind', '%s:%d' % (HOST, PORTS[name]),
         '--workers', '1', '--threads', str(threads),
         # Image uploads and downloads stream for as long as they take.
         '--timeout', '0', '--graceful-timeout', '5',
         # Longer than clients leave a pooled connection idle (openstacksdk
         # polls every 2 s): at gunicorn's default of 2 s, a reused
         # connection can be closed as the request is sent.
         '--keep-alive', '75',
         '--name', name,
         'aio.wsgi:application("%s")' % module],
        functools.partial(processes.http_answers, aio_layout.url(name, '/')),
        env)


def mariadb(layout):
    return Service('mariadb', [
        '/usr/sbin/mariadbd', '--no-defaults', '--user=root',
        '--datadir=' + layout.data('mariadb'),
        '--socket=' + layout.mariadb_socket,
        '--bind-address=' + HOST, '--port=%d' % PORTS['mariadb'],
        '--pid-file=' + layout.data('mariadb', 'mariadbd.pid'),
        '--skip-name-resolve', '--performance-schema=OFF',
        '--innodb-buffer-pool-size=64M', '--max-connections=1000',
    ], _port_answers(PORTS['mariadb']))


def rabbitmq(layout):
    data = layout.data('rabbitmq')
    return [
        Service('epmd', ['epmd', '-address', HOST], _port_answers(4369),
                timeout=10),
        Service('rabbitmq', ['/usr/lib/rabbitmq/bin/rabbitmq-server'],
                _port_answers(PORTS['rabbitmq']), {
                    'HOME': data,
                    'RABBITMQ_NODENAME': 'rabbit@localhost',
                    'RABBITMQ_NODE_IP_ADDRESS': HOST,
                    'ERL_EPMD_ADDRESS': HOST,
                    'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                        '-kernel inet_dist_use_interface {127,0,0,1}',
                    'RABBITMQ_CONFIG_FILE': layout.etc('rabbitmq',
                                                       'rabbitmq.conf'),
                    'RABBITMQ_ENABLED_PLUGINS_FILE': layout.etc(
                        'rabbitmq', 'enabled_plugins'),
                    'RABBITMQ_MNESIA_BASE': layout.data('rabbitmq', 'mnesia'),
                    'RABBITMQ_LOG_BASE': layout.data('rabbitmq', 'log'),
                    'RABBITMQ_PID_FILE': layout.data('rabbitmq', 'beam.pid'),
                }),
    ]


def openvswitch(layout):
    """The userspace switch, in the foreground like every other service."""
    rundir = layout.ovs_rundir
    database = layout.ovs_db_socket
    vswitchd_control = os.path.join(rundir, 'ovs-vswitchd.ctl')
    return [
        Service('ovsdb-server', [
            '/usr/sbin/ovsdb-server', layout.data('openvswitch', 'conf.db'),
            '--remote=punix:' + database,
            # The OVS agent adds its ovsdb_connection as a Manager row.
            '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
            '--unixctl=' + os.path.join(rundir, 'ovsdb-server.ctl'),
        ], functools.partial(processes.unix_socket_answers, database),
            layout.ovs_env, timeout=10),
        Service('ovs-vswitchd', [
            '/usr/sbin/ovs-vswitchd', layout.ovsdb_connection,
            '--unixctl=' + vswitchd_control,
        ], functools.partial(processes.unix_socket_answers, vswitchd_control),
            layout.ovs_env, timeout=10,
            # On SIGTERM the bridges' tap devices (br-int, br-tun) and the
            # datapath's stay in the kernel; --cleanup removes them.
            stop_argv=['ovs-appctl', '--timeout=5', '-t', vswitchd_control,
                       'exit', '--cleanup']),
    ]


def _ovs_client_env(layout):
    """The all-in-one's Open vSwitch, and the venv's commands first (the
    agents start privsep-helper and neutron's own tools by name)."""
    return dict(layout.ovs_env, PATH='%s:%s' % (
        os.path.dirname(layout.bin('python')), os.environ.get('PATH', '')))


def apis(layout):
    return [
        _gunicorn(layout, 'keystone', 'keystone.wsgi.api', {
            'OS_KEYSTONE_CONFIG_FILES': layout.etc('keystone',
                                                   'keystone.conf')}),
        _gunicorn(layout, 'placement', 'placement.wsgi.api', {
            'OS_PLACEMENT_CONFIG_DIR': layout.etc('placement')}),
        _gunicorn(layout, 'glance', 'glance.wsgi.api', {
            'OS_GLANCE_CONFIG_DIR': layout.etc('glance')}),
        # Nova loads its paste pipeline from the first of these files.
        _gunicorn(layout, 'nova-api', 'nova.wsgi.osapi_compute', {
            'OS_NOVA_CONFIG_DIR': layout.etc('nova'),
            'OS_NOVA_CONFIG_FILES': '%s;nova.conf' % layout.wheel_etc(
                'nova', 'api-paste.ini')}),
        _gunicorn(layout, 'neutron-api', 'neutron.wsgi.api', {
            'OS_NEUTRON_CONFIG_DIR': layout.etc('neutron'),
            'OS_NEUTRON_CONFIG_FILES': 'neutron.conf'}),
    ]


def _always_ready():
    return True


def workers(layout):
    """RPC services and agents; Nova's services and Neutron's agents are
    seen ready through their APIs."""
    nova_conf = ['--config-file', layout.etc('nova', 'nova.conf')]
    neutron_conf = ['--config-file', layout.etc('neutron', 'neutron.conf')]
    ovs_client = _ovs_client_env(layout)
    return [
        # The agents' first calls must not come before the server consumes
        # their topics: RabbitMQ drops them, and the DHCP agent's first one
        # then waits out a 60 s timeout and a back-off.
        Service('neutron-rpc', [layout.bin('neutron-rpc-server')]
                + neutron_conf, functools.partial(
                    _queues_consumed, layout,
                    ('q-plugin', 'q-reports-plugin'))),
        Service('neutron-openvswitch-agent',
                [layout.bin('neutron-openvswitch-agent')] + neutron_conf + [
                    '--config-file',
                    layout.etc('neutron', 'openvswitch_agent.ini')],
                _port_answers(PORTS['neutron-openvswitch-agent']),
                ovs_client,
                # After SIGTERM it leaves its loop within a polling interval
                # (2 s), then hangs in os-ken's shutdown until killed; the
                # switch keeps its flows.
                stop_timeout=5),
        Service('neutron-dhcp-agent',
                [layout.bin('neutron-dhcp-agent')] + neutron_conf + [
                    '--config-file', layout.etc('neutron', 'dhcp_agent.ini')],
                _always_ready, ovs_client,
                # Its shutdown idles 5 s for its RPC server, then 5 s more,
                # and leaves every dnsmasq running anyway (stop removes them).
                stop_timeout=5),
        Service('nova-conductor', [layout.bin('nova-conductor')] + nova_conf,
                _always_ready),
        Service('nova-scheduler', [layout.bin('nova-scheduler')] + nova_conf,
                _always_ready),
        Service('nova-compute', [layout.bin('nova-compute')] + nova_conf,
                _always_ready, ovs_client),
    ]


def all_services(layout):
    """In start order; stopped in the reverse one."""
    return [mariadb(layout)] + rabbitmq(layout) + openvswitch(layout) + apis(
        layout) + workers(layout)


def by_name(layout):
    return {service.name: service for service in all_services(layout)}
