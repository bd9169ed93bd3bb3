"""MariaDB (Debian's), the databases of every service that declares one,
in utf8mb4 (Debian's server defaults to latin1, where a network or stack
named in Chinese fails with HTTP 500)."""

import glob
import ipaddress
import os

from aio import layout as aio_layout
from aio import service
from aio.layout import HOST

PORT = 3306
USER = 'openstack'
# The services' account may connect from the management network: on an
# added compute host, zun-compute reads and writes its database itself.
_NETWORK = ipaddress.ip_network(aio_layout.MANAGEMENT_NETWORK)
ACCOUNT_HOST = '%s/%s' % (_NETWORK.network_address, _NETWORK.netmask)
CHARSET = 'utf8mb4'
COLLATION = 'utf8mb4_general_ci'
SYSTEM_DATABASES = ('mysql', 'sys', 'performance_schema')


def url(layout, database):
    """The SQLAlchemy URL of a service's database."""
    return 'mysql+pymysql://%s:%s@%s:%d/%s?charset=%s' % (
        USER, layout.secrets['database'], HOST, PORT, database, CHARSET)


class MariaDB(service.Service):
    name = 'mariadb'
    after = ('management',)
    ports = {'mariadb': PORT}
    provides = ('database',)

    @property
    def socket(self):
        return os.path.join(self.layout.state, 'run', 'mariadb.sock')

    def _create_data_directory(self):
        """mariadb-install-db, once, before the first start."""
        if os.path.isdir(self.data('mysql')):
            return
        os.makedirs(self.data(), exist_ok=True)
        self.run(['mariadb-install-db', '--no-defaults', '--user=root',
                  '--datadir=' + self.data(), '--skip-test-db',
                  '--auth-root-authentication-method=socket'])

    def processes(self):
        return [service.Process('mariadb', [
            '/usr/sbin/mariadbd', '--no-defaults', '--user=root',
            '--datadir=' + self.data(),
            '--socket=' + self.socket,
            '--bind-address=' + HOST, '--port=%d' % PORT,
            '--pid-file=' + self.data('mariadbd.pid'),
            '--skip-name-resolve', '--performance-schema=OFF',
            '--character-set-server=' + CHARSET,
            '--collation-server=' + COLLATION,
            '--max-connections=1000',
            # The databases of an all-in-one hold a few MiB: caches sized
            # for them rather than MariaDB's defaults (128 MiB each).
            '--innodb-buffer-pool-size=32M',
            '--aria-pagecache-buffer-size=8M', '--key-buffer-size=8M',
        ], service.port_answers(PORT), prepare=self._create_data_directory)]

    def _sql(self, *statements):
        """As MariaDB's root, who logs in by the socket."""
        self.run(['mariadb', '--no-defaults', '--socket=' + self.socket,
                  '--user=root', '--execute', '; '.join(statements)])

    def not_unicode(self):
        """The services' databases an earlier version made in latin1
        (MariaDB keeps each one's character set in <datadir>/<database>/
        db.opt; some services' migrations set utf8mb3, which is Unicode
        too)."""
        found = []
        for path in sorted(glob.glob(self.data('*', 'db.opt'))):
            database = os.path.basename(os.path.dirname(path))
            with open(path) as f:
                if database not in SYSTEM_DATABASES and \
                        'default-character-set=utf8' not in f.read():
                    found.append(database)
        return found

    def started(self):
        earlier = self.not_unicode()
        if earlier:
            print('WARNING: the databases %s were made by an earlier version '
                  'of the all-in-one in latin1, not %s: names beyond ASCII '
                  '(a network, a stack resource) fail there. To '
                  'make them again: tools/aio wipe, then tools/aio (it '
                  'removes this all-in-one\'s servers, images and networks '
                  'too).' % (', '.join(earlier), CHARSET), flush=True)
        password = self.layout.secrets['database'].replace("'", "''")
        account = "'%s'@'%s'" % (USER, ACCOUNT_HOST)
        self._sql('CREATE USER IF NOT EXISTS ' + account,
                  "ALTER USER %s IDENTIFIED BY '%s'" % (account, password),
                  'GRANT ALL PRIVILEGES ON *.* TO ' + account)

    def create_databases(self, names):
        self._sql(*['CREATE DATABASE IF NOT EXISTS %s CHARACTER SET %s '
                    'COLLATE %s' % (name, CHARSET, COLLATION)
                    for name in names])
