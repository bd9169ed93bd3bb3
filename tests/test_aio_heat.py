"""End-to-end: Heat in the all-in-one, through ``openstack stack`` as the
demo user runs it."""

import json
import os
import subprocess
import uuid

import fixtures

from aio import demo
from tests import aio_base

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


class HeatTest(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.stack = 'e2e-%s' % uuid.uuid4().hex[:8]
        self.templates = self.useFixture(fixtures.TempDir()).path

    def _stack(self, *argv):
        """``openstack stack ...`` as demo; its output as JSON when asked
        for."""
        done = demo.openstack_cli(self.layout, 'aio', 'stack', *argv,
                                  timeout=aio_base.WAIT * 2)
        return json.loads(done.stdout) if '-f' in argv else done.stdout

    def _create(self, template, **parameters):
        path = os.path.join(self.templates, 'template.yaml')
        with open(path, 'w') as f:
            json.dump(template, f)
        self.addCleanup(self._delete_stack)
        argv = ['create', '--wait', '-t', path]
        for name, value in parameters.items():
            argv += ['--parameter', '%s=%s' % (name, value)]
        try:
            self._stack(*argv + [self.stack])
        except subprocess.CalledProcessError as e:
            # --wait ends non-zero on CREATE_FAILED; the stack tells why.
            if 'Stack %s CREATE_FAILED' % self.stack not in e.stderr:
                raise
        return self._stack('show', '-f', 'json', self.stack)

    def _delete_stack(self):
        try:
            self._stack('delete', '--yes', '--wait', self.stack)
        except subprocess.CalledProcessError as e:
            # heatclient prints this one on its standard output.
            if 'could not be found' not in e.stdout:
                raise

    def _output(self, name):
        return self._stack('output', 'show', '-f', 'json', self.stack,
                           name)['output_value']

    def test_nova_server_stack_runs_a_container_and_deletes_it(self):
        stack = self._create(SERVER_TEMPLATE, image='busybox')

        self.assertEqual('CREATE_COMPLETE', stack['stack_status'],
                         stack.get('stack_status_reason'))
        server = self.conn.compute.get_server(self._output('id'))
        self.assertEqual('ACTIVE', server.status)
        container = self._container(server)
        self.assertEqual('running', container.status)
        self.assertEqual(self.conn.image.find_image('busybox').id,
                         container.image.tags[0].split(':')[1])
        self.assertEqual(
            sorted(a['addr'] for a in server.addresses['private']),
            sorted(self._output('addresses')))

        self._stack('delete', '--yes', '--wait', self.stack)

        self.assertIsNone(self.conn.compute.find_server(server.id))
        self.assertEqual([], self.docker.containers.list(
            all=True, filters={'name': 'nova-' + server.id}))

    def test_server_that_exits_at_once_fails_the_stack_with_the_fault(self):
        image, _ = self._upload_image('e2e-heat-exits', ['/bin/false'])

        stack = self._create(SERVER_TEMPLATE, image=image.id)

        self.assertEqual('CREATE_FAILED', stack['stack_status'])
        self.assertIn('exited at once (code 1)',
                      stack['stack_status_reason'])
