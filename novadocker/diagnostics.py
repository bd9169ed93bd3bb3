"""Instance diagnostics from the engine's container statistics."""

from oslo_utils import timeutils
from oslo_utils import units

from nova.objects import diagnostics as diagnostics_obj

from novadocker import container as container_mod


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


def instance_diagnostics(container, stats, instance):
    """A nova.objects.Diagnostics for the container, from its engine
    statistics."""
    uptime = None
    if instance.launched_at:
        uptime = int(timeutils.delta_seconds(
            timeutils.normalize_time(instance.launched_at),
            timeutils.utcnow()))
    diags = diagnostics_obj.Diagnostics(
        state=container_mod.power_state_of(container),
        hypervisor='docker', hypervisor_os='linux', uptime=uptime,
        config_drive=False)
    memory = stats.get('memory_stats') or {}
    diags.memory_details = diagnostics_obj.MemoryDiagnostics(
        maximum=memory.get('limit', 0) // units.Mi,
        used=memory.get('usage', 0) // units.Mi)
    for index, cpu_time in enumerate(_cpu_times(stats)):
        diags.add_cpu(id=index, time=cpu_time)
    for name, net in sorted((stats.get('networks') or {}).items()):
        diags.add_nic(rx_octets=net.get('rx_bytes'),
                      rx_errors=net.get('rx_errors'),
                      rx_drop=net.get('rx_dropped'),
                      rx_packets=net.get('rx_packets'),
                      tx_octets=net.get('tx_bytes'),
                      tx_errors=net.get('tx_errors'),
                      tx_drop=net.get('tx_dropped'),
                      tx_packets=net.get('tx_packets'))
    blkio = _blkio_totals(stats)
    diags.add_disk(read_bytes=blkio.get(('read', 'bytes'), 0),
                   read_requests=blkio.get(('read', 'requests'), 0),
                   write_bytes=blkio.get(('write', 'bytes'), 0),
                   write_requests=blkio.get(('write', 'requests'), 0))
    return diags


def legacy_diagnostics(container, stats, instance):
    """The flat dict of the pre-2.48 diagnostics API."""
    diags = instance_diagnostics(container, stats, instance)
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
