"""Keystone content: projects, users, roles and the service catalog.

Everything is looked up before it is created, so a second run changes
nothing but passwords that no longer match the state directory's secrets.
"""

import openstack

from aio.layout import REGION, url

SERVICE_USERS = ('nova', 'glance', 'placement', 'neutron')
CATALOG = (
    ('keystone', 'identity', url('keystone', '/v3')),
    ('glance', 'image', url('glance')),
    ('placement', 'placement', url('placement')),
    ('nova', 'compute', url('nova-api', '/v2.1')),
    ('neutron', 'network', url('neutron-api')),
)


def cloud_auth(secrets, user):
    project = {'admin': 'admin', 'demo': 'demo'}.get(user, 'service')
    password = secrets[user] if user in ('admin', 'demo') else secrets['service']
    return {
        'auth_url': url('keystone', '/v3'),
        'username': user,
        'password': password,
        'project_name': project,
        'user_domain_name': 'Default',
        'project_domain_name': 'Default',
    }


def connect(secrets, user='admin'):
    return openstack.connect(auth=cloud_auth(secrets, user),
                             region_name=REGION, identity_api_version='3')


def _project(conn, name):
    return (conn.identity.find_project(name, domain_id='default')
            or conn.identity.create_project(name=name, domain_id='default'))


def _role(conn, name):
    return conn.identity.find_role(name) or conn.identity.create_role(name=name)


def _user(conn, name, password, project, roles):
    user = conn.identity.find_user(name, domain_id='default')
    if user:
        conn.identity.update_user(user, password=password)
    else:
        user = conn.identity.create_user(name=name, password=password,
                                         domain_id='default',
                                         default_project_id=project.id)
    for role in roles:
        conn.identity.assign_project_role_to_user(project, user, role)
    return user


def _catalog(conn):
    for name, service_type, endpoint_url in CATALOG:
        service = (conn.identity.find_service(name)
                   or conn.identity.create_service(name=name,
                                                   type=service_type))
        existing = {e.interface: e for e in conn.identity.endpoints(
            service_id=service.id, region_id=REGION)}
        for interface in ('public', 'internal'):
            if interface in existing:
                if existing[interface].url != endpoint_url:
                    conn.identity.update_endpoint(existing[interface],
                                                  url=endpoint_url)
            else:
                conn.identity.create_endpoint(
                    service_id=service.id, interface=interface,
                    url=endpoint_url, region_id=REGION)


def ensure(secrets):
    conn = connect(secrets)
    service_project = _project(conn, 'service')
    demo_project = _project(conn, 'demo')
    admin, member, service = (_role(conn, name)
                              for name in ('admin', 'member', 'service'))
    for name in SERVICE_USERS:
        _user(conn, name, secrets['service'], service_project,
              (admin, service))
    _user(conn, 'demo', secrets['demo'], demo_project, (member,))
    _catalog(conn)
    conn.close()
