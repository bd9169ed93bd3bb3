"""Cinder: the block storage API (gunicorn, 8776), its scheduler, and one
volume service whose backend is the all-in-one's Ceph (the RBD driver)."""

import os
import sysconfig
import uuid

from aio import layout as aio_layout
from aio import processes
from aio import service
from aio.layout import HOST
from aio.services import ceph
from aio.services import keystone
from aio.services import mariadb
from aio.services import rabbitmq

PORT = 8776
BACKEND = 'ceph'
# Where Debian's python3-rados and python3-rbd put the bindings, built for
# Python 3.11 as the virtualenv's is.
DEBIAN_MODULES = '/usr/lib/python3/dist-packages'
BINDINGS = ('rados', 'rbd')
# What Nova's [cinder] section names: the catalog type and interface.
CATALOG_INFO = 'block-storage::publicURL'
# Where os-brick reads a Ceph client's key, with no option to move it
# (OSSN-0085 took the key out of connections); Debian's ceph-common makes it.
ETC_CEPH = '/etc/ceph'
PRIVSEP_CONTEXTS = ('cinder_sys_admin', 'privsep_osbrick')


class Cinder(service.Service):
    name = 'cinder'
    optional = True
    after = ('mariadb', 'rabbitmq', 'keystone', 'ceph')
    ports = {'cinder-api': PORT}
    databases = ('cinder',)
    user = 'cinder'
    catalog = (service.Endpoint('cinder', 'block-storage',
                                aio_layout.url(PORT, '/v3/$(project_id)s')),)

    def preflight(self):
        missing = [name for name in BINDINGS if not self._binding(name)]
        if missing:
            return ['Cinder\'s RBD driver needs Debian\'s %s: apt-get '
                    'install %s (tools/aio installs them)' % (
                        ', '.join(missing),
                        ' '.join('python3-' + name for name in missing))]
        if not os.path.isdir(ETC_CEPH):
            return ['%s is missing: apt-get install ceph-common (tools/aio '
                    'installs it)' % ETC_CEPH]
        return []

    @staticmethod
    def _binding(name):
        path = os.path.join(DEBIAN_MODULES,
                            name + sysconfig.get_config_var('EXT_SUFFIX'))
        return path if os.path.exists(path) else None

    def _link_bindings(self):
        """A directory holding only the Ceph bindings, for cinder-volume's
        path: the whole of Debian's dist-packages would shadow the
        virtualenv's newer libraries."""
        path = self.data('bindings')
        os.makedirs(path, exist_ok=True)
        for name in BINDINGS:
            target = self._binding(name)
            link = os.path.join(path, os.path.basename(target))
            if os.path.islink(link) and os.readlink(link) == target:
                continue
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(target, link)

    @property
    def _secret_uuid(self):
        # What libvirt hosts would name the client's key by; Cinder passes
        # it in the connection, the Docker driver reads the key itself.
        return str(uuid.uuid5(uuid.NAMESPACE_URL,
                              'ceph:client.%s' % ceph.CLIENT))

    def config_files(self):
        layout = self.layout
        return {'cinder.conf': service.ini({
            'DEFAULT': {
                'use_stderr': 'true',
                'transport_url': rabbitmq.transport_url(layout),
                'my_ip': HOST,
                'host': layout.compute_host,
                'state_path': self.data(),
                'auth_strategy': 'keystone',
                'api_paste_config': layout.wheel_etc('cinder',
                                                     'api-paste.ini'),
                'enabled_backends': BACKEND,
                'glance_api_servers': aio_layout.url(9292),
                'osapi_volume_workers': '1',
                # Which filters each list call accepts (the CLI finds a
                # volume by name with one).
                'resource_query_filters_file': layout.wheel_etc(
                    'cinder', 'resource_filters.json'),
            },
            BACKEND: {
                'volume_driver': 'cinder.volume.drivers.rbd.RBDDriver',
                'volume_backend_name': BACKEND,
                'rbd_pool': ceph.VOLUMES_POOL,
                'rbd_ceph_conf': ceph.conf(layout),
                'rbd_user': ceph.CLIENT,
                'rbd_secret_uuid': self._secret_uuid,
                'report_discard_supported': 'true',
            },
            'database': {'connection': mariadb.url(layout, 'cinder')},
            'keystone_authtoken': keystone.authtoken(layout, self.user),
            # Cinder tells Nova of extended volumes.
            'nova': keystone.service_auth(layout, self.user),
            'oslo_concurrency': {'lock_path': self.data('locks')},
            # Its root work (qemu-img on images, for volumes made from
            # them), and os-brick's.
            **self.privsep_helpers(PRIVSEP_CONTEXTS,
                                   [self.etc('cinder.conf')]),
        })}

    def initialize(self):
        self.run([self.layout.bin('cinder-manage'),
                  '--config-file', self.etc('cinder.conf'), 'db', 'sync'])

    def _reports_up(self, binary):
        return keystone.asks_api(
            self.layout, "reports up in Cinder's services API",
            lambda conn: any(
                s.state == 'up' and processes.reported_since_start(
                    self.layout, binary, s.updated_at)
                for s in conn.block_storage.services(binary=binary)))

    def _seeing_ceph_keys(self, argv):
        """``argv`` in a mount namespace of its own, where /etc/ceph is the
        all-in-one's: os-brick opens a volume (Cinder's upload of a raw
        image of it) with the key it finds there only, and the all-in-one
        writes nothing under /etc. As kolla mounts /etc/ceph into
        cinder-volume's container."""
        return ['unshare', '--mount', '--propagation', 'private', '--',
                'sh', '-c', 'mount --bind "$0" %s && exec "$@"' % ETC_CEPH,
                os.path.dirname(ceph.conf(self.layout))] + list(argv)

    def processes(self):
        config = ['--config-file', self.etc('cinder.conf')]
        return [
            self.gunicorn('cinder-api', 'cinder.wsgi.api', PORT, {},
                          argv=config),
            service.Process(
                'cinder-scheduler',
                [self.layout.bin('cinder-scheduler')] + config,
                self._reports_up('cinder-scheduler'), after=('cinder-api',),
                stop_timeout=5),
            service.Process(
                'cinder-volume', self._seeing_ceph_keys(
                    self.one_process('cinder-volume') + config),
                self._reports_up('cinder-volume'),
                {'PYTHONPATH': self.data('bindings')},
                after=('cinder-api',), prepare=self._link_bindings,
                stop_timeout=5),
        ]
