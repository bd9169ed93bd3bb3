"""Busybox images built on this machine: no registry is reachable.

The root filesystem is Debian's static busybox with a link per applet,
imported with ``docker import``.
"""

import io
import json
import os
import subprocess
import tarfile

BUSYBOX = '/bin/busybox'
SAMPLE_REPOSITORY = 'novadocker/busybox'
SAMPLE_PAGE = b'<h1>Served by a Nova instance running on Docker</h1>\n'
# PID 1 ignores SIGTERM unless it traps it: without the trap every stop
# would wait for the engine's kill timeout.
SAMPLE_COMMAND = ['/bin/sh', '-c',
                  "trap 'exit 0' TERM; "
                  "httpd -f -p 80 -h /var/www & wait"]


def _add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def _add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def busybox_rootfs(padding_mib=0, files=None, applets=True):
    """A tarball of busybox, plus ``files`` ({path: bytes}) and, if asked,
    a file of random bytes to make the image bigger; without ``applets``,
    /bin/busybox alone (no /bin/sh)."""
    names = subprocess.run([BUSYBOX, '--list'], check=True,
                           capture_output=True, text=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for directory in ('bin', 'etc', 'root', 'proc', 'sys', 'dev', 'var'):
            _add_dir(tar, directory)
        _add_dir(tar, 'tmp', 0o1777)
        tar.add(BUSYBOX, arcname='bin/busybox')
        for applet in names if applets else ():
            if applet != 'busybox':
                info = tarfile.TarInfo('bin/' + applet)
                info.type = tarfile.SYMTYPE
                info.linkname = 'busybox'
                tar.addfile(info)
        for path, data in (files or {}).items():
            _add_file(tar, path, data)
        if padding_mib:
            _add_file(tar, 'padding', os.urandom(padding_mib * 1024 * 1024))
    return buf.getvalue()


def import_busybox(client, repository, tag, cmd, padding_mib=0, files=None,
                   applets=True):
    """``docker import`` of the busybox root filesystem; returns the ref."""
    client.api.import_image_from_data(
        busybox_rootfs(padding_mib, files, applets), repository=repository,
        tag=tag, changes=['CMD %s' % json.dumps(cmd)])
    return '%s:%s' % (repository, tag)


def import_sample(client):
    """The all-in-one's demo image: a busybox httpd serving one page."""
    return import_busybox(client, SAMPLE_REPOSITORY, 'latest', SAMPLE_COMMAND,
                          files={'var/www/index.html': SAMPLE_PAGE})
