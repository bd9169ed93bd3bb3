"""Server metadata as the container sees it: each item an environment
variable, except the reserved ``docker:`` keys, which set how the
container's process runs.

- ``docker:cmd``: the command, a JSON list (``["httpd", "-f"]``) or a
  string split as a shell would (``httpd -f``); it replaces the image's
  CMD and its ``os_command_line`` property;
- ``docker:user``: ``user``, ``uid``, ``user:group`` or ``uid:gid`` inside
  the container;
- ``docker:tty``: ``true`` gives the process a terminal (``docker run -t``);
- ``docker:stdin``: ``true`` keeps its standard input open (``-i``);
- ``docker:read_only``: ``true`` makes the root filesystem read-only;
- ``docker:volumes``: the directory where attached volumes appear
  (``/data``: the volume attached as /dev/vdb is ``/data/vdb``), instead
  of the driver's ``[docker] volumes_mount_point``.

They change only what runs inside the container, with the confinement
every container has (no capability, device or mount comes from them), so
any user who may set a server's metadata may set them. They apply when the
container is created: at boot and at rebuild. An unknown ``docker:`` key
or a bad value fails the boot with a message naming the key.
"""

import json
import posixpath
import re
import shlex

from oslo_utils import strutils

PREFIX = 'docker:'
CMD, USER, TTY, STDIN, READ_ONLY, VOLUMES = (
    PREFIX + name for name in ('cmd', 'user', 'tty', 'stdin', 'read_only',
                               'volumes'))
# The kernel's own filesystems: no volume directory over them.
_SYSTEM_DIRS = ('/proc', '/sys', '/dev')
_NAME = r'[A-Za-z0-9_][A-Za-z0-9_.-]*'
_USER = re.compile(r'^%s(:%s)?$' % (_NAME, _NAME))


class Invalid(ValueError):
    """A reserved key unknown or with a bad value; the message names it.
    (No Nova import: Heat's plugin validates templates with this too.)"""


def _invalid(key, value, expected):
    return Invalid('server metadata %s=%r is not %s' % (
        key, value, expected))


def _command(value):
    if value.lstrip().startswith('['):
        try:
            command = json.loads(value)
        except ValueError:
            command = None
        if not (isinstance(command, list) and command and
                all(isinstance(arg, str) for arg in command)):
            raise _invalid(CMD, value, 'a JSON list of strings')
        return command
    try:
        command = shlex.split(value)
    except ValueError:
        command = None
    if not command:
        raise _invalid(CMD, value, 'a command (a JSON list of strings, or '
                                   'words as a shell splits them)')
    return command


def _flag(key, value):
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise _invalid(key, value, 'true or false')


def _user(value):
    if not _USER.match(value):
        raise _invalid(USER, value, 'a user, uid, user:group or uid:gid')
    return value


def _volumes_dir(value):
    normal = posixpath.normpath(value)
    if (not value.startswith('/') or normal != value.rstrip('/') or
            normal == '/' or any(normal == d or normal.startswith(d + '/')
                                 for d in _SYSTEM_DIRS)):
        raise _invalid(VOLUMES, value, 'an absolute directory (not /, '
                                       '/proc, /sys or /dev) without . or ..')
    return normal


_OPTIONS = {
    CMD: lambda value: {'command': _command(value)},
    USER: lambda value: {'user': _user(value)},
    TTY: lambda value: {'tty': _flag(TTY, value)},
    STDIN: lambda value: {'stdin_open': _flag(STDIN, value)},
    READ_ONLY: lambda value: {'read_only': _flag(READ_ONLY, value)},
    # Not an option of the engine's: volumes_mount_point reads it.
    VOLUMES: lambda value: _volumes_dir(value) and {},
}


def environment(metadata):
    return {key: value for key, value in (metadata or {}).items()
            if not key.startswith(PREFIX)}


def create_options(metadata):
    """Keyword arguments of ``containers.create`` from the reserved keys;
    Invalid names a key that is unknown or has a bad value."""
    options = {}
    for key, value in sorted((metadata or {}).items()):
        if not key.startswith(PREFIX):
            continue
        if key not in _OPTIONS:
            raise Invalid('server metadata key %s is not one of %s' % (
                key, ', '.join(sorted(_OPTIONS))))
        options.update(_OPTIONS[key](value))
    return options


def volumes_mount_point(metadata, default):
    """Where the container's attached volumes appear."""
    value = (metadata or {}).get(VOLUMES)
    return _volumes_dir(value) if value else default
