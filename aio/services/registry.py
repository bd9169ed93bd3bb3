"""A Docker registry on 127.0.0.1:5042 (Debian's docker-registry, CNCF
distribution) whose logins are Keystone's: its token service is
novadocker's (novadocker.registry.token) on 5043."""

import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from aio import layout as aio_layout
from aio import service
from aio.layout import HOST
from aio.services import keystone

PORT = 5042
TOKEN_PORT = 5043
ADDRESS = '%s:%d' % (HOST, PORT)
SERVICE = 'novadocker-registry'
ISSUER = 'novadocker-token'


def _write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


class Registry(service.Service):
    name = 'registry'
    after = ('keystone',)
    ports = {'registry': PORT, 'registry-token': TOKEN_PORT}

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
                'registry', ['/usr/bin/docker-registry', 'serve',
                             self.etc('config.yml')],
                service.http_answers(aio_layout.url(PORT, '/v2/')),
                after=('registry-token',)),
        ]
