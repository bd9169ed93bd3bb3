"""An image in the registry as an archive that ``docker load`` accepts,
built from its manifest's config and layer blobs as they are stored (the
layers stay compressed; the engine decompresses them on load).

The layout is Docker's own (``docker save`` of Docker 25 writes it): the
blobs under ``blobs/sha256/`` and a ``manifest.json`` naming the config
and the layers in order.
"""

import io
import json
import tarfile


def _path(digest):
    algorithm, _, hexdigest = digest.partition(':')
    return 'blobs/%s/%s' % (algorithm, hexdigest)


def _add(tar, name, size, readable):
    member = tarfile.TarInfo(name)
    member.size = size
    member.mode = 0o644
    tar.addfile(member, readable)


def write(fileobj, manifest, open_blob):
    """Writes the archive of an image manifest (schema 2 or OCI) to
    ``fileobj``, streaming each blob from ``open_blob(digest)`` (a
    readable of exactly the descriptor's size)."""
    config = manifest['config']
    layers = manifest['layers']
    index = json.dumps([{
        'Config': _path(config['digest']),
        'RepoTags': [],
        'Layers': [_path(layer['digest']) for layer in layers],
    }]).encode()
    with tarfile.open(fileobj=fileobj, mode='w|') as tar:
        written = set()
        for descriptor in [config] + layers:
            if descriptor['digest'] in written:
                continue
            written.add(descriptor['digest'])
            with open_blob(descriptor['digest']) as blob:
                _add(tar, _path(descriptor['digest']), descriptor['size'],
                     blob)
        _add(tar, 'manifest.json', len(index), io.BytesIO(index))
