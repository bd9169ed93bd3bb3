"""The all-in-one's processes: how each is started and how it shows ready."""

import dataclasses
import functools
import typing

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


def _port_answers(port):
    return functools.partial(processes.port_in_use, HOST, port)


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
    """RPC services; Nova's are seen ready through its services API."""
    nova_conf = ['--config-file', layout.etc('nova', 'nova.conf')]
    neutron_conf = ['--config-file', layout.etc('neutron', 'neutron.conf')]
    return [
        Service('neutron-rpc', [layout.bin('neutron-rpc-server')]
                + neutron_conf, _always_ready),
        Service('nova-conductor', [layout.bin('nova-conductor')] + nova_conf,
                _always_ready),
        Service('nova-scheduler', [layout.bin('nova-scheduler')] + nova_conf,
                _always_ready),
        Service('nova-compute', [layout.bin('nova-compute')] + nova_conf,
                _always_ready),
    ]


def all_services(layout):
    """In start order; stopped in the reverse one."""
    return [mariadb(layout)] + rabbitmq(layout) + apis(layout) + workers(
        layout)
