"""Cinder volumes inside containers, attached and detached while they run.

A Ceph RBD volume reaches this host without the kernel's rbd module:
rbd-fuse shows the volume's image as a file, a loop device makes it a
block device, and its filesystem (XFS, made on its first attach only) is
mounted at ``<volumes_dir>/instances/<uuid>/<device>``. Each container is
made with its instance's directory bound at the server's volume directory
(``[docker] volumes_mount_point``, or the server's ``docker:volumes``
metadata) as a slave of the host's mounts, so a mount made or removed
there later shows in the running container: the volume attached as
/dev/vdb is ``/volumes/vdb`` inside.

Under ``[docker] volumes_dir``, a shared mount (prepare_host):
  instances/<uuid>/<device>  a volume's filesystem, seen by the container
  rbd/<volume id>/            rbd-fuse's mount: one file, the volume

Everything mounted here is found again from the mounts themselves (a
mount's loop device names its backing file, whose directory names the
volume), so nothing is recorded beside them.
"""

import os
import re
import time

from oslo_concurrency import processutils
from oslo_log import log as logging

from novadocker import conf
from novadocker import privsep

CONF = conf.CONF
LOG = logging.getLogger(__name__)

# XFS grows while mounted with CAP_SYS_ADMIN alone; ext4's online growth
# also needs CAP_SYS_RESOURCE.
FILESYSTEM = 'xfs'
# How long rbd-fuse may take to show the volume after it has mounted (it
# connects to the cluster once in the background).
RBD_FUSE_SECONDS = 20
_DEVICE = re.compile(r'^[a-z][a-z0-9]{0,31}$')


class Unattachable(Exception):
    """A volume this host cannot attach; the message says why."""


def device_name(mountpoint):
    """The directory name of the volume Nova attaches at ``mountpoint``
    (``/dev/vdb`` -> ``vdb``)."""
    name = os.path.basename(mountpoint or '')
    if not _DEVICE.match(name):
        raise Unattachable('the device name %r is not one this driver can '
                           'name a directory after (e.g. /dev/vdb)'
                           % mountpoint)
    return name


def _instances_dir():
    return os.path.join(CONF.docker.volumes_dir, 'instances')


def instance_dir(instance_uuid):
    return os.path.join(_instances_dir(), instance_uuid)


def _rbd_dir(volume_id):
    return os.path.join(CONF.docker.volumes_dir, 'rbd', volume_id)


def bind(instance_uuid, mount_point):
    """The ``volumes`` entry of the container's create call: the
    instance's directory at ``mount_point``, a slave of the host's mounts
    (changes under it reach the container, none go back)."""
    return {instance_dir(instance_uuid): {'bind': mount_point,
                                          'mode': 'rw,rslave'}}


def rbd_image(connection_info):
    """(pool, image, user) of a Cinder connection to an RBD volume; any
    other kind is refused with what this driver supports."""
    kind = connection_info.get('driver_volume_type')
    if kind != 'rbd':
        raise Unattachable(
            'volumes of type %r cannot be attached to containers: this '
            'driver attaches Ceph RBD volumes only' % kind)
    data = connection_info['data']
    pool, _, image = data['name'].partition('/')
    if not image:
        raise Unattachable('the RBD volume name %r names no pool'
                           % data['name'])
    return pool, image, data.get('auth_username') or 'admin'


def prepare_host():
    """The volumes directory, as a shared mount, whose mounts propagate
    into containers that bind a directory of it as a slave (the engine
    refuses to start them otherwise)."""
    if not _is_shared(CONF.docker.volumes_dir):
        _make_shared(CONF.docker.volumes_dir)


def _is_shared(path):
    path = os.path.realpath(path)
    return any(shared for point, _, shared in _mounts() if point == path)


def connect(instance_uuid, volume_id, connection_info, mountpoint):
    """Mounts the volume where the instance's container sees it; a
    filesystem is made on the first attach. Idempotent: what is already
    there stays."""
    pool, image, user = rbd_image(connection_info)
    _connect(instance_dir(instance_uuid), device_name(mountpoint),
             _rbd_dir(volume_id), pool, image, user,
             CONF.docker.ceph_conf)


def grow(instance_uuid, volume_id, size):
    """The filesystem of the attached volume grown to ``size`` bytes, which
    Cinder has just given its image, while the container uses it."""
    _grow(instance_dir(instance_uuid), _rbd_dir(volume_id), size)


def disconnect(instance_uuid, mountpoint):
    """Unmounts the volume at ``mountpoint`` (gone from the container at
    once), and its loop device and rbd-fuse go."""
    _disconnect(os.path.join(instance_dir(instance_uuid),
                             device_name(mountpoint)))


def disconnect_all(instance_uuid):
    """Every volume of the instance, and its directory."""
    _disconnect_all(instance_dir(instance_uuid))


def mounted(instance_uuid):
    """The device names of the instance's mounted volumes."""
    prefix = instance_dir(instance_uuid) + '/'
    return sorted(os.path.basename(m) for m in _mount_points()
                  if m.startswith(prefix))


def release(volumes_dir):
    """Every volume mounted under ``volumes_dir`` unmounted, with its loop
    device and rbd-fuse, then the directory's own shared mount: what a
    compute host leaves when it goes for good. Runs in the caller's
    process, as root (the all-in-one's wipe); returns what it unmounted."""
    under = os.path.realpath(volumes_dir) + '/'
    released = _unmount_volumes_under(under + 'instances/')
    for path in [m for m in _mount_points() if m.startswith(under + 'rbd/')]:
        _unmount(path)
        released.append(path)
    while _is_mount(volumes_dir):
        processutils.execute('umount', volumes_dir)
        released.append(volumes_dir)
    return released


# The privileged side: mounts, loop devices and rbd-fuse.

def _mounts():
    """(mount point, source, whether shared) of each mount in this mount
    namespace (/proc/self/mountinfo)."""
    found = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            separator = fields.index('-')
            found.append((
                fields[4].encode().decode('unicode_escape'),
                fields[separator + 2],
                any(o.startswith('shared:')
                    for o in fields[6:separator])))
    return found


def _mount_points():
    return [point for point, _, _ in _mounts()]


def _is_mount(path):
    return os.path.realpath(path) in _mount_points()


@privsep.sys_admin_pctxt.entrypoint
def _make_shared(path):
    os.makedirs(path, exist_ok=True)
    if not _is_mount(path):
        processutils.execute('mount', '--bind', path, path)
    processutils.execute('mount', '--make-rshared', path)


def _loop_of(path):
    """The loop device whose backing file is ``path``, if any."""
    out, _ = processutils.execute('losetup', '--noheadings', '--output',
                                  'NAME', '--associated', path)
    return out.split()[0] if out.split() else None


def _filesystem_of(device):
    out, _ = processutils.execute('blkid', '--probe', '--output', 'value',
                                  '--match-tag', 'TYPE', device,
                                  check_exit_code=[0, 2])
    return out.strip()


def _holds_data(device):
    """Whether the device's first MiB has anything but zeros (a new
    volume reads as zeros)."""
    with open(device, 'rb') as f:
        return any(f.read(2 ** 20))


@privsep.sys_admin_pctxt.entrypoint
def _connect(instance_path, device, rbd_path, pool, image, user, ceph_conf):
    target = os.path.join(instance_path, device)
    if _is_mount(target):
        return
    undo = []
    try:
        backing = os.path.join(rbd_path, image)
        if not _is_mount(rbd_path):
            os.makedirs(rbd_path, exist_ok=True)
            processutils.execute(
                'rbd-fuse', '-c', ceph_conf, '-p', pool, '-r', image,
                rbd_path, env_variables={'CEPH_ARGS': '--id ' + user})
            undo.append(lambda: _unmount(rbd_path))
            deadline = time.monotonic() + RBD_FUSE_SECONDS
            while not os.path.exists(backing):
                if time.monotonic() > deadline:
                    raise Unattachable(
                        'rbd-fuse did not show %s/%s within %d s: the Ceph '
                        'cluster or the key of client.%s is not reachable '
                        'from this host (%s)' % (
                            pool, image, RBD_FUSE_SECONDS, user, ceph_conf))
                time.sleep(0.05)
        loop = _loop_of(backing)
        if loop is None:
            # Direct I/O: the volume's pages are cached once, by the
            # filesystem on the loop device, not a second time as pages of
            # rbd-fuse's file (256 MiB written with fsync: 620 MB/s
            # against 280-490).
            loop, _ = processutils.execute('losetup', '--find', '--show',
                                           '--direct-io=on', backing)
            loop = loop.strip()
            undo.append(lambda: processutils.execute('losetup', '--detach',
                                                     loop))
        filesystem = _filesystem_of(loop)
        if not filesystem:
            if _holds_data(loop):
                raise Unattachable(
                    'volume %s/%s holds data but no filesystem (a volume '
                    'made from an image?); it was left as it is, not '
                    'formatted: attach a volume that is empty or has a '
                    'filesystem' % (pool, image))
            # No discard: it would only punch holes in a new image.
            processutils.execute('mkfs.' + FILESYSTEM, '-q', '-K', loop)
            filesystem = FILESYSTEM
        elif (filesystem == 'ext4'
              and _ext4_bytes(loop) < _device_bytes(loop)):
            # ext4 (made by an earlier release) grows unmounted: mounted,
            # the kernel asks for CAP_SYS_RESOURCE.
            processutils.execute('e2fsck', '-f', '-p', loop,
                                 check_exit_code=[0, 1])
            processutils.execute('resize2fs', loop)
        os.makedirs(target, exist_ok=True)
        # A volume made from a snapshot of another is a copy of its
        # filesystem, UUID included, which XFS refuses to mount twice.
        options = ['-o', 'nouuid'] if filesystem == 'xfs' else []
        processutils.execute('mount', *options, loop, target)
        undo.append(lambda: processutils.execute('umount', target))
        if filesystem == 'xfs':
            # Extended while detached: grown now (nothing when it is not).
            processutils.execute('xfs_growfs', '-d', target)
    except Exception:
        for step in reversed(undo):
            try:
                step()
            except Exception:
                LOG.exception('Could not undo a step of a failed attach')
        if not _is_mount(target):
            _remove_dir(target)
        raise


def _device_bytes(device):
    out, _ = processutils.execute('blockdev', '--getsize64', device)
    return int(out)


def _ext4_bytes(device):
    out, _ = processutils.execute('dumpe2fs', '-h', device)
    fields = dict(line.split(':', 1) for line in out.splitlines()
                  if ':' in line)
    return int(fields['Block count']) * int(fields['Block size'])


@privsep.sys_admin_pctxt.entrypoint
def _grow(instance_path, rbd_path, size):
    target, loop, backing = next(
        ((point, source, _backing_file(source))
         for point, source, _ in _mounts()
         if point.startswith(instance_path + '/')
         and source.startswith('/dev/loop')
         and os.path.dirname(_backing_file(source)) == rbd_path),
        (None, None, None))
    if target is None:
        raise Unattachable('the volume of %s is not mounted under %s' % (
            rbd_path, instance_path))
    # rbd-fuse reads the image's size from Ceph at each look.
    deadline = time.monotonic() + RBD_FUSE_SECONDS
    while os.path.getsize(backing) < size:
        if time.monotonic() > deadline:
            raise Unattachable('rbd-fuse still shows %s at %d bytes after '
                               '%d s, not %d' % (
                                   backing, os.path.getsize(backing),
                                   RBD_FUSE_SECONDS, size))
        time.sleep(0.05)
    processutils.execute('losetup', '--set-capacity', loop)
    filesystem = _filesystem_of(loop)
    if filesystem != 'xfs':
        raise Unattachable(
            'the %s filesystem of %s grows at its next attach, not while '
            'mounted: detach the volume and attach it again' % (
                filesystem, target))
    processutils.execute('xfs_growfs', '-d', target)


def _unmount(path):
    processutils.execute('umount', path)
    _remove_dir(path)


def _remove_dir(path):
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _source_of(mount_point):
    """The device mounted at ``mount_point``."""
    return next((source for point, source, _ in _mounts()
                 if point == mount_point), None)


def _backing_file(loop):
    with open('/sys/block/%s/loop/backing_file'
              % os.path.basename(loop)) as f:
        return f.read().strip()


@privsep.sys_admin_pctxt.entrypoint
def _disconnect(target):
    _unmount_volume(target)


def _unmount_volume(target):
    if not _is_mount(target):
        _remove_dir(target)
        return
    loop = _source_of(target)
    # Read while mounted: a loop device may go with its last user.
    backing = _backing_file(loop) if loop and loop.startswith(
        '/dev/loop') else None
    processutils.execute('umount', target)
    _remove_dir(target)
    if backing is None:
        return
    if os.path.exists('/sys/block/%s/loop' % os.path.basename(loop)):
        processutils.execute('losetup', '--detach', loop)
    rbd_path = os.path.dirname(backing)
    if _is_mount(rbd_path):
        _unmount(rbd_path)


def _unmount_volumes_under(prefix):
    """Every volume whose mount point starts with ``prefix``; returns
    them."""
    targets = sorted((m for m in _mount_points() if m.startswith(prefix)),
                     reverse=True)
    for target in targets:
        _unmount_volume(target)
    return targets


@privsep.sys_admin_pctxt.entrypoint
def _disconnect_all(instance_path):
    _unmount_volumes_under(instance_path + '/')
    _remove_dir(instance_path)
