"""Benchmarks of the registry (issue 10); method and results in
docs/benchmarks.md. Needs the all-in-one up (tools/aio).

    .venv/bin/python bench/registry_bench.py [--base-mib 200] [--top-mib 1]
                                             [--repeat 5]

1. Cold boot of an image whose base the host already has: the top image
   (--top-mib of new files on a --base-mib base) pulled from the registry
   (only its top layer moves), against the same image booted from a Glance
   image holding the same archive without the registry's properties (the
   whole archive is loaded). Between boots the engine's copy of the top
   image is removed, so each boot is cold; the two kinds alternate. Before
   that, the engine's part alone: ``docker pull`` of the top image by
   digest against ``docker load`` of the archive from a local file.
2. ``docker push`` of a new --base-mib image until its Glance image is
   active, against the ``docker push`` alone.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import docker

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aio_bench  # noqa: E402
from aio import demo  # noqa: E402
from aio import layout as aio_layout  # noqa: E402
from aio import sample_image  # noqa: E402
from aio.services import registry  # noqa: E402


def _run(*argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True,
                          **kwargs)


def _glance_image(conn, repository, tag, timeout=600):
    """Until the pushed tag's Glance image is active; it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        images = conn.image.get('/images', params={
            'docker_repository': repository, 'docker_tag': tag}).json()
        active = [i for i in images['images'] if i['status'] == 'active']
        if active:
            return active[0]
        time.sleep(0.05)
    raise RuntimeError('%s:%s is not in Glance' % (repository, tag))


def _boot(conn, image_id, flavor):
    start = time.monotonic()
    server = conn.compute.create_server(
        name='bench-registry', image_id=image_id, flavor_id=flavor.id,
        networks='none')
    try:
        aio_bench.wait_active(conn, server)
        return time.monotonic() - start
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=300)


def _forget(client, image_id):
    """The engine loses the Glance image (the next boot is cold)."""
    try:
        client.images.remove('glance:' + image_id, force=True)
    except docker.errors.ImageNotFound:
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--base-mib', type=int, default=200)
    parser.add_argument('--top-mib', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    conn = demo.cloud(layout, 'aio')
    client = docker.from_env(timeout=600)
    flavor = conn.compute.find_flavor('m1.tiny')
    config = tempfile.mkdtemp()
    _run('docker', '--config', config, 'login', registry.ADDRESS, '-u',
         'demo', '--password-stdin', input=layout.secrets['demo'])
    name = 'bench-%s' % uuid.uuid4().hex[:6]
    repository = 'demo/' + name
    remote = '%s/%s' % (registry.ADDRESS, repository)
    made = []
    try:
        base = sample_image.import_busybox(client, remote, 'base',
                                           ['sleep', '3600'],
                                           padding_mib=args.base_mib)
        top_file = os.urandom(args.top_mib * 2**20)
        with tempfile.TemporaryDirectory() as context:
            with open(os.path.join(context, 'top'), 'wb') as f:
                f.write(top_file)
            with open(os.path.join(context, 'Dockerfile'), 'w') as f:
                f.write('FROM %s\nCOPY top /top\n' % base)
            client.images.build(path=context, tag=remote + ':top', rm=True)
        for tag in ('base', 'top'):
            _run('docker', '--config', config, 'push', '%s:%s' % (remote, tag))
        base_image = _glance_image(conn, repository, 'base')
        top_image = _glance_image(conn, repository, 'top')
        made += [base_image['id'], top_image['id']]
        # The same archive, as a plain upload: boots load it whole.
        archive = tempfile.NamedTemporaryFile()
        _run(layout.bin('openstack'), '--os-cloud', 'aio', 'image',
             'save', '--file', archive.name, top_image['id'],
             env=dict(os.environ, OS_CLIENT_CONFIG_FILE=layout.clouds_yaml))
        plain = conn.image.create_image(
            name='bench-plain-' + name, container_format='docker',
            disk_format='raw', filename=archive.name, wait=True)
        made.append(plain.id)
        # The host has the base, as pulled by a boot.
        client.images.remove(remote + ':top', force=True)
        client.images.remove(remote + ':base', force=True)
        _boot(conn, base_image['id'], flavor)

        # What the engine does in each case, alone.
        by_digest = '%s@%s' % (remote, top_image['docker_manifest_digest'])
        engine = {'docker pull (top layer)': [], 'docker load (archive)': []}
        for _ in range(args.repeat):
            for kind, argv in (
                    ('docker pull (top layer)',
                     ['docker', '--config', config, 'pull', by_digest]),
                    ('docker load (archive)',
                     ['docker', 'load', '-i', archive.name])):
                start = time.monotonic()
                _run(*argv)
                engine[kind].append(time.monotonic() - start)
                client.images.remove(top_image['docker_image_id'],
                                     force=True)
        archive.close()
        for kind, each in engine.items():
            print('%s, base on the host: median %.2f s (min %.2f, max %.2f)'
                  % (kind, statistics.median(each), min(each), max(each)))
        print('ratio docker pull / docker load: %.2f' % (
            statistics.median(engine['docker pull (top layer)'])
            / statistics.median(engine['docker load (archive)'])))

        times = {'pull (top layer)': [], 'Glance archive': []}
        for _ in range(args.repeat):
            for kind, image_id in (('pull (top layer)', top_image['id']),
                                   ('Glance archive', plain.id)):
                _forget(client, image_id)
                times[kind].append(_boot(conn, image_id, flavor))
        for kind, each in times.items():
            print('cold boot, %d MiB base on the host, %d MiB top, %s: '
                  'median %.2f s (min %.2f, max %.2f)' % (
                      args.base_mib, args.top_mib, kind,
                      statistics.median(each), min(each), max(each)))
        print('ratio pull / Glance archive: %.2f' % (
            statistics.median(times['pull (top layer)'])
            / statistics.median(times['Glance archive'])))

        pushes, to_glance = [], []
        for i in range(3):
            tag = 'fresh%d' % i
            sample_image.import_busybox(client, remote, tag, ['true'],
                                        padding_mib=args.base_mib)
            start = time.monotonic()
            _run('docker', '--config', config, 'push', '%s:%s' % (remote, tag))
            pushes.append(time.monotonic() - start)
            made.append(_glance_image(conn, repository, tag)['id'])
            to_glance.append(time.monotonic() - start)
            client.images.remove('%s:%s' % (remote, tag), force=True)
        print('docker push of a new %d MiB image: median %.2f s; until '
              'active in Glance: median %.2f s; ratio %.2f' % (
                  args.base_mib, statistics.median(pushes),
                  statistics.median(to_glance),
                  statistics.median(to_glance) / statistics.median(pushes)))
    finally:
        for image_id in made:
            conn.image.delete_image(image_id, ignore_missing=True)
            _forget(client, image_id)
        for tag in ('base', 'top'):
            try:
                client.images.remove('%s:%s' % (remote, tag), force=True)
            except docker.errors.ImageNotFound:
                pass


if __name__ == '__main__':
    main()
