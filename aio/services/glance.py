"""Glance with the file store, accepting the ``docker`` container format,
and its metadata definitions loaded."""

from aio import layout as aio_layout
from aio import service
from aio.services import keystone
from aio.services import mariadb

PORT = 9292
CHUNK = 2**20


class Glance(service.Service):
    name = 'glance'
    after = ('mariadb', 'keystone')
    ports = {'glance': PORT}
    databases = ('glance',)
    user = 'glance'
    catalog = (service.Endpoint('glance', 'image', aio_layout.url(PORT)),)

    def preflight(self):
        return service.earlier_sqlite_state(self)

    def config_files(self):
        staging = self.data('staging')
        return {'glance-api.conf': service.ini({
            'DEFAULT': {
                'use_stderr': 'true',
                'enabled_backends': 'local:file',
                'node_staging_uri': 'file://' + staging,
            },
            'database': {'connection': mariadb.url(self.layout, 'glance')},
            'glance_store': {'default_backend': 'local'},
            'local': {
                'filesystem_store_datadir': self.data('images'),
                # Uploads and downloads are read, hashed and written in
                # these chunks: at the default 64 KiB a 200 MiB upload
                # takes 2.5 times as long.
                'filesystem_store_chunk_size': CHUNK},
            'os_glance_staging_store': {'filesystem_store_datadir': staging},
            'os_glance_tasks_store': {
                'filesystem_store_datadir': self.data('tasks')},
            'image_format': {
                'container_formats': 'bare,docker,ova,ovf',
                'disk_formats': 'raw,qcow2,vmdk,vdi,iso'},
            'paste_deploy': {
                'flavor': 'keystone',
                'config_file': self.layout.wheel_etc(
                    'glance', 'glance-api-paste.ini')},
            'keystone_authtoken': keystone.authtoken(self.layout, 'glance'),
            'oslo_concurrency': {'lock_path': self.data('locks')},
        })}

    def initialize(self):
        manage = [self.layout.bin('glance-manage'),
                  '--config-file', self.etc('glance-api.conf')]
        self.run(manage + ['db_sync'])
        # The metadata definitions the wheel ships (openstack image metadef
        # namespace list), as DevStack loads them.
        self.run(manage + ['db', 'load_metadefs', '--path',
                           self.layout.wheel_etc('glance', 'metadefs')])

    def processes(self):
        return [self.gunicorn('glance', 'glance.wsgi.api', PORT, {
            'OS_GLANCE_CONFIG_DIR': self.etc()})]
