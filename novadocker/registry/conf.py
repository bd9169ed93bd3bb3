"""Options of the registry's token service ([registry]) and of the
synchronisation with Glance ([sync], [service_auth]), in one file."""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

CONF = cfg.ConfigOpts()

registry_opts = [
    cfg.URIOpt('auth_url', default='http://127.0.0.1:5000/v3',
               help='Keystone (identity v3) that checks docker login '
                    'credentials.'),
    cfg.StrOpt('user_domain_name', default='Default',
               help='Domain of the users who log in.'),
    cfg.StrOpt('project_domain_name', default='Default',
               help='Domain of the projects named by repositories '
                    '(<project name>/<name>).'),
    cfg.StrOpt('service', default='novadocker-registry',
               help='The registry\'s auth.token.service: the audience of '
                    'the tokens.'),
    cfg.StrOpt('issuer', default='novadocker-token',
               help='The registry\'s auth.token.issuer.'),
    cfg.StrOpt('signing_key', required=True,
               help='PEM private key (RSA) the tokens are signed with.'),
    cfg.StrOpt('signing_certificate', required=True,
               help='PEM certificate of that key; the registry\'s '
                    'auth.token.rootcertbundle.'),
    cfg.IntOpt('token_lifetime', default=300, min=60,
               help='Seconds a token is valid.'),
    cfg.IntOpt('credential_cache_seconds', default=60, min=0,
               help='Seconds a successful Keystone check of a user, '
                    'password and project is reused (a push asks for '
                    'several tokens).'),
    cfg.ListOpt('push_roles', default=['member', 'admin'],
                help='Roles in a project that may push to and pull from '
                     'its repositories.'),
    cfg.ListOpt('pull_roles', default=['reader'],
                help='Roles in a project that may pull from its '
                     'repositories.'),
    cfg.ListOpt('service_roles', default=['service'],
                help='Roles that let a user (Nova\'s) pull from every '
                     'repository.'),
]

sync_opts = [
    cfg.URIOpt('registry_url', default='http://127.0.0.1:5042',
               help='The registry\'s HTTP API.'),
    cfg.StrOpt('registry_address', default='127.0.0.1:5042',
               help='The registry as the engines of the compute hosts '
                    'reach it (host:port); recorded in each image\'s '
                    'docker_registry property.'),
    cfg.HostAddressOpt('listen_host', default='127.0.0.1',
                       help='Address where the registry\'s notifications '
                            'are received.'),
    cfg.PortOpt('listen_port', default=5044,
                help='Port where the registry\'s notifications are '
                     'received (POST /events).'),
    cfg.StrOpt('events_secret', secret=True, required=True,
               help='The bearer token the registry sends with its '
                    'notifications (its endpoint\'s Authorization '
                    'header).'),
    cfg.IntOpt('reconcile_interval', default=60, min=5,
               help='Seconds between two comparisons of the whole '
                    'registry with Glance, which recover notifications '
                    'lost while a service was down and carry deletions of '
                    'Glance images to the registry.'),
    cfg.StrOpt('state_path', required=True,
               help='Directory of the record of which Glance image holds '
                    'which manifest.'),
]

CONF.register_opts(registry_opts, group='registry')
CONF.register_opts(sync_opts, group='sync')
SERVICE_AUTH = 'service_auth'
ks_loading.register_session_conf_options(CONF, SERVICE_AUTH)
ks_loading.register_auth_conf_options(CONF, SERVICE_AUTH)


def list_opts():
    return [('registry', registry_opts), ('sync', sync_opts),
            (SERVICE_AUTH, ks_loading.get_session_conf_options()
             + ks_loading.get_auth_common_conf_options()
             + ks_loading.get_auth_plugin_conf_options('password'))]
