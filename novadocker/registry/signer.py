"""Signs the registry's tokens: for the token service's users, and for the
synchronisation's own calls to the registry."""

import base64
import datetime
import secrets
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
import jwt


class Signer:
    """Signs tokens the way the registry's token auth verifies them: RS256
    with the certificate in an x5c chain, a single audience."""

    def __init__(self, conf):
        self._conf = conf
        with open(conf.signing_key, 'rb') as f:
            self._key = serialization.load_pem_private_key(f.read(), None)
        with open(conf.signing_certificate, 'rb') as f:
            certificate = x509.load_pem_x509_certificate(f.read())
        self._chain = [base64.b64encode(certificate.public_bytes(
            serialization.Encoding.DER)).decode()]

    def token(self, subject, access):
        """A token response for ``subject`` with ``access``."""
        now = int(time.time())
        claims = {
            'iss': self._conf.issuer, 'sub': subject,
            'aud': self._conf.service, 'iat': now, 'nbf': now,
            'exp': now + self._conf.token_lifetime,
            'jti': secrets.token_hex(16), 'access': access,
        }
        token = jwt.encode(claims, self._key, algorithm='RS256',
                           headers={'x5c': self._chain})
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        return {'token': token, 'access_token': token,
                'expires_in': self._conf.token_lifetime,
                'issued_at': issued.strftime('%Y-%m-%dT%H:%M:%SZ')}
