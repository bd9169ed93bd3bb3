"""Images through the registry: boots of images that were pushed there
pull them from it, and snapshots are pushed there too.

The synchronisation (novadocker.registry.sync) records in each Glance image
it makes the registry, repository, manifest digest and image id. When the
registry is the one ``[docker] registry`` names, the engine pulls the
manifest by digest, fetching only the layers it lacks, with the booting
user's Keystone token: the token service grants it only repositories of the
user's own project, so properties a tenant sets on an image of its own
cannot reach another project's. The pulled image must have the recorded
id; on any failure the image store (image module) loads the image from
Glance instead.

A snapshot is pushed to ``<project>/nova-snapshots:<Glance image id>`` with
the user's token (only its new top layer moves) before its archive goes to
Glance, and its Glance image records that push, so a boot of the snapshot
pulls it like any pushed image. If the push fails, the snapshot is in
Glance only.
"""

import collections

from oslo_log import log as logging

from novadocker import conf
from novadocker import engine as engine_mod
from novadocker import registry

CONF = conf.CONF
LOG = logging.getLogger(__name__)


class Manifest(collections.namedtuple(
        'Manifest', ['glance_id', 'repository', 'digest', 'image_id'])):
    """Where the sync pushed a Glance image: ``repository`` (with the
    registry's address), the manifest's ``digest`` and the engine's
    ``image_id`` it must give."""

    @property
    def reference(self):
        return '%s@%s' % (self.repository, self.digest)


def manifest_to_pull(glance_api, context, glance_id):
    """The Glance image's manifest in ``[docker] registry``, from the
    properties the sync recorded (Nova's image_meta keeps only those it
    knows); None to load it from Glance: no registry set, no user token
    to pull with, or properties unreadable or naming another registry or
    none."""
    if not (CONF.docker.registry and context.auth_token):
        return None
    try:
        properties = glance_api.get(context, glance_id).get('properties', {})
    except Exception as e:
        LOG.warning('Could not read the properties of Glance image '
                    '%(id)s (%(error)s); loading it from Glance',
                    {'id': glance_id, 'error': e})
        return None
    wanted = (properties.get('docker_repository'),
              properties.get('docker_manifest_digest'),
              properties.get('docker_image_id'))
    if properties.get('docker_registry') != CONF.docker.registry or \
            not all(wanted):
        return None
    repository, digest, image_id = wanted
    return Manifest(glance_id, '%s/%s' % (CONF.docker.registry, repository),
                    digest, image_id)


def pull_as(engine, repository, digest, image_id, token, name, tag):
    """``repository@digest`` pulled with the user's ``token``, checked to
    be the image ``image_id`` and named ``name:tag`` instead, so that
    removing that name frees it. Raises EngineError on any failure."""
    reference = '%s@%s' % (repository, digest)
    image = engine.pull_image(repository, digest, {
        'username': registry.TOKEN_USER, 'password': token})
    if image.id != image_id:
        engine.remove_image(reference)
        raise engine_mod.EngineError(
            action='pull %s' % reference,
            reason='it gave image %s, not %s' % (image.id, image_id))
    engine.tag_image(image, name, tag)
    engine.remove_image(reference)
    return image


def pull(engine, manifest, token, repository):
    """The manifest's image as ``repository:<Glance image id>`` (pull_as);
    None on any failure (why is logged)."""
    try:
        image = pull_as(engine, manifest.repository, manifest.digest,
                        manifest.image_id, token, repository,
                        manifest.glance_id)
    except engine_mod.EngineError as e:
        LOG.warning('Could not pull Glance image %(id)s from %(ref)s '
                    '(%(error)s); loading it from Glance instead',
                    {'id': manifest.glance_id, 'ref': manifest.reference,
                     'error': e})
        return None
    LOG.info('Pulled Glance image %(id)s from %(ref)s',
             {'id': manifest.glance_id, 'ref': manifest.reference})
    return image


def push_snapshot(engine, image, image_id, context):
    """The registry properties of a snapshot's Glance image after pushing
    the committed image, or {} (why is logged)."""
    if not (CONF.docker.registry and context.auth_token and
            context.project_name):
        return {}
    repository = '%s/%s' % (context.project_name, registry.SNAPSHOTS)
    remote = '%s/%s' % (CONF.docker.registry, repository)
    try:
        digest = engine.push_image(image, remote, image_id, {
            'username': registry.TOKEN_USER,
            'password': context.auth_token})
    except engine_mod.EngineError as e:
        LOG.warning('Could not push snapshot %(id)s to %(remote)s '
                    '(%(error)s); it is in Glance only',
                    {'id': image_id, 'remote': remote, 'error': e})
        return {}
    LOG.info('Pushed snapshot %(id)s to %(remote)s@%(digest)s',
             {'id': image_id, 'remote': remote, 'digest': digest})
    return {'docker_registry': CONF.docker.registry,
            'docker_repository': repository,
            'docker_manifest_digest': digest,
            'docker_image_id': image.id}
