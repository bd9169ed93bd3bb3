"""Instance diagnostics from the engine's container statistics and, for
the ports, from the sandbox's network namespace."""

import re

from oslo_utils import timeutils
from oslo_utils import units

from nova.objects import diagnostics as diagnostics_obj
from nova.objects import fields

from novadocker import container as container_mod

# The ports as the vif module names them in the sandbox.
_PORT_NAME = re.compile(r'eth(\d+)$')
# Columns of /proc/<pid>/net/dev after "<interface>:": 8 of receive, then
# 8 of transmit, of which bytes, packets, errs and drop.
_NET_DEV_COLUMNS = {0: 'rx_octets', 1: 'rx_packets', 2: 'rx_errors',
                    3: 'rx_drop', 8: 'tx_octets', 9: 'tx_packets',
                    10: 'tx_errors', 11: 'tx_drop'}


def _blkio_totals(stats):
    """(read bytes, write bytes, read ops, write ops) over all devices."""
    blkio = stats.get('blkio_stats') or {}
    totals = {}
    for key, kind in (('io_service_bytes_recursive', 'bytes'),
                      ('io_serviced_recursive', 'requests')):
        for entry in blkio.get(key) or []:
            op = entry.get('op', '').lower()
            if op in ('read', 'write'):
                totals[(op, kind)] = totals.get((op, kind), 0) + \
                    entry.get('value', 0)
    return totals


def _cpu_times(stats):
    usage = (stats.get('cpu_stats') or {}).get('cpu_usage') or {}
    per_cpu = usage.get('percpu_usage')
    if per_cpu:
        return list(per_cpu)
    return [usage.get('total_usage', 0)]


def port_counters(net_dev):
    """[(interface, counters)] of the ports (eth0, eth1...) in the text of
    a namespace's /proc/<pid>/net/dev, by their number; counters are named
    as the arguments of Diagnostics.add_nic."""
    ports = []
    for line in net_dev.splitlines()[2:]:
        name, _, columns = line.partition(':')
        name = name.strip()
        port = _PORT_NAME.match(name)
        if port:
            values = columns.split()
            ports.append((int(port.group(1)), name, {
                field: int(values[column])
                for column, field in _NET_DEV_COLUMNS.items()}))
    return [(name, counters) for _, name, counters in sorted(ports)]


def _mac_address(pid, ifname):
    """The interface's MAC, from the sandbox's own /sys (mounted in its
    namespace); None when nova-compute may not look into the sandbox's
    files (unprivileged, without CAP_SYS_PTRACE). Not guessed from the
    network info: a port attached after another was detached takes the
    lowest free ethN, so the ports' order there is not the ethN order."""
    try:
        with open('/proc/%d/root/sys/class/net/%s/address' % (
                pid, ifname)) as f:
            return f.read().strip()
    except OSError:
        return None


def sandbox_nics(pid):
    """[(MAC address, counters)] of the ports in the network namespace of
    the sandbox's process ``pid``, read from the host's /proc without
    entering it; none without a running sandbox (``pid`` 0)."""
    if not pid:
        return []
    try:
        with open('/proc/%d/net/dev' % pid) as f:
            ports = port_counters(f.read())
    except OSError:
        return []  # the sandbox stopped meanwhile
    return [(_mac_address(pid, name), counters) for name, counters in ports]


def instance_diagnostics(container, stats, nics, instance):
    """A nova.objects.Diagnostics for the container, from its engine
    statistics and its ports' ``nics`` (sandbox_nics)."""
    uptime = None
    if instance.launched_at:
        uptime = int(timeutils.delta_seconds(
            timeutils.normalize_time(instance.launched_at),
            timeutils.utcnow()))
    diags = diagnostics_obj.Diagnostics(
        state=container_mod.power_state_of(container),
        # The field and the API's schema require one of Nova's in-tree
        # drivers. libvirt: Nova's own containers (virt_type=lxc) report
        # it, and these figures follow its conventions (CPU time in ns, NIC
        # counters from the instance's side); hypervisor names Docker.
        driver=fields.HypervisorDriver.LIBVIRT,
        hypervisor='docker', hypervisor_os='linux', uptime=uptime,
        config_drive=False)
    memory = stats.get('memory_stats') or {}
    diags.memory_details = diagnostics_obj.MemoryDiagnostics(
        maximum=memory.get('limit', 0) // units.Mi,
        used=memory.get('usage', 0) // units.Mi)
    for index, cpu_time in enumerate(_cpu_times(stats)):
        diags.add_cpu(id=index, time=cpu_time)
    for mac_address, counters in nics:
        diags.add_nic(mac_address=mac_address, **counters)
    blkio = _blkio_totals(stats)
    diags.add_disk(read_bytes=blkio.get(('read', 'bytes'), 0),
                   read_requests=blkio.get(('read', 'requests'), 0),
                   write_bytes=blkio.get(('write', 'bytes'), 0),
                   write_requests=blkio.get(('write', 'requests'), 0))
    return diags


def legacy_diagnostics(container, stats, nics, instance):
    """The flat dict of the pre-2.48 diagnostics API."""
    diags = instance_diagnostics(container, stats, nics, instance)
    result = {'memory': diags.memory_details.used * units.Mi,
              'memory-limit': diags.memory_details.maximum * units.Mi}
    for cpu in diags.cpu_details:
        result['cpu%d_time' % cpu.id] = cpu.time
    for index, nic in enumerate(diags.nic_details):
        for field in ('rx_octets', 'rx_errors', 'rx_drop', 'rx_packets',
                      'tx_octets', 'tx_errors', 'tx_drop', 'tx_packets'):
            result['nic%d_%s' % (index, field)] = getattr(nic, field)
    disk = diags.disk_details[0]
    result.update({'disk_read_bytes': disk.read_bytes,
                   'disk_read_requests': disk.read_requests,
                   'disk_write_bytes': disk.write_bytes,
                   'disk_write_requests': disk.write_requests})
    return result
