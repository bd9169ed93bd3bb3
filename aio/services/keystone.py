"""Keystone: identity, the catalog, and the service users of the others."""

import functools

import keystoneauth1.exceptions
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import openstack

from aio import layout as aio_layout
from aio import service
from aio.layout import REGION
from aio.services import mariadb

PORT = 5000
URL = aio_layout.url(PORT, '/v3')
SERVICE_PROJECT = 'service'
# A service user has these roles in the service project.
SERVICE_ROLES = ('admin', 'service')


def cloud_auth(layout, user, project=None):
    """openstacksdk/keystoneauth password options of a user of the
    all-in-one: admin and demo in their projects, service users in the
    service project."""
    if user in ('admin', 'demo'):
        password, project = layout.secrets[user], project or user
    else:
        password, project = layout.secrets['service'], SERVICE_PROJECT
    return {
        'auth_url': URL,
        'username': user,
        'password': password,
        'project_name': project,
        'user_domain_name': 'Default',
        'project_domain_name': 'Default',
    }


def service_auth(layout, user):
    """keystoneauth options of a service user, for a config section."""
    return dict(cloud_auth(layout, user), auth_type='password',
                region_name=REGION)


def authtoken(layout, user):
    """[keystone_authtoken] of a service's API."""
    return dict(service_auth(layout, user), www_authenticate_uri=URL,
                service_token_roles_required='true')


def connect(layout, user='admin'):
    # Keystone at its own address, whatever an earlier catalog says.
    return openstack.connect(auth=cloud_auth(layout, user),
                             region_name=REGION, identity_api_version='3',
                             identity_endpoint_override=URL)


@functools.cache
def _admin(layout):
    return connect(layout)


def asks_api(layout, what, question):
    """A readiness check that asks an API as admin: ``question(conn)``.

    The checks share one connection (keystoneauth renews its token). Its
    token carries the catalog of when it was issued, and openstacksdk
    disables a service missing there for good, so a check that ran before
    its service was registered makes the next one connect anew.
    """
    def test():
        try:
            return question(_admin(layout))
        except (keystoneauth1.exceptions.EndpointNotFound,
                openstack.exceptions.ConfigException):
            _admin.cache_clear()
            raise
    return service.Check(what, test)


def ensure_project(conn, name):
    return (conn.identity.find_project(name, domain_id='default')
            or conn.identity.create_project(name=name, domain_id='default'))


def ensure_role(conn, name):
    return conn.identity.find_role(name) or conn.identity.create_role(
        name=name)


def ensure_password(conn, user, password):
    """The user's password set to ``password`` unless it is already: a
    change revokes the user's tokens, which the running services hold."""
    try:
        ks_session.Session(auth=v3.Password(
            auth_url=URL, user_id=user.id, password=password)).get_token()
    except keystoneauth1.exceptions.Unauthorized:
        conn.identity.update_user(user, password=password)


def ensure_user(conn, name, password, project, role_names):
    """The user with this password and these roles in ``project``; a
    second run sets the password only if it has changed."""
    user = conn.identity.find_user(name, domain_id='default')
    if user:
        ensure_password(conn, user, password)
    else:
        user = conn.identity.create_user(name=name, password=password,
                                         domain_id='default',
                                         default_project_id=project.id)
    for role in role_names:
        conn.identity.assign_project_role_to_user(
            project, user, conn.identity.find_role(role))
    return user


def ensure_endpoints(conn, endpoint):
    """The catalog entry's service, and its public and internal
    endpoints at its URL."""
    found = (conn.identity.find_service(endpoint.name)
             or conn.identity.create_service(name=endpoint.name,
                                             type=endpoint.type))
    existing = {e.interface: e for e in conn.identity.endpoints(
        service_id=found.id, region_id=REGION)}
    for interface in ('public', 'internal'):
        if interface not in existing:
            conn.identity.create_endpoint(
                service_id=found.id, interface=interface, url=endpoint.url,
                region_id=REGION)
        elif existing[interface].url != endpoint.url:
            conn.identity.update_endpoint(existing[interface],
                                          url=endpoint.url)


class Keystone(service.Service):
    name = 'keystone'
    after = ('mariadb',)
    provides = ('identity',)
    ports = {'keystone': PORT}
    databases = ('keystone',)

    def preflight(self):
        return service.earlier_sqlite_state(self)

    def config_files(self):
        keys = self.data('fernet-keys')
        return {'keystone.conf': service.ini({
            'DEFAULT': {'log_dir': '', 'use_stderr': 'true'},
            'database': {'connection': mariadb.url(self.layout, 'keystone')},
            'token': {'provider': 'fernet'},
            # Every password of the all-in-one is also in plain text in its
            # secrets.json: bcrypt's default 12 rounds cost 0.34 s of CPU a
            # login here, and protect nothing that file does not give away.
            # bcrypt reads 72 bytes of a password: at Keystone's default
            # maximum (4096) it warns of that at every login.
            'identity': {'password_hash_rounds': '4',
                         'max_password_length': '72'},
            # In the one worker's memory: what it validated, and the
            # assignments and catalog it read (one process, so coherent).
            'cache': {'enabled': 'true',
                      'backend': 'dogpile.cache.memory'},
            'fernet_tokens': {'key_repository': keys},
            'fernet_receipts': {'key_repository': keys},
            'credential': {'key_repository': self.data('credential-keys')},
        })}

    def initialize(self):
        manage = [self.layout.bin('keystone-manage'),
                  '--config-file', self.etc('keystone.conf')]
        owner = ['--keystone-user', 'root', '--keystone-group', 'root']
        self.run(manage + ['db_sync'])
        self.run(manage + ['fernet_setup'] + owner)
        self.run(manage + ['credential_setup'] + owner)
        self.run(manage + [
            'bootstrap', '--bootstrap-password',
            self.layout.secrets['admin'],
            '--bootstrap-region-id', REGION, '--bootstrap-public-url', URL])

    def processes(self):
        return [self.gunicorn('keystone', 'keystone.wsgi.api', PORT, {
            'OS_KEYSTONE_CONFIG_FILES': self.etc('keystone.conf')})]

    def register(self, described):
        """A service's Keystone user and catalog entries."""
        with connect(self.layout) as conn:
            if described.user:
                ensure_user(conn, described.user,
                            self.layout.secrets['service'],
                            ensure_project(conn, SERVICE_PROJECT),
                            SERVICE_ROLES)
            for endpoint in described.catalog:
                ensure_endpoints(conn, endpoint)
            described.identity(conn)

    def started(self):
        """Its own internal endpoint (bootstrap made the public one), and
        what the other services' registration needs: the service project
        and the roles."""
        with connect(self.layout) as conn:
            ensure_endpoints(conn, service.Endpoint('keystone', 'identity',
                                                    URL))
            ensure_project(conn, SERVICE_PROJECT)
            for role in ('admin', 'member') + SERVICE_ROLES:
                ensure_role(conn, role)
