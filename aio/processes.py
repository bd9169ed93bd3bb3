"""Starting, watching and stopping the all-in-one's processes.

Each process is the leader of its own session and is known by its pid file
(pid and start time, so a recycled pid is never signalled). Stopping
signals that process group and nothing else.
"""

import datetime
import errno
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

# The processes this one started, so that their exit codes can be read.
_children = {}


class ServiceFailed(Exception):
    def __init__(self, service, log, reason):
        super().__init__('%s %s; read %s' % (service, reason, log))
        self.service = service
        self.log = log


def port_in_use(host, port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def port_free(host, port):
    """Whether a server could listen on the port. (Connecting instead
    would be wrong where nothing listens: a connection to a port of the
    ephemeral range can get that port as its own and connect to itself.)
    Before the address exists, it asks whether the port is free on every
    address."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL and host != '0.0.0.0':
                return port_free('0.0.0.0', port)
            return False
    return True


def unix_socket_answers(path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(path) == 0


def _start_time(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            # The command name (field 2) may contain spaces; it ends at ')'.
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def running_pid(layout, name):
    """The pid of the service if the process its pid file names is alive."""
    try:
        with open(layout.pidfile(name)) as f:
            pid, started = f.read().split()
        pid = int(pid)
    except (OSError, ValueError):
        return None
    if _start_time(pid) != started:
        return None
    return pid if _any_thread_alive(pid) else None


def any_running(layout):
    """Whether any process of this state directory's pid files is alive."""
    try:
        names = os.listdir(os.path.join(layout.state, 'run'))
    except OSError:
        return False
    return any(running_pid(layout, name[:-len('.pid')])
               for name in names if name.endswith('.pid'))


def _any_thread_alive(pid):
    """False once every thread has exited. A process whose main thread has
    exited shows as a zombie while its other threads still run and hold
    its files (a server's listening socket among them)."""
    try:
        tasks = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return False
    for task in tasks:
        try:
            with open('/proc/%d/task/%s/stat' % (pid, task)) as f:
                if f.read().rsplit(')', 1)[1].split()[0] not in 'ZX':
                    return True
        except (OSError, IndexError):
            continue
    return False


def start(layout, process):
    """Starts the process unless it already runs; returns its pid.

    It runs in its own data directory, where crash dumps land.
    """
    name, argv = process.name, process.argv
    pid = running_pid(layout, name)
    if pid:
        return pid
    os.makedirs(layout.data(name), exist_ok=True)
    log = open(layout.log(name), 'ab')
    log.write(b'\n==== %s starting: %s\n' % (
        time.strftime('%F %T').encode(), ' '.join(argv).encode()))
    log.flush()
    # glibc gives each thread that allocates an arena of its own (up to 8
    # per core), which keeps what it frees: the services' Python processes
    # run dozens of threads.
    env = dict(os.environ, MALLOC_ARENA_MAX='2', **process.env)
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            cwd=layout.data(name), env=env)
    except OSError as e:
        raise ServiceFailed(name, layout.log(name), 'could not start: %s' % e)
    finally:
        log.close()
    with open(layout.pidfile(name), 'w') as f:
        f.write('%d %s\n' % (proc.pid, _start_time(proc.pid)))
    _children[proc.pid] = proc
    return proc.pid


def started_at(layout, name):
    """When the service's process was started (naive UTC): its pid file is
    written then."""
    return datetime.datetime.fromtimestamp(
        os.path.getmtime(layout.pidfile(name)),
        datetime.timezone.utc).replace(tzinfo=None)


def reported_since_start(layout, name, updated_at):
    """Whether a service record's ``updated_at`` (ISO, UTC), as Nova's and
    Cinder's services APIs give it, is newer than the process's start (an
    earlier run's record reads up for a minute)."""
    return bool(updated_at) and datetime.datetime.fromisoformat(
        updated_at).replace(tzinfo=None) > started_at(layout, name)


def check_alive(layout, name):
    """Raises ServiceFailed, with its exit code if known, if the service's
    process is gone."""
    if not running_pid(layout, name):
        code = _reap(_pid_in_file(layout, name))
        raise ServiceFailed(
            name, layout.log(name), 'exited during start-up%s' % (
                ' with code %d' % code if code is not None else ''))


class Aborted(Exception):
    """Another part of the bring-up failed."""


def until(condition, timeout, interval=0.2, abort=None):
    """Polls ``condition()`` until it is true or ``timeout`` seconds have
    passed; returns whether it became true. Raises Aborted once the
    ``abort`` event is set."""
    deadline = time.monotonic() + timeout
    while not condition():
        if abort is not None and abort.is_set():
            raise Aborted()
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait(layout, process, abort=None):
    """Until the process is ready; fails if it dies or does not get ready
    within its timeout."""
    def ready():
        check_alive(layout, process.name)
        return process.ready()
    if not until(ready, process.timeout, abort=abort):
        raise ServiceFailed(process.name, layout.log(process.name),
                            'was not ready after %d s: it %s' % (
                                process.timeout, process.ready))


def _pid_in_file(layout, name):
    try:
        with open(layout.pidfile(name)) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _reap(pid):
    """Collects a child that exited; its exit code, None if unknown."""
    proc = _children.get(pid)
    return proc.poll() if proc else None


def stop(layout, process):
    """Stops the process group: asks it to exit by running its stop_argv
    if it has one, by SIGTERM if not or if that fails, and kills it after
    its stop_timeout. True if something was running."""
    name = process.name
    pid = running_pid(layout, name)
    if pid:
        if not process.stop_argv or subprocess.run(
                process.stop_argv, capture_output=True).returncode:
            _signal_group(pid, signal.SIGTERM)

        def gone():
            _reap(pid)
            return not running_pid(layout, name)
        if not until(gone, process.stop_timeout, 0.1):
            _signal_group(pid, signal.SIGKILL)
            until(gone, float('inf'), 0.1)
    try:
        os.unlink(layout.pidfile(name))
    except FileNotFoundError:
        pass
    return bool(pid)


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def http_answers(url):
    """True once anything answers HTTP at ``url`` (any status)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True
