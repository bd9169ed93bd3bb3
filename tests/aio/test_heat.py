"""End-to-end: Heat in the all-in-one, through ``openstack stack`` as the
demo user runs it."""

import json
import os
import subprocess
import uuid

import fixtures

from aio import demo
from novadocker import engine
from novadocker import image as image_mod
from tests.aio import base as aio_base

SERVER_TEMPLATE = {
    'heat_template_version': '2021-04-16',
    'parameters': {'image': {'type': 'string'}},
    'resources': {'server': {
        'type': 'OS::Nova::Server',
        'properties': {
            'image': {'get_param': 'image'},
            'flavor': 'm1.tiny',
            'networks': [{'network': 'private'}],
        },
    }},
    'outputs': {
        'id': {'value': {'get_resource': 'server'}},
        'addresses': {'value': {'get_attr': ['server', 'networks',
                                             'private']}},
    },
}


# A page naming $GREETING, served on port 80, and a line of output each
# side of it; it exits on the stop signal (PID 1 ignores it otherwise, and
# Nova waits a minute before the kill on rebuild and resize).
WEB_CMD = ['/bin/sh', '-c',
           'trap "exit 0" TERM; echo first; mkdir -p /tmp/www; '
           'echo "hello $GREETING" > /tmp/www/index.html; echo serving; '
           'httpd -f -p 80 -h /tmp/www & wait']

SLEEP_CMD = ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 7200 & wait']


def container_template(**properties):
    return {
        'heat_template_version': '2021-04-16',
        'resources': {'web': {
            'type': 'DockerInc::Docker::Container',
            'properties': properties,
        }},
        'outputs': {name: {'value': {'get_attr': ['web', name]}} for name in (
            'network_ip', 'network_gateway', 'network_tcp_ports',
            'network_udp_ports', 'network_info', 'logs_head', 'logs_tail',
            'info')},
    }


WEB = dict(image='busybox', env=['GREETING=world'], cmd=WEB_CMD,
           hostname='e2e-web',
           memory=128 * 2**20, port_specs=[80, '53/udp'],
           networks=[{'network': 'private'}])


class HeatTest(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.stack = 'e2e-%s' % uuid.uuid4().hex[:8]
        self.templates = self.useFixture(fixtures.TempDir()).path

    def _stack(self, *argv):
        """``openstack stack ...`` as demo; its output as JSON when asked
        for."""
        try:
            done = demo.openstack_cli(self.layout, 'aio', 'stack', *argv,
                                      timeout=aio_base.WAIT * 2)
        except subprocess.CalledProcessError as e:
            e.add_note(e.stdout + e.stderr)
            raise
        return json.loads(done.stdout) if '-f' in argv else done.stdout

    def _template_file(self, template):
        path = os.path.join(self.templates, 'template.yaml')
        with open(path, 'w') as f:
            json.dump(template, f)
        return path

    def _create(self, template, **parameters):
        path = self._template_file(template)
        self.addCleanup(self._delete_stack)
        argv = ['create', '-t', path]
        for name, value in parameters.items():
            argv += ['--parameter', '%s=%s' % (name, value)]
        self._stack(*argv + [self.stack])
        stack = self._ended('CREATE')
        return {'stack_status': stack.status,
                'stack_status_reason': stack.status_reason}

    def _ended(self, action, updated_before=None):
        """The stack once its ``action`` has ended, None once deleted; read
        through openstacksdk (heatclient's --wait polls every 5 s). An
        update's end is one after ``updated_before`` (the last update's
        time: its status reads UPDATE_COMPLETE too)."""
        seen = [None]

        def ended():
            seen[0] = self.conn.orchestration.find_stack(self.stack)
            if seen[0] is None:
                return True
            if action == 'UPDATE' and seen[0].updated_at == updated_before:
                return False
            return seen[0].status in (action + '_COMPLETE',
                                      action + '_FAILED')
        if not self._until(ended, aio_base.WAIT * 2, 0.5):
            self.fail('stack %s is still %s' % (self.stack, seen[0].status))
        return seen[0]

    def _delete_stack(self):
        if self.conn.orchestration.find_stack(self.stack):
            self._stack('delete', '--yes', self.stack)
            deleted = self._ended('DELETE')
            self.assertIsNone(deleted, deleted and deleted.status_reason)

    # What the test reads back comes through openstacksdk: each CLI
    # call costs the client's 2 s start.

    def _resource_id(self):
        stack = self.conn.orchestration.find_stack(self.stack)
        return next(r.physical_resource_id
                    for r in self.conn.orchestration.resources(stack)
                    if r.name == 'web')

    def _update(self, template):
        path = self._template_file(template)
        before = self.conn.orchestration.find_stack(self.stack).updated_at
        self._stack('update', '-t', path, self.stack)
        stack = self._ended('UPDATE', before)
        self.assertEqual('UPDATE_COMPLETE', stack.status,
                         stack.status_reason)

    def _validation_error(self, template):
        """The error of a stack create refused at validation; no stack or
        server is left."""
        path = self._template_file(template)
        error = self.assertRaises(
            subprocess.CalledProcessError, demo.openstack_cli, self.layout,
            'aio', 'stack', 'create', '-t', path, self.stack)
        # Heat names a stack's servers after it.
        self.assertEqual([], list(self.conn.compute.servers(
            name='^%s' % self.stack)))
        self.assertEqual([], [s for s in self.conn.orchestration.stacks()
                              if s.name == self.stack])
        return error.stderr

    @staticmethod
    def _fixed(server):
        return sorted(a['addr'] for a in server.addresses['private']
                      if a['OS-EXT-IPS:type'] == 'fixed')

    def _output(self, name):
        stack = self.conn.orchestration.find_stack(self.stack)
        return next(output['output_value'] for output in
                    self.conn.orchestration.get_stack(stack).outputs
                    if output['output_key'] == name)

    def test_nova_server_stack_runs_a_container_and_deletes_it(self):
        stack = self._create(SERVER_TEMPLATE, image='busybox')

        self.assertEqual('CREATE_COMPLETE', stack['stack_status'],
                         stack.get('stack_status_reason'))
        server = self.conn.compute.get_server(self._output('id'))
        self.assertEqual('ACTIVE', server.status)
        container = self._container(server)
        self.assertEqual('running', container.status)
        self.assertIn(image_mod.reference(
            self.conn.image.find_image('busybox').id), container.image.tags)
        self.assertEqual(
            sorted(a['addr'] for a in server.addresses['private']),
            sorted(self._output('addresses')))

        self._delete_stack()

        self.assertIsNone(self.conn.compute.find_server(server.id))
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': engine.container_name(server.id)}))

    def test_server_that_exits_at_once_fails_the_stack_with_the_fault(self):
        image, _ = self._upload_image('e2e-heat-exits', ['/bin/false'])

        stack = self._create(SERVER_TEMPLATE, image=image.id)

        self.assertEqual('CREATE_FAILED', stack['stack_status'])
        self.assertIn('exited at once (code 1)',
                      stack['stack_status_reason'])

    def test_container_resource_runs_updates_in_place_and_goes(self):
        stack = self._create(container_template(**WEB))
        self.assertEqual('CREATE_COMPLETE', stack['stack_status'],
                         stack.get('stack_status_reason'))
        server = self.conn.compute.get_server(self._resource_id())
        container = self._container(server)
        config = container.attrs['Config']
        self.assertEqual(WEB_CMD, config['Cmd'])
        self.assertIn('GREETING=world', config['Env'])
        self.assertEqual(128 * 2**20, container.attrs['HostConfig']['Memory'])
        self.assertEqual('m1.micro', server.flavor['original_name'])
        # The attributes equal what the API and the engine show.
        ipv4 = [a['addr'] for a in server.addresses['private']
                if a['version'] == 4][0]
        self.assertEqual(ipv4, self._output('network_ip'))
        subnet = self.conn.network.find_subnet('private-v4')
        self.assertEqual(subnet.gateway_ip, self._output('network_gateway'))
        self.assertEqual(('80', '53'), (self._output('network_tcp_ports'),
                                        self._output('network_udp_ports')))
        self.assertEqual(server.id, self._output('info')['id'])
        self.assertEqual({'IPAddress': ipv4, 'Gateway': subnet.gateway_ip,
                          'TcpPorts': '80', 'UdpPorts': '53'}, {
            key: value for key, value in self._output('network_info').items()
            if key != 'Networks'})
        self.assertEqual(b'e2e-web\n',
                         container.exec_run(['hostname']).output)
        self.assertTrue(self._until(
            lambda: self._output('logs_tail') == 'serving'))
        self.assertEqual('first', self._output('logs_head'))
        # port_specs opened port 80: its page answers through a floating
        # IP, from the outside.
        port = list(self.conn.network.ports(device_id=server.id))[0]
        fip = self._floating_ip(server)
        address = fip.floating_ip_address
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) == b'hello world\n',
            interval=0.5), 'port_specs did not open port 80')

        # In place: the same server, port and addresses.
        updated_web = dict(WEB, env=['GREETING=again'], port_specs=[80, 8080],
                           name='e2e-renamed',
                           security_groups=['default', demo.WEB_GROUP])
        self._update(container_template(**updated_web))
        self.assertEqual(server.id, self._resource_id())
        updated = self.conn.compute.get_server(server.id)
        self.assertEqual('e2e-renamed', updated.name)
        self.assertEqual(self._fixed(server), self._fixed(updated))
        self.assertEqual([port.id], [p.id for p in self.conn.network.ports(
            device_id=server.id)])
        self.assertIn('GREETING=again',
                      self._container(server).attrs['Config']['Env'])
        self.assertIn(demo.WEB_GROUP, {
            g['name'] for g in self.conn.compute.fetch_server_security_groups(
                updated).security_groups})
        self.assertEqual(('80,8080', ''), (
            self._output('network_tcp_ports'),
            self._output('network_udp_ports')))
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) == b'hello again\n',
            interval=0.5))

        # Another image and command, more memory: rebuilt, then resized.
        other, _ = self._upload_image('e2e-heat-other', ['sleep', '3600'])
        self._update(container_template(**dict(
            updated_web, image='e2e-heat-other', cmd=SLEEP_CMD,
            memory=512 * 2**20)))
        self.assertEqual(server.id, self._resource_id())
        resized = self._container(server)
        self.assertEqual(
            (image_mod.reference(other.id), SLEEP_CMD, 512 * 2**20), (
                resized.attrs['Config']['Image'],
                resized.attrs['Config']['Cmd'],
                resized.attrs['HostConfig']['Memory']))
        self.assertEqual(self._fixed(server), self._fixed(
            self.conn.compute.get_server(server.id)))
        self.assertEqual('ACTIVE',
                         self.conn.compute.get_server(server.id).status)

        self._stack('suspend', self.stack)
        self.assertEqual('SUSPEND_COMPLETE', self._ended('SUSPEND').status)
        self.assertEqual('paused', self._container(server).status)
        self._stack('resume', self.stack)
        self.assertEqual('RESUME_COMPLETE', self._ended('RESUME').status)
        self.assertEqual('running', self._container(server).status)
        self._stack('check', self.stack)
        self.assertEqual('CHECK_COMPLETE', self._ended('CHECK').status)

        # Heat names the stack's security group after it.
        groups = {g.id for g in self.conn.network.security_groups()
                  if g.name.startswith(self.stack)}
        self.assertEqual(1, len(groups))
        self.conn.network.delete_ip(fip)
        self._delete_stack()
        self.assertIsNone(self.conn.compute.find_server(server.id))
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': engine.container_name(server.id)}))
        self.assertIsNone(self.conn.network.find_port(port.id))
        self.assertEqual(set(), groups & {
            g.id for g in self.conn.network.security_groups()})

    def test_properties_that_need_the_host_fail_validation(self):
        for properties, named in [
                ({'privileged': True}, 'privileged'),
                ({'volumes': {'/data': {}}}, 'volumes'),
                ({'port_bindings': {'80/tcp': [{'HostPort': '80'}]}},
                 'floating IP'),
                ({'docker_endpoint': 'tcp://203.0.113.1:2375'},
                 'docker_endpoint'),
                ({'restart_policy': {'Name': 'always'}}, 'restart_policy'),
                ({'cap_add': ['NET_ADMIN']}, 'cap_add'),
                ({'memory': 2**40}, 'no flavor has 1048576 MiB'),
                ({'env': ['NOEQUALS']}, "env item 'NOEQUALS'")]:
            error = self._validation_error(container_template(
                image='busybox', **properties))
            self.assertIn(named, error)

    def test_resource_named_beyond_ascii(self):
        # As Heat's own test_unicode_template.
        name = '\u8d44\u6e90'
        stack = self._create({'heat_template_version': '2021-04-16',
                              'resources': {name: {
                                  'type': 'OS::Heat::RandomString'}}})
        self.assertEqual('CREATE_COMPLETE', stack['stack_status'],
                         stack.get('stack_status_reason'))
        found = self.conn.orchestration.find_stack(self.stack)
        self.assertEqual([name], [r.name for r in
                                  self.conn.orchestration.resources(found)])

    def test_unknown_image_names_the_upload_command(self):
        error = self._validation_error(container_template(
            image='e2e-nowhere:1.0'))
        self.assertIn('docker save e2e-nowhere:1.0 | openstack image create '
                      '--container-format docker --disk-format raw', error)

    def test_container_that_exits_at_once_fails_with_its_exit_code(self):
        stack = self._create(container_template(
            image='busybox', cmd=['/bin/sh', '-c', 'exit 7']))
        self.assertEqual('CREATE_FAILED', stack['stack_status'])
        self.assertIn('exited at once (code 7)', stack['stack_status_reason'])

    @aio_base.alone("sets the demo project's instance quota to what it uses")
    def test_group_beyond_the_quota_fails_with_novas_message(self):
        admin = demo.cloud(self.layout, 'aio-admin')
        project = admin.identity.find_project('demo')
        used = len(list(self.conn.compute.servers()))
        limit = admin.compute.get_quota_set(project).instances
        admin.compute.update_quota_set(project, instances=used + 1)
        self.addCleanup(admin.compute.update_quota_set, project,
                        instances=limit)

        stack = self._create({
            'heat_template_version': '2021-04-16',
            'resources': {'group': {
                'type': 'OS::Heat::ResourceGroup',
                'properties': {'count': 2, 'resource_def': {
                    'type': 'DockerInc::Docker::Container',
                    'properties': {'image': 'busybox',
                                   'networks': [{'network': 'private'}]},
                }},
            }},
        })

        self.assertEqual('CREATE_FAILED', stack['stack_status'])
        self.assertIn('Quota exceeded for instances',
                      stack['stack_status_reason'])
