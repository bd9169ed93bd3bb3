"""What a first-time user gets: clouds.yaml, flavors, an image, a server."""

import os
import subprocess

import docker
import openstack
import yaml

from aio import commands
from aio import sample_image
from aio.layout import REGION
from aio.services import keystone
from aio.services import ovn

IMAGE_NAME = 'busybox'
SERVER_NAME = 'demo'
NETWORK_NAME = 'private'
# Served by OVN's native DHCP, IPv6 addresses too (the router has no IPv6
# interface to send advertisements from).
SUBNETS = (
    ('private-v4', '10.0.0.0/24', {'ip_version': 4}),
    ('private-v6', 'fd00:10::/64', {'ip_version': 6,
                                    'ipv6_address_mode': 'dhcpv6-stateful'}),
)
# DevStack's names and addresses: the external network, on the provider
# bridge, whose gateway address the outside world (ovn module) holds.
PUBLIC_NETWORK = 'public'
PUBLIC_SUBNET = 'public-subnet'
# What "--nic auto" draws a project's network from (DevStack's name;
# beside private's 10.0.0.0/24).
DEFAULT_POOL = ('shared-default-subnetpool-v4', '10.1.0.0/16', 26)
ROUTER_NAME = 'router1'
# What the demo server lets in: its page, and ping.
WEB_GROUP = 'web'
WEB_RULES = (
    {'protocol': 'tcp', 'port_range_min': 80, 'port_range_max': 80},
    {'protocol': 'icmp'},
)
# DevStack's names, so the seeds' commands (--flavor m1.tiny) work as is.
FLAVORS = (
    ('m1.nano', 64, 1, 1),
    ('m1.micro', 128, 1, 1),
    ('m1.tiny', 512, 1, 1),
    ('m1.small', 2048, 1, 20),
    ('m1.medium', 4096, 2, 40),
    ('m1.large', 8192, 4, 80),
)


def ensure_user(layout):
    """The demo user, member of the demo project."""
    with keystone.connect(layout) as conn:
        keystone.ensure_user(conn, 'demo', layout.secrets['demo'],
                             keystone.ensure_project(conn, 'demo'),
                             ('member',))


def write_clouds_yaml(layout):
    clouds = {
        name: {'auth': keystone.cloud_auth(layout, user),
               'region_name': REGION, 'identity_api_version': 3}
        for name, user in (('aio', 'demo'), ('aio-admin', 'admin'))
    }
    fd = os.open(layout.clouds_yaml, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o600)
    with os.fdopen(fd, 'w') as f:
        yaml.safe_dump({'clouds': clouds}, f, default_flow_style=False)


def cloud(layout, name):
    """An openstacksdk connection to a cloud of the written clouds.yaml."""
    if not os.path.exists(layout.clouds_yaml):
        raise RuntimeError('%s is missing: the all-in-one is not up (run '
                           'tools/aio)' % layout.clouds_yaml)
    config = openstack.config.OpenStackConfig(
        config_files=[layout.clouds_yaml])
    return openstack.connection.Connection(config=config.get_one(name))


def openstack_cli(layout, cloud, *args, **kwargs):
    """Runs the stock ``openstack`` client against the all-in-one."""
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=layout.clouds_yaml,
               OS_CLOUD=cloud)
    kwargs.setdefault('check', True)
    return subprocess.run([layout.bin('openstack')] + list(args), env=env,
                          capture_output=True, text=True, **kwargs)


def ensure_flavors(conn):
    existing = {f.name for f in conn.compute.flavors()}
    for name, ram, vcpus, disk in FLAVORS:
        if name not in existing:
            conn.compute.create_flavor(name=name, ram=ram, vcpus=vcpus,
                                       disk=disk, is_public=True)


def ensure_image(layout, conn):
    """Uploads the sample image the way the seeds do:
    ``docker save ... | openstack image create --container-format docker
    --disk-format raw ...``."""
    if any(i.status == 'active' for i in conn.image.images(name=IMAGE_NAME)):
        return False
    ref = sample_image.import_sample(docker.from_env())
    save = subprocess.Popen(['docker', 'save', ref], stdout=subprocess.PIPE)
    try:
        openstack_cli(layout, 'aio-admin', 'image', 'create',
                      '--container-format', 'docker', '--disk-format', 'raw',
                      '--public', IMAGE_NAME, stdin=save.stdout)
    finally:
        save.stdout.close()
        save.wait()
    if save.returncode:
        raise RuntimeError('docker save %s exited %d' % (ref, save.returncode))
    return True


def ensure_network(conn):
    """The demo project's tenant network (vxlan) and its subnets, created
    as the demo user."""
    network = (conn.network.find_network(NETWORK_NAME)
               or conn.network.create_network(name=NETWORK_NAME))
    existing = {s.name for s in conn.network.subnets(network_id=network.id)}
    for name, cidr, options in SUBNETS:
        if name not in existing:
            conn.network.create_subnet(network_id=network.id, name=name,
                                       cidr=cidr, **options)
    return network


def ensure_public_network(admin):
    """The external flat network on the physical network of the provider
    bridge, as DevStack makes it (no DHCP: only routers' gateways and
    floating IPs live there), the default one for routers that "--nic
    auto" makes, and the default subnet pool for their networks."""
    network = admin.network.find_network(PUBLIC_NETWORK)
    if network is None:
        network = admin.network.create_network(
            name=PUBLIC_NETWORK, is_router_external=True,
            provider_network_type='flat',
            provider_physical_network=ovn.PHYSICAL_NETWORK)
    if not network.is_default:
        admin.network.update_network(network, is_default=True)
    name, prefix, length = DEFAULT_POOL
    if not admin.network.find_subnet_pool(name):
        admin.network.create_subnet_pool(
            name=name, prefixes=[prefix], default_prefixlen=length,
            is_shared=True, is_default=True)
    if not admin.network.find_subnet(PUBLIC_SUBNET):
        admin.network.create_subnet(
            network_id=network.id, name=PUBLIC_SUBNET, ip_version=4,
            cidr=ovn.EXTERNAL_CIDR, gateway_ip=ovn.OUTSIDE_ADDRESS,
            is_dhcp_enabled=False)
    return network


def ensure_router(conn, public, network):
    """The demo project's router: gateway on the external network (SNAT),
    interface on the private IPv4 subnet."""
    router = conn.network.find_router(ROUTER_NAME)
    if router is None:
        router = conn.network.create_router(
            name=ROUTER_NAME,
            external_gateway_info={'network_id': public.id})
    subnet = conn.network.find_subnet(SUBNETS[0][0],
                                      network_id=network.id)
    if not list(conn.network.ports(device_id=router.id,
                                   network_id=network.id)):
        conn.network.add_interface_to_router(router, subnet_id=subnet.id)
    return router


def ensure_outside_path(layout, router):
    """The outside world reaches the router's gateway; if not (its veth
    or the switch's port lost), it is made again once. Returns the
    gateway's address."""
    gateway = router.external_gateway_info['external_fixed_ips'][0][
        'ip_address']
    if ovn.answers_from_outside(gateway, 10):
        return gateway
    ovn.ensure_outside(layout, remake=True)
    if not ovn.answers_from_outside(gateway, 15):
        raise commands.Failed(
            'the router %s\'s gateway %s does not answer from the namespace '
            '%s even after its veth and the %s port were made again; read '
            '%s and %s' % (ROUTER_NAME, gateway, ovn.OUTSIDE_NAMESPACE,
                           ovn.PROVIDER_BRIDGE, layout.log('ovn-controller'),
                           layout.log('ovs-vswitchd')))
    return gateway


def ensure_web_group(conn):
    group = conn.network.find_security_group(WEB_GROUP)
    if group is None:
        group = conn.network.create_security_group(
            name=WEB_GROUP, description='HTTP and ping from anywhere')
        for rule in WEB_RULES:
            conn.network.create_security_group_rule(
                security_group_id=group.id, direction='ingress',
                ethertype='IPv4', remote_ip_prefix='0.0.0.0/0', **rule)
    return group


def ensure_server(layout, conn):
    """Boots the demo server as the demo user; one left in ERROR by an
    earlier run is replaced."""
    server = conn.compute.find_server(SERVER_NAME)
    if server and server.status != 'ERROR':
        return server
    if server:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server)
    openstack_cli(layout, 'aio', 'server', 'create', '--image', IMAGE_NAME,
                  '--flavor', 'm1.tiny', '--nic', 'net-id=' + NETWORK_NAME,
                  '--security-group', 'default', '--security-group',
                  WEB_GROUP, '--wait', SERVER_NAME)
    return conn.compute.find_server(SERVER_NAME)


def ensure_floating_ip(conn, public, server):
    """The demo server's floating IP address."""
    port = next(conn.network.ports(device_id=server.id))
    for fip in conn.network.ips(port_id=port.id):
        return fip.floating_ip_address
    fip = conn.network.create_ip(floating_network_id=public.id,
                                 port_id=port.id)
    return fip.floating_ip_address


def run(layout):
    """The demo user and project, clouds.yaml, flavors, the sample image,
    the demo project's network and the demo server; then what a new user
    types first."""
    with commands.stage('The demo user, clouds.yaml, flavors and the sample '
                        'image (docker save | openstack image create '
                        '--container-format docker --disk-format raw)'):
        ensure_user(layout)
        write_clouds_yaml(layout)
        admin = cloud(layout, 'aio-admin')
        ensure_flavors(admin)
        ensure_image(layout, admin)
    with commands.stage('The external network %s (%s, gateway %s held by '
                        'namespace %s), the default one, and the default '
                        'subnet pool %s (%s) for --nic auto' % (
                            PUBLIC_NETWORK, ovn.EXTERNAL_CIDR,
                            ovn.OUTSIDE_ADDRESS, ovn.OUTSIDE_NAMESPACE,
                            DEFAULT_POOL[0], DEFAULT_POOL[1])):
        public = ensure_public_network(admin)
    demo_user = cloud(layout, 'aio')
    with commands.stage('The demo project\'s network %s (subnets %s), '
                        'router %s to %s, security group %s (HTTP, ping)' % (
                            NETWORK_NAME, ', '.join(
                                '%s %s' % (name, cidr)
                                for name, cidr, _ in SUBNETS),
                            ROUTER_NAME, PUBLIC_NETWORK, WEB_GROUP)):
        network = ensure_network(demo_user)
        router = ensure_router(demo_user, public, network)
        ensure_web_group(demo_user)
    with commands.stage('The outside world: %s\'s gateway answers from the '
                        'namespace %s' % (ROUTER_NAME,
                                          ovn.OUTSIDE_NAMESPACE)):
        ensure_outside_path(layout, router)
    with commands.stage('Booting the demo server (openstack server create '
                        '--image %s --flavor m1.tiny --nic net-id=%s '
                        '--security-group default --security-group %s %s) '
                        'with a floating IP' % (
                            IMAGE_NAME, NETWORK_NAME, WEB_GROUP,
                            SERVER_NAME)):
        server = ensure_server(layout, demo_user)
        address = ensure_floating_ip(demo_user, public, server)
    print()
    print('$ OS_CLOUD=aio openstack server list')
    print(openstack_cli(layout, 'aio', 'server', 'list').stdout, end='')
    print('$ docker ps --filter name=nova-%s' % server.id)
    print(subprocess.run(
        ['docker', 'ps', '--filter', 'name=nova-' + server.id],
        capture_output=True, text=True).stdout, end='')
    print()
    print('Its page, fetched from the outside world (the namespace %s):\n'
          '  ip netns exec %s busybox wget -qO- http://%s/' % (
              ovn.OUTSIDE_NAMESPACE, ovn.OUTSIDE_NAMESPACE, address))
    print()
    print('To use it:\n  export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=aio   '
          '# or aio-admin\n  %s server list' % (
              layout.clouds_yaml, layout.bin('openstack')))
