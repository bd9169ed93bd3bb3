"""Ceph (Debian's): one monitor, one manager and one OSD whose disk is a
sparse file under the state, on the management address; the pool Cinder's
volumes live in and the key of the one client that uses it (Cinder, and
the compute hosts that attach its volumes).

The cluster is sized for one machine: every pool has one copy, and the
OSD's cache is fixed (its memory target cannot go below 896 MiB, and with
autotuning on it would use 4 GiB).
"""

import json
import os
import subprocess
import uuid

from aio import service
from aio.layout import HOST

MON_PORT = 3300
MON = 'a'
MGR = 'x'
OSD = 0
# The OSD's disk: a sparse file, which allocates what volumes write.
OSD_BYTES = 20 * 2 ** 30
VOLUMES_POOL = 'volumes'
# Cinder's user, whose key the compute hosts use too (as libvirt hosts
# hold it in a secret).
CLIENT = 'cinder'


def conf(layout):
    """The cluster's configuration file, which every client reads."""
    return layout.etc('ceph', 'ceph.conf')


# The manager loads every module it finds (each a Python interpreter of its
# own), enabled or not; Ceph 16 runs these always and reports an error
# when one is missing.
MGR_MODULES = '/usr/share/ceph/mgr'
MGR_ALWAYS_ON = {'balancer', 'crash', 'devicehealth', 'orchestrator',
                 'pg_autoscaler', 'progress', 'rbd_support', 'status',
                 'telemetry', 'volumes'}


def keyring(layout, name):
    return layout.etc('ceph', 'ceph.%s.keyring' % name)


class Ceph(service.Service):
    name = 'ceph'
    optional = True
    after = ('management',)
    ports = {'ceph-mon': MON_PORT}

    def config_files(self):
        data = self.data()
        return {'ceph.conf': service.ini({
            'global': {
                'mon_host': 'v2:%s:%d' % (HOST, MON_PORT),
                'ms_bind_msgr1': 'false',
                'ms_bind_ipv6': 'false',
                'ms_bind_port_min': '6800',
                'ms_bind_port_max': '6899',
                'run_dir': os.path.join(self.layout.state, 'run', 'ceph'),
                'log_to_file': 'false',
                'log_to_stderr': 'false',
                'err_to_stderr': 'true',
                'osd_pool_default_size': '1',
                'osd_pool_default_min_size': '1',
                'osd_pool_default_pg_num': '8',
                'osd_pool_default_pgp_num': '8',
                'osd_pool_default_pg_autoscale_mode': 'off',
                'osd_crush_chooseleaf_type': '0',
                'mon_allow_pool_size_one': 'true',
                'mon_warn_on_pool_no_redundancy': 'false',
                'mon_data_avail_warn': '5',
                'auth_allow_insecure_global_id_reclaim': 'false',
            },
            'mon': {'public_addr': HOST,
                    'mon_data': os.path.join(data, 'mon-$id'),
                    'admin_socket': '$run_dir/$cluster-$name.asok'},
            'mgr': {'public_addr': HOST,
                    'mgr_data': os.path.join(data, 'mgr-$id'),
                    # Only the modules Ceph runs always (Cinder and rbd
                    # need only the manager's own commands, such as df).
                    'mgr_disabled_modules': ','.join(sorted(
                        name for name in os.listdir(MGR_MODULES)
                        if os.path.isdir(os.path.join(MGR_MODULES, name))
                        and name not in MGR_ALWAYS_ON)),
                    'admin_socket': '$run_dir/$cluster-$name.asok'},
            'osd': {
                'public_addr': HOST,
                'cluster_addr': HOST,
                'osd_data': os.path.join(data, 'osd-$id'),
                'admin_socket': '$run_dir/$cluster-$name.asok',
                'osd_objectstore': 'bluestore',
                'bluestore_block_path': os.path.join(data, 'osd-$id.block'),
                'bluestore_block_create': 'true',
                'bluestore_block_size': str(OSD_BYTES),
                'bluestore_cache_autotune': 'false',
                'bluestore_cache_size': str(32 * 2 ** 20),
                'osd_op_num_shards': '2',
            },
            # Several clients at once (a volume per rbd-fuse on a compute
            # host) each need a socket of their own.
            # The daemons keep their keys in their data directories.
            'client': {'admin_socket': '$run_dir/$cluster-$name.$pid.asok',
                       'keyring': self.etc('$cluster.$name.keyring')},
        })}

    def ceph(self, *args):
        """The ceph command as the cluster's administrator."""
        self.run(['ceph', '--conf', conf(self.layout), '--connect-timeout',
                  '20'] + list(args))

    def ask(self, *args):
        return json.loads(subprocess.run(
            ['ceph', '--conf', conf(self.layout), '--connect-timeout', '5',
             '--format', 'json'] + list(args),
            check=True, capture_output=True, timeout=10).stdout)

    def _make_mon(self):
        """The keys of the monitor and the administrator, the monitor's
        map and store, once."""
        mon_data = self.data('mon-' + MON)
        if os.path.exists(os.path.join(mon_data, 'done')):
            return
        os.makedirs(os.path.join(self.layout.state, 'run', 'ceph'),
                    exist_ok=True)
        admin = keyring(self.layout, 'client.admin')
        mon_keyring = self.data('mon.keyring')
        monmap = self.data('monmap')
        for path in (admin, mon_keyring, monmap):
            if os.path.exists(path):
                os.remove(path)
        self.run(['ceph-authtool', '--create-keyring', admin, '--gen-key',
                  '-n', 'client.admin', '--cap', 'mon', 'allow *',
                  '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *',
                  '--cap', 'mds', 'allow *'])
        self.run(['ceph-authtool', '--create-keyring', mon_keyring,
                  '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'])
        self.run(['ceph-authtool', mon_keyring, '--import-keyring', admin])
        self.run(['monmaptool', '--create', '--fsid', str(uuid.uuid4()),
                  '--addv', MON, '[v2:%s:%d]' % (HOST, MON_PORT), monmap])
        self.run(['ceph-mon', '--conf', conf(self.layout), '--mkfs',
                  '-i', MON, '--monmap', monmap, '--keyring', mon_keyring])
        with open(os.path.join(mon_data, 'done'), 'w'):
            pass

    def _make_mgr(self):
        mgr_keyring = os.path.join(self.data('mgr-' + MGR), 'keyring')
        if os.path.exists(mgr_keyring):
            return
        os.makedirs(os.path.dirname(mgr_keyring), exist_ok=True)
        self.ceph('auth', 'get-or-create', 'mgr.' + MGR,
                  'mon', 'allow profile mgr', 'osd', 'allow *',
                  'mds', 'allow *', '-o', mgr_keyring)

    def _make_osd(self):
        """The OSD's store in its sparse file, its key and its entry in
        the cluster, once."""
        osd_data = self.data('osd-%d' % OSD)
        if os.path.exists(os.path.join(osd_data, 'ready')):
            return
        os.makedirs(osd_data, exist_ok=True)
        # Kept, so that a set-up cut short is done again with the same
        # OSD ("osd new" of its id with another uuid fails).
        uuid_file = self.data('osd-%d.uuid' % OSD)
        if not os.path.exists(uuid_file):
            with open(uuid_file, 'w') as f:
                f.write(str(uuid.uuid4()))
        with open(uuid_file) as f:
            fsid = f.read().strip()
        self.ceph('osd', 'new', fsid, str(OSD))
        self.ceph('auth', 'get-or-create', 'osd.%d' % OSD, 'osd', 'allow *',
                  'mon', 'allow profile osd', 'mgr', 'allow profile osd',
                  '-o', os.path.join(osd_data, 'keyring'))
        self.run(['ceph-osd', '--conf', conf(self.layout), '-i', str(OSD),
                  '--mkfs', '--osd-uuid', fsid])

    def _osd_active(self):
        """Asked of the OSD itself (its admin socket): the cluster's map
        still shows an OSD killed a moment ago up."""
        return json.loads(subprocess.run(
            ['ceph', '--admin-daemon', os.path.join(
                self.layout.state, 'run', 'ceph', 'ceph-osd.%d.asok' % OSD),
             'status'], check=True, capture_output=True,
            timeout=10).stdout)['state'] == 'active'

    def _mgr_available(self):
        return self.ask('mgr', 'stat')['available']

    def processes(self):
        def daemon(kind, ident, ready, **kwargs):
            return service.Process(
                'ceph-' + kind, ['ceph-' + kind, '--conf', conf(self.layout),
                                 '-f', '-i', str(ident)],
                ready, stop_timeout=10, **kwargs)
        return [
            daemon('mon', MON, service.port_answers(MON_PORT),
                   prepare=self._make_mon),
            daemon('mgr', MGR, service.Check('is available',
                                             self._mgr_available),
                   prepare=self._make_mgr, after=('ceph-mon',)),
            daemon('osd', OSD, service.Check('is active', self._osd_active),
                   prepare=self._make_osd, after=('ceph-mon',)),
        ]

    def started(self):
        """The volumes' pool and its client's key (both kept if made
        before)."""
        pools = self.ask('osd', 'pool', 'ls')
        if VOLUMES_POOL not in pools:
            self.ceph('osd', 'pool', 'create', VOLUMES_POOL)
            self.ceph('osd', 'pool', 'application', 'enable', VOLUMES_POOL,
                      'rbd')
        self.ceph('auth', 'get-or-create', 'client.' + CLIENT,
                  'mon', 'profile rbd',
                  'osd', 'profile rbd pool=' + VOLUMES_POOL,
                  'mgr', 'profile rbd pool=' + VOLUMES_POOL,
                  '-o', keyring(self.layout, 'client.' + CLIENT))
