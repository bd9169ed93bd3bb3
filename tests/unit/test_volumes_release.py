"""A compute host that goes for good leaves no mount, loop device or
shared mount of its volumes (the all-in-one's wipe and compute remove),
with real mounts and loop devices (no Ceph: a file stands in for the
volume rbd-fuse shows)."""

import os
import shutil
import subprocess
import tempfile

import testtools

from novadocker import volumes


def _run(*argv):
    return subprocess.run(argv, check=True, capture_output=True,
                          text=True).stdout.strip()


def _mounted(path):
    with open('/proc/self/mountinfo') as f:
        return any(line.split()[4].startswith(path) for line in f)


class ReleaseTestCase(testtools.TestCase):

    def test_release_unmounts_volumes_loops_and_the_shared_mount(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        volumes_dir = os.path.join(root, 'volumes')
        rbd = os.path.join(volumes_dir, 'rbd', 'volume-id')
        target = os.path.join(volumes_dir, 'instances', 'server', 'vdb')
        for path in (rbd, target):
            os.makedirs(path)
        _run('mount', '--bind', volumes_dir, volumes_dir)
        _run('mount', '--make-rshared', volumes_dir)
        # The volume's file, on a mount of its own as rbd-fuse's is.
        _run('mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', rbd)
        backing = os.path.join(rbd, 'volume-id')
        with open(backing, 'wb') as f:
            f.truncate(8 * 2 ** 20)
        loop = _run('losetup', '--find', '--show', backing)
        self.addCleanup(subprocess.run, ['losetup', '--detach', loop],
                        capture_output=True)
        _run('mkfs.ext4', '-q', loop)
        _run('mount', loop, target)

        released = volumes.release(volumes_dir)

        # The volume's filesystem (its loop device and rbd-fuse's mount
        # with it), then the shared mount.
        self.assertEqual([target, volumes_dir], released)
        self.assertFalse(_mounted(root))
        self.assertEqual('', _run('losetup', '--associated', backing))
        shutil.rmtree(root)
