"""Glance images in the Docker engine: load on spawn, save on snapshot,
remove when unused.

A Glance image of ``container_format=docker`` holds the output of
``docker save``. A boot brings it into the engine from one source: the
registry the sync pushed it to, when its Glance properties say so
(distribution), or Glance itself, also when that pull fails. Either way it
is then tagged ``glance:<glance image id>`` in the engine, so the Glance id
(not the name inside the tarball) identifies it and a second spawn of the
same image downloads nothing.

Like the libvirt driver's base images, each image this host loads or
snapshots has a file whose modification time is when an instance of the
host last used it (in ``[docker] data_dir``/images); Nova's image cache
manager pass removes the images unused for
``[image_cache] remove_unused_original_minimum_age_seconds``.
"""

import io
import os
import time

from oslo_concurrency import lockutils
from oslo_log import log as logging

from nova import exception
from nova.i18n import _
from nova.image import glance

from novadocker import conf
from novadocker import engine as engine_mod
from novadocker import distribution

CONF = conf.CONF
LOG = logging.getLogger(__name__)

REPOSITORY = 'glance'
UPLOAD_BUFFER = 4 * 1024 * 1024


def reference(image_id):
    return '%s:%s' % (REPOSITORY, image_id)


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = memoryview(b'')

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _GlanceStream(object):
    """Chunks of a Glance download, remembering why the download failed.

    The engine client wraps an error raised while it sends the request body
    into a connection error; this keeps the cause the user must see.
    """

    def __init__(self, chunks):
        self._chunks = chunks
        self.error = None

    def __iter__(self):
        try:
            yield from self._chunks
        except Exception as e:
            self.error = e
            raise


class ImageStore(object):
    def __init__(self, engine):
        self._engine = engine
        self._glance = glance.API()

    @staticmethod
    def check_format(image_meta):
        container_format = image_meta.obj_attr_is_set(
            'container_format') and image_meta.container_format
        if container_format != 'docker':
            raise exception.ImageUnacceptable(
                image_id=image_meta.id,
                reason=_('its container_format is %s, but the Docker '
                         'driver boots only images uploaded with '
                         '--container-format docker (the output of '
                         '"docker save")') % (container_format or 'not set'))

    @staticmethod
    def _use_directory():
        return os.path.join(CONF.docker.data_dir, 'images')

    def _use_file(self, image_id):
        return os.path.join(self._use_directory(), image_id)

    def mark_used(self, image_id):
        path = self._use_file(image_id)
        os.makedirs(self._use_directory(), exist_ok=True)
        with open(path, 'a'):
            os.utime(path)

    def _recorded(self):
        """The images this host loaded, snapshotted or booted."""
        directory = self._use_directory()
        return os.listdir(directory) if os.path.isdir(directory) else []

    def age_out(self, images_in_use, minimum_age):
        """Removes from the engine the images this host recorded that none
        of its instances (``images_in_use``) has used for ``minimum_age``
        seconds. Images it has no record of (another host's sharing the
        engine, or not the driver's) are left alone, and so is an image
        any container was created from."""
        loaded = set(self._engine.tags(REPOSITORY))
        for image_id in self._recorded():
            if image_id not in loaded:
                os.unlink(self._use_file(image_id))
            elif image_id in images_in_use:
                self.mark_used(image_id)
            elif (time.time() - os.path.getmtime(self._use_file(image_id))
                    >= minimum_age and
                    not self._engine.image_in_use(reference(image_id)) and
                    self._engine.remove_image(reference(image_id))):
                LOG.info('Removed image %s from the engine: no instance '
                         'used it for %d s', reference(image_id), minimum_age)
                os.unlink(self._use_file(image_id))

    def ensure_loaded(self, context, image_meta):
        """Load the Glance image into the engine unless it is there already.

        :returns: the engine's reference for the image
        """
        self.check_format(image_meta)
        ref = reference(image_meta.id)
        with lockutils.lock('novadocker-image-%s' % image_meta.id):
            self.mark_used(image_meta.id)
            if self.is_loaded(image_meta.id):
                return ref
            self._fetch(context, image_meta.id)
        LOG.info('Glance image %(id)s is in the engine as %(ref)s',
                 {'id': image_meta.id, 'ref': ref})
        return ref

    def _fetch(self, context, image_id):
        """The engine image, named glance:<id>, from one of two sources:
        the registry the sync pushed it to (distribution), or Glance, also
        when that pull fails."""
        manifest = distribution.manifest_to_pull(self._glance, context,
                                                 image_id)
        if manifest is not None:
            pulled = distribution.pull(self._engine, manifest,
                                       context.auth_token, REPOSITORY)
            if pulled is not None:
                return pulled
        return self._load(context, image_id)

    def is_loaded(self, image_id):
        return self._engine.has_image(reference(image_id))

    def _load(self, context, image_id):
        """The image loaded from Glance, or from its tarball pre-staged in
        [docker] image_cache_dir."""
        staged = None
        if CONF.docker.image_cache_dir:
            staged = os.path.join(CONF.docker.image_cache_dir, image_id)
        if staged and os.path.isfile(staged):
            LOG.debug('Loading image %s from %s', image_id, staged)
            with open(staged, 'rb') as tarball:
                return self._load_stream(image_id, tarball)
        try:
            download = _GlanceStream(self._glance.download(context, image_id))
        except Exception as e:
            raise self._download_failed(image_id, e) from e
        try:
            return self._load_stream(image_id, download)
        except Exception as e:
            if download.error is None:
                raise
            raise self._download_failed(image_id, download.error) from e

    @staticmethod
    def _download_failed(image_id, error):
        return exception.ImageUnacceptable(
            image_id=image_id,
            reason=_('its download from Glance failed: %s') % error)

    def _load_stream(self, image_id, data):
        try:
            images = self._engine.load_image(data, 'load image %s' % image_id)
        except engine_mod.EngineError as e:
            raise exception.ImageUnacceptable(
                image_id=image_id,
                reason=_('the Docker engine could not load it (%s); the '
                         'image data must be a complete "docker save" '
                         'tarball') % e) from e
        if len(images) != 1:
            raise exception.ImageUnacceptable(
                image_id=image_id,
                reason=_('the tarball holds %d images; save exactly one '
                         'image per Glance image') % len(images))
        self._engine.tag_image(images[0], REPOSITORY, image_id)
        return images[0]

    def forget(self, image_id):
        """Remove the engine's tag for a Glance image, if any."""
        try:
            self._engine.remove_image(reference(image_id))
        except engine_mod.EngineError as e:
            LOG.warning('Could not remove image %s: %s', reference(image_id),
                        e)

    def commit(self, container, image_id):
        """Commit the container as the engine image of a Glance snapshot,
        which ages out like a loaded one."""
        committed = self._engine.commit(container, REPOSITORY, image_id)
        self.mark_used(image_id)
        return committed

    def upload(self, context, committed, image_id):
        """Push a committed image to the registry, when there is one, and
        stream its ``docker save`` into Glance."""
        properties = distribution.push_snapshot(self._engine, committed,
                                                image_id, context)
        chunks = self._engine.save_image(committed, reference(image_id))
        data = io.BufferedReader(_ChunkReader(chunks), UPLOAD_BUFFER)
        try:
            self._glance.update(
                context, image_id,
                {'disk_format': 'raw', 'container_format': 'docker',
                 'properties': properties}, data)
        except Exception:
            self.forget(image_id)
            raise
