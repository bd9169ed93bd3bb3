"""Options of the registry's token service ([registry] in its own file)."""

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

CONF.register_opts(registry_opts, group='registry')


def list_opts():
    return [('registry', registry_opts)]
