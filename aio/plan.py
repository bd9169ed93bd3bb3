"""The services' steps in dependency order, run in parallel where they
may be.

Bring-up is a graph of steps: a service's one-time set-up (after MariaDB
if it has databases), its Keystone registration (after Keystone), each of
its processes (after the set-up, the registration, the services it starts
after and the processes it names), and its ``started`` hook once all of
them are ready.
Each step starts as soon as what it waits for is done. Stopping runs the
processes' graph backwards: a process stops once everything that started
after it has stopped.
"""

import concurrent.futures
import os

from aio import processes
from aio import service


class Invalid(Exception):
    pass


def run(steps, abort):
    """Runs ``steps`` ({name: (names it waits for, callable)}), each once
    all it waits for is done. The first failure sets ``abort`` (which the
    steps' waits watch) and is raised once the running steps have
    returned."""
    done, pending, running = set(), dict(steps), {}
    with concurrent.futures.ThreadPoolExecutor(len(steps) or 1) as pool:
        try:
            while pending or running:
                for name in [n for n, (after, _) in pending.items()
                             if after <= done]:
                    running[pool.submit(pending.pop(name)[1])] = name
                if not running:
                    raise Invalid('these wait for what never comes: %s'
                                  % ', '.join(sorted(pending)))
                finished, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    future.result()
                    done.add(running.pop(future))
        except BaseException:
            abort.set()
            raise


class Plan:
    """The steps of a set of service descriptions and what each waits
    for; names are "set-up <service>", "register <service>",
    "process <process>" and "service <service>" (all of it ready).

    ``elsewhere`` names services that run in another plan (an added
    compute host's services start after the control plane's): waiting
    for them is left to the caller."""

    def __init__(self, layout, services, elsewhere=()):
        self.layout = layout
        self.elsewhere = frozenset(elsewhere)
        self.services = {s.name: s for s in services}
        self.processes = {}
        self.service_of = {}
        for described in services:
            for process in described.processes():
                if process.name in self.processes:
                    raise Invalid('%s is declared twice' % process.name)
                self.processes[process.name] = process
                self.service_of[process.name] = described
        self.graph = self._graph()
        self.order = self._topological()

    def _provider(self, what, needed_by):
        for described in self.services.values():
            if what in described.provides:
                return described
        raise Invalid('%s needs a service that provides %s, which is not '
                      'declared' % (needed_by.name, what))

    def _database_server(self, described):
        """The database service, for a service with databases: its set-up
        waits for it."""
        if described.databases and 'database' not in described.provides:
            return self._provider('database', described)
        return None

    def _ready_step(self, name):
        """The step after which ``name`` (a service, or a process) is
        ready."""
        if name in self.services:
            return 'service ' + name
        if name in self.processes:
            return 'process ' + name
        if name in self.elsewhere:
            return None
        raise Invalid('nothing called %s is declared' % name)

    def _graph(self):
        graph = {}
        for name, described in self.services.items():
            server = self._database_server(described)
            graph['set-up ' + name] = (
                {'service ' + server.name} if server else set())
            ready_after = {'process ' + p for p, d in self.service_of.items()
                           if d is described}
            if described.user or described.catalog:
                identity = self._provider('identity', described)
                graph['register ' + name] = {'service ' + identity.name}
                ready_after.add('register ' + name)
            graph['service ' + name] = ready_after
        for name, process in self.processes.items():
            described = self.service_of[name]
            # Its processes may authenticate as its user as they start.
            own_steps = {'set-up ' + described.name} | (
                {'register ' + described.name}
                if 'register ' + described.name in graph else set())
            graph['process ' + name] = own_steps | {
                self._ready_step(each)
                for each in set(described.after) | set(process.after)} - {
                    None}
        return graph

    def _topological(self):
        """Every step, each after all it waits for."""
        order, placed = [], set()
        while len(order) < len(self.graph):
            ready = sorted(step for step, after in self.graph.items()
                           if step not in placed and after <= placed)
            if not ready:
                raise Invalid('these wait for each other: %s' % ', '.join(
                    sorted(set(self.graph) - placed)))
            order.extend(ready)
            placed.update(ready)
        return order

    def _ancestors(self, step):
        found, todo = set(), [step]
        while todo:
            for each in self.graph[todo.pop()] - found:
                found.add(each)
                todo.append(each)
        return found

    def process_order(self):
        return [step.split(' ', 1)[1] for step in self.order
                if step.startswith('process ')]

    # Bring-up

    def start_steps(self, abort, report):
        actions = {'set-up': self._set_up, 'register': self._register,
                   'process': self._start, 'service': self._started}
        steps = {}
        for step, after in self.graph.items():
            kind, name = step.split(' ', 1)
            steps[step] = (after, lambda a=actions[kind], n=name: a(
                n, abort, report))
        return steps

    def _set_up(self, name, abort, report):
        described = self.services[name]
        marker = described.data('.initialized')
        if os.path.exists(marker):
            return
        os.makedirs(described.data(), exist_ok=True)
        server = self._database_server(described)
        if server:
            server.create_databases(described.databases)
        if described.databases or type(described).initialize is not \
                service.Service.initialize:
            described.initialize()
            report('%s set up' % name)
        with open(marker, 'w'):
            pass

    def _register(self, name, abort, report):
        described = self.services[name]
        self._provider('identity', described).register(described)

    def _start(self, name, abort, report):
        process = self.processes[name]
        for attempt in range(1, process.attempts + 1):
            if process.prepare:
                process.prepare()
            processes.start(self.layout, process)
            try:
                processes.wait(self.layout, process, abort)
                break
            except processes.ServiceFailed as e:
                if attempt == process.attempts:
                    raise
                report('%s: %s; starting it again' % (name, e))
                processes.stop(self.layout, process)
        report('%s ready (%s)' % (name, process.ready.what))

    def _started(self, name, abort, report):
        self.services[name].started()
        report('%s ready' % name)

    # Stopping

    def stop_steps(self, stopped, removed):
        """Steps that stop every process, each once all that started
        after it have stopped, and then run each service's ``stopped``
        hook; they add to the lists ``stopped`` and ``removed``."""
        def stop(process):
            if processes.stop(self.layout, process):
                stopped.append(process.name)
        steps = {}
        for name, process in self.processes.items():
            later = {'stop ' + other for other in self.processes
                     if 'process ' + name in self._ancestors(
                         'process ' + other)}
            steps['stop ' + name] = (later, lambda p=process: stop(p))
        # What a service leaves (a bridge its address is on) goes once
        # its processes and all that started after it have stopped.
        for name, described in self.services.items():
            steps['clean up ' + name] = (
                {'stop ' + p for p, d in self.service_of.items()
                 if d is described or 'service ' + name in
                 self._ancestors('process ' + p)},
                lambda d=described: removed.extend(d.stopped()))
        return steps
