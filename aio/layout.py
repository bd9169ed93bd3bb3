"""Where the all-in-one keeps everything: configuration, data, logs, pid
files, its generated passwords and its compute host's name."""

import dataclasses
import functools
import json
import os
import secrets
import sys

# The control plane's address on the management network, which joins the
# compute hosts: every API, RabbitMQ, MariaDB, the registry and the OVN
# databases listen there (a compute host in its own network namespace, like
# one on another machine, cannot reach this one's 127.0.0.1). A range of
# the project's own, held only by links the all-in-one makes.
MANAGEMENT_NETWORK = '172.24.5.0/24'
HOST = '172.24.5.1'
# The compute hosts' tunnel (geneve) endpoints (aio.services.chassis).
TUNNEL_NETWORK = '172.24.6.0/24'
REGION = 'RegionOne'
SECRETS = ('admin', 'demo', 'service', 'rabbit', 'database', 'registry',
           'registry-events', 'heat-encryption')


@dataclasses.dataclass(frozen=True)
class Layout:
    repo: str
    state: str

    @classmethod
    def from_environment(cls):
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        return cls(repo, os.environ.get(
            'AIO_STATE', os.path.join(repo, 'state', 'aio')))

    @property
    def venv(self):
        return sys.prefix

    def bin(self, name):
        return os.path.join(self.venv, 'bin', name)

    def etc(self, service, *name):
        return os.path.join(self.state, 'etc', service, *name)

    def data(self, service, *name):
        return os.path.join(self.state, 'data', service, *name)

    def log(self, service):
        return os.path.join(self.state, 'log', service + '.log')

    def pidfile(self, service):
        return os.path.join(self.state, 'run', service + '.pid')

    @property
    def clouds_yaml(self):
        return os.path.join(self.state, 'clouds.yaml')

    def wheel_etc(self, *name):
        """Files the wheels install under <venv>/etc (paste pipelines)."""
        return os.path.join(self.venv, 'etc', *name)

    @functools.cached_property
    def secrets(self):
        """Passwords generated on the first run and kept for the next
        ones."""
        path = os.path.join(self.state, 'secrets.json')
        values = {}
        if os.path.exists(path):
            with open(path) as f:
                values = json.load(f)
        missing = {name for name in SECRETS if name not in values}
        if missing:
            # 32 characters: Heat's auth_encryption_key must have exactly
            # that many.
            values.update((name, secrets.token_urlsafe(24))
                          for name in missing)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as f:
                json.dump(values, f)
        return values

    @functools.cached_property
    def compute_host(self):
        """This all-in-one's compute host name, generated on the first run.

        The driver labels containers with it and owns only those with its
        own name, so all-in-ones of several clones, and the containers a
        removed state directory left behind, can share one Docker engine.
        """
        path = os.path.join(self.state, 'compute-host')
        if not os.path.exists(path):
            os.makedirs(self.state, exist_ok=True)
            with open(path, 'w') as f:
                f.write('aio-%s\n' % secrets.token_hex(4))
        with open(path) as f:
            return f.read().strip()

    def make_dirs(self):
        for sub in ('etc', 'data', 'log', 'run'):
            os.makedirs(os.path.join(self.state, sub), exist_ok=True)


def url(port, path=''):
    return 'http://%s:%d%s' % (HOST, port, path)
