"""Databases, and the one-time schema and key set-up of each service.

Keystone and Glance keep SQLite files: one process each. Nova, Placement
and Neutron have several processes writing at once, which SQLite answers
with "database is locked" (seen here from the second concurrent boot), and
Neutron's migrations cannot run on SQLite: they use MariaDB.

Each service's set-up runs once; a marker file records that it finished,
so later runs skip it. They run in parallel with each other.
"""

import os
import subprocess

from aio import layout as aio_layout
from aio import processes
from aio.layout import REGION, url


def _run(layout, service, argv):
    with open(layout.log(service + '-setup'), 'ab') as log:
        log.write(b'\n==== %s\n' % ' '.join(argv).encode())
        log.flush()
        code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=layout.repo)
    if code:
        raise processes.ServiceFailed(
            service, layout.log(service + '-setup'),
            'set-up failed (%s exited %d)' % (os.path.basename(argv[0]), code))


def _keystone(layout, secrets):
    manage = [layout.bin('keystone-manage'),
              '--config-file', layout.etc('keystone', 'keystone.conf')]
    owner = ['--keystone-user', 'root', '--keystone-group', 'root']
    _run(layout, 'keystone', manage + ['db_sync'])
    _run(layout, 'keystone', manage + ['fernet_setup'] + owner)
    _run(layout, 'keystone', manage + ['credential_setup'] + owner)
    _run(layout, 'keystone', manage + [
        'bootstrap', '--bootstrap-password', secrets['admin'],
        '--bootstrap-region-id', REGION,
        '--bootstrap-public-url', url('keystone', '/v3')])


def _placement(layout, secrets):
    _run(layout, 'placement', [
        layout.bin('placement-manage'),
        '--config-file', layout.etc('placement', 'placement.conf'),
        'db', 'sync'])


def _glance(layout, secrets):
    _run(layout, 'glance', [
        layout.bin('glance-manage'),
        '--config-file', layout.etc('glance', 'glance-api.conf'),
        'db_sync'])


def _nova(layout, secrets):
    manage = [layout.bin('nova-manage'),
              '--config-file', layout.etc('nova', 'nova.conf')]
    _run(layout, 'nova', manage + ['api_db', 'sync'])
    _run(layout, 'nova', manage + [
        'cell_v2', 'map_cell0', '--database_connection',
        aio_layout.mariadb_url(secrets, 'nova_cell0')])
    _run(layout, 'nova', manage + ['cell_v2', 'create_cell', '--name',
                                   'cell1'])
    _run(layout, 'nova', manage + ['db', 'sync'])


def _neutron(layout, secrets):
    _run(layout, 'neutron', [
        layout.bin('neutron-db-manage'),
        '--config-file', layout.etc('neutron', 'neutron.conf'),
        'upgrade', 'heads'])


DATABASES = ('nova_api', 'nova_cell0', 'nova_cell1', 'placement', 'neutron')


def initialize_mariadb(layout):
    """Creates MariaDB's data directory once, before its first start."""
    if os.path.isdir(layout.data('mariadb', 'mysql')):
        return
    os.makedirs(layout.data('mariadb'), exist_ok=True)
    _run(layout, 'mariadb', [
        'mariadb-install-db', '--no-defaults', '--user=root',
        '--datadir=' + layout.data('mariadb'), '--skip-test-db',
        '--auth-root-authentication-method=socket'])


def create_databases(layout, secrets):
    """The services' databases and their user (root logs in by socket)."""
    password = secrets['database'].replace("'", "''")
    statements = ['CREATE DATABASE IF NOT EXISTS %s' % name
                  for name in DATABASES] + [
        "CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1'",
        "ALTER USER 'openstack'@'127.0.0.1' IDENTIFIED BY '%s'" % password,
        "GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1'",
    ]
    _run(layout, 'mariadb', [
        'mariadb', '--no-defaults', '--socket=' + layout.mariadb_socket,
        '--user=root', '--execute', '; '.join(statements)])


SETUPS = {
    'keystone': _keystone,
    'placement': _placement,
    'glance': _glance,
    'nova': _nova,
    'neutron': _neutron,
}


def _marker(layout, service):
    return layout.data(service, '.set-up')


def pending(layout):
    return [name for name in SETUPS
            if not os.path.exists(_marker(layout, name))]


def set_up(layout, service, secrets):
    os.makedirs(layout.data(service), exist_ok=True)
    SETUPS[service](layout, secrets)
    with open(_marker(layout, service), 'w'):
        pass
