"""What a service of the all-in-one declares, in one place.

A service is one module under ``aio/services/``, like DevStack's
``lib/<service>``: a subclass of :class:`Service` naming the services it
starts after, its processes (argv, environment, readiness check), its
configuration files, its databases and one-time set-up, its Keystone user
and catalog entries, and hooks for what outlives its processes. Bring-up,
``status``, ``stop`` and ``wipe`` (aio.commands) are loops over these
descriptions in dependency order.
"""

import dataclasses
import functools
import json
import os
import subprocess
import typing

from aio import layout as aio_layout
from aio import processes
from aio.layout import HOST


@dataclasses.dataclass
class Check:
    """A readiness check: ``test()`` is true once the process serves;
    ``what`` says what it checks, for ``status`` and error messages, and
    ``error`` why its last call failed, if it raised."""
    what: str
    test: typing.Callable[[], bool]
    error: typing.Optional[str] = None

    def __call__(self):
        try:
            self.error = None
            return bool(self.test())
        except Exception as e:
            self.error = '%s: %s' % (type(e).__name__, e)
            return False

    def __str__(self):
        return self.what + (' (last try: %s)' % self.error
                            if self.error else '')


def port_answers(port, host=HOST):
    return Check('answers on %s:%d' % (host, port),
                 functools.partial(processes.port_in_use, host, port))


def loopback_port_answers(host, port):
    """A port on the loopback address of a compute host's network
    namespace (each added host has its own)."""
    return Check('answers on 127.0.0.1:%d%s' % (
        port, '' if host.first else ' in ' + host.namespace),
        lambda: subprocess.run(host.command([
            'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/%d' % port]),
            capture_output=True).returncode == 0)


def unix_socket_answers(path):
    return Check('answers on %s' % path,
                 functools.partial(processes.unix_socket_answers, path))


def http_answers(url):
    return Check('answers HTTP at %s' % url,
                 functools.partial(processes.http_answers, url))


def is_running():
    """For a process with nothing to ask: ready once it runs."""
    return Check('runs', lambda: True)


@dataclasses.dataclass(frozen=True)
class Process:
    name: str
    argv: typing.Sequence[str]
    ready: Check
    env: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Processes (by name), or whole services, that must be ready before
    # this one starts, beyond those its service starts after.
    after: typing.Sequence[str] = ()
    # Run before every start, e.g. to create what the process opens.
    prepare: typing.Optional[typing.Callable[[], None]] = None
    timeout: int = 90
    # A command that asks the process to exit, instead of SIGTERM.
    stop_argv: typing.Sequence[str] = ()
    # Seconds to wait for it to exit before SIGKILL.
    stop_timeout: int = 20
    # Starts tried before bring-up fails: more than one for a process
    # known to hang at start now and then.
    attempts: int = 1


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A catalog entry: the service's public and internal endpoint."""
    name: str
    type: str
    url: str


class Service:
    """The description of one service; subclasses fill it in."""

    name = None
    # Services whose every process is ready before this one's start.
    after = ()
    # Process name -> TCP port it listens on (checked before bring-up).
    ports = {}
    # MariaDB databases, created before the one-time set-up.
    databases = ()
    # The Keystone user the service authenticates as (project service,
    # roles admin and service), and its catalog entries.
    user = None
    catalog = ()
    # What it does for the others: "database" (create_databases(names))
    # for those with databases, "identity" (register(service)) for those
    # with a user or catalog entries.
    provides = ()
    # Whether tools/aio may leave it out (AIO_DISABLED_SERVICES).
    optional = False

    def __init__(self, layout, host=None):
        self.layout = layout
        # For a compute host's services: that host (aio.hosts.ComputeHost),
        # whose state is ``layout``.
        self.host = host
        # The services brought up with it, by name (aio.services.described).
        self.peers = {}

    def preflight(self):
        """Problems that stop a bring-up before anything starts, each a
        sentence that says what to do."""
        return []

    def config_files(self):
        """{file name under etc/<service>/: contents}; rewritten on every
        bring-up."""
        return {}

    def identity(self, conn):
        """What else it needs in Keystone (domains, roles, users) beyond
        its user and catalog entries, made with the admin's connection
        ``conn`` on every bring-up (so idempotent)."""

    def initialize(self):
        """One-time set-up (schemas, keys), after its databases exist;
        later bring-ups skip it once it has finished."""

    def processes(self):
        return []

    def started(self):
        """After every process is ready: what needs them running (each
        bring-up; must be idempotent)."""

    def stopped(self):
        """After its processes stopped: removes what outlives them;
        returns the names of what it removed."""
        return []

    def wipe(self):
        """Before the state directory goes: removes what lives outside it;
        returns the names of what it removed."""
        return []

    # Helpers for the descriptions.

    def etc(self, *name):
        return self.layout.etc(self.name, *name)

    def data(self, *name):
        return self.layout.data(self.name, *name)

    def run(self, argv):
        """Runs a set-up command, its output in log/<service>-setup.log."""
        log_path = self.layout.log(self.name + '-setup')
        with open(log_path, 'ab') as log:
            log.write(b'\n==== %s\n' % ' '.join(argv).encode())
            log.flush()
            code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL,
                                   cwd=self.layout.repo)
        if code:
            raise processes.ServiceFailed(
                self.name, log_path, 'set-up failed (%s exited %d)' % (
                    os.path.basename(argv[0]), code))

    def one_process(self, script):
        """The command line of an oslo.service console script that keeps
        its one worker in its own process (``aio/one_process.py``); -P
        keeps aio/ itself off the service's module path."""
        return [self.layout.bin('python'), '-P',
                os.path.join(self.layout.repo, 'aio', 'one_process.py'),
                script]

    def gunicorn(self, name, module, port, env, threads=4,
                 graceful_timeout=5, argv=()):
        """An API served by gunicorn on the management address; on SIGTERM its
        worker gets ``graceful_timeout`` seconds to finish its requests.
        ``argv`` is what the application module sees as its command line
        (e.g. --config-file, for those that read no environment)."""
        return Process(
            name,
            [self.layout.bin('gunicorn'), '--no-control-socket',
             '--chdir', self.layout.repo,
             '--bind', '%s:%d' % (HOST, port),
             '--workers', '1', '--threads', str(threads),
             # Image uploads and downloads stream for as long as they take.
             '--timeout', '0', '--graceful-timeout', str(graceful_timeout),
             # Longer than clients leave a pooled connection idle
             # (openstacksdk polls every 2 s): at gunicorn's default of
             # 2 s, a reused connection can be closed as the request is
             # sent.
             '--keep-alive', '75',
             '--name', name,
             'aio.wsgi:application(%s)' % ', '.join(
                 json.dumps(arg) for arg in (module,) + tuple(argv))],
            http_answers(aio_layout.url(port, '/')),
            env)

    def privsep_helpers(self, contexts, config_files):
        """Runs each privsep context's daemon as privsep-helper itself:
        all runs as root and there is no sudo. oslo.privsep passes the
        service's --config-file arguments only to its default "sudo
        privsep-helper" command, so they are part of this one."""
        command = ' '.join([self.layout.bin('privsep-helper')] + [
            '--config-file %s' % path for path in config_files])
        return {context: {'helper_command': command} for context in contexts}


def earlier_sqlite_state(described):
    """The problem of a state directory whose service kept a SQLite file,
    as earlier versions of the all-in-one did."""
    path = described.data(described.name + '.db')
    if not os.path.exists(path):
        return []
    return ['%s was made by an earlier version of the all-in-one (%s kept '
            '%s; it now uses MariaDB): run "tools/aio wipe" (it removes '
            'that all-in-one\'s servers, images and networks too), then '
            '"tools/aio"' % (described.layout.state, described.name, path)]


def merged(*configs):
    """Configurations (section -> options) merged, the later ones'
    options winning."""
    result = {}
    for config in configs:
        for section, options in config.items():
            result.setdefault(section, {}).update(options)
    return result


def ini(sections):
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines.extend('%s = %s' % (key, value)
                     for key, value in options.items())
        lines.append('')
    return '\n'.join(lines)
