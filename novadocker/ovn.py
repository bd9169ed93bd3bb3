"""When ovn-controller has wired a port.

On an OVN chassis, ovn-controller marks a port's interface in the host's
Open vSwitch database (``external_ids:ovn-installed="true"``) once the
port's flows are installed, which is when its traffic passes; ovn-
kubernetes starts a pod's containers on that mark. Neutron reports the
port up later, and its notifier batches the event to Nova
(``send_events_interval``): on a chassis the driver starts the workload on
the mark. The database is os-vif's (``[os_vif_ovs] ovsdb_connection``);
reading it needs the privileged daemon.
"""

import time

from oslo_concurrency import processutils
from oslo_log import log as logging

import nova.conf

from novadocker import privsep

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)
POLL_INTERVAL = 0.05


def _vsctl(db, *args):
    return processutils.execute('ovs-vsctl', '--db=' + db, '--timeout=5',
                                *args)


def _ovsdb():
    """os-vif's database; None where os-vif is not initialized (Nova's
    in-process test services)."""
    if 'os_vif_ovs' not in CONF:
        return None
    return CONF.os_vif_ovs.ovsdb_connection


def is_chassis():
    """Whether this host's Open vSwitch is an OVN chassis's (ovn-controller
    reads its southbound database's address there)."""
    db = _ovsdb()
    if db is None:
        return False
    try:
        return _has_ovn_remote(db)
    except processutils.ProcessExecutionError as e:
        LOG.warning('Cannot read Open vSwitch\'s database at %s (%s): '
                    'ports are ready when Neutron reports them plugged',
                    db, e.stderr.strip())
        return False


@privsep.sys_admin_pctxt.entrypoint
def _has_ovn_remote(db):
    out, _ = _vsctl(db, '--if-exists', 'get', 'Open_vSwitch', '.',
                    'external_ids:ovn-remote')
    return bool(out.strip())


def wait_installed(interfaces, timeout):
    """Waits until ovn-controller has installed each interface, at most
    ``timeout`` seconds; returns those it has not. (Polled from here: a
    wait in the privileged daemon would hold one of its few threads.)"""
    db = _ovsdb()
    deadline = time.monotonic() + timeout
    while True:
        left = sorted(set(interfaces) - set(_installed(db)))
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_INTERVAL)


@privsep.sys_admin_pctxt.entrypoint
def _installed(db):
    out, _ = _vsctl(db, '--bare', '--columns=name', 'find', 'Interface',
                    'external_ids:ovn-installed="true"')
    return out.split()
