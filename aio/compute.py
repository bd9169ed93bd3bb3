"""``tools/aio compute add|stop|remove NAME`` and the added compute hosts'
part in ``up``, ``stop``, ``status`` and ``wipe``."""

import shutil
import sys

import openstack

from aio import commands
from aio import hosts
from aio import processes
from aio import services as aio_services
from aio.services import keystone
from aio.services import nova
from aio.services import zun


def _forced_down(host):
    return any(s.is_forced_down for s in keystone.connect(
        host.control).compute.services(binary='nova-compute',
                                       host=host.name))


def _bring_up(host, forced_down=False):
    """Its services started; a host Nova has forced down (its servers
    evacuated) must start so, and is ready once its nova-compute has
    reported."""
    services = aio_services.of_host(host)
    for described in services:
        if isinstance(described, nova.Compute):
            described.forced_down_ok = forced_down
    return commands.up(host.layout, services,
                       elsewhere=aio_services.control_names())


def _control_runs(layout):
    if processes.running_pid(layout, 'nova-conductor'):
        return True
    print('ERROR: the all-in-one in %s is not running: run "tools/aio" '
          'first' % layout.state, file=sys.stderr)
    return False


def add(layout, name):
    """Adds the compute host ``name``, or brings it up again; returns 0
    once its nova-compute is up and mapped."""
    if not _control_runs(layout):
        return 1
    try:
        host = hosts.create(layout, name)
    except hosts.Invalid as e:
        print('ERROR: %s' % e, file=sys.stderr)
        return 1
    print('==> Compute host %s (namespace %s, management address %s, '
          'tunnel address %s)' % (host.name, host.namespace,
                                  host.management_ip, host.tunnel_ip))
    forced_down = _forced_down(host)
    if _bring_up(host, forced_down):
        print('Once the cause is fixed, run "tools/aio compute add %s" '
              'again; or remove the host: "tools/aio compute remove %s"' % (
                  name, name), file=sys.stderr)
        return 1
    print('compute host %s is up: its nova-compute reports up and Nova '
          'maps it (openstack compute service list --host %s)' % (
              host.name, host.name))
    if forced_down:
        print('It is forced down (its servers were evacuated): once it has '
              'removed what it ran of them, "openstack compute service set '
              '--up %s nova-compute"' % name)
    return 0


def _zun_runs(layout):
    return any(s.name == 'zun' for s in aio_services.chosen(layout))


def _workloads_on(layout, name):
    """Nova's servers and Zun's containers on the host, named."""
    conn = keystone.connect(layout)
    found = ['server %s (%s)' % (s.name, s.id) for s in conn.compute.servers(
        all_projects=True, compute_host=name)]
    if _zun_runs(layout):
        found += ['container %s (%s)' % (c['name'], c['uuid'])
                  for c in zun.containers_on(conn, name)]
    return found


def _forget(host):
    """Removes a stopped host's records from Nova (and with it its
    resource provider) and Neutron (its agent, and with it its OVN
    chassis), and its state."""
    conn = keystone.connect(host.control)
    for service in conn.compute.services(host=host.name):
        conn.compute.delete_service(service)
    if _zun_runs(host.control):
        zun.forget(conn, host.name)
    for agent in conn.network.agents(host=host.name):
        conn.network.delete_agent(agent)
    _wipe(host)
    shutil.rmtree(host.layout.state)


def _wipe(host):
    """What the host's services leave outside their processes (its
    volumes' mounts)."""
    for described in aio_services.of_host(host):
        for removed in described.wipe():
            print('removed %s' % removed)


def _found(layout, name):
    host = hosts.find(layout, name)
    if host is None:
        print('ERROR: the all-in-one has no added compute host %s (it has: '
              '%s)' % (name, ', '.join(h.name for h in hosts.added(layout))
                       or 'none'), file=sys.stderr)
    return host


def _stop(host):
    commands.stop(host.layout, aio_services.of_host(host),
                  aio_services.control_names())


def stop(layout, name):
    """Stops the host as its power going would: its servers stop with its
    engine; "compute add" brings it back."""
    host = _found(layout, name)
    if host is None:
        return 1
    _stop(host)
    return 0


def remove(layout, name):
    host = _found(layout, name)
    if host is None:
        return 1
    if not _control_runs(layout):
        return 1
    left = _workloads_on(layout, name)
    if left:
        print('ERROR: compute host %s still has %s; migrate or delete them '
              'first' % (name, ', '.join(left)), file=sys.stderr)
        return 1
    _stop(host)
    try:
        _forget(host)
    except openstack.exceptions.ConflictException as e:
        # A server that reached it meanwhile.
        print('ERROR: Nova keeps compute host %s: %s; bring it back with '
              '"tools/aio compute add %s"' % (name, e.details, name),
              file=sys.stderr)
        return 1
    print('removed compute host %s' % name)
    return 0


def up_all(layout):
    """Brings every added host up; 1 if any failed."""
    return max([_bring_up(host, _forced_down(host))
                for host in hosts.added(layout)] or [0])


def stop_all(layout):
    for host in hosts.added(layout):
        print('compute host %s:' % host.name)
        _stop(host)


def wipe_all(layout):
    """Before the state goes: what every added host leaves outside it."""
    for host in hosts.added(layout):
        _wipe(host)


def status_all(layout):
    code = 0
    for host in hosts.added(layout):
        print('compute host %s (namespace %s):' % (host.name,
                                                  host.namespace))
        code = max(code, commands.status(
            host.layout, aio_services.of_host(host),
            aio_services.control_names()))
    return code
