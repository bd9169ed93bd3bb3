"""tools/aio's commands, each a loop over the services' descriptions."""

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time

from aio import hostwide
from aio import plan as aio_plan
from aio import processes
from aio import service
from aio import services as aio_services
from aio.layout import HOST

LOOPBACK = '127.0.0.1'


class Failed(Exception):
    pass


@contextlib.contextmanager
def stage(title):
    print('==> %s' % title, flush=True)
    start = time.monotonic()
    yield
    print('    done in %.1fs' % (time.monotonic() - start), flush=True)


def _port_owner(port):
    out = subprocess.run(['ss', '-Hltnp', 'sport = :%d' % port],
                         capture_output=True, text=True).stdout
    return out.split('users:', 1)[1].strip() if 'users:' in out else 'unknown'


def _ports(services):
    """The ports the services listen on in the machine's network namespace
    (an added host's listen in its own)."""
    return {name: port for described in services
            if described.host is None or described.host.first
            for name, port in described.ports.items()}


def preflight(layout, services):
    problems = []
    for name, port in _ports(services).items():
        if processes.running_pid(layout, name):
            continue
        # Taken on the loopback address also counts: such a process is
        # most likely an earlier all-in-one's.
        if not (processes.port_free(HOST, port)
                and processes.port_free(LOOPBACK, port)):
            problems.append('port %d (%s) is already in use by %s; stop that '
                            'process or run "tools/aio stop"' % (
                                port, name, _port_owner(port)))
    for described in services:
        problems.extend(described.preflight())
    if problems:
        raise Failed('\n       '.join(problems))


def write_configs(services):
    for described in services:
        for name, text in described.config_files().items():
            path = described.etc(name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)


def bring_up(layout, services, elsewhere=()):
    """Checks, configures, sets up and starts the services in dependency
    order, as much in parallel as that order allows (``elsewhere``: the
    services they start after that run in another bring-up)."""
    layout.make_dirs()
    plan = aio_plan.Plan(layout, services, elsewhere)
    with stage('Checking ports %s and what each service needs' % ', '.join(
            map(str, sorted(_ports(services).values())))):
        preflight(layout, services)
    with stage('Writing configuration to %s' % layout.etc('')):
        write_configs(services)
    with stage('Starting %s in dependency order (logs in %s)' % (
            ', '.join(plan.services), os.path.dirname(layout.log('x')))):
        start = time.monotonic()

        def report(what):
            print('    [%5.1fs] %s' % (time.monotonic() - start, what),
                  flush=True)
        abort = threading.Event()
        aio_plan.run(plan.start_steps(abort, report), abort)


def up(layout, services, then=None, elsewhere=()):
    """Brings the services up, then runs ``then(layout)``. On failure it
    says why, stops what it started and returns 1."""
    try:
        bring_up(layout, services, elsewhere)
        if then:
            then(layout)
        return 0
    except (Failed, processes.ServiceFailed, aio_plan.Invalid,
            hostwide.Taken) as e:
        print('ERROR: %s' % e, file=sys.stderr)
    except subprocess.CalledProcessError as e:
        print('ERROR: %s failed:\n%s' % (' '.join(e.cmd), e.stderr),
              file=sys.stderr)
    except BaseException:
        print('Interrupted: stopping what was started.', file=sys.stderr)
        stop(layout, services, elsewhere)
        raise
    print('Stopping what was started, so nothing is left half-running.',
          file=sys.stderr)
    stop(layout, services, elsewhere)
    return 1


def _leftovers(layout, plan):
    """Processes this all-in-one started that it no longer has (an earlier
    version's), by the pid files they left."""
    run = os.path.dirname(layout.pidfile('x'))
    names = sorted(entry[:-len('.pid')] for entry in os.listdir(run)
                   if entry.endswith('.pid')) if os.path.isdir(run) else []
    return [service.Process(name, (), service.is_running())
            for name in names if name not in plan.processes]


def stop(layout, services=None, elsewhere=()):
    services = services or aio_services.described(layout)
    plan = aio_plan.Plan(layout, services, elsewhere)
    stopped, removed = [], []
    aio_plan.run(plan.stop_steps(stopped, removed), threading.Event())
    stopped.extend(process.name for process in _leftovers(layout, plan)
                   if processes.stop(layout, process))
    print('stopped: %s' % (', '.join(stopped) or 'nothing was running'))
    if removed:
        print('removed: %s' % ', '.join(removed))


def wipe(layout):
    if not os.path.isdir(layout.state):
        print('nothing to wipe: %s does not exist' % layout.state)
        return
    services = aio_services.described(layout)
    stop(layout, services)
    for described in services:
        for removed in described.wipe():
            print('removed %s' % removed)
    shutil.rmtree(layout.state, ignore_errors=True)
    print('removed %s' % layout.state)


def status(layout, services=None, elsewhere=()):
    """Each process: its pid, whether its readiness check passes (which
    may ask the service's API), its log. 0 when all are running and
    ready, 3 when not."""
    services = services or aio_services.described(layout)
    plan = aio_plan.Plan(layout, services, elsewhere)
    all_ready = True
    for name in plan.process_order():
        process = plan.processes[name]
        pid = processes.running_pid(layout, name)
        ready = bool(pid) and process.ready()
        all_ready = all_ready and ready
        state = 'running (pid %d), %s (check: %s)' % (
            pid, 'ready' if ready else 'NOT ready',
            process.ready) if pid else 'stopped'
        print('%-26s %s; log %s' % (name, state, layout.log(name)))
    return 0 if all_ready else 3
