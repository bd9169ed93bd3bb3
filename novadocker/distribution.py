"""Images through the registry: boots of images that were pushed there
pull them from it, and snapshots are pushed there too.

The synchronisation (novadocker.registry.sync) records in each Glance image
it makes the registry, repository, manifest digest and image id. When the
registry is the one ``[docker] registry`` names, the engine pulls the
manifest by digest, fetching only the layers it lacks, with the booting
user's Keystone token: the token service grants it only repositories of the
user's own project, so properties a tenant sets on an image of its own
cannot reach another project's. The pulled image must have the recorded
id; on any failure the caller loads the image from Glance instead.

A snapshot is pushed to ``<project>/nova-snapshots:<Glance image id>`` with
the user's token (only its new top layer moves) before its archive goes to
Glance, and its Glance image records that push, so a boot of the snapshot
pulls it like any pushed image. If the push fails, the snapshot is in
Glance only.
"""

from oslo_log import log as logging

from novadocker import conf
from novadocker import engine as engine_mod
from novadocker import registry

CONF = conf.CONF
LOG = logging.getLogger(__name__)


def source(properties):
    """(repository, digest, image id) to pull a Glance image from, or None
    when its properties name no trusted registry."""
    if not CONF.docker.registry or \
            properties.get('docker_registry') != CONF.docker.registry:
        return None
    wanted = (properties.get('docker_repository'),
              properties.get('docker_manifest_digest'),
              properties.get('docker_image_id'))
    if not all(wanted):
        return None
    repository, digest, image_id = wanted
    return '%s/%s' % (CONF.docker.registry, repository), digest, image_id


def pulled(engine, image_id, properties, token):
    """The Glance image pulled from its registry, or None (why is
    logged)."""
    found = source(properties)
    if found is None or not token:
        return None
    repository, digest, expected = found
    reference = '%s@%s' % (repository, digest)
    try:
        image = engine.pull_image(repository, digest, {
            'username': registry.TOKEN_USER, 'password': token})
    except engine_mod.EngineError as e:
        LOG.warning('Could not pull Glance image %(id)s from %(ref)s '
                    '(%(error)s); loading it from Glance instead',
                    {'id': image_id, 'ref': reference, 'error': e})
        return None
    if image.id != expected:
        LOG.warning('Pulling Glance image %(id)s from %(ref)s gave image '
                    '%(got)s, not %(expected)s; loading it from Glance '
                    'instead', {'id': image_id, 'ref': reference,
                                'got': image.id, 'expected': expected})
        engine.remove_image(reference)
        return None
    LOG.info('Pulled Glance image %(id)s from %(ref)s',
             {'id': image_id, 'ref': reference})
    return image


def drop_reference(engine, properties):
    """After the image is tagged for Glance: its repository@digest name
    goes, so removing the Glance tag frees the image."""
    repository, digest, _ = source(properties)
    engine.remove_image('%s@%s' % (repository, digest))


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
