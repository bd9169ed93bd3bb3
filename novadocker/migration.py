"""A stopped container's files moved to another host (cold migration and
resize): the source commits the workload container, as a snapshot does,
and pushes the image to ``<project>/nova-migrations:<instance uuid>`` in
``[docker] registry`` with the user's token, so only the layers the
registry lacks travel, between any two hosts that reach it; the
destination pulls it by digest (only the layers its engine lacks) and
creates the container from it.

Both engines name the image ``novadocker-migrated:<instance uuid>``: the
source's goes once the move is confirmed or reverted, the destination's
with the container made from it.
"""

import json

from nova import exception
from nova.i18n import _
from oslo_log import log as logging

from novadocker import conf
from novadocker import distribution
from novadocker import registry

CONF = conf.CONF
LOG = logging.getLogger(__name__)

REPOSITORY = 'novadocker-migrated'


class Unmovable(exception.NovaException):
    msg_fmt = _('The container cannot move to another host: %(reason)s')


def local_name(instance_uuid):
    return '%s:%s' % (REPOSITORY, instance_uuid)


def check_movable(context):
    """Raises Unmovable when there is no registry to move through."""
    if not CONF.docker.registry:
        raise Unmovable(reason=_(
            'its files move through the registry, and [docker] registry is '
            'not set on this host'))
    if not (context.auth_token and context.project_name):
        raise Unmovable(reason=_(
            'the request carries no user token to push to the registry with'))


def send(docker_engine, container, instance, context):
    """Commits the stopped container and pushes its image; what the
    destination needs to pull it (Nova's ``disk_info``)."""
    committed = docker_engine.commit(container, REPOSITORY, instance.uuid)
    remote = '%s/%s/%s' % (CONF.docker.registry, context.project_name,
                           registry.MIGRATIONS)
    digest = docker_engine.push_image(committed, remote, instance.uuid, {
        'username': registry.TOKEN_USER, 'password': context.auth_token})
    LOG.info('Pushed the container\'s files to %(remote)s@%(digest)s',
             {'remote': remote, 'digest': digest}, instance=instance)
    return json.dumps({'repository': remote, 'digest': digest,
                       'image_id': committed.id})


def receive(docker_engine, disk_info, instance, context):
    """Pulls what ``send`` pushed; its local name."""
    moved = json.loads(disk_info)
    distribution.pull_as(docker_engine, moved['repository'], moved['digest'],
                         moved['image_id'], context.auth_token, REPOSITORY,
                         instance.uuid)
    return local_name(instance.uuid)


def forget(docker_engine, instance):
    """Removes this engine's image of the move, once no container uses
    it."""
    docker_engine.remove_image(local_name(instance.uuid))
