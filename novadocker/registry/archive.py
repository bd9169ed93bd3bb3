"""An image in the registry as an archive that ``docker load`` accepts,
streamed from its manifest's config and layer blobs as they are stored
(the layers stay compressed; the engine decompresses them on load).

The layout is Docker's own (``docker save`` of Docker 25 writes it): the
blobs under ``blobs/sha256/`` and a ``manifest.json`` naming the config
and the layers in order. The archive is produced as it is sent, without
a copy on disk. A blob shorter than its descriptor ends the stream with an
error, so the upload fails instead of storing a truncated image; contents
are not hashed again here: the registry checked each digest on push and
``docker load`` checks every layer against the config's diff ids.
"""

import json
import tarfile

BLOCK = tarfile.BLOCKSIZE
CHUNK = 1024 * 1024


class BlobTruncated(Exception):
    pass


def _path(digest):
    algorithm, _, hexdigest = digest.partition(':')
    return 'blobs/%s/%s' % (algorithm, hexdigest)


def _member(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info.tobuf(tarfile.PAX_FORMAT)


def _padding(size):
    return b'\0' * (-size % BLOCK)


def _blob(descriptor, readable):
    remaining = descriptor['size']
    while remaining:
        data = readable.read(min(CHUNK, remaining))
        if not data:
            raise BlobTruncated('blob %s ended %d bytes early' % (
                descriptor['digest'], remaining))
        remaining -= len(data)
        yield data


def chunks(manifest, open_blob):
    """The archive of an image manifest (schema 2 or OCI), in chunks;
    ``open_blob(digest)`` is a context manager giving a readable of the
    blob."""
    config, layers = manifest['config'], manifest['layers']
    written = set()
    for descriptor in [config] + layers:
        if descriptor['digest'] in written:
            continue
        written.add(descriptor['digest'])
        yield _member(_path(descriptor['digest']), descriptor['size'])
        with open_blob(descriptor['digest']) as readable:
            yield from _blob(descriptor, readable)
        yield _padding(descriptor['size'])
    index = json.dumps([{
        'Config': _path(config['digest']),
        'RepoTags': [],
        'Layers': [_path(layer['digest']) for layer in layers],
    }]).encode()
    yield _member('manifest.json', len(index))
    yield index + _padding(len(index))
    # The end of the archive: two zero blocks.
    yield b'\0' * (2 * BLOCK)
