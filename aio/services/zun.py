"""Zun, the containers service, beside Nova on the same hosts, networks and
Placement: its API (gunicorn, 9517) and websocket proxy (interactive exec)
on the control plane; on every compute host, zun-compute and
kuryr-libnetwork, the engine's network plugin that gives a Zun container
a Neutron port on OVN.

Zun and Nova share each host's resource provider (``host_shared_with_
nova``): zun-compute writes the same inventory into Nova's provider, so
its reserved amounts and allocation ratios are Nova's, and the
allocations of both add up there.
"""

import datetime
import os
import urllib.parse

import docker
import requests

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio import tls
from aio.layout import HOST
from aio.services import docker_engine
from aio.services import keystone
from aio.services import mariadb
from aio.services import nova
from aio.services import openvswitch
from aio.services import rabbitmq
from novadocker import engine

API_PORT = 9517
WSPROXY_PORT = 6784
# kuryr-libnetwork listens here in every compute host's network namespace;
# each host's engine, in the same namespace, reaches its own.
KURYR_PORT = 23750
KURYR_URL = 'http://127.0.0.1:%d' % KURYR_PORT
# With kuryr gone, the engine tries its plugin for a minute or more
# before it removes a network (tools/aio wipe).
KURYR_GONE_TIMEOUT = 180
# Where Docker finds a plugin by name (the engines of every host read the
# same directory), as Debian's and DevStack's kuryr-libnetwork install it:
# the same for every all-in-one of the machine, it stays, as a package's
# file would.
KURYR_SPEC = '/usr/lib/docker/plugins/kuryr/kuryr.spec'
# Each engine, for zun-wsproxy's attach (Zun reaches an engine's attach
# websocket over TCP only): TLS with client certificates on the host's
# management address (socat in front of the engine's socket).
ENGINE_TLS_PORT = 2376
# The newest of Zun 18's API.
API_VERSION = '1.40'
# The Docker API version zun-compute asks for (the engine serves 1.41).
DOCKER_API_VERSION = '1.41'


def _memory_mb():
    return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2**20


def authority(control):
    return tls.CertificateAuthority(
        control.etc('zun', 'tls'), 'aio-engines',
        lifetime=datetime.timedelta(days=3650))


def _client_certificate(control):
    """zun-compute's and zun-wsproxy's [docker] TLS files: the client's
    certificate for the engines' TLS port."""
    ca = authority(control)
    cert_file, key_file = ca.issue('zun-client')
    return {'ca_file': ca.cert_file, 'cert_file': cert_file,
            'key_file': key_file}


def _shared(control):
    return {
        'DEFAULT': {
            'use_stderr': 'true',
            'transport_url': rabbitmq.transport_url(control),
            'state_path': control.data('zun'),
            # Zun's images are Glance's docker images, as Nova's are; the
            # docker driver pulls what the registry serves.
            'image_driver_list': 'glance,docker',
            'default_image_driver': 'glance',
            # A container may ask for up to a host's memory, as a
            # flavor may (Zun's default stops at 8 GiB).
            'maximum_memory': str(_memory_mb()),
        },
        'keystone_auth': keystone.service_auth(control, 'zun'),
        'keystone_authtoken': keystone.authtoken(control, 'zun'),
        'database': {'connection': mariadb.url(control, 'zun')},
        'glance_client': {'region_name': aio_layout.REGION},
        'neutron_client': {'region_name': aio_layout.REGION},
        'placement_client': {'region_name': aio_layout.REGION},
        'websocket_proxy': {
            'wsproxy_host': HOST,
            'wsproxy_port': str(WSPROXY_PORT),
            'base_url': 'ws://%s:%d/' % (HOST, WSPROXY_PORT),
        },
    }


def request(conn, method, path, **kwargs):
    """A request to Zun's API at its newest version, with an openstacksdk
    connection's session."""
    return conn.session.request(
        path, method, endpoint_filter={'service_type': 'container'},
        headers={'OpenStack-API-Version': 'container %s' % API_VERSION},
        **kwargs)


def containers_on(conn, host_name):
    """Every project's Zun containers on the host (an admin's
    connection)."""
    return [c for c in request(conn, 'GET', '/containers?all_projects=True')
            .json()['containers'] if c['host'] == host_name]


def forget(conn, host_name):
    """Zun's record of a removed host's zun-compute. (Zun keeps the host's
    compute node: it has no API to delete one, and its scheduler skips a
    node whose service is gone.)"""
    request(conn, 'DELETE', '/services?host=%s&binary=zun-compute' % (
        urllib.parse.quote(host_name)), raise_exc=False)


class Zun(service.Service):
    name = 'zun'
    optional = True
    after = ('mariadb', 'rabbitmq', 'keystone', 'glance', 'neutron',
             'placement')
    ports = {'zun-api': API_PORT, 'zun-wsproxy': WSPROXY_PORT}
    databases = ('zun',)
    user = 'zun'
    catalog = (service.Endpoint('zun', 'container',
                                aio_layout.url(API_PORT, '/v1')),)

    def config_files(self):
        return {'zun.conf': service.ini(service.merged(_shared(self.layout), {
            'DEFAULT': {'host': self.layout.compute_host},
            'api': {'host_ip': HOST, 'port': str(API_PORT), 'workers': '1',
                    'api_paste_config': self.layout.wheel_etc(
                        'zun', 'api-paste.ini')},
            'oslo_concurrency': {'lock_path': self.data('locks')},
            'docker': _client_certificate(self.layout),
        }))}

    def initialize(self):
        self.run([self.layout.bin('zun-db-manage'),
                  '--config-file', self.etc('zun.conf'), 'upgrade'])

    def processes(self):
        config = ['--config-file', self.etc('zun.conf')]
        return [
            self.gunicorn('zun-api', 'zun.wsgi.api', API_PORT, {},
                          argv=config),
            service.Process(
                'zun-wsproxy', [self.layout.bin('zun-wsproxy')] + config,
                service.port_answers(WSPROXY_PORT), stop_timeout=5),
        ]


class ZunCompute(service.Service):
    """A compute host's zun-compute and kuryr-server."""
    name = 'zun-compute'
    optional = True
    ports = {'engine-tls': ENGINE_TLS_PORT}

    @property
    def after(self):
        # Nova's compute service first: its provider is the one Zun
        # shares.
        return ('zun', 'nova-compute')

    def config_files(self):
        host = self.host
        control = host.control
        return {
            'zun-compute.conf': service.ini(service.merged(_shared(control), {
                'DEFAULT': {
                    'host': host.name,
                    'my_ip': host.management_ip,
                    # The host's own: the images it downloads, the volumes
                    # it mounts.
                    'state_path': self.data(),
                    # Not containerd's CRI: capsules are not offered, and
                    # its gRPC client aborts every command zun-compute
                    # forks afterwards (lspci among them).
                    'capsule_driver': 'docker',
                    # Zun's Docker driver, for a host whose name is not
                    # its engine's (novadocker.zun_driver).
                    'container_driver': 'novadocker',
                },
                'compute': dict(
                    nova.HOST_RESOURCES,
                    host_shared_with_nova='true'),
                'docker': dict(
                    _client_certificate(control),
                    api_url=host.docker_url,
                    docker_remote_api_version=DOCKER_API_VERSION,
                    # zun-wsproxy, on the control plane, opens an exec's
                    # socket through this engine's socket, and an attach's
                    # websocket through its TLS port.
                    docker_remote_api_url=host.docker_url,
                    docker_remote_api_host=host.management_ip,
                    docker_remote_api_port=str(ENGINE_TLS_PORT)),
                # kuryr's, labelling what it makes with the host.
                'network': {'driver': 'novadocker-kuryr'},
                'oslo_concurrency': {'lock_path': self.data('locks')},
                **self.privsep_helpers(('privsep',),
                                       [self.etc('zun-compute.conf')]),
            })),
            'kuryr.conf': service.ini({
                'DEFAULT': {
                    'use_stderr': 'true',
                    'kuryr_uri': KURYR_URL,
                    # Its binding scripts (the "ovs" one plugs the veth
                    # into br-int as os-vif does), through
                    # _prepare_kuryr's.
                    'bindir': self.etc('kuryr-bindings'),
                    'capability_scope': 'local',
                    'process_external_connectivity': 'false',
                },
                'neutron': dict(keystone.service_auth(control, 'zun'),
                                www_authenticate_uri=keystone.URL),
            }),
        }

    def _with_chassis_hostname(self, argv):
        """kuryr binds a port to the host name it sees (it has no option),
        and OVN binds a port only to a chassis of that name: it runs in a
        UTS namespace of its own with the host's name."""
        return self.host.command([
            'unshare', '--uts', '--', 'sh', '-c',
            'hostname "$0" && exec "$@"', self.host.name] + list(argv))

    def _prepare_kuryr(self):
        """The engine's plugin spec, and kuryr's "ovs" binding: kuryr's
        own script after the container's end of the veth is told to
        compute its checksums itself, as the Nova driver's are (Open
        vSwitch's userspace datapath drops a tunnelled packet that leaves
        them to the device: TCP to another host fails)."""
        os.makedirs(os.path.dirname(KURYR_SPEC), exist_ok=True)
        with open(KURYR_SPEC, 'w') as f:
            f.write(KURYR_URL + '\n')
        binding = self.etc('kuryr-bindings', 'ovs')
        os.makedirs(os.path.dirname(binding), exist_ok=True)
        with open(binding, 'w') as f:
            # kuryr names the container's end t_c<port id>, 14 characters.
            f.write('#!/bin/sh\n'
                    'if [ "$1" = bind ]; then\n'
                    '    ethtool -K "$(echo "t_c$2" | cut -c1-14)" tx off\n'
                    'fi\n'
                    'exec %s "$@"\n' % os.path.join(
                        self.layout.venv, 'libexec', 'kuryr', 'ovs'))
        os.chmod(binding, 0o755)

    def _reports_up(self, conn):
        """Up since its start, and its host (which the scheduler picks
        from) recorded by its first inventory."""
        name = self.host.name
        services = request(conn, 'GET', '/services').json()['services']
        hosts = request(conn, 'GET', '/hosts').json()['hosts']
        return any(
            s['host'] == name and s['state'] == 'up' and s['binary'] ==
            'zun-compute' and processes.reported_since_start(
                self.layout, 'zun-compute', s['updated_at'])
            for s in services) and any(h['hostname'] == name for h in hosts)

    def _engine_tls_files(self):
        ca = authority(self.host.control)
        cert_file, key_file = ca.issue('engine-' + self.host.name,
                                       self.host.management_ip)
        return ca.cert_file, cert_file, key_file

    def _engine_over_tls(self):
        """socat serving the engine's socket over TLS on the host's
        management address, to clients with a certificate of the
        all-in-one's authority only."""
        host = self.host
        ca_file, cert_file, key_file = self._engine_tls_files()
        return service.Process(
            'engine-tls', host.command([
                'socat', 'OPENSSL-LISTEN:%d,bind=%s,reuseaddr,fork,cert=%s,'
                'key=%s,cafile=%s,verify=1' % (
                    ENGINE_TLS_PORT, host.management_ip, cert_file,
                    key_file, ca_file),
                'UNIX-CONNECT:' + urllib.parse.urlsplit(
                    host.docker_url).path]),
            service.port_answers(ENGINE_TLS_PORT, host.management_ip),
            stop_timeout=2)

    def processes(self):
        host = self.host
        return [
            self._engine_over_tls(),
            service.Process(
                # kuryr's server, accepting the host engine's network
                # namespaces (an added host's are under its state).
                'kuryr-server', self._with_chassis_hostname([
                    self.layout.bin('python'), '-m',
                    'novadocker.kuryr_server', host.docker_exec_root,
                    '--config-file', self.etc('kuryr.conf')]),
                service.loopback_port_answers(host, KURYR_PORT),
                openvswitch.client_env(self.layout),
                prepare=self._prepare_kuryr, stop_timeout=5),
            service.Process(
                'zun-compute', host.command([
                    self.layout.bin('zun-compute'),
                    '--config-file', self.etc('zun-compute.conf')]),
                keystone.asks_api(
                    host.control, "reports up in Zun's services and hosts "
                    "APIs", self._reports_up),
                openvswitch.client_env(self.layout),
                after=('kuryr-server',), stop_timeout=5),
        ]

    def wipe(self):
        """Zun's containers of the first host, in the machine's engine,
        and the Docker networks kuryr made there (an added host's engine
        keeps its own under its state), found by the host's label."""
        if not self.host.first:
            return []
        label = '%s=%s' % (engine.LABEL_ZUN_HOST, self.host.name)
        client, removed = docker_engine.remove_labelled_containers(
            self.host.docker_url, label, timeout=KURYR_GONE_TIMEOUT)
        if client is None:
            return removed
        for network in client.networks.list(filters={'label': label}):
            try:
                network.remove()
            except (docker.errors.APIError,
                    requests.exceptions.RequestException) as e:
                print('The engine kept the network %s (%s): %s; remove it '
                      'with "docker network rm %s"' % (
                          network.name, network.id, e, network.id))
                continue
            removed.append('network %s (%s)' % (network.name, network.id))
        return removed
