"""Configuration files of every service, rendered into the state directory.

They are rewritten on every run, so an edit belongs here, not in the files.
"""

import os

from aio import layout as aio_layout
from aio import network
from aio.layout import HOST, PORTS, url


def _ini(sections):
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines.extend('%s = %s' % (key, value)
                     for key, value in options.items())
        lines.append('')
    return '\n'.join(lines)


def _service_auth(secrets, username):
    """keystoneauth password options of a service user."""
    return {
        'auth_type': 'password',
        'auth_url': url('keystone', '/v3'),
        'username': username,
        'password': secrets['service'],
        'project_name': 'service',
        'user_domain_name': 'Default',
        'project_domain_name': 'Default',
        'region_name': aio_layout.REGION,
    }


def _authtoken(secrets, username):
    return dict(_service_auth(secrets, username),
                www_authenticate_uri=url('keystone', '/v3'),
                service_token_roles_required='true')


def _privsep_helpers(layout, contexts, config_files):
    """Runs each privsep context's daemon as privsep-helper itself: all
    runs as root and there is no sudo. oslo.privsep passes the service's
    --config-file arguments only to its default "sudo privsep-helper"
    command, so they are part of this one."""
    command = ' '.join([layout.bin('privsep-helper')] + [
        '--config-file %s' % path for path in config_files])
    return {context: {'helper_command': command} for context in contexts}


def rabbitmq(layout, secrets):
    return '\n'.join([
        'listeners.tcp.default = %s:%d' % (HOST, PORTS['rabbitmq']),
        'default_user = %s' % aio_layout.RABBIT_USER,
        'default_pass = %s' % secrets['rabbit'],
    ]) + '\n'


def keystone(layout, secrets):
    return _ini({
        'DEFAULT': {'log_dir': '', 'use_stderr': 'true'},
        'database': {'connection': layout.sqlite('keystone')},
        'token': {'provider': 'fernet'},
        'fernet_tokens': {'key_repository': layout.data('keystone', 'fernet-keys')},
        'fernet_receipts': {'key_repository': layout.data('keystone', 'fernet-keys')},
        'credential': {'key_repository': layout.data('keystone', 'credential-keys')},
    })


def placement(layout, secrets):
    return _ini({
        'DEFAULT': {'use_stderr': 'true'},
        'api': {'auth_strategy': 'keystone'},
        'placement_database': {
            'connection': aio_layout.mariadb_url(secrets, 'placement')},
        'keystone_authtoken': _authtoken(secrets, 'placement'),
    })


def glance(layout, secrets):
    store = layout.data('glance', 'images')
    return _ini({
        'DEFAULT': {
            'use_stderr': 'true',
            'enabled_backends': 'local:file',
            'node_staging_uri': 'file://' + layout.data('glance', 'staging'),
        },
        'database': {'connection': layout.sqlite('glance')},
        'glance_store': {'default_backend': 'local'},
        'local': {'filesystem_store_datadir': store},
        'os_glance_staging_store': {
            'filesystem_store_datadir': layout.data('glance', 'staging')},
        'os_glance_tasks_store': {
            'filesystem_store_datadir': layout.data('glance', 'tasks')},
        'image_format': {
            'container_formats': 'bare,docker,ova,ovf',
            'disk_formats': 'raw,qcow2,vmdk,vdi,iso'},
        'paste_deploy': {
            'flavor': 'keystone',
            'config_file': layout.wheel_etc('glance', 'glance-api-paste.ini')},
        'keystone_authtoken': _authtoken(secrets, 'glance'),
        'oslo_concurrency': {'lock_path': layout.data('glance', 'locks')},
    })


# os-vif's Open vSwitch plugin, and the driver's own.
NOVA_PRIVSEP_CONTEXTS = ('vif_plug_ovs_privileged', 'novadocker_privileged')


def nova(layout, secrets):
    return _ini({
        'DEFAULT': {
            'use_stderr': 'true',
            'compute_driver': 'docker.DockerDriver',
            'host': aio_layout.compute_host(layout),
            'transport_url': aio_layout.transport_url(secrets),
            'my_ip': HOST,
            'state_path': layout.data('nova'),
            'instances_path': layout.data('nova', 'instances'),
            'osapi_compute_workers': '1',
            # A container's vCPUs are CPU shares, not dedicated cores: 32
            # per core lets a 2-core host take fifty m1.nano servers.
            'cpu_allocation_ratio': '32.0',
            'metadata_workers': '1',
            # A boot waits this long for Neutron's network-vif-plugged.
            'vif_plugging_timeout': '60',
            # Servers that were running when the host (or dockerd) went
            # down are started again, with their ports, by nova-compute.
            'resume_guests_state_on_host_boot': 'true',
        },
        'api': {'auth_strategy': 'keystone'},
        'api_database': {
            'connection': aio_layout.mariadb_url(secrets, 'nova_api')},
        'database': {
            'connection': aio_layout.mariadb_url(secrets, 'nova_cell1')},
        'wsgi': {'api_paste_config': layout.wheel_etc('nova', 'api-paste.ini')},
        'conductor': {'workers': '1'},
        # One host: a failed build's fault names its cause instead of
        # "Exceeded maximum number of retries".
        'scheduler': {'workers': '1', 'max_attempts': '1',
                      'discover_hosts_in_cells_interval': '-1'},
        'keystone_authtoken': _authtoken(secrets, 'nova'),
        'service_user': dict(_service_auth(secrets, 'nova'),
                             send_service_user_token='true'),
        'placement': _service_auth(secrets, 'nova'),
        'neutron': dict(_service_auth(secrets, 'neutron'),
                        service_metadata_proxy='false'),
        'glance': {'region_name': aio_layout.REGION},
        'vnc': {'enabled': 'false'},
        # Containers are small: room for a hundred of them per project.
        'quota': {'instances': '100', 'cores': '200', 'ram': '204800'},
        'oslo_concurrency': {'lock_path': layout.data('nova', 'locks')},
        'docker': {'data_dir': layout.data('nova', 'docker')},
        'os_vif_ovs': {'ovsdb_connection': layout.ovsdb_connection},
        **_privsep_helpers(layout, NOVA_PRIVSEP_CONTEXTS,
                           [layout.etc('nova', 'nova.conf')]),
    })


def neutron(layout, secrets):
    return _ini({
        'DEFAULT': {
            'use_stderr': 'true',
            'bind_host': HOST,
            'core_plugin': 'ml2',
            'service_plugins': '',
            'transport_url': aio_layout.transport_url(secrets),
            'state_path': layout.data('neutron'),
            'api_workers': '1',
            'rpc_workers': '1',
            # The RPC worker consumes agents' state reports too; a worker
            # of its own would cost another Neutron process (~90 MiB).
            'rpc_state_report_workers': '0',
            'notify_nova_on_port_status_changes': 'true',
            'notify_nova_on_port_data_changes': 'true',
            # Events (network-vif-plugged, which a boot waits for) go to
            # Nova in batches, every 2 s by default.
            'send_events_interval': '1',
            'api_paste_config': layout.wheel_etc('neutron', 'api-paste.ini'),
        },
        'database': {
            'connection': aio_layout.mariadb_url(secrets, 'neutron')},
        'keystone_authtoken': _authtoken(secrets, 'neutron'),
        'nova': _service_auth(secrets, 'nova'),
        'oslo_concurrency': {'lock_path': layout.data('neutron', 'locks')},
        'ml2': {
            'type_drivers': 'flat,vlan,vxlan',
            'tenant_network_types': 'vxlan',
            'mechanism_drivers': 'openvswitch',
            'extension_drivers': 'port_security',
        },
        'ml2_type_vxlan': {'vni_ranges': '1:1000'},
        # The agents' commands run as root already.
        'agent': {'root_helper': 'env'},
    })


# Every privsep context of neutron.privileged.
NEUTRON_PRIVSEP_CONTEXTS = (
    'privsep', 'privsep_dhcp_release', 'privsep_ovs_vsctl',
    'privsep_namespace', 'privsep_conntrack', 'privsep_link')


def _agent_privsep_helpers(layout, agent_file):
    return _privsep_helpers(layout, NEUTRON_PRIVSEP_CONTEXTS, [
        layout.etc('neutron', 'neutron.conf'),
        layout.etc('neutron', agent_file)])


def _agent_ovs(layout):
    return {
        'integration_bridge': network.INTEGRATION_BRIDGE,
        # There is no openvswitch kernel module: the userspace datapath.
        'datapath_type': 'netdev',
        'ovsdb_connection': layout.ovsdb_connection,
    }


def openvswitch_agent(layout, secrets):
    return _ini({
        # Nova binds ports to its compute host; the agent must carry the
        # same name.
        'DEFAULT': {'host': aio_layout.compute_host(layout)},
        'ovs': dict(
            _agent_ovs(layout),
            of_listen_address=HOST,
            of_listen_port=PORTS['neutron-openvswitch-agent'],
            bridge_mappings='',
            # Tenant networks are vxlan, which ML2 binds only on agents
            # that have the tunnel type; one host has no peer to reach.
            local_ip=HOST),
        # A new port is wired on the next pass of the agent's loop (every
        # 2 s by default), and a boot waits for that.
        'agent': {'tunnel_types': 'vxlan', 'polling_interval': '1'},
        'securitygroup': {'firewall_driver': 'openvswitch'},
        **_agent_privsep_helpers(layout, 'openvswitch_agent.ini'),
    })


def dhcp_agent(layout, secrets):
    return _ini({
        'DEFAULT': {
            'host': aio_layout.compute_host(layout),
            'interface_driver': 'openvswitch',
            # An internal port moved into the namespace dies whenever
            # ovs-vswitchd restarts; a veth pair does not.
            'ovs_use_veth': 'true',
        },
        'ovs': _agent_ovs(layout),
        **_agent_privsep_helpers(layout, 'dhcp_agent.ini'),
    })


def write_all(layout, secrets):
    """Writes every file; returns nothing, raises OSError on failure."""
    files = {
        layout.etc('rabbitmq', 'rabbitmq.conf'): rabbitmq(layout, secrets),
        layout.etc('rabbitmq', 'enabled_plugins'): '[].\n',
        layout.etc('keystone', 'keystone.conf'): keystone(layout, secrets),
        layout.etc('placement', 'placement.conf'): placement(layout, secrets),
        layout.etc('glance', 'glance-api.conf'): glance(layout, secrets),
        layout.etc('nova', 'nova.conf'): nova(layout, secrets),
        layout.etc('neutron', 'neutron.conf'): neutron(layout, secrets),
        layout.etc('neutron', 'openvswitch_agent.ini'): openvswitch_agent(
            layout, secrets),
        layout.etc('neutron', 'dhcp_agent.ini'): dhcp_agent(layout, secrets),
    }
    for path, text in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
