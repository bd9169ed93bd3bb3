"""Placement: resource providers and allocations."""

from aio import layout as aio_layout
from aio import service
from aio.services import keystone
from aio.services import mariadb

PORT = 8778


class Placement(service.Service):
    name = 'placement'
    after = ('mariadb', 'keystone')
    ports = {'placement': PORT}
    databases = ('placement',)
    user = 'placement'
    catalog = (service.Endpoint('placement', 'placement',
                                aio_layout.url(PORT)),)

    def config_files(self):
        return {'placement.conf': service.ini({
            'DEFAULT': {'use_stderr': 'true'},
            'api': {'auth_strategy': 'keystone'},
            'placement_database': {
                'connection': mariadb.url(self.layout, 'placement')},
            'keystone_authtoken': keystone.authtoken(self.layout,
                                                     'placement'),
        })}

    def initialize(self):
        self.run([self.layout.bin('placement-manage'),
                  '--config-file', self.etc('placement.conf'),
                  'db', 'sync'])

    def processes(self):
        return [self.gunicorn('placement', 'placement.wsgi.api', PORT, {
            'OS_PLACEMENT_CONFIG_DIR': self.etc()})]
