"""Driver operations against the plain engine operations they wrap.

Run: .venv/bin/python bench/driver_bench.py [--repeat N]
Needs a running Docker engine and /bin/busybox (Debian busybox-static).

Each pair is measured alternately in the same run on the same image, so
machine noise hits both sides alike; the report gives median and spread
(min-max) and the ratio of medians:
  spawn, image loaded       vs  docker create + docker start
  spawn, image not loaded   vs  docker load (local file)
  snapshot                  vs  docker commit + docker save
Glance is replaced by an in-memory image service that streams chunks, so
the figures are the driver's own cost, not Glance's.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import docker
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from nova import config  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova.image import glance  # noqa: E402
from nova import objects  # noqa: E402
from nova.virt import fake  # noqa: E402
from oslo_utils import uuidutils  # noqa: E402

from novadocker import driver as driver_mod  # noqa: E402
from novadocker import engine  # noqa: E402
from novadocker import image as image_mod  # noqa: E402
from novadocker import privsep  # noqa: E402
from tests import base  # noqa: E402

CHUNK = 1024 * 1024


class LocalImageService(object):
    """Stands in for Glance: images are local files, uploads are read."""

    def __init__(self):
        self.files = {}

    def show(self, context, image_id, **kwargs):
        return {'id': image_id, 'container_format': 'docker',
                'disk_format': 'raw', 'status': 'active', 'properties': {}}

    def download(self, context, image_id, data=None, dst_path=None,
                 trusted_certs=None):
        def chunks():
            with open(self.files[image_id], 'rb') as f:
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        return
                    yield chunk
        return chunks()

    def update(self, context, image_id, metadata, data=None,
               purge_props=False):
        while data is not None and data.read(CHUNK):
            pass
        return self.show(context, image_id)


def make_instance(image_id):
    flavor = objects.Flavor(name='m1.bench', memory_mb=128, vcpus=1,
                            root_gb=1, extra_specs={})
    return objects.Instance(
        id=1, uuid=uuidutils.generate_uuid(), hostname='bench',
        project_id='bench', user_id='bench', flavor=flavor, metadata={},
        key_data=None, image_ref=image_id, vm_state='active',
        task_state=None)


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def summary(samples):
    return statistics.median(samples), min(samples), max(samples)


def report(name, ours, theirs, baseline_name, goal):
    o, t = summary(ours), summary(theirs)
    ratio = o[0] / t[0]
    print('%-28s %7.3fs (%.3f-%.3f)  %-28s %7.3fs (%.3f-%.3f)  ratio %.2f '
          '(goal <= %.2f) %s' % (name, o[0], o[1], o[2], baseline_name,
                                 t[0], t[1], t[2], ratio, goal,
                                 'met' if ratio <= goal else 'MISSED'))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--padding-mib', type=int, default=64,
                        help='random bytes added to the image, so loading '
                             'it is not dominated by fixed costs')
    parser.add_argument('--spawn-check-seconds', type=float,
                        help='override [docker] spawn_check_seconds')
    args = parser.parse_args()
    config.parse_args([])
    if args.spawn_check_seconds is not None:
        engine.CONF.set_override('spawn_check_seconds',
                                 args.spawn_check_seconds, group='docker')
    # The tests' volumes directory; the driver's privileged functions run
    # in this process (as root), as in the driver tests.
    engine.CONF.set_override('volumes_dir', base.VOLUMES_DIR, group='docker')
    privsep.sys_admin_pctxt.client_mode = False
    objects.register_all()
    client = base.docker_client()
    images = LocalImageService()
    glance.get_remote_image_service = lambda ctx, ref: (images, ref)
    glance.get_default_image_service = lambda: images
    drv = driver_mod.DockerDriver(fake.FakeVirtAPI())
    drv.init_host('bench')
    ctx = nova_context.get_admin_context()

    workdir = tempfile.mkdtemp(prefix='novadocker-bench-')
    tarball = os.path.join(workdir, 'image.tar')
    with open(tarball, 'wb') as f:
        f.write(base.saved_image(tag='bench', padding_mib=args.padding_mib))
    image_id = uuidutils.generate_uuid()
    images.files[image_id] = tarball
    image_meta = objects.ImageMeta.from_dict(images.show(ctx, image_id))
    print('image: busybox + %d MiB, tarball %.1f MiB; %d runs each; '
          'spawn_check_seconds=%s' % (
              args.padding_mib, os.path.getsize(tarball) / CHUNK,
              args.repeat, engine.CONF.docker.spawn_check_seconds))

    def spawn():
        instance = make_instance(image_id)
        drv.spawn(ctx, instance, image_meta, [], None, {})
        return instance

    def unload():
        for ref in (image_mod.reference(image_id),
                    '%s:bench' % base.TEST_REPOSITORY):
            try:
                client.images.remove(ref, force=True)
            except docker.errors.ImageNotFound:
                pass

    drv.destroy(ctx, spawn(), None)   # warm up, image now loaded
    loaded, create_start = [], []
    for _ in range(args.repeat):
        holder = {}
        loaded.append(timed(lambda: holder.setdefault('i', spawn())))
        drv.destroy(ctx, holder['i'], None)
        kwargs = {'image': image_mod.reference(image_id),
                  'network_mode': 'none', 'mem_limit': 128 * CHUNK,
                  'cpu_shares': 1024, 'detach': True}
        holder = {}
        create_start.append(timed(
            lambda: holder.setdefault('c',
                                      client.containers.create(**kwargs))
            .start()))
        holder['c'].remove(force=True)

    not_loaded, docker_load = [], []
    for _ in range(args.repeat):
        unload()
        holder = {}
        not_loaded.append(timed(lambda: holder.setdefault('i', spawn())))
        drv.destroy(ctx, holder['i'], None)
        unload()
        with open(tarball, 'rb') as f:
            docker_load.append(timed(lambda: client.images.load(f)))

    instance = spawn()
    container = client.containers.get(engine.container_name(instance.uuid))
    container.exec_run(['/bin/sh', '-c', 'echo data > /root/file'])
    snapshots, commit_save = [], []
    for _ in range(args.repeat):
        snap_id = uuidutils.generate_uuid()
        snapshots.append(timed(lambda: drv.snapshot(
            ctx, instance, snap_id, lambda **kw: None)))
        client.images.remove(image_mod.reference(snap_id))

        def commit_and_save():
            committed = container.commit(repository='bench', tag='snap')
            for _chunk in committed.save(named='bench:snap'):
                pass
        commit_save.append(timed(commit_and_save))
        client.images.remove('bench:snap')
    drv.destroy(ctx, instance, None)

    report('spawn, image loaded', loaded, create_start,
           'docker create+start', 1.25)
    report('spawn, image not loaded', not_loaded, docker_load,
           'docker load (local file)', 1.2)
    report('snapshot', snapshots, commit_save, 'docker commit+save', 1.2)
    os.unlink(tarball)
    os.rmdir(workdir)


if __name__ == '__main__':
    main()
