"""End-to-end: the all-in-one's registry (127.0.0.1:5042) with Keystone
logins and its pushes in Glance, through the docker and openstack command
lines as a user runs them."""

import io
import json
import os
import re
import subprocess
import uuid

import docker
import fixtures
import openstack
import requests

from aio import demo
from aio import layout as aio_layout
from aio import processes
from aio import sample_image
from aio import services
from aio.services import keystone
from aio.services import registry
from novadocker.registry import client
from novadocker import image as image_mod
from tests.aio import base as aio_base


class RegistryTest(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.repository = 'e2e-%s' % uuid.uuid4().hex[:8]
        self.local = sample_image.import_busybox(
            self.docker, 'novadocker-e2e/' + self.repository, '1',
            ['sleep', '3600'])
        self.addCleanup(self._forget, self.local)
        # docker login keeps credentials in its config directory: one per
        # user, none in the host's.
        self.configs = self.useFixture(fixtures.TempDir()).path
        self.admin = demo.cloud(self.layout, 'aio-admin')
        self.pushed = []
        self.addCleanup(self._remove_glance_images)

    def _delete_stack(self, name):
        stack = self.conn.orchestration.find_stack(name)
        if stack:
            self.conn.orchestration.delete_stack(stack)
            self.assertTrue(self._until(
                lambda: self.conn.orchestration.find_stack(name) is None,
                interval=0.5))

    def _forget(self, reference):
        try:
            self.docker.images.remove(reference, force=True)
        except docker.errors.ImageNotFound:
            pass

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

    def _push(self, user, reference, source=None):
        """Tags the test's image (or ``source``) as ``reference`` and pushes
        it."""
        self.docker.images.get(source or self.local).tag(reference)
        self.addCleanup(self._forget, reference)
        return self._docker(user, 'push', reference)

    def _pushed(self, user, reference, source=None):
        """Pushes and returns the manifest's digest."""
        pushed = self._push(user, reference, source)
        self.assertEqual(0, pushed.returncode, pushed.stderr)
        digest = re.search(r'digest: (sha256:[0-9a-f]{64})',
                           pushed.stdout).group(1)
        self.pushed.append((digest, reference.rsplit(':', 1)[1]))
        return digest

    def _pushed_by_demo(self):
        """The test's image pushed as demo to demo/<repository>:1, and
        its name there removed from the engine (so pulls fetch it);
        returns the reference and the manifest's digest."""
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        digest = self._pushed('demo', reference)
        self.docker.images.remove(reference)
        return reference, digest

    def _glance_images(self, conn=None, **properties):
        """Images with these properties, hidden ones too."""
        conn = conn or self.conn
        return [image for hidden in ('false', 'true')
                for image in conn.image.get('/images', params=dict(
                    properties, os_hidden=hidden)).json()['images']]

    def _in_glance(self, digest, tag='1'):
        """The active Glance image of a pushed tag, once there."""
        found = []

        def active():
            found[:] = [i for i in self._glance_images(
                self.admin, docker_repository=self._repository('demo'),
                docker_tag=tag, docker_manifest_digest=digest)
                if i['status'] == 'active']
            return found
        if not self._until(active):
            self.fail('no active Glance image of %s:%s (%s) after %d s' % (
                self._repository('demo'), tag, digest, aio_base.WAIT))
        self.assertEqual(1, len(found), found)
        return found[0]

    def _remove_glance_images(self):
        """What the test's pushes made in Glance, once it is there."""
        for tag, digest in dict((tag, digest)
                                for digest, tag in self.pushed).items():
            self._in_glance(digest, tag)
        for image in self._glance_images(
                self.admin, docker_repository=self._repository('demo')):
            self.admin.image.delete_image(image['id'])

    def _repository(self, project):
        return '%s/%s' % (project, self.repository)

    def _reference(self, project, tag='1'):
        return '%s/%s/%s:%s' % (registry.ADDRESS, project, self.repository,
                                tag)

    def test_member_pushes_and_pulls_in_its_project(self):
        reference, _ = self._pushed_by_demo()
        pulled = self._docker('demo', 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        self.assertEqual(self.docker.images.get(self.local).id,
                         self.docker.images.get(reference).id)

    def test_zun_runs_a_pushed_image_with_its_users_registry_login(self):
        reference, digest = self._pushed_by_demo()
        # Zun keeps the user's login to the registry and pulls with it.
        login = json.loads(self._cli(
            'appcontainer', 'registry', 'create', '-f', 'json', '--name',
            self.repository, '--domain', registry.ADDRESS, '--username',
            'demo', '--password', self.layout.secrets['demo']))['uuid']
        self.addCleanup(self._cli, 'appcontainer', 'registry', 'delete',
                        login)
        container = self._run_container(
            '--image-driver', 'docker', '--registry', login,
            image=reference, command=())
        image = self.docker.containers.get('zun-' + container['uuid']).image
        self.assertIn('%s@%s' % (reference.rsplit(':', 1)[0], digest),
                      image.attrs['RepoDigests'])

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
        self._pushed('demo', reference)
        name, password = self._new_user(self.admin.identity.find_project(
            'demo', domain_id='default'), 'reader')
        self._logged_in(name, password)
        self.docker.images.remove(reference)
        pulled = self._docker(name, 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        pushed = self._push(name, self._reference('demo', tag='2'))
        self.assertNotEqual(0, pushed.returncode)
        self.assertIn('denied: requested access to the resource is denied',
                      pushed.stderr)

    def test_nova_service_user_pulls_any_project(self):
        reference, _ = self._pushed_by_demo()
        self._logged_in('nova', self.layout.secrets['service'])
        pulled = self._docker('nova', 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        pushed = self._push('nova', self._reference('demo', tag='3'))
        self.assertNotEqual(0, pushed.returncode)

    def test_other_projects_see_and_pull_only_public_images(self):
        reference, digest = self._pushed_by_demo()
        image = self._in_glance(digest)
        name = 'e2e-other-%s' % uuid.uuid4().hex[:6]
        project = keystone.ensure_project(self.admin, name)
        self.addCleanup(self.admin.identity.delete_project, project)
        user = keystone.ensure_user(self.admin, name, 'secret', project,
                                    ['member'])
        self.addCleanup(self.admin.identity.delete_user, user)
        other = openstack.connect(auth=dict(
            keystone.cloud_auth(self.layout, 'demo'), username=name,
            password='secret', project_name=name), region_name='RegionOne')
        self.assertNotIn(image['id'], [i.id for i in other.image.images()])
        self._logged_in(name, 'secret')
        pulled = self._docker(name, 'pull', reference)
        self.assertIn('denied', pulled.stderr)

        self.admin.image.update_image(image['id'], visibility='public')

        self.assertIn(image['id'], [i.id for i in other.image.images()])
        pulled = self._docker(name, 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        pushed = self._push(name, reference)
        self.assertIn('denied: requested access to the resource is denied',
                      pushed.stderr)

    def test_keystone_token_pulls_its_own_project_only(self):
        reference, _ = self._pushed_by_demo()
        token = demo.openstack_cli(self.layout, 'aio', 'token', 'issue',
                                   '-f', 'value', '-c', 'id').stdout.strip()
        self._logged_in('keystone-token', token)
        pulled = self._docker('keystone-token', 'pull', reference)
        self.assertEqual(0, pulled.returncode, pulled.stderr)
        pushed = self._push('keystone-token', self._reference('admin'))
        self.assertIn('denied: requested access to the resource is denied',
                      pushed.stderr)

    def test_push_becomes_an_image_of_the_project_in_glance(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        digest = self._pushed('demo', self._reference('demo'))
        image = self._in_glance(digest)
        project = self.admin.identity.find_project('demo',
                                                   domain_id='default')
        local = self.docker.images.get(self.local)
        self.assertEqual({
            'name': 'demo/%s_1' % self.repository,
            'status': 'active', 'visibility': 'private',
            'container_format': 'docker', 'disk_format': 'raw',
            'owner': project.id,
            'docker_registry': registry.ADDRESS,
            'docker_repository': self._repository('demo'),
            'docker_tag': '1',
            'docker_manifest_digest': digest,
            'docker_image_id': local.id,
        }, {key: image.get(key) for key in (
            'name', 'status', 'visibility', 'container_format',
            'disk_format', 'owner', 'docker_registry', 'docker_repository',
            'docker_tag', 'docker_manifest_digest', 'docker_image_id')})
        listed = demo.openstack_cli(self.layout, 'aio', 'image', 'list',
                                    '-f', 'value', '-c', 'Name').stdout
        self.assertIn('demo/%s_1' % self.repository, listed.split())
        # What Glance holds is an archive docker load accepts.
        saved = os.path.join(self.configs, 'saved.tar')
        demo.openstack_cli(self.layout, 'aio', 'image', 'save', '--file',
                           saved, image['id'])
        self.docker.images.remove(local.id, force=True)
        self.addCleanup(self._forget, local.id)
        loaded = subprocess.run(['docker', 'load', '-i', saved], check=True,
                                capture_output=True, text=True).stdout
        self.assertIn('Loaded image ID: %s' % local.id, loaded)

    def test_pushed_image_boots_by_its_name(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        image = self._in_glance(self._pushed('demo', self._reference('demo')))
        server_id = demo.openstack_cli(
            self.layout, 'aio', 'server', 'create', '--image',
            'demo/%s_1' % self.repository, '--flavor', 'm1.tiny', '--nic',
            'none', '-f', 'value', '-c', 'id', 'e2e-pushed').stdout.strip()
        server = self.conn.compute.get_server(server_id)
        self.addCleanup(self._delete, server)
        server = self._wait_status(server, 'ACTIVE')
        self.assertEqual(image['id'], server.image.id)
        container = self._container(server)
        self.assertEqual('running', container.status)
        self.assertEqual(['sleep', '3600'], container.attrs['Config']['Cmd'])

    def test_repush_changes_nothing_and_new_content_moves_the_tag(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        first_digest = self._pushed('demo', self._reference('demo'))
        first = self._in_glance(first_digest)
        self.assertEqual(first_digest,
                         self._pushed('demo', self._reference('demo')))
        # One worker applies the registry's events in order: once the
        # next push is in Glance, the repeated one has been handled.
        self._in_glance(self._pushed('demo', self._reference('demo', '2')),
                        '2')
        self.assertEqual([first['id']], [i['id'] for i in self._glance_images(
            docker_repository=self._repository('demo'), docker_tag='1')])

        changed = sample_image.import_busybox(
            self.docker, 'novadocker-e2e/' + self.repository, 'changed',
            ['sleep', '7200'])
        self.addCleanup(self._forget, changed)
        second_digest = self._pushed('demo', self._reference('demo'),
                                     changed)
        self.assertNotEqual(first_digest, second_digest)
        second = self._in_glance(second_digest)
        self.assertEqual('demo/%s_1' % self.repository, second['name'])
        old = self.conn.image.get('/images/' + first['id']).json()
        self.assertEqual('demo/%s@%s' % (
            self.repository, first_digest[len('sha256:'):][:12]),
            old['name'])
        self.assertTrue(old['os_hidden'])
        self.assertNotIn('docker_tag', old)
        # Still bootable by id.
        server = self._boot(self.conn.image.get_image(first['id']),
                            'e2e-superseded')
        self.assertEqual(['sleep', '3600'],
                         self._container(server).attrs['Config']['Cmd'])

    def test_glance_delete_removes_the_manifest_from_the_registry(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        image = self._in_glance(self._pushed('demo', reference))
        self.pushed.clear()
        demo.openstack_cli(self.layout, 'aio', 'image', 'delete',
                           image['id'])
        self.docker.images.remove(reference)

        def gone():
            pulled = self._docker('demo', 'pull', reference)
            return pulled.returncode != 0 and 'not found' in pulled.stderr
        self.assertTrue(self._until(gone, interval=2),
                        '%s still pulls after its Glance image was deleted'
                        % reference)

    def _sync_failures(self):
        with open(self.layout.log('registry-sync')) as log:
            return sum('Could not apply reconcile' in line for line in log)

    @aio_base.alone('stops the registry')
    def test_glance_delete_while_the_registry_is_down_reaches_it(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        image = self._in_glance(self._pushed('demo', reference))
        self.pushed.clear()
        server_registry = services.process(self.layout, 'registry')
        processes.stop(self.layout, server_registry)
        self.addCleanup(processes.wait, self.layout, server_registry)
        self.addCleanup(processes.start, self.layout, server_registry)
        failures = self._sync_failures()
        self.admin.image.delete_image(image['id'])
        self.assertTrue(self._until(
            lambda: self._sync_failures() > failures, interval=1),
            'no reconcile failed with the registry down')

        processes.start(self.layout, server_registry)
        processes.wait(self.layout, server_registry)

        self.assertTrue(self._until(lambda: not self._pulls(reference),
                                    interval=2),
                        '%s still pulls after its Glance image was deleted'
                        % reference)
        self.assertEqual([], self._glance_images(
            self.admin, docker_repository=self._repository('demo')))

    def _pulls(self, reference):
        self._forget(reference)
        pulled = self._docker('demo', 'pull', reference)
        if pulled.returncode == 0:
            return True
        self.assertIn('not found', pulled.stderr)
        return False

    def test_deleting_one_of_two_tags_of_a_manifest(self):
        """The registry deletes a manifest with all its tags, never one
        tag: the deleted tag's image is not made again while the other
        tag's image holds the manifest, a push brings it back, and the
        manifest goes with its last image."""
        self._logged_in('demo', self.layout.secrets['demo'])
        digest = self._pushed('demo', self._reference('demo', '1'))
        self.assertEqual(digest,
                         self._pushed('demo', self._reference('demo', '2')))
        marker = sample_image.import_busybox(
            self.docker, 'novadocker-e2e/' + self.repository, 'marker',
            ['sleep', '7200'])
        self.addCleanup(self._forget, marker)
        marker_digest = self._pushed('demo', self._reference('demo', 'm'),
                                     marker)
        first = self._in_glance(digest, '1')
        second = self._in_glance(digest, '2')
        marker_image = self._in_glance(marker_digest, 'm')
        self.pushed.clear()

        self.admin.image.delete_image(first['id'])
        self.admin.image.delete_image(marker_image['id'])
        # The marker's manifest is deleted by a reconcile that saw both
        # deletions; a push notified after it is applied after it.
        self.assertTrue(self._until(
            lambda: not self._pulls(self._reference('demo', 'm')),
            interval=2))
        third = self._in_glance(
            self._pushed('demo', self._reference('demo', '3')), '3')

        self.assertEqual(
            sorted([second['id'], third['id']]),
            sorted(i['id'] for i in self._glance_images(
                self.admin, docker_repository=self._repository('demo'))))
        self.assertTrue(self._pulls(self._reference('demo', '1')))

        self.assertEqual(digest,
                         self._pushed('demo', self._reference('demo', '1')))
        again = self._in_glance(digest, '1')
        self.assertNotEqual(first['id'], again['id'])
        self.pushed.clear()

        for image in (again, second, third):
            self.admin.image.delete_image(image['id'])
        self.assertTrue(self._until(
            lambda: not self._pulls(self._reference('demo', '2')),
            interval=2), 'the manifest outlived its last Glance image')
        self.assertFalse(self._pulls(self._reference('demo', '1')))

    def test_heat_container_of_a_pushed_reference_runs_it(self):
        # The reference as pushed, 127.0.0.1:5042/demo/<name>:1, in a
        # DockerInc::Docker::Container stack created by demo.
        reference, digest = self._pushed_by_demo()
        image = self._in_glance(digest)
        template = os.path.join(self.configs, 'stack.json')
        with open(template, 'w') as f:
            json.dump({'heat_template_version': '2021-04-16', 'resources': {
                'web': {'type': 'DockerInc::Docker::Container',
                        'properties': {'image': reference,
                                       'networks': [
                                           {'network': 'private'}]}}}}, f)
        stack = self.repository
        self.addCleanup(self._delete_stack, stack)
        try:
            demo.openstack_cli(self.layout, 'aio', 'stack', 'create',
                               '-t', template, stack)
        except subprocess.CalledProcessError as e:
            self.fail(e.stdout + e.stderr)
        # (Not the CLI's --wait, which polls every 5 s.)
        self.assertTrue(self._until(
            lambda: self.conn.orchestration.find_stack(stack).status in (
                'CREATE_COMPLETE', 'CREATE_FAILED'), interval=0.5))
        found = self.conn.orchestration.find_stack(stack)
        self.assertEqual('CREATE_COMPLETE', found.status,
                         found.status_reason)
        server = self.conn.compute.get_server(next(
            self.conn.orchestration.resources(found)).physical_resource_id)
        self.assertEqual(image['id'], server.image['id'])
        self.assertEqual('running', self._container(server).status)
        self.assertEqual(image['docker_image_id'],
                         self._container(server).image.id)

    @aio_base.alone("collects the registry's garbage, which a push "
                    "meanwhile would lose")
    def test_registry_gc_frees_what_deleted_images_held(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        image = self._in_glance(self._pushed('demo', self._reference('demo')))
        self.pushed.clear()
        config = image['docker_image_id'].split(':')[1]
        blob = os.path.join(self.layout.data('registry', 'storage'), 'docker',
                            'registry', 'v2', 'blobs', 'sha256', config[:2],
                            config)
        self.assertTrue(os.path.exists(blob), blob)
        self.admin.image.delete_image(image['id'])
        self.assertTrue(self._until(
            lambda: self._docker('demo', 'pull', self._reference('demo'))
            .returncode != 0, interval=2))

        collected = subprocess.run(
            [os.path.join(self.layout.repo, 'tools', 'aio'), 'registry-gc'],
            capture_output=True, text=True, timeout=120)

        self.assertEqual(0, collected.returncode, collected.stderr)
        self.assertIn('MiB freed', collected.stdout)
        self.assertFalse(os.path.exists(blob))
        self._logged_in('demo', self.layout.secrets['demo'])

    @staticmethod
    def _manifest(user, password, reference):
        """A manifest, read from the registry's API as a user would: a
        token from the token service, then the manifest."""
        repository, tag = reference.split('/', 1)[1].rsplit(':', 1)
        token = requests.get(
            aio_layout.url(registry.TOKEN_PORT, '/token'),
            params={'service': registry.SERVICE,
                    'scope': 'repository:%s:pull' % repository},
            auth=(user, password), timeout=30).json()['token']
        return requests.get(
            'http://%s/v2/%s/manifests/%s' % (registry.ADDRESS, repository,
                                              tag),
            headers={'Authorization': 'Bearer ' + token,
                     'Accept': client.SCHEMA2}, timeout=30).json()

    def _blob_downloads(self, repository, digest):
        """How often the registry served a blob to an engine (its access
        log; the synchronisation reads blobs too)."""
        with open(self.layout.log('registry')) as log:
            return sum(1 for line in log
                       if 'msg="response completed"' in line
                       and 'http.request.method=GET' in line
                       and 'http.request.useragent="docker/' in line
                       and 'uri="/v2/%s/blobs/%s"' % (repository, digest)
                       in line)

    def test_boot_pulls_only_the_layers_the_host_lacks(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        base_ref, top_ref = (self._reference('demo', 'base'),
                             self._reference('demo', 'top'))
        base = self.docker.images.get(sample_image.import_busybox(
            self.docker, base_ref.rsplit(':', 1)[0], 'base', ['sleep', '3600'],
            padding_mib=8))
        top = self.docker.images.build(fileobj=io.BytesIO(
            b'FROM %s\nRUN echo top > /top\n' % base_ref.encode()),
            tag=top_ref, rm=True)[0]
        for reference in (base_ref, top_ref):
            self.addCleanup(self._forget, reference)
            pushed = self._docker('demo', 'push', reference)
            self.assertEqual(0, pushed.returncode, pushed.stderr)
            self.pushed.append((re.search(r'digest: (sha256:[0-9a-f]{64})',
                                          pushed.stdout).group(1),
                                reference.rsplit(':', 1)[1]))
        base_image, top_image = [self._in_glance(*p) for p in self.pushed]
        base_layer, top_layer = [layer['digest'] for layer in self._manifest(
            'demo', self.layout.secrets['demo'], top_ref)['layers']]
        self.docker.images.remove(top.id, force=True)
        self.docker.images.remove(base.id, force=True)
        repository = self._repository('demo')

        self._boot(self.conn.image.get_image(base_image['id']), 'e2e-base')
        self.assertEqual(1, self._blob_downloads(repository, base_layer))
        self._boot(self.conn.image.get_image(top_image['id']), 'e2e-top')

        self.assertEqual(1, self._blob_downloads(repository, base_layer))
        self.assertEqual(1, self._blob_downloads(repository, top_layer))

    def test_snapshot_is_pushed_and_its_boot_pulls_only_the_new_layer(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        reference = self._reference('demo')
        image = self._in_glance(self._pushed('demo', reference))
        base_layer = self._manifest('demo', self.layout.secrets['demo'],
                                    reference)['layers'][0]['digest']
        server = self._boot(self.conn.image.get_image(image['id']),
                            'e2e-snapshot-source')
        self._container(server).exec_run(['sh', '-c', 'echo kept > /kept'])
        snapshot = self.conn.compute.create_server_image(
            server, 'e2e-snapshot', wait=True, timeout=aio_base.WAIT)
        self.addCleanup(self.admin.image.delete_image, snapshot.id,
                        ignore_missing=True)

        properties = self.conn.image.get('/images/' + snapshot.id).json()
        self.assertEqual((registry.ADDRESS, 'demo/nova-snapshots'), (
            properties.get('docker_registry'),
            properties.get('docker_repository')))
        self.docker.images.remove(image_mod.reference(snapshot.id), force=True)
        copy = self._boot(self.conn.image.get_image(snapshot.id),
                          'e2e-snapshot-copy')
        self.assertEqual(b'kept\n', self._container(copy).exec_run(
            ['cat', '/kept']).output)
        # Pulled: the engine asked the registry for the snapshot's
        # manifest, and fetched none of the base's layer.
        with open(self.layout.log('registry')) as log:
            self.assertIn('uri="/v2/demo/nova-snapshots/manifests/%s"' %
                          properties['docker_manifest_digest'], log.read())
        self.assertEqual(0, self._blob_downloads('demo/nova-snapshots',
                                                 base_layer))

    def _restart(self, name):
        process = services.process(self.layout, name)
        processes.stop(self.layout, process)
        processes.start(self.layout, process)
        processes.wait(self.layout, process)

    @aio_base.alone("stops the registry's sync and restarts the registry")
    def test_push_while_the_sync_was_down_reaches_glance(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        sync = services.process(self.layout, 'registry-sync')
        processes.stop(self.layout, sync)
        self.addCleanup(processes.wait, self.layout, sync)
        self.addCleanup(processes.start, self.layout, sync)
        digest = self._pushed('demo', self._reference('demo'))
        # The registry keeps undelivered notifications in memory only: a
        # restart loses them, and only the reconcile finds the push.
        self._restart('registry')
        processes.start(self.layout, sync)
        processes.wait(self.layout, sync)
        self.assertEqual(digest, self._in_glance(digest)[
            'docker_manifest_digest'])

    @aio_base.alone('stops the registry')
    def test_pushed_image_boots_with_the_registry_down(self):
        self._logged_in('demo', self.layout.secrets['demo'])
        image = self._in_glance(self._pushed('demo', self._reference('demo')))
        server_registry = services.process(self.layout, 'registry')
        processes.stop(self.layout, server_registry)
        self.addCleanup(processes.wait, self.layout, server_registry)
        self.addCleanup(processes.start, self.layout, server_registry)
        server = self._boot(self.conn.image.get_image(image['id']),
                            'e2e-registry-down')
        self.assertEqual('running', self._container(server).status)
