"""``DockerInc::Docker::Container`` backed by Nova: the old docker plugin's
template vocabulary, each container a Nova server of the Docker hypervisor
(scheduled, on Neutron, under quota), with nothing of the host handed to
the template's author. The mapping itself is novadocker.heat.mapping."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine.clients import progress
from heat.engine import constraints
from heat.engine import properties
from heat.engine import resource
from heat.engine import support
from oslo_utils import uuidutils

from novadocker.heat import mapping

# The registry whose pushes are Glance images (the image property may name
# it as a user would: 127.0.0.1:5042/demo/web:1).
REGISTRY_PROPERTY = 'docker_registry'
HOSTNAME_MICROVERSION = '2.90'


class DockerContainer(resource.Resource):
    """A container, run as a Nova server whose image is a Glance image of
    ``container_format=docker``."""

    support_status = support.SupportStatus(version='27.0.0')
    default_client_name = 'nova'
    entity = 'servers'

    PROPERTIES = (
        DOCKER_ENDPOINT, HOSTNAME, USER, MEMORY, PORT_SPECS, PORT_BINDINGS,
        NAME, OPEN_STDIN, TTY, ENV, CMD, IMAGE, PRIVILEGED, VOLUMES,
        VOLUMES_FROM, LINKS, DNS, RESTART_POLICY, CAP_ADD, CAP_DROP,
        READ_ONLY, CPU_SHARES, DEVICES, CPU_SET, STDIN_ONCE,
        NETWORKS, SECURITY_GROUPS, FLAVOR,
    ) = (
        'docker_endpoint', 'hostname', 'user', 'memory', 'port_specs',
        'port_bindings', 'name', 'open_stdin', 'tty', 'env', 'cmd', 'image',
        'privileged', 'volumes', 'volumes_from', 'links', 'dns',
        'restart_policy', 'cap_add', 'cap_drop', 'read_only', 'cpu_shares',
        'devices', 'cpu_set', 'stdin_once',
        'networks', 'security_groups', 'flavor',
    )
    _NETWORK_KEYS = (NETWORK, FIXED_IP) = ('network', 'fixed_ip')

    ATTRIBUTES = (
        INFO, NETWORK_INFO, NETWORK_IP, NETWORK_GATEWAY, NETWORK_TCP_PORTS,
        NETWORK_UDP_PORTS, LOGS, LOGS_HEAD, LOGS_TAIL,
    ) = (
        'info', 'network_info', 'network_ip', 'network_gateway',
        'network_tcp_ports', 'network_udp_ports', 'logs', 'logs_head',
        'logs_tail',
    )

    _REFUSED = _('Not accepted (the old plugin\'s; the template would get '
                 'the Docker host): %s.')

    properties_schema = {
        IMAGE: properties.Schema(
            properties.Schema.STRING,
            _('The image: a Glance image of container_format docker, by id, '
              'by name, or as a reference such as busybox, busybox:1.36 or '
              '127.0.0.1:5042/demo/web:1.'),
            required=True, update_allowed=True),
        NAME: properties.Schema(
            properties.Schema.STRING,
            _('The server\'s (and so the container\'s) name.'),
            update_allowed=True),
        HOSTNAME: properties.Schema(
            properties.Schema.STRING,
            _('The hostname inside the container (changing it rebuilds '
              'the container).'),
            update_allowed=True),
        USER: properties.Schema(
            properties.Schema.STRING,
            _('The user (user, uid, user:group, uid:gid) its process runs '
              'as inside the container.'),
            update_allowed=True),
        MEMORY: properties.Schema(
            properties.Schema.INTEGER,
            _('Memory in bytes: the smallest flavor with at least this '
              'much (512 MiB when neither this nor flavor is given).'),
            constraints=[constraints.Range(min=1)], update_allowed=True),
        CPU_SHARES: properties.Schema(
            properties.Schema.INTEGER,
            _('CPU shares: the smallest flavor with at least this many '
              '(1024 a vCPU).'),
            default=0, constraints=[constraints.Range(min=0)],
            update_allowed=True),
        FLAVOR: properties.Schema(
            properties.Schema.STRING,
            _('The flavor, instead of memory and cpu_shares.'),
            constraints=[constraints.CustomConstraint('nova.flavor')],
            update_allowed=True),
        PORT_SPECS: properties.Schema(
            properties.Schema.LIST,
            _('Ports to open to all (80, "80/tcp", "53/udp"): a security '
              'group of the container\'s own.'),
            update_allowed=True),
        ENV: properties.Schema(
            properties.Schema.LIST,
            _('NAME=value environment variables (server metadata).'),
            update_allowed=True),
        CMD: properties.Schema(
            properties.Schema.LIST,
            _('The command, instead of the image\'s.'),
            default=[], update_allowed=True),
        TTY: properties.Schema(
            properties.Schema.BOOLEAN, _('A terminal for the process.'),
            default=False, update_allowed=True),
        OPEN_STDIN: properties.Schema(
            properties.Schema.BOOLEAN, _('Keep its standard input open.'),
            default=False, update_allowed=True),
        STDIN_ONCE: properties.Schema(
            properties.Schema.BOOLEAN,
            _('Accepted and ignored, as the old plugin did.'),
            default=False),
        READ_ONLY: properties.Schema(
            properties.Schema.BOOLEAN, _('A read-only root filesystem.'),
            default=False, update_allowed=True),
        NETWORKS: properties.Schema(
            properties.Schema.LIST,
            _('Networks to put it on (a port each); by default Nova\'s '
              'automatic choice, the project\'s network.'),
            schema=properties.Schema(
                properties.Schema.MAP,
                schema={
                    NETWORK: properties.Schema(
                        properties.Schema.STRING,
                        _('Name or id of the network.'), required=True,
                        constraints=[constraints.CustomConstraint(
                            'neutron.network')]),
                    FIXED_IP: properties.Schema(
                        properties.Schema.STRING,
                        _('Its fixed IP address on that network.'),
                        constraints=[constraints.CustomConstraint(
                            'ip_addr')]),
                })),
        SECURITY_GROUPS: properties.Schema(
            properties.Schema.LIST,
            _('Security groups (names or ids); default: default.'),
            update_allowed=True),
        DOCKER_ENDPOINT: properties.Schema(
            properties.Schema.STRING,
            _REFUSED % mapping.REFUSED['docker_endpoint']),
        PRIVILEGED: properties.Schema(
            properties.Schema.BOOLEAN,
            _REFUSED % mapping.REFUSED['privileged'], default=False),
        VOLUMES: properties.Schema(
            properties.Schema.MAP,
            _REFUSED % mapping.REFUSED['volumes'], default={}),
        VOLUMES_FROM: properties.Schema(
            properties.Schema.LIST,
            _REFUSED % mapping.REFUSED['volumes_from'], default=[]),
        PORT_BINDINGS: properties.Schema(
            properties.Schema.MAP,
            _REFUSED % mapping.REFUSED['port_bindings']),
        LINKS: properties.Schema(
            properties.Schema.MAP, _REFUSED % mapping.REFUSED['links']),
        DNS: properties.Schema(
            properties.Schema.LIST, _REFUSED % mapping.REFUSED['dns']),
        RESTART_POLICY: properties.Schema(
            properties.Schema.MAP,
            _REFUSED % mapping.REFUSED['restart_policy'], default={}),
        CAP_ADD: properties.Schema(
            properties.Schema.LIST, _REFUSED % mapping.REFUSED['cap_add'],
            default=[]),
        CAP_DROP: properties.Schema(
            properties.Schema.LIST, _REFUSED % mapping.REFUSED['cap_drop'],
            default=[]),
        DEVICES: properties.Schema(
            properties.Schema.LIST, _REFUSED % mapping.REFUSED['devices'],
            default=[]),
        CPU_SET: properties.Schema(
            properties.Schema.STRING, _REFUSED % mapping.REFUSED['cpu_set']),
    }

    attributes_schema = {
        INFO: attributes.Schema(
            _('The server as Nova shows it.'), type=attributes.Schema.MAP),
        NETWORK_INFO: attributes.Schema(
            _('IPAddress, Gateway, Networks (the server\'s addresses), '
              'TcpPorts and UdpPorts (the ports opened).'),
            type=attributes.Schema.MAP),
        NETWORK_IP: attributes.Schema(
            _('Its first fixed IP address (IPv4 first).'),
            type=attributes.Schema.STRING),
        NETWORK_GATEWAY: attributes.Schema(
            _('The gateway of that address\'s subnet.'),
            type=attributes.Schema.STRING),
        NETWORK_TCP_PORTS: attributes.Schema(
            _('The TCP ports opened (port_specs), comma-separated.'),
            type=attributes.Schema.STRING),
        NETWORK_UDP_PORTS: attributes.Schema(
            _('The UDP ports opened (port_specs), comma-separated.'),
            type=attributes.Schema.STRING),
        LOGS: attributes.Schema(
            _('Its output (the console log: stdout and stderr, the last '
              '100 KiB).'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        LOGS_HEAD: attributes.Schema(
            _('The first line of its output.'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        LOGS_TAIL: attributes.Schema(
            _('The last line of its output.'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
    }

    # Validation: nothing is made unless all of it can be.

    def validate(self):
        super().validate()
        refused = mapping.refused(self.properties)
        if refused:
            raise exception.StackValidationFailed(message='; '.join(
                _('Property %(name)s is not accepted: %(why)s') % {
                    'name': name, 'why': why} for name, why in refused))
        if self.properties[self.FLAVOR] and (
                self.properties[self.MEMORY] or
                self.properties[self.CPU_SHARES]):
            raise exception.StackValidationFailed(message=_(
                'Give flavor, or memory and cpu_shares, not both.'))
        try:
            mapping.server_metadata(self.properties)
            mapping.port_rules(self.properties[self.PORT_SPECS])
        except mapping.Invalid as e:
            raise exception.StackValidationFailed(message=str(e))
        if self.properties[self.IMAGE] is not None:
            self._image_id(self.properties)
        self._flavor_id(self.properties)

    def _image_id(self, props):
        """The Glance image the reference stands for: by id, else by name
        (the project's own images before those shared with it)."""
        reference = props[self.IMAGE]
        glance = self.client('glance')
        if uuidutils.is_uuid_like(reference):
            try:
                image = glance.images.get(reference)
            except Exception as e:
                self.client_plugin('glance').ignore_not_found(e)
            else:
                return self._docker_image(image, reference)['id']
        filters = {'container_format': 'docker'}
        names = mapping.reference_names(reference)
        found = list(glance.images.list(filters=dict(
            filters, name='in:' + ','.join('"%s"' % n for n in names))))
        if mapping.names_a_registry(reference):
            pushed = mapping.registry_reference(reference,
                                                self._registry_of(found))
            if pushed:
                found.extend(glance.images.list(filters=dict(
                    filters, docker_repository=pushed[0],
                    docker_tag=pushed[1])))
        own = [i for i in found if i.get('owner') == self.context.project_id]
        for tier in (own, found):
            ids = sorted({i['id'] for i in tier})
            if len(ids) == 1:
                return ids[0]
            if len(ids) > 1:
                raise exception.StackValidationFailed(message=_(
                    'image %(ref)s names %(count)d docker images in '
                    'Glance (%(ids)s); give one by id') % {
                        'ref': reference, 'count': len(ids),
                        'ids': ', '.join(ids)})
        raise exception.StackValidationFailed(
            message=mapping.upload_hint(reference))

    @staticmethod
    def _docker_image(image, reference):
        if image.get('container_format') != 'docker':
            raise exception.StackValidationFailed(message=_(
                'image %(ref)s is container_format %(format)s, not '
                'docker') % {'ref': reference,
                             'format': image.get('container_format')})
        return image

    def _registry_of(self, images):
        """The cloud's registry, as recorded on images it made; None when
        none of the project's images came from one."""
        for image in images:
            if image.get(REGISTRY_PROPERTY):
                return image[REGISTRY_PROPERTY]
        for image in self.client('glance').images.list(
                filters={'container_format': 'docker'}, limit=50):
            if image.get(REGISTRY_PROPERTY):
                return image[REGISTRY_PROPERTY]
        return None

    def _flavor_id(self, props):
        if props[self.FLAVOR]:
            return self.client_plugin().find_flavor_by_name_or_id(
                props[self.FLAVOR])
        flavors = {f.name: f for f in self.client().flavors.list()}
        try:
            name = mapping.smallest_flavor(
                [(f.name, f.ram, f.vcpus, f.disk) for f in flavors.values()],
                props[self.MEMORY], props[self.CPU_SHARES])
        except mapping.Invalid as e:
            raise exception.StackValidationFailed(message=str(e))
        return flavors[name].id

    # Create and delete.

    def _nics(self):
        networks = self.properties[self.NETWORKS]
        if not networks:
            return 'auto'
        neutron = self.client_plugin('neutron')
        nics = []
        for network in networks:
            nic = {'net-id': neutron.find_resourceid_by_name_or_id(
                'network', network[self.NETWORK])}
            if network.get(self.FIXED_IP):
                nic['v4-fixed-ip'] = network[self.FIXED_IP]
            nics.append(nic)
        return nics

    def _security_groups(self, props, ports_group):
        groups = list(props[self.SECURITY_GROUPS] or ['default'])
        if ports_group:
            groups.append(ports_group)
        return groups

    def handle_create(self):
        props = self.properties
        ports_group = self._ensure_ports_group(props[self.PORT_SPECS])
        kwargs = {}
        nova = self.client()
        if props[self.HOSTNAME]:
            nova = self.client(version=HOSTNAME_MICROVERSION)
            kwargs['hostname'] = props[self.HOSTNAME]
        server = nova.servers.create(
            name=props[self.NAME] or self.physical_resource_name(),
            image=self._image_id(props), flavor=self._flavor_id(props),
            nics=self._nics(), meta=mapping.server_metadata(props),
            security_groups=self._security_groups(props, ports_group),
            **kwargs)
        self.resource_id_set(server.id)
        return server.id

    def check_create_complete(self, server_id):
        return self.client_plugin()._check_active(server_id, 'Container')

    def handle_delete(self):
        if self.resource_id:
            with self.client_plugin().ignore_not_found:
                self.client().servers.delete(self.resource_id)
        return self.resource_id

    def check_delete_complete(self, server_id):
        if server_id and not \
                self.client_plugin().check_delete_server_complete(server_id):
            return False
        self._remove_ports_group()
        return True

    # The security group of port_specs.

    def _ports_group_name(self):
        return '%s-ports' % self.physical_resource_name()

    def _ensure_ports_group(self, port_specs):
        """The group opening port_specs (made, and its rules set, as
        needed); None without ports."""
        rules = mapping.port_rules(port_specs)
        if not rules:
            return None
        group_id = self.data().get('ports_group')
        neutron = self.client('neutron')
        if not group_id:
            group_id = neutron.create_security_group({'security_group': {
                'name': self._ports_group_name(),
                'description': 'port_specs of %s' % self.name,
            }})['security_group']['id']
            self.data_set('ports_group', group_id)
        group = neutron.show_security_group(group_id)['security_group']
        have = {}
        for rule in group['security_group_rules']:
            if rule['direction'] == 'ingress' and rule['port_range_min']:
                have[(rule['port_range_min'], rule['protocol'],
                      rule['ethertype'])] = rule['id']
        wanted = {(port, protocol, ethertype) for port, protocol in rules
                  for ethertype in ('IPv4', 'IPv6')}
        for key in wanted - set(have):
            port, protocol, ethertype = key
            neutron.create_security_group_rule({'security_group_rule': {
                'security_group_id': group_id, 'direction': 'ingress',
                'ethertype': ethertype, 'protocol': protocol,
                'port_range_min': port, 'port_range_max': port}})
        for key in set(have) - wanted:
            neutron.delete_security_group_rule(have[key])
        return group_id

    def _remove_ports_group(self):
        group_id = self.data().get('ports_group')
        if group_id:
            with self.client_plugin('neutron').ignore_not_found:
                self.client('neutron').delete_security_group(group_id)
            self.data_delete('ports_group')

    # Updates: the same server, ports and addresses.

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        after = json_snippet.properties(self.properties_schema,
                                        self.context)
        steps = mapping.update_steps(prop_diff)
        updaters = []
        nova = self.client()
        if 'rename' in steps:
            nova.servers.update(self.resource_id, name=after[self.NAME] or
                                self.physical_resource_name())
        if self.HOSTNAME in prop_diff and after[self.HOSTNAME]:
            self.client(version=HOSTNAME_MICROVERSION).servers.update(
                self.resource_id, hostname=after[self.HOSTNAME])
        if 'port_rules' in steps or 'security_groups' in steps:
            self._update_groups(after)
        if 'rebuild' in steps:
            updaters.append(progress.ServerUpdateProgress(
                self.resource_id, 'rebuild', handler_extra={
                    'args': (self._image_id(after),),
                    'kwargs': {'meta': mapping.server_metadata(after)}}))
        if 'resize' in steps:
            flavor_id = self._flavor_id(after)
            # A server names its flavor by id before microversion 2.47,
            # by its name from then on.
            current = nova.servers.get(self.resource_id).flavor
            if 'id' in current:
                resized = current['id'] != flavor_id
            else:
                resized = (current['original_name'] !=
                           nova.flavors.get(flavor_id).name)
            if resized:
                updaters += [
                    progress.ServerUpdateProgress(
                        self.resource_id, 'resize',
                        handler_extra={'args': (flavor_id,)},
                        checker_extra={'args': (flavor_id,)}),
                    progress.ServerUpdateProgress(self.resource_id,
                                                  'verify_resize')]
        return updaters

    def _update_groups(self, after):
        """The server's groups as ``after`` names them, with the group of
        its port_specs."""
        before = set(self._security_groups(
            self.properties, self.data().get('ports_group')))
        ports_group = self._ensure_ports_group(after[self.PORT_SPECS])
        wanted = set(self._security_groups(after, ports_group))
        server = self.client().servers.get(self.resource_id)
        for group in wanted - before:
            server.add_security_group(group)
        for group in before - wanted:
            server.remove_security_group(group)
        if not ports_group:
            self._remove_ports_group()

    def check_update_complete(self, updaters):
        """Each step in order, each to its end."""
        for step in updaters:
            if not step.called:
                handler = getattr(self.client_plugin(), step.handler)
                step.called = handler(*step.handler_args,
                                      **step.handler_kwargs)
                return False
            if not step.complete:
                checker = getattr(self.client_plugin(), step.checker)
                step.complete = checker(*step.checker_args,
                                        **step.checker_kwargs)
                if not step.complete:
                    return False
        return True

    # Suspend, resume, check.

    def _status(self):
        return self.client_plugin().get_status(
            self.client().servers.get(self.resource_id))

    def _reached(self, status):
        now = self._status()
        if now == 'ERROR':
            raise exception.ResourceInError(resource_status=now,
                                            status_reason=_('ERROR'))
        return now == status

    def handle_suspend(self):
        self.client().servers.suspend(self.resource_id)

    def check_suspend_complete(self, token):
        return self._reached('SUSPENDED')

    def handle_resume(self):
        self.client().servers.resume(self.resource_id)

    def check_resume_complete(self, token):
        return self._reached('ACTIVE')

    def handle_check(self):
        status = self._status()
        if status != 'ACTIVE':
            raise exception.Error(_('Container %(id)s is %(status)s, not '
                                    'ACTIVE') % {'id': self.resource_id,
                                                 'status': status})

    # Attributes.

    def _addresses(self, server):
        """Fixed addresses, IPv4 first."""
        found = [a['addr'] for addresses in server.addresses.values()
                 for a in addresses
                 if a.get('OS-EXT-IPS:type', 'fixed') == 'fixed']
        return sorted(found, key=lambda address: ':' in address)

    def _gateway(self, address):
        neutron = self.client('neutron')
        for port in neutron.list_ports(device_id=self.resource_id)['ports']:
            for fixed in port['fixed_ips']:
                if fixed['ip_address'] == address:
                    return neutron.show_subnet(
                        fixed['subnet_id'])['subnet']['gateway_ip']
        return None

    def _ports(self, protocol):
        return ','.join(str(port) for port, proto in mapping.port_rules(
            self.properties[self.PORT_SPECS]) if proto == protocol)

    def _resolve_attribute(self, name):
        if not self.resource_id:
            return None
        server = self.client().servers.get(self.resource_id)
        if name == self.INFO:
            return server.to_dict()
        if name in (self.LOGS, self.LOGS_HEAD, self.LOGS_TAIL):
            logs = server.get_console_output() or ''
            lines = [line for line in logs.splitlines() if line]
            if name == self.LOGS:
                return logs
            if not lines:
                return ''
            return lines[0] if name == self.LOGS_HEAD else lines[-1]
        addresses = self._addresses(server)
        address = addresses[0] if addresses else None
        if name == self.NETWORK_IP:
            return address
        if name == self.NETWORK_GATEWAY:
            return address and self._gateway(address)
        if name == self.NETWORK_TCP_PORTS:
            return self._ports('tcp')
        if name == self.NETWORK_UDP_PORTS:
            return self._ports('udp')
        if name == self.NETWORK_INFO:
            return {'IPAddress': address,
                    'Gateway': address and self._gateway(address),
                    'Networks': server.addresses,
                    'TcpPorts': self._ports('tcp'),
                    'UdpPorts': self._ports('udp')}


def resource_mapping():
    return {'DockerInc::Docker::Container': DockerContainer}
