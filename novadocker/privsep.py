"""The driver's privileged daemon (oslo.privsep).

nova-compute runs unprivileged; wiring a container's network namespace
needs CAP_NET_ADMIN (links, addresses, routes) and CAP_SYS_ADMIN with
CAP_SYS_PTRACE (entering another process's namespace); a closed console
hangs up its shell with CAP_KILL. The helper is
started as configured in ``[novadocker_privileged] helper_command``.
"""

from oslo_privsep import capabilities
from oslo_privsep import priv_context

sys_admin_pctxt = priv_context.PrivContext(
    'novadocker',
    cfg_section='novadocker_privileged',
    pypath=__name__ + '.sys_admin_pctxt',
    capabilities=[capabilities.CAP_NET_ADMIN,
                  capabilities.CAP_SYS_ADMIN,
                  capabilities.CAP_SYS_PTRACE,
                  capabilities.CAP_KILL],
)
