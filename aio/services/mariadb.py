"""MariaDB (Debian's), the databases of every service that declares one."""

import os

from aio import service
from aio.layout import HOST

PORT = 3306
USER = 'openstack'


def url(layout, database):
    """The SQLAlchemy URL of a service's database."""
    return 'mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8' % (
        USER, layout.secrets['database'], HOST, PORT, database)


class MariaDB(service.Service):
    name = 'mariadb'
    ports = {'mariadb': PORT}

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

    def started(self):
        password = self.layout.secrets['database'].replace("'", "''")
        self._sql("CREATE USER IF NOT EXISTS '%s'@'%s'" % (USER, HOST),
                  "ALTER USER '%s'@'%s' IDENTIFIED BY '%s'" % (
                      USER, HOST, password),
                  "GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s'" % (USER, HOST))

    def create_databases(self, names):
        self._sql(*['CREATE DATABASE IF NOT EXISTS %s' % name
                    for name in names])
