"""Keeps Glance in step with the registry: each tag pushed becomes a Glance
image of the repository's project, and deletions go both ways.

The registry notifies each manifest push and delete (POST /events); one
worker applies them in order. A periodic reconcile compares the whole
registry with Glance, which recovers what was missed while this process or
Glance was down, and carries the deletion of a Glance image to the
registry (the record of which image holds which manifest tells a deleted
image from one never made). The registry deletes a manifest with all its
tags, never one tag: a manifest goes once its last Glance image is deleted,
and until then the tags whose image was deleted stay out of Glance, unless
pushed again.

A pushed tag ``demo/web:1`` becomes the image ``demo/web_1`` owned by
project ``demo``, private, ``container_format=docker``, ``disk_format=raw``,
holding an archive ``docker load`` accepts (so boots work with the registry
down) and the properties ``docker_registry``, ``docker_repository``,
``docker_tag``, ``docker_manifest_digest`` and ``docker_image_id``. When the
tag moves to a new manifest, the image that had it is renamed
``<repository>@<12 hex digits of its digest>``, loses ``docker_tag`` and
is hidden: servers and boots by its id keep working.
"""

import queue

import requests
from oslo_log import log as logging

from novadocker import registry
from novadocker.registry import archive

LOG = logging.getLogger(__name__)

PUSH, FOUND, DELETE, RECONCILE = 'push', 'found', 'delete', 'reconcile'
PREFIX = 'docker_'


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

    def apply(self, action, *arguments):
        try:
            {PUSH: self.pushed, FOUND: self.found, DELETE: self.deleted,
             RECONCILE: self.reconcile}[action](*arguments)
        except requests.ConnectionError as e:
            LOG.warning('Could not apply %s %s: %s; the next reconcile '
                        'tries again', action, ' '.join(arguments), e)
        except Exception:
            LOG.exception('Could not apply %s %s to Glance; the next '
                          'reconcile tries again', action, ' '.join(arguments))

    # Tags.

    def pushed(self, repository, tag):
        """A tag the registry notified as pushed: in Glance, even if an
        earlier push of it was deleted there."""
        found = self._manifest(repository, tag)
        if found is None:
            return
        digest, manifest = found
        self._forget_deleted(repository, digest, pushed_tag=tag)
        self.record.release_tag(repository, tag)
        self._in_glance(repository, tag, digest, manifest)

    def found(self, repository, tag):
        """A tag the reconcile found: in Glance unless its image was
        deleted there. The reconcile has forgotten deleted images and
        withheld their tags before it lists the tags; an image the record
        still holds for this tag was made here and, if Glance no longer
        has it, deleted since: the next reconcile settles it."""
        found = self._manifest(repository, tag)
        if found is None:
            return
        digest, manifest = found
        if self.record.withheld(repository, tag) == digest or tag in {
                made for _, made in self.record.images_of(repository,
                                                          digest)}:
            return
        self._in_glance(repository, tag, digest, manifest)

    def _manifest(self, repository, tag):
        if repository.partition('/')[2] in (registry.SNAPSHOTS,
                                            registry.MIGRATIONS):
            return None
        return self.registry.manifest(repository, tag)

    def _in_glance(self, repository, tag, digest, manifest):
        """The tag's manifest as an active Glance image."""
        tagged = self.glance.images(docker_repository=repository,
                                    docker_tag=tag)
        if any(image.get('docker_manifest_digest') == digest
               and image['status'] == 'active' for image in tagged):
            return
        # Keystone is asked only when there is an image to make.
        project_name = repository.partition('/')[0]
        project_id = self._projects(project_name)
        if project_id is None:
            LOG.warning('%s:%s names no project (%s); not in Glance',
                        repository, tag, project_name)
            return
        image = self._create(repository, digest, manifest, project_id)
        # The tag's name moves only once the new image is active, and is
        # never on two images: a boot by name finds one image or none.
        for old in tagged:
            if old.get('docker_manifest_digest') == digest:
                self.glance.delete(old['id'])
                self.record.remove(old['id'])
            else:
                self._supersede(old, repository)
        self.glance.patch(image['id'], [
            {'op': 'replace', 'path': '/name',
             'value': image_name(repository, tag)},
            {'op': 'add', 'path': '/' + PREFIX + 'tag', 'value': tag},
            {'op': 'replace', 'path': '/os_hidden', 'value': False},
        ])
        self.record.add(image['id'], repository, tag, digest)
        LOG.info('%s:%s (%s) is Glance image %s', repository, tag, digest,
                 image['id'])

    def _create(self, repository, digest, manifest, project_id):
        """An active, hidden image of the manifest, named as superseded
        until it takes its tag."""
        fields = {
            'name': superseded_name(repository, digest), 'os_hidden': True,
            'container_format': 'docker', 'disk_format': 'raw',
            'visibility': 'private', 'owner': project_id,
            PREFIX + 'registry': self.address,
            PREFIX + 'repository': repository,
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
        self.record.add(image['id'], repository, None, digest)
        return image

    def _supersede(self, image, repository):
        self.glance.patch(image['id'], [
            {'op': 'replace', 'path': '/name', 'value': superseded_name(
                repository, image['docker_manifest_digest'])},
            {'op': 'remove', 'path': '/' + PREFIX + 'tag'},
            {'op': 'replace', 'path': '/os_hidden', 'value': True},
        ])
        self.record.untag(image['id'])

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
        self.record.release_manifest(repository, digest)

    def _forget_deleted(self, repository, digest, pushed_tag=None):
        """Forgets the images of this manifest deleted in Glance. The
        registry cannot remove one tag of a manifest, only the manifest
        with all its tags: that is done once no Glance image of it is left
        (and it was not just pushed); until then the deleted images' tags
        are withheld from Glance. Returns whether the manifest was
        deleted."""
        made = self.record.images_of(repository, digest)
        gone = [(image_id, tag) for image_id, tag in made
                if self.glance.get(image_id) is None]
        if not gone:
            return False
        if pushed_tag or len(gone) < len(made) or self.glance.images(
                docker_repository=repository, docker_manifest_digest=digest):
            for image_id, tag in gone:
                self.record.remove(image_id)
                if tag and tag != pushed_tag:
                    self.record.withhold(repository, tag, digest)
            return False
        LOG.info('Glance images %s were deleted: deleting %s@%s from the '
                 'registry', ', '.join(image_id for image_id, _ in gone),
                 repository, digest)
        # Forgotten only once done: if the registry cannot be reached, the
        # next reconcile tries again.
        self.registry.delete_manifest(repository, digest)
        for image_id, _ in gone:
            self.record.remove(image_id)
        self.record.release_manifest(repository, digest)
        return True

    def reconcile(self):
        """Manifests whose Glance images were all deleted, deleted from the
        registry; every other tag of the registry in Glance."""
        for repository, digest in self.record.manifests():
            self._forget_deleted(repository, digest)
        for repository in self.registry.repositories():
            if repository.partition('/')[2] == registry.SNAPSHOTS:
                self._snapshots(repository)
                continue
            if repository.partition('/')[2] == registry.MIGRATIONS:
                continue
            for tag in self.registry.tags(repository):
                self.apply(FOUND, repository, tag)

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
