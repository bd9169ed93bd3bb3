"""Where the all-in-one keeps everything, and the ports it serves on."""

import dataclasses
import json
import os
import secrets
import sys

HOST = '127.0.0.1'
REGION = 'RegionOne'

PORTS = {
    'mariadb': 3306,
    'rabbitmq': 5672,
    'keystone': 5000,
    'glance': 9292,
    'placement': 8778,
    'nova-api': 8774,
    'neutron-api': 9696,
    # The OpenFlow controller that programs br-int.
    'neutron-openvswitch-agent': 6633,
}


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

    def sqlite(self, service):
        return 'sqlite:///' + self.data(service, service + '.db')

    @property
    def mariadb_socket(self):
        return os.path.join(self.state, 'run', 'mariadb.sock')

    @property
    def ovs_rundir(self):
        """Open vSwitch's sockets, found by its tools through OVS_RUNDIR."""
        return os.path.join(self.state, 'run', 'openvswitch')

    @property
    def ovs_db_socket(self):
        return os.path.join(self.ovs_rundir, 'db.sock')

    @property
    def ovsdb_connection(self):
        return 'unix:' + self.ovs_db_socket

    @property
    def ovs_env(self):
        """Points Open vSwitch's daemons and every client (ovs-vsctl, the
        agents, their privsep daemons, nova-compute) at this all-in-one's
        Open vSwitch instead of the system's /var/run/openvswitch."""
        return {'OVS_RUNDIR': self.ovs_rundir,
                'OVS_DBDIR': self.data('openvswitch'),
                'OVS_LOGDIR': os.path.join(self.state, 'log')}

    @property
    def clouds_yaml(self):
        return os.path.join(self.state, 'clouds.yaml')

    def wheel_etc(self, *name):
        """Files the wheels install under <venv>/etc (paste pipelines)."""
        return os.path.join(self.venv, 'etc', *name)

    def make_dirs(self):
        for sub in ('etc', 'data', 'log', 'run'):
            os.makedirs(os.path.join(self.state, sub), exist_ok=True)


def url(service, path=''):
    return 'http://%s:%d%s' % (HOST, PORTS[service], path)


SECRETS = ('admin', 'demo', 'service', 'rabbit', 'database')


def load_secrets(layout):
    """Passwords generated on the first run and kept for the next ones."""
    path = os.path.join(layout.state, 'secrets.json')
    values = {}
    if os.path.exists(path):
        with open(path) as f:
            values = json.load(f)
    missing = {name for name in SECRETS if name not in values}
    if missing:
        values.update((name, secrets.token_urlsafe(16)) for name in missing)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            json.dump(values, f)
    return values


def compute_host(layout):
    """This all-in-one's compute host name, generated on the first run.

    The driver labels containers with it and owns only those with its own
    name, so all-in-ones of several clones, and the containers a removed
    state directory left behind, can share one Docker engine.
    """
    path = os.path.join(layout.state, 'compute-host')
    if not os.path.exists(path):
        with open(path, 'w') as f:
            f.write('aio-%s\n' % secrets.token_hex(4))
    with open(path) as f:
        return f.read().strip()


RABBIT_USER = 'openstack'


def transport_url(secrets):
    return 'rabbit://%s:%s@%s:%d/' % (
        RABBIT_USER, secrets['rabbit'], HOST, PORTS['rabbitmq'])


def mariadb_url(secrets, database):
    return 'mysql+pymysql://openstack:%s@%s:%d/%s?charset=utf8' % (
        secrets['database'], HOST, PORTS['mariadb'], database)
