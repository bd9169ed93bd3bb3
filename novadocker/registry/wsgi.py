"""WSGI entry point of the registry's token service; its configuration
file is $NOVADOCKER_REGISTRY_CONFIG (default
/etc/novadocker/registry.conf)."""

import os

from oslo_log import log as logging

from novadocker.registry import conf
from novadocker.registry import token


def _application():
    logging.register_options(conf.CONF)
    conf.CONF([], project='novadocker', default_config_files=[
        os.environ.get('NOVADOCKER_REGISTRY_CONFIG',
                       '/etc/novadocker/registry.conf')])
    logging.setup(conf.CONF, 'novadocker-registry')
    return token.TokenService(conf.CONF)


application = _application()
