"""The registry side's pure parts, as tables: scopes, the actions roles
grant, the token the registry verifies (no Keystone), and which
notifications the synchronisation acts on."""

import base64
import contextlib
import hashlib
import io
import json
import tarfile
import types

from cryptography import x509
from cryptography.hazmat.primitives import serialization
import fixtures
import jwt
from oslo_config import cfg
import testtools

from aio import layout as aio_layout
from aio.services import registry as aio_registry
from novadocker.registry import archive
from novadocker.registry import conf
from novadocker.registry import record as sync_record
from novadocker.registry import signer
from novadocker.registry import sync
from novadocker.registry import token


class ScopeTestCase(testtools.TestCase):

    def test_parse(self):
        table = [
            (['repository:demo/web:push,pull'],
             [('repository', 'demo/web', {'push', 'pull'}, 'demo')]),
            # A cross-repository mount asks two scopes in one parameter.
            (['repository:demo/b:push,pull repository:demo/a:pull'],
             [('repository', 'demo/b', {'push', 'pull'}, 'demo'),
              ('repository', 'demo/a', {'pull'}, 'demo')]),
            (['repository:demo/team/web:pull'],
             [('repository', 'demo/team/web', {'pull'}, 'demo')]),
            # No project: nothing can be granted.
            (['repository:web:pull'], [('repository', 'web', {'pull'},
                                        None)]),
            (['repository:demo/:pull'], [('repository', 'demo/', {'pull'},
                                          None)]),
            (['registry:catalog:*'], [('registry', 'catalog', {'*'}, None)]),
            ([], []),
        ]
        for values, expected in table:
            self.assertEqual(expected, [
                (s.type, s.name, set(s.actions), s.project)
                for s in token.Scope.parse_all(values)], values)


class RepositoryActionsTestCase(testtools.TestCase):

    def test_roles(self):
        options = types.SimpleNamespace(push_roles=['member', 'admin'],
                                        pull_roles=['reader'],
                                        service_roles=['service'])
        both, pull, push = {'push', 'pull'}, {'pull'}, {'push'}
        table = [
            # requested, roles in the repository's project, in its own
            (both, {'member', 'reader'}, {'member'}, both),
            (both, {'admin'}, set(), both),
            (both, {'reader'}, {'reader'}, pull),
            (push, {'reader'}, set(), set()),
            (pull, {'reader'}, set(), pull),
            # No role in that project (another project's repository).
            (both, set(), {'member', 'reader'}, set()),
            (pull, set(), {'member'}, set()),
            # Nova's service user: pulls anything, pushes nothing.
            (both, set(), {'admin', 'service'}, pull),
            ({'delete'}, {'admin'}, {'admin'}, set()),
        ]
        for requested, project_roles, own_roles, expected in table:
            self.assertEqual(expected, token.repository_actions(
                requested, project_roles, own_roles, options),
                (requested, project_roles, own_roles))


class TokenTestCase(testtools.TestCase):

    def test_token_verifies_with_the_certificate(self):
        layout = aio_layout.Layout(
            '/nonexistent', self.useFixture(fixtures.TempDir()).path)
        described = aio_registry.Registry(layout)
        described.initialize()
        options = cfg.ConfigOpts()
        options.register_opts(conf.registry_opts, group='registry')
        options.set_override('signing_key', described.signing_key,
                             'registry')
        options.set_override('signing_certificate',
                             described.signing_certificate, 'registry')
        options([], default_config_files=[])
        access = [{'type': 'repository', 'name': 'demo/web',
                   'actions': ['pull', 'push']}]

        issued = signer.Signer(options.registry).token('demo', access)

        with open(described.signing_certificate, 'rb') as f:
            certificate = x509.load_pem_x509_certificate(f.read())
        self.assertEqual(issued['token'], issued['access_token'])
        self.assertEqual(300, issued['expires_in'])
        header = jwt.get_unverified_header(issued['token'])
        self.assertEqual('RS256', header['alg'])
        self.assertEqual([base64.b64encode(certificate.public_bytes(
            serialization.Encoding.DER)).decode()], header['x5c'])
        claims = jwt.decode(issued['token'], certificate.public_key(),
                            algorithms=['RS256'],
                            audience='novadocker-registry',
                            issuer='novadocker-token')
        self.assertEqual('demo', claims['sub'])
        self.assertEqual(access, claims['access'])
        self.assertEqual(300, claims['exp'] - claims['iat'])
        # The registry (distribution 2.8) decodes only a single audience.
        self.assertIsInstance(claims['aud'], str)


class NotificationsTestCase(testtools.TestCase):

    def test_events_queued(self):
        digest = 'sha256:' + 'a' * 64
        manifest = 'application/vnd.docker.distribution.manifest.v2+json'
        table = [
            ({'action': 'push', 'target': {
                'mediaType': manifest, 'repository': 'demo/web',
                'digest': digest, 'tag': '1'}},
             [('push', 'demo/web', '1')]),
            # A push by digest only: no tag to name an image after.
            ({'action': 'push', 'target': {
                'mediaType': manifest, 'repository': 'demo/web',
                'digest': digest}}, []),
            ({'action': 'delete', 'target': {
                'repository': 'demo/web', 'digest': digest}},
             [('delete', 'demo/web', digest)]),
            # Deleting a tag alone leaves the manifest and its image.
            ({'action': 'delete', 'target': {
                'repository': 'demo/web', 'tag': '1'}}, []),
            ({'action': 'mount', 'target': {
                'repository': 'demo/web', 'digest': digest}}, []),
        ]
        for event, expected in table:
            synchronisation = sync.Sync(None, None, None, None, None)
            synchronisation.notified({'events': [event]})
            queued = []
            while not synchronisation.queue.empty():
                queued.append(synchronisation.queue.get())
            self.assertEqual(expected, queued, event)


class FoundTagTestCase(testtools.TestCase):
    """What the reconcile does with a tag it lists, by what the record
    holds; the registry and Glance stand in (the race where a Glance image
    is deleted between the reconcile's two passes is not reproducible on
    demand)."""

    def test_found_tag_made_only_when_never_made_or_withheld(self):
        digest = 'sha256:' + 'b' * 64
        table = [
            # (record's images of the manifest, withheld tag, made?)
            ([], None, True),
            # Made here, then deleted in Glance after the reconcile's
            # first pass: the next reconcile settles it.
            ([('image-1', 'm')], None, False),
            ([('image-1', '1')], None, True),
            ([], 'm', False),
        ]
        for made, withheld, expected in table:
            record = sync_record.Record(':memory:')
            for image_id, tag in made:
                record.add(image_id, 'demo/web', tag, digest)
            if withheld:
                record.withhold('demo/web', withheld, digest)
            created = []
            synchronisation = sync.Sync(
                types.SimpleNamespace(
                    manifest=lambda repository, tag: (digest, {})),
                None, None, record, None)
            synchronisation._in_glance = (
                lambda *arguments: created.append(arguments))
            synchronisation.found('demo/web', 'm')
            self.assertEqual(expected, bool(created), (made, withheld))


class ArchiveTestCase(testtools.TestCase):

    @staticmethod
    def _descriptor(data):
        return {'digest': 'sha256:' + hashlib.sha256(data).hexdigest(),
                'size': len(data)}

    def _manifest(self, blobs):
        config, *layers = [self._descriptor(b) for b in blobs]
        return {'config': config, 'layers': layers}

    @staticmethod
    def _opener(blobs):
        by_digest = {'sha256:' + hashlib.sha256(b).hexdigest(): b
                     for b in blobs}
        return lambda digest: contextlib.closing(io.BytesIO(
            by_digest[digest]))

    def test_docker_archive_layout(self):
        blobs = [b'{"config": true}', b'layer one' * 100, b'layer two']
        manifest = self._manifest(blobs)
        # A layer listed twice is stored once.
        manifest['layers'].append(manifest['layers'][0])
        data = b''.join(archive.chunks(manifest, self._opener(blobs)))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            index = json.load(tar.extractfile('manifest.json'))
            stored = {m.name: tar.extractfile(m).read()
                      for m in tar.getmembers() if m.name.startswith('blobs')}
        paths = ['blobs/sha256/' + hashlib.sha256(b).hexdigest()
                 for b in blobs]
        self.assertEqual([{'Config': paths[0], 'RepoTags': [],
                           'Layers': paths[1:] + paths[1:2]}], index)
        self.assertEqual(dict(zip(paths, blobs)), stored)
        self.assertEqual(0, len(data) % tarfile.BLOCKSIZE)

    def test_short_blob_ends_the_stream(self):
        blobs = [b'config', b'layer']
        manifest = self._manifest(blobs)
        short = {manifest['config']['digest']: b'config',
                 manifest['layers'][0]['digest']: b'lay'}
        self.assertRaises(archive.BlobTruncated, b''.join, archive.chunks(
            manifest, lambda d: contextlib.closing(io.BytesIO(short[d]))))
