"""A Docker registry on the management address, port 5042 (Debian's
docker-registry, CNCF distribution) whose logins are Keystone's: its token
service is novadocker's (novadocker.registry.token) on 5043. Its pushes
become Glance images: it notifies novadocker's synchronisation
(novadocker.registry.sync) on 5044."""

import datetime
import json
import ipaddress
import os

import docker
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.layout import HOST
from aio.services import keystone

PORT = 5042
TOKEN_PORT = 5043
EVENTS_PORT = 5044
ADDRESS = '%s:%d' % (HOST, PORT)
SERVICE = 'novadocker-registry'
ISSUER = 'novadocker-token'
# Seconds between comparisons of the registry with Glance (a Glance image
# deleted reaches the registry within this).
RECONCILE_INTERVAL = 10


def _write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


class Registry(service.Service):
    name = 'registry'
    optional = True
    after = ('keystone', 'glance')
    ports = {'registry': PORT, 'registry-token': TOKEN_PORT,
             'registry-sync': EVENTS_PORT}
    # The synchronisation's Keystone user (admin: it creates images owned
    # by the projects that push).
    user = 'registry'

    def preflight(self):
        """Every engine of the all-in-one pulls from the registry without
        TLS: the machine's engine must allow that (the added hosts'
        are started so)."""
        try:
            config = docker.from_env().info()['RegistryConfig']
        except Exception:
            return []  # Nova's preflight says the engine does not answer.
        trusted = [ipaddress.ip_network(cidr) for cidr in
                   config.get('InsecureRegistryCIDRs') or ()]
        if not any(ipaddress.ip_address(HOST) in net for net in trusted):
            return ['the Docker engine does not pull from the registry at '
                    '%s without TLS: restart dockerd with '
                    '--insecure-registry %s (tools/aio starts it so when '
                    'none runs), or leave the registry out '
                    '(AIO_DISABLED_SERVICES=registry)' % (
                        ADDRESS, aio_layout.MANAGEMENT_NETWORK)]
        return []

    @property
    def signing_key(self):
        return self.data('token.key')

    @property
    def signing_certificate(self):
        return self.data('token.crt')

    def config_files(self):
        # JSON is YAML: the registry reads this as its config.yml.
        config = {
            'version': '0.1',
            'log': {'level': 'info'},
            'storage': {
                'filesystem': {'rootdirectory': self.data('storage')},
                'delete': {'enabled': True},
            },
            'http': {'addr': ADDRESS,
                     'secret': self.layout.secrets['registry']},
            'auth': {'token': {
                'realm': aio_layout.url(TOKEN_PORT, '/token'),
                'service': SERVICE, 'issuer': ISSUER,
                'rootcertbundle': self.signing_certificate,
            }},
            'notifications': {
                'events': {'includereferences': True},
                'endpoints': [{
                    'name': 'novadocker-sync',
                    'url': aio_layout.url(EVENTS_PORT, '/events'),
                    'headers': {'Authorization': [
                        'Bearer ' + self.layout.secrets['registry-events']]},
                    'timeout': '5s', 'threshold': 5, 'backoff': '2s',
                    # Manifest pushes and deletes only. Distribution 2.8
                    # ignores the actions unless mediatypes is set too.
                    'ignore': {'mediatypes': ['application/octet-stream'],
                               'actions': ['pull']},
                }],
            },
        }
        return {
            'config.yml': json.dumps(config, indent=2) + '\n',
            'registry.conf': service.ini({
                'DEFAULT': {'use_stderr': 'true'},
                'registry': {
                    'auth_url': keystone.URL,
                    'service': SERVICE, 'issuer': ISSUER,
                    'signing_key': self.signing_key,
                    'signing_certificate': self.signing_certificate,
                },
                'sync': {
                    'registry_url': aio_layout.url(PORT),
                    'registry_address': ADDRESS,
                    'listen_host': HOST, 'listen_port': EVENTS_PORT,
                    'events_secret': self.layout.secrets['registry-events'],
                    'reconcile_interval': RECONCILE_INTERVAL,
                    'state_path': self.data('sync'),
                },
                'service_auth': keystone.service_auth(self.layout,
                                                      self.user),
            }),
        }

    def initialize(self):
        """The token service's signing key and its self-signed
        certificate, which the registry trusts."""
        os.makedirs(self.data(), exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
        _write_private(self.signing_key, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        with open(self.signing_certificate, 'wb') as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))

    def processes(self):
        return [
            self.gunicorn('registry-token', 'novadocker.registry.wsgi',
                          TOKEN_PORT, {'NOVADOCKER_REGISTRY_CONFIG':
                                       self.etc('registry.conf')}),
            service.Process(
                'registry-sync', [self.layout.bin('novadocker-registry-sync'),
                                  '--config-file', self.etc('registry.conf')],
                service.port_answers(EVENTS_PORT)),
            service.Process(
                'registry', ['/usr/bin/docker-registry', 'serve',
                             self.etc('config.yml')],
                service.http_answers(aio_layout.url(PORT, '/v2/')),
                after=('registry-token', 'registry-sync')),
        ]


def _disk_usage(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def collect_garbage(layout):
    """``tools/aio registry-gc``: removes the blobs no manifest uses any
    more (those of manifests deleted with their Glance images), with the
    registry stopped as distribution requires. Untagged manifests stay:
    Glance images superseded by a newer push still use them."""
    described = Registry(layout)
    server = next(p for p in described.processes() if p.name == 'registry')
    storage = described.data('storage')
    before = _disk_usage(storage)
    was_running = processes.running_pid(layout, server.name)
    if was_running:
        processes.stop(layout, server)
    try:
        described.run(['/usr/bin/docker-registry', 'garbage-collect',
                       described.etc('config.yml')])
    finally:
        if was_running:
            processes.start(layout, server)
            processes.wait(layout, server)
    freed = before - _disk_usage(storage)
    print('registry storage %s: %.1f MiB freed, %.1f MiB used' % (
        storage, freed / 2**20, (before - freed) / 2**20))
