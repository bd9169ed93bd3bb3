"""The compute host as Nova sees it: totals, allocations and identity."""

import os
import shutil

from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import units
from oslo_utils import versionutils

import nova.conf
from nova.objects import fields
import nova.virt.node

from novadocker import engine

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)


def nodename():
    return CONF.host


def node_uuid():
    """The node's identity, kept in $state_path/compute_id across restarts."""
    return nova.virt.node.get_local_node_uuid()


def _disk_usage(info):
    """Disk figures of the engine's data root, or of state_path when the
    engine's root is not visible from here (a remote engine)."""
    for path in (info.get('DockerRootDir'), CONF.state_path):
        if path and os.path.isdir(path):
            return shutil.disk_usage(path)
    return shutil.disk_usage('/')


def _totals(info, disk):
    """The host's vcpus, memory MiB and disk GiB, as the engine sees them."""
    return info['NCPU'], info['MemTotal'] // units.Mi, disk.total // units.Gi


def _allocated(containers):
    """What Nova gave its containers: vcpus, memory MiB and root GiB."""
    vcpus = memory_mb = root_gb = 0
    for container in containers:
        host_config = container.attrs.get('HostConfig') or {}
        vcpus += (host_config.get('CpuShares') or 0) // 1024
        memory_mb += (host_config.get('Memory') or 0) // units.Mi
        try:
            root_gb += int(container.labels.get(engine.LABEL_ROOT_GB, 0))
        except ValueError:
            pass
    return vcpus, memory_mb, root_gb


# vendor_id in /proc/cpuinfo -> the vendor name libvirt reports.
_VENDORS = {'GenuineIntel': 'Intel', 'AuthenticAMD': 'AMD'}


def cpu_info(cpuinfo, arch):
    """The host CPU as libvirt describes it to Nova (arch, model, vendor,
    topology, features), from the text of /proc/cpuinfo; Nova's API
    parses it as JSON at microversions 2.28 to 2.87."""
    processors = [dict((key.strip(), value.strip()) for key, _, value in
                       (line.partition(':') for line in block.splitlines()))
                  for block in cpuinfo.strip().split('\n\n') if block]
    first = processors[0] if processors else {}
    sockets = len({p.get('physical id', '0') for p in processors}) or 1
    cores = int(first.get('cpu cores') or max(len(processors), 1))
    threads = max(int(first.get('siblings') or cores) // cores, 1)
    vendor = first.get('vendor_id', '')
    return {
        'arch': arch,
        'model': first.get('model name', ''),
        'vendor': _VENDORS.get(vendor, vendor),
        'topology': {'cells': 1, 'sockets': sockets, 'cores': cores,
                     'threads': threads},
        # x86 names them flags, Arm Features.
        'features': sorted(set((first.get('flags') or first.get(
            'Features') or '').split())),
    }


def _host_cpu_info(arch):
    with open('/proc/cpuinfo') as f:
        return jsonutils.dumps(cpu_info(f.read(), arch))


def available_resource(docker_engine):
    info = docker_engine.info()
    disk = _disk_usage(info)
    vcpus, memory_mb, local_gb = _totals(info, disk)
    vcpus_used, memory_mb_used, local_gb_used = _allocated(
        docker_engine.nova_containers())
    arch = fields.Architecture.canonicalize(info.get('Architecture', ''))
    return {
        'vcpus': vcpus,
        'memory_mb': memory_mb,
        'local_gb': local_gb,
        'vcpus_used': vcpus_used,
        'memory_mb_used': memory_mb_used,
        'local_gb_used': local_gb_used,
        'hypervisor_type': fields.HVType.DOCKER,
        'hypervisor_version': versionutils.convert_version_to_int(
            info['ServerVersion'].split('-')[0].split('+')[0]),
        'hypervisor_hostname': nodename(),
        'cpu_info': _host_cpu_info(arch),
        'disk_available_least': disk.free // units.Gi,
        'supported_instances': [
            (arch, fields.HVType.DOCKER, fields.VMMode.EXE)],
        'numa_topology': None,
        'uuid': node_uuid(),
    }


def inventory(info, ratios):
    """Placement inventory from the engine's host information."""
    def record(total, reserved, ratio):
        return {'total': total, 'min_unit': 1, 'max_unit': total,
                'step_size': 1, 'allocation_ratio': ratio,
                'reserved': reserved}
    reserved_disk_gb = (CONF.reserved_host_disk_mb + units.Ki - 1) // units.Ki
    vcpus, memory_mb, local_gb = _totals(info, _disk_usage(info))
    return {
        'VCPU': record(vcpus, CONF.reserved_host_cpus, ratios['VCPU']),
        'MEMORY_MB': record(memory_mb, CONF.reserved_host_memory_mb,
                            ratios['MEMORY_MB']),
        'DISK_GB': record(local_gb, reserved_disk_gb, ratios['DISK_GB']),
    }


def uptime():
    """The host's uptime, in the format of uptime(1)."""
    with open('/proc/uptime') as f:
        seconds = int(float(f.read().split()[0]))
    load = ' '.join('%.2f' % x for x in os.getloadavg())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return 'up %d days, %d:%02d, load average: %s' % (
        days, hours, rest // 60, load)
