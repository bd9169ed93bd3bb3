"""Keeps Glance in step with the registry: each tag pushed becomes a Glance
image of the repository's project, and deletions go both ways.

The registry notifies each manifest push and delete (POST /events); one
worker applies them in order. A periodic reconcile compares the whole
registry with Glance, which recovers what was missed while this process or
Glance was down, and carries the deletion of a Glance image to the
registry (the record of which image holds which manifest tells a deleted
image from one never made).

A pushed tag ``demo/web:1`` becomes the image ``demo/web_1`` owned by
project ``demo``, private, ``container_format=docker``, ``disk_format=raw``,
holding an archive ``docker load`` accepts (so boots work with the registry
down) and the properties ``docker_registry``, ``docker_repository``,
``docker_tag``, ``docker_manifest_digest`` and ``docker_image_id``. When the
tag moves to a new manifest, the image that had it is renamed
``<repository>@<12 hex digits of its digest>``, loses ``docker_tag`` and
is hidden: servers and boots by its id keep working.
"""

import functools
import json
import os
import queue
import sqlite3
import sys
import threading
from wsgiref import simple_server

import requests
from oslo_log import log as logging

from novadocker import registry
from novadocker.registry import archive
from novadocker.registry import client
from novadocker.registry import conf
from novadocker.registry import glance
from novadocker.registry import token

LOG = logging.getLogger(__name__)

PUSH, DELETE, RECONCILE = 'push', 'delete', 'reconcile'
PREFIX = 'docker_'


class Record:
    """Which Glance image holds which manifest (SQLite)."""

    def __init__(self, path):
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            'CREATE TABLE IF NOT EXISTS images (image_id TEXT PRIMARY KEY, '
            'repository TEXT NOT NULL, digest TEXT NOT NULL)')
        self._db.commit()

    def add(self, image_id, repository, digest):
        with self._db:
            self._db.execute('INSERT OR REPLACE INTO images VALUES (?, ?, ?)',
                             (image_id, repository, digest))

    def remove(self, image_id):
        with self._db:
            self._db.execute('DELETE FROM images WHERE image_id = ?',
                             (image_id,))

    def all(self):
        return self._db.execute(
            'SELECT image_id, repository, digest FROM images').fetchall()

    def images_of(self, repository, digest):
        return [row[0] for row in self._db.execute(
            'SELECT image_id FROM images WHERE repository = ? AND '
            'digest = ?', (repository, digest))]


def image_name(repository, tag):
    """The Glance name of a tag's image. Not ``repository:tag``: Glance
    reads a colon in a name filter as an operator (``name=in:...``), so no
    client could find such an image by name (``--image``)."""
    return '%s_%s' % (repository, tag)


def superseded_name(repository, digest):
    return '%s@%s' % (repository, digest.split(':', 1)[-1][:12])


class Sync:

    def __init__(self, registry, glance, projects, record, address):
        """``projects(name)`` gives a project's id or None."""
        self.registry = registry
        self.glance = glance
        self._projects = projects
        self.record = record
        self.address = address
        self.queue = queue.Queue()

    # What the registry notifies.

    def notified(self, envelope):
        """Queues the manifest pushes and deletes of a notification."""
        for event in envelope.get('events', []):
            target = event.get('target', {})
            repository = target.get('repository')
            if event.get('action') == PUSH and target.get('tag'):
                self.queue.put((PUSH, repository, target['tag']))
            elif event.get('action') == DELETE and target.get('digest'):
                self.queue.put((DELETE, repository, target['digest']))

    def work(self, stop):
        """Applies what is queued, one at a time, until ``stop`` is set."""
        while not stop.is_set():
            try:
                what = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self.apply(*what)

    def apply(self, action, repository=None, reference=None):
        try:
            if action == PUSH:
                self.pushed(repository, reference)
            elif action == DELETE:
                self.deleted(repository, reference)
            else:
                self.reconcile()
        except requests.ConnectionError as e:
            LOG.warning('Could not apply %s %s %s: %s; the next reconcile '
                        'tries again', action, repository or '',
                        reference or '', e)
        except Exception:
            LOG.exception('Could not apply %s %s %s to Glance; the next '
                          'reconcile tries again', action, repository or '',
                          reference or '')

    # Pushes.

    def pushed(self, repository, tag):
        """The tag's current manifest as an active Glance image."""
        project_name, _, name = repository.partition('/')
        if name == registry.SNAPSHOTS:
            return
        found = self.registry.manifest(repository, tag)
        if found is None:
            return
        digest, manifest = found
        if self._deleted_in_glance(repository, digest):
            return
        tagged = self.glance.images(docker_repository=repository,
                                    docker_tag=tag)
        if any(image.get('docker_manifest_digest') == digest
               and image['status'] == 'active' for image in tagged):
            return
        # Keystone is asked only when there is an image to make.
        project_id = self._projects(project_name)
        if project_id is None:
            LOG.warning('%s:%s names no project (%s); not in Glance',
                        repository, tag, project_name)
            return
        image = self._create(repository, tag, digest, manifest, project_id)
        for old in tagged:
            if old.get('docker_manifest_digest') == digest:
                self.glance.delete(old['id'])
                self.record.remove(old['id'])
            else:
                self._supersede(old, repository)
        LOG.info('%s:%s (%s) is Glance image %s', repository, tag, digest,
                 image['id'])

    def _create(self, repository, tag, digest, manifest, project_id):
        fields = {
            'name': image_name(repository, tag),
            'container_format': 'docker', 'disk_format': 'raw',
            'visibility': 'private', 'owner': project_id,
            PREFIX + 'registry': self.address,
            PREFIX + 'repository': repository,
            PREFIX + 'tag': tag,
            PREFIX + 'manifest_digest': digest,
            PREFIX + 'image_id': manifest['config']['digest'],
        }
        image = self.glance.create(fields)
        try:
            self.glance.upload(image['id'], archive.chunks(
                manifest, lambda blob: self.registry.blob(repository, blob)))
        except Exception:
            self.glance.delete(image['id'])
            raise
        self.record.add(image['id'], repository, digest)
        return image

    def _supersede(self, image, repository):
        self.glance.patch(image['id'], [
            {'op': 'replace', 'path': '/name', 'value': superseded_name(
                repository, image['docker_manifest_digest'])},
            {'op': 'remove', 'path': '/' + PREFIX + 'tag'},
            {'op': 'replace', 'path': '/os_hidden', 'value': True},
        ])

    # Deletes.

    def deleted(self, repository, digest):
        """A manifest deleted in the registry: its Glance images go too,
        unless protected."""
        for image in self.glance.images(docker_repository=repository,
                                        docker_manifest_digest=digest):
            if image.get('protected'):
                LOG.warning('Glance image %s is protected: kept although '
                            'its manifest %s@%s was deleted', image['id'],
                            repository, digest)
                continue
            self.glance.delete(image['id'])
            self.record.remove(image['id'])

    def _deleted_in_glance(self, repository, digest):
        """Whether every Glance image made of this manifest was deleted;
        the manifest is deleted from the registry then."""
        made = self.record.images_of(repository, digest)
        gone = [image_id for image_id in made
                if self.glance.get(image_id) is None]
        for image_id in gone:
            self.record.remove(image_id)
        if not gone or len(gone) < len(made) or self.glance.images(
                docker_repository=repository, docker_manifest_digest=digest):
            return False
        LOG.info('Glance images %s were deleted: deleting %s@%s from the '
                 'registry', ', '.join(gone), repository, digest)
        self.registry.delete_manifest(repository, digest)
        return True

    def reconcile(self):
        """Manifests whose Glance images were all deleted, deleted from the
        registry; every tag of the registry in Glance."""
        for repository, digest in {(repository, digest) for _, repository,
                                   digest in self.record.all()}:
            self._deleted_in_glance(repository, digest)
        for repository in self.registry.repositories():
            if repository.partition('/')[2] == registry.SNAPSHOTS:
                self._snapshots(repository)
                continue
            for tag in self.registry.tags(repository):
                self.apply(PUSH, repository, tag)

    def _snapshots(self, repository):
        """Snapshots whose Glance image (named by the tag) was deleted,
        deleted from the registry."""
        for tag in self.registry.tags(repository):
            if self.glance.get(tag) is not None:
                continue
            found = self.registry.manifest(repository, tag)
            if found:
                LOG.info('Snapshot %s is no longer in Glance: deleting '
                         '%s@%s from the registry', tag, repository,
                         found[0])
                self.registry.delete_manifest(repository, found[0])


def events_application(sync, secret):
    """The WSGI application receiving the registry's notifications."""
    expected = 'Bearer ' + secret

    def application(environ, start_response):
        if environ.get('PATH_INFO') != '/events' or \
                environ['REQUEST_METHOD'] != 'POST':
            start_response('404 Not Found', [])
            return [b'']
        if environ.get('HTTP_AUTHORIZATION') != expected:
            start_response('401 Unauthorized', [])
            return [b'']
        length = int(environ.get('CONTENT_LENGTH') or 0)
        try:
            sync.notified(json.loads(environ['wsgi.input'].read(length)))
        except ValueError:
            start_response('400 Bad Request', [])
            return [b'']
        start_response('200 OK', [])
        return [b'']
    return application


def record_path(state_path):
    os.makedirs(state_path, exist_ok=True)
    return os.path.join(state_path, 'glance-images.sqlite')


def run_forever(sync, server, interval, stop):
    """Serves notifications and applies them, with a reconcile every
    ``interval`` seconds (the first at once), until ``stop`` is set."""
    def reconcile_every():
        while not stop.is_set():
            sync.queue.put((RECONCILE,))
            stop.wait(interval)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=reconcile_every, daemon=True).start()
    sync.work(stop)


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        LOG.debug('events: ' + format, *args)


def main():
    logging.register_options(conf.CONF)
    conf.CONF(sys.argv[1:], project='novadocker')
    logging.setup(conf.CONF, 'novadocker-registry-sync')
    options = conf.CONF.sync
    cloud = glance.connect(conf.CONF)

    @functools.cache
    def domain_id():
        return cloud.identity.find_domain(
            conf.CONF.registry.project_domain_name, ignore_missing=False).id

    def project_id(name):
        project = cloud.identity.find_project(name, domain_id=domain_id())
        return project.id if project else None
    sync = Sync(client.Registry(options.registry_url,
                                token.Signer(conf.CONF.registry)),
                glance.Glance(cloud.image), project_id,
                Record(record_path(options.state_path)),
                options.registry_address)
    server = simple_server.make_server(
        options.listen_host, options.listen_port,
        events_application(sync, options.events_secret),
        handler_class=_QuietHandler)
    LOG.info('Receiving the registry\'s notifications on %s:%d',
             options.listen_host, options.listen_port)
    run_forever(sync, server, options.reconcile_interval, threading.Event())
