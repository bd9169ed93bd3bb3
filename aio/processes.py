"""Starting, watching and stopping the all-in-one's processes.

Each process is the leader of its own session and is known by its pid file
(pid and start time, so a recycled pid is never signalled). Stopping
signals that process group and nothing else.
"""

import datetime
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
    try:
        with open('/proc/%d/status' % pid) as f:
            if any(line.split()[1:2] == ['Z'] for line in f
                   if line.startswith('State:')):
                return None
    except OSError:
        return None
    return pid


def start(layout, name, argv, env=None):
    """Starts ``argv`` unless the service already runs; returns its pid.

    It runs in its own data directory, where crash dumps land.
    """
    pid = running_pid(layout, name)
    if pid:
        return pid
    os.makedirs(layout.data(name), exist_ok=True)
    log = open(layout.log(name), 'ab')
    log.write(b'\n==== %s starting: %s\n' % (
        time.strftime('%F %T').encode(), ' '.join(argv).encode()))
    log.flush()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=layout.data(name),
            env=dict(os.environ, **(env or {})))
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


def check_alive(layout, name):
    """Raises ServiceFailed, with its exit code if known, if the service's
    process is gone."""
    if not running_pid(layout, name):
        code = _reap(_pid_in_file(layout, name))
        raise ServiceFailed(
            name, layout.log(name), 'exited during start-up%s' % (
                ' with code %d' % code if code is not None else ''))


def wait(layout, name, ready, timeout):
    """Polls ``ready()`` until true; fails if the process dies or hangs."""
    deadline = time.monotonic() + timeout
    while not ready():
        check_alive(layout, name)
        if time.monotonic() > deadline:
            raise ServiceFailed(name, layout.log(name),
                                'was not ready after %d s' % timeout)
        time.sleep(0.2)


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


def stop(layout, name, stop_argv=(), timeout=20):
    """Stops the service's process group: asks it to exit by running
    ``stop_argv`` if given, by SIGTERM if not or if that fails, and kills
    it after ``timeout`` seconds. True if something was running."""
    pid = running_pid(layout, name)
    if pid:
        if not stop_argv or subprocess.run(
                stop_argv, capture_output=True).returncode:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running_pid(layout, name) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if running_pid(layout, name):
            _signal_group(pid, signal.SIGKILL)
            while running_pid(layout, name):
                _reap(pid)
                time.sleep(0.1)
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
