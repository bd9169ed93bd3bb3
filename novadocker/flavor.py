"""Flavor to container resource limits."""

from nova import exception
from nova.i18n import _
from oslo_utils import units

from novadocker.conf import CONF
from novadocker import extra_specs

CPU_SHARES_PER_VCPU = 1024


def _int_extra_spec(flavor, key):
    value = flavor.extra_specs.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise exception.InvalidInput(
            reason=_('flavor %(flavor)s extra spec %(key)s=%(value)r is not '
                     'an integer') % {'flavor': flavor.name, 'key': key,
                                      'value': value})


def limits(flavor):
    """Keyword arguments of ``containers.create`` for the flavor's limits."""
    pids_limit = _int_extra_spec(flavor, extra_specs.PIDS_LIMIT)
    if pids_limit is None:
        pids_limit = CONF.docker.pids_limit
    result = {
        'mem_limit': flavor.memory_mb * units.Mi,
        # The engine's own default, given so that a resize keeps it.
        'memswap_limit': 2 * flavor.memory_mb * units.Mi,
        'cpu_shares': flavor.vcpus * CPU_SHARES_PER_VCPU,
        # The engine reads 0 as "leave as is"; -1 is no limit.
        'pids_limit': pids_limit if pids_limit > 0 else -1,
    }
    for key in ('cpu_quota', 'cpu_period'):
        value = _int_extra_spec(flavor, 'quota:%s' % key)
        if value is not None:
            result[key] = value
    return result


# limits() names -> the engine API's Resources fields, and what a field
# becomes when the flavor does not set it.
_RESOURCES = {
    'mem_limit': 'Memory', 'memswap_limit': 'MemorySwap',
    'cpu_shares': 'CpuShares', 'pids_limit': 'PidsLimit',
    'cpu_quota': 'CpuQuota', 'cpu_period': 'CpuPeriod',
}
# No CFS quota (the kernel's -1), and the kernel's default period.
_UNSET = {'CpuQuota': -1, 'CpuPeriod': 100000}


def resources(flavor):
    """The flavor's limits as ``docker update`` sets them on an existing
    container (a resize)."""
    result = dict(_UNSET)
    result.update((_RESOURCES[key], value)
                  for key, value in limits(flavor).items())
    return result
