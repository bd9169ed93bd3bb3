"""Heat: heat-api (gunicorn, 8004) and one heat-engine, with the domain of
the users Heat creates inside stacks, and novadocker's
DockerInc::Docker::Container loaded as a plugin."""

import importlib.util
import json

from aio import layout as aio_layout
from aio import service
from aio.services import keystone
from aio.services import mariadb
from aio.services import rabbitmq

PORT = 8004
STACK_DOMAIN = 'heat'
STACK_DOMAIN_ADMIN = 'heat_domain_admin'
STACK_USER_ROLE = 'heat_stack_user'
# heat-engine's RPC topic.
ENGINE_QUEUE = 'engine'


class Heat(service.Service):
    name = 'heat'
    optional = True
    after = ('mariadb', 'rabbitmq', 'keystone')
    ports = {'heat-api': PORT}
    databases = ('heat',)
    user = 'heat'
    catalog = (service.Endpoint('heat', 'orchestration',
                                aio_layout.url(PORT, '/v1/$(project_id)s')),)

    def config_files(self):
        trustee = keystone.cloud_auth(self.layout, self.user)
        return {
            'heat.conf': service.ini({
                'DEFAULT': {
                    'use_stderr': 'true',
                    'transport_url': rabbitmq.transport_url(self.layout),
                    'num_engine_workers': '1',
                    'region_name_for_services': aio_layout.REGION,
                    'environment_dir': self.etc('environment.d'),
                    'template_dir': self.layout.wheel_etc('heat',
                                                          'templates'),
                    # DockerInc::Docker::Container, backed by Nova.
                    'plugin_dirs': importlib.util.find_spec(
                        'novadocker.heat.plugins')
                    .submodule_search_locations[0],
                    'auth_encryption_key':
                        self.layout.secrets['heat-encryption'],
                    'stack_user_domain_name': STACK_DOMAIN,
                    'stack_domain_admin': STACK_DOMAIN_ADMIN,
                    'stack_domain_admin_password':
                        self.layout.secrets['service'],
                    # Containers run no cloud-init or heat-cfntools to read
                    # a bundle, and no heat-api-cfn runs here: user_data
                    # reaches Nova as written, and software configuration
                    # goes through Heat's own API.
                    'default_user_data_format': 'RAW',
                    'default_software_config_transport': 'POLL_SERVER_HEAT',
                    'default_deployment_signal_transport': 'HEAT_SIGNAL',
                    # Nova already tries another host for a build its host
                    # failed; a server that failed for a cause of its own
                    # would fail the same way again, five times over.
                    'action_retry_limit': '0',
                },
                'database': {'connection': mariadb.url(self.layout, 'heat')},
                'keystone_authtoken': keystone.authtoken(self.layout,
                                                         self.user),
                # The user Heat acts as, through the trusts stack owners
                # give it.
                'trustee': {
                    'auth_type': 'password',
                    'auth_url': trustee['auth_url'],
                    'username': trustee['username'],
                    'password': trustee['password'],
                    'user_domain_name': trustee['user_domain_name'],
                },
                'clients_keystone': {
                    'auth_uri': aio_layout.url(keystone.PORT)},
                'paste_deploy': {'api_paste_config': self.layout.wheel_etc(
                    'heat', 'api-paste.ini')},
                'oslo_concurrency': {'lock_path': self.data('locks')},
            }),
            # The wheel's environment names its templates under /etc/heat.
            'environment.d/default.yaml': json.dumps({'resource_registry': {
                'OS::Quantum*': 'OS::Neutron*',
                'AWS::CloudWatch::Alarm': 'file://' + self.layout.wheel_etc(
                    'heat', 'templates', 'AWS_CloudWatch_Alarm.yaml'),
                'AWS::RDS::DBInstance': 'file://' + self.layout.wheel_etc(
                    'heat', 'templates', 'AWS_RDS_DBInstance.yaml'),
            }}, indent=2) + '\n',
        }

    def identity(self, conn):
        """The domain of the users Heat makes for stacks, its admin, and
        the role of those users (heat-keystone-setup-domain's work)."""
        keystone.ensure_role(conn, STACK_USER_ROLE)
        domain = (conn.identity.find_domain(STACK_DOMAIN) or
                  conn.identity.create_domain(
                      name=STACK_DOMAIN,
                      description='Users Heat creates for stacks'))
        admin = conn.identity.find_user(STACK_DOMAIN_ADMIN,
                                        domain_id=domain.id)
        if admin:
            keystone.ensure_password(conn, admin,
                                     self.layout.secrets['service'])
        else:
            admin = conn.identity.create_user(
                name=STACK_DOMAIN_ADMIN, domain_id=domain.id,
                password=self.layout.secrets['service'])
        conn.identity.assign_domain_role_to_user(
            domain, admin, conn.identity.find_role('admin'))

    def initialize(self):
        self.run([self.layout.bin('heat-manage'),
                  '--config-file', self.etc('heat.conf'), 'db_sync'])

    def processes(self):
        config = ['--config-file', self.etc('heat.conf')]
        return [
            self.gunicorn('heat-api', 'heat.wsgi.api', PORT, {},
                          argv=config),
            service.Process(
                'heat-engine', self.one_process('heat-engine') + config,
                rabbitmq.queues_consumed(self.layout, [ENGINE_QUEUE]),
                stop_timeout=5),
        ]
