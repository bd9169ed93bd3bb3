"""End-to-end: the all-in-one's registry (127.0.0.1:5042) with Keystone
logins, through the docker command line as a user runs it."""

import os
import subprocess
import uuid

import fixtures

from aio import demo
from aio import sample_image
from aio.services import registry
from tests import aio_base


class RegistryTest(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.repository = 'e2e-%s' % uuid.uuid4().hex[:8]
        self.local = sample_image.import_busybox(
            self.docker, 'novadocker-e2e/' + self.repository, '1',
            ['sleep', '3600'])
        self.addCleanup(self.docker.images.remove, self.local, force=True)
        # docker login keeps credentials in its config directory: one per
        # user, none in the host's.
        self.configs = self.useFixture(fixtures.TempDir()).path

    def _docker(self, user, *argv, password=None):
        return subprocess.run(
            ['docker', '--config', os.path.join(self.configs, user)]
            + list(argv), input=password, capture_output=True, text=True,
            timeout=120)

    def _login(self, user, password):
        return self._docker(user, 'login', registry.ADDRESS, '-u', user,
                            '--password-stdin', password=password)

    def _logged_in(self, user, password):
        done = self._login(user, password)
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertIn('Login Succeeded', done.stdout)

    def _push(self, user, reference):
        """Tags the test's image as ``reference`` and pushes it."""
        self.docker.images.get(self.local).tag(reference)
        self.addCleanup(self.docker.images.remove, reference, force=True)
        return self._docker(user, 'push', reference)

    def _reference(self, project, tag='1'):
        return '%s/%s/%s:%s' % (registry.ADDRESS, project, self.repository,
                                tag)

    def test_member_pushes_and_pulls_in_its_project(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        pushed = self._push('demo', reference)
        self.assertEqual(0, pushed.returncode, pushed.stderr)
        self.assertIn('digest: sha256:', pushed.stdout)
        self.docker.images.remove(reference)
        pulled = self._docker('demo', 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        self.assertEqual(self.docker.images.get(self.local).id,
                         self.docker.images.get(reference).id)

    def test_wrong_password_is_unauthorized(self):
        done = self._login('demo', 'not-the-password')
        self.assertNotEqual(0, done.returncode)
        self.assertIn('unauthorized', done.stderr)
        self.assertIn('Keystone refused user name or password of demo',
                      done.stderr)

    def test_push_into_another_project_is_denied(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        pushed = self._push('demo', self._reference('admin'))
        self.assertNotEqual(0, pushed.returncode)
        self.assertIn('denied: requested access to the resource is denied',
                      pushed.stderr)
        pulled = self._docker('demo', 'pull', self._reference('admin'))
        self.assertNotEqual(0, pulled.returncode)

    def test_reader_pulls_but_cannot_push(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        self.assertEqual(0, self._push('demo', reference).returncode)
        admin = demo.cloud(self.layout, 'aio-admin')
        name, password = 'e2e-reader-%s' % uuid.uuid4().hex[:6], 'secret'
        project = admin.identity.find_project('demo', domain_id='default')
        user = admin.identity.create_user(name=name, password=password,
                                          domain_id='default',
                                          default_project_id=project.id)
        self.addCleanup(admin.identity.delete_user, user)
        admin.identity.assign_project_role_to_user(
            project, user, admin.identity.find_role('reader'))
        self._logged_in(name, password)
        self.docker.images.remove(reference)
        pulled = self._docker(name, 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        pushed = self._push(name, self._reference('demo', tag='2'))
        self.assertNotEqual(0, pushed.returncode)
        self.assertIn('denied: requested access to the resource is denied',
                      pushed.stderr)

    def test_nova_service_user_pulls_any_project(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        self.assertEqual(0, self._push('demo', reference).returncode)
        self.docker.images.remove(reference)
        self._logged_in('nova', self.layout.secrets['service'])
        pulled = self._docker('nova', 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        pushed = self._push('nova', self._reference('demo', tag='3'))
        self.assertNotEqual(0, pushed.returncode)
