"""A certificate authority of the all-in-one's own, for what it serves
over TLS on its management network (each engine, for Zun's attach), and
the throw-away ones tests make. Its PEM files and those of the
certificates it signs live in one directory; what is there already is
used again."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID


def _write_pem(path, data, private=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o600 if private else 0o644)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    return path


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CertificateAuthority(object):

    def __init__(self, directory, name, lifetime=datetime.timedelta(hours=1)):
        self._directory = directory
        self._lifetime = lifetime
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                   name)])
        self.cert_file = os.path.join(directory, name + '-ca.pem')
        key_file = os.path.join(directory, name + '-ca-key.pem')
        if os.path.exists(self.cert_file) and os.path.exists(key_file):
            with open(key_file, 'rb') as f:
                self._key = serialization.load_pem_private_key(f.read(),
                                                               None)
            return
        os.makedirs(directory, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        cert = self._builder(self._name, self._key.public_key()).add_extension(
            x509.BasicConstraints(ca=True, path_length=None),
            critical=True).sign(self._key, hashes.SHA256())
        _write_pem(key_file, _key_pem(self._key), private=True)
        _write_pem(self.cert_file,
                   cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject, public_key):
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(self._name)
                .public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + self._lifetime))

    def issue(self, name, ip_address=None):
        """(certificate file, key file) for ``name``, valid for
        ``ip_address`` when it is given (a server's)."""
        cert_file = os.path.join(self._directory, name + '-cert.pem')
        key_file = os.path.join(self._directory, name + '-key.pem')
        if os.path.exists(cert_file) and os.path.exists(key_file):
            return cert_file, key_file
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
            key.public_key())
        if ip_address:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip_address))]),
                critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        _write_pem(key_file, _key_pem(key), private=True)
        _write_pem(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        return cert_file, key_file
