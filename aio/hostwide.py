"""What an all-in-one makes outside its state directory, in the host's
shared name spaces: network namespaces and the veths into them.

Each such resource is recorded in its state directory (``hostwide.json``)
when made, and marked on the host with its owner: the alias of its link
names the state directory. ``stop`` and ``wipe`` remove only what their
own record lists *and* the host marks as theirs, so a second state
directory (a test's temporary one, another clone's, another compute host
of this machine) never removes another's, even under the same name.
"""

import json
import os
import subprocess
import threading

from aio import layout as aio_layout
from aio import processes

MARK_PREFIX = 'novadocker-aio:'
NETNS_DIR = '/run/netns'


class Taken(Exception):
    """The name is held by another all-in-one that is running."""


def _ip(*argv):
    return subprocess.run(('ip',) + argv, check=True, capture_output=True,
                          text=True).stdout


def mark(layout):
    return MARK_PREFIX + layout.state


def namespace_exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def link(name, namespace=None):
    """What ``ip -j link show`` says of a link (flags, ifalias...); None
    if there is no such link or namespace."""
    argv = ('-j',) + (('-n', namespace) if namespace else ()) + (
        'link', 'show', 'dev', name)
    try:
        found = json.loads(_ip(*argv) or '[]')
    except subprocess.CalledProcessError:
        return None
    return found[0] if found else None


def link_alias(name, namespace=None):
    """The alias of a link (None if there is no such link or namespace;
    '' if it has none)."""
    found = link(name, namespace)
    return found.get('ifalias', '') if found else None


def set_alias(layout, name, namespace=None):
    _ip(*(('-n', namespace) if namespace else ()),
        'link', 'set', 'dev', name, 'alias', mark(layout))


def owner(name, namespace=None):
    """The state directory that marked the link, or None."""
    alias = link_alias(name, namespace)
    if alias and alias.startswith(MARK_PREFIX):
        return alias[len(MARK_PREFIX):]
    return None


# Services start and stop in parallel threads.
_record_lock = threading.Lock()


class Record:
    """The host-wide resources one state directory made."""

    def __init__(self, layout):
        self.layout = layout
        self.path = os.path.join(layout.state, 'hostwide.json')

    def _read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return []

    def _write(self, entries):
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(entries, f)
        os.replace(tmp, self.path)

    def add(self, kind, name):
        with _record_lock:
            entries = self._read()
            if [kind, name] not in entries:
                self._write(entries + [[kind, name]])

    def discard(self, kind, name):
        with _record_lock:
            entries = self._read()
            if [kind, name] in entries:
                self._write([e for e in entries if e != [kind, name]])

    def lists(self, kind, name):
        return [kind, name] in self._read()


def runs(state):
    """Whether the all-in-one of that state directory runs anything."""
    return processes.any_running(aio_layout.Layout('', state))


def check_owner(layout, what, holder):
    """Raises Taken if ``what`` (a description) is held by another
    all-in-one that is running; one whose processes are all gone (its
    machine rebooted, its processes killed) holds nothing."""
    if holder and holder != layout.state and runs(holder):
        raise Taken(
            'the %s belongs to the all-in-one in %s, which is running: stop '
            'that one first (AIO_STATE=%s tools/aio stop)' % (
                what, holder, holder))


def check_namespace(layout, name, marker_link):
    """Raises Taken if the namespace ``name`` exists and belongs to
    another running all-in-one (its owner is the mark on ``marker_link``
    inside it). Returns the owner."""
    holder = owner(marker_link, name) if namespace_exists(name) else None
    check_owner(layout, 'namespace ' + name, holder)
    return holder


def claim_namespace(layout, name, marker_link):
    """Before making the namespace ``name``: takes over one that exists
    but whose owner is unknown (an earlier version's) or not running,
    deleting it; raises Taken if a running all-in-one owns it. Returns
    whether it still exists (as this state's own)."""
    if not namespace_exists(name):
        return False
    if check_namespace(layout, name, marker_link) == layout.state:
        return True
    _ip('netns', 'delete', name)
    return False


def _remove_recorded(layout, kind, name, exists, holder, delete_argv,
                     still_exists):
    """Runs ``ip delete_argv`` if this state's record lists the resource,
    it ``exists`` and the host does not mark it as another's (``holder``
    is the mark's owner, None without a mark); forgets the record either
    way. Returns whether it deleted it. One that went meanwhile
    (``still_exists()`` false: a veth whose peer's namespace the kernel
    was tearing down) is not an error."""
    record = Record(layout)
    if not record.lists(kind, name):
        return False
    removed = exists and holder in (None, layout.state)
    if removed:
        try:
            _ip(*delete_argv)
        except subprocess.CalledProcessError:
            if still_exists():
                raise
    record.discard(kind, name)
    return removed


def remove_namespace(layout, name, marker_link):
    """Deletes the namespace (and every link in it) if it is this
    state's: see _remove_recorded."""
    exists = namespace_exists(name)
    return _remove_recorded(
        layout, 'netns', name, exists,
        owner(marker_link, name) if exists else None,
        ('netns', 'delete', name), lambda: namespace_exists(name))


def remove_link(layout, name):
    """Deletes the link (of this namespace) if it is this state's: see
    _remove_recorded."""
    return _remove_recorded(layout, 'link', name, link(name) is not None,
                            owner(name), ('link', 'delete', 'dev', name),
                            lambda: link(name) is not None)
