"""Open vSwitch (Debian's) on the userspace datapath (``netdev``: there is
no kernel module); ovn-controller programs its bridges.

Each compute host has its own, in its own network namespace (on the
userspace datapath a bridge's port is a kernel tap named after it: two
switches in one namespace would share br-int). Its daemons, and every
client (ovs-vsctl, ovn-controller, nova-compute's os-vif and its privsep
daemon), find it through OVS_RUNDIR instead of the system's
/var/run/openvswitch.
"""

import os
import subprocess

from aio import service

INTEGRATION_BRIDGE = 'br-int'
SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


def rundir(layout):
    return os.path.join(layout.state, 'run', 'openvswitch')


def db_socket(layout):
    return os.path.join(rundir(layout), 'db.sock')


def ovsdb_connection(layout):
    return 'unix:' + db_socket(layout)


def client_env(layout):
    """Points a process at this all-in-one's switch, with the venv's
    commands first (nova-compute starts privsep-helper by name)."""
    return {'OVS_RUNDIR': rundir(layout),
            'OVS_DBDIR': layout.data('openvswitch'),
            'OVS_LOGDIR': os.path.join(layout.state, 'log'),
            'PATH': '%s:%s' % (os.path.dirname(layout.bin('python')),
                               os.environ.get('PATH', ''))}


def vsctl(layout, *args):
    return subprocess.run(['ovs-vsctl', '--db=' + ovsdb_connection(layout),
                           '--timeout=30'] + list(args),
                          check=True, capture_output=True, text=True).stdout


class OpenvSwitch(service.Service):
    name = 'openvswitch'
    after = ('host-network',)

    def _create_database(self):
        """The run directory, and the database once, before the first
        start."""
        os.makedirs(rundir(self.layout), exist_ok=True)
        path = self.data('conf.db')
        if not os.path.exists(path):
            os.makedirs(self.data(), exist_ok=True)
            subprocess.run(['ovsdb-tool', 'create', path, SCHEMA],
                           check=True, capture_output=True, text=True)

    def _enable_tso(self):
        """Before ovs-vswitchd starts, which reads the setting only then:
        without userspace TSO, TCP and UDP between veths on a netdev
        bridge fail (ping works)."""
        vsctl(self.layout, '--no-wait', '--', 'init', '--', 'set',
              'Open_vSwitch', '.', 'other_config:userspace-tso-enable=true')

    def processes(self):
        run = rundir(self.layout)
        database = db_socket(self.layout)
        vswitchd_control = os.path.join(run, 'ovs-vswitchd.ctl')
        env = client_env(self.layout)
        return [
            service.Process('ovsdb-server', self.host.command([
                '/usr/sbin/ovsdb-server', self.data('conf.db'),
                '--remote=punix:' + database,
                '--unixctl=' + os.path.join(run, 'ovsdb-server.ctl'),
            ]), service.unix_socket_answers(database), env,
                prepare=self._create_database, timeout=10),
            service.Process('ovs-vswitchd', self.host.command([
                '/usr/sbin/ovs-vswitchd', ovsdb_connection(self.layout),
                '--unixctl=' + vswitchd_control,
            ]), service.unix_socket_answers(vswitchd_control), env,
                after=('ovsdb-server',), prepare=self._enable_tso,
                timeout=10,
                # On SIGTERM the bridges' tap devices (br-int, br-ex) and
                # the datapath's stay in the kernel; --cleanup removes
                # them.
                stop_argv=['ovs-appctl', '--timeout=5', '-t',
                           vswitchd_control, 'exit', '--cleanup']),
        ]
