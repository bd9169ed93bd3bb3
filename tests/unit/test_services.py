"""The all-in-one's service descriptions and their bring-up, stop and
status, with small services declared here (one class each, as a module of
aio/services/ would)."""

import contextlib
import errno
import io
import os
import random
import socket
import subprocess
import sys
import tempfile
import urllib.request

import fixtures
import testtools

from aio import commands
from aio import layout as aio_layout
from aio import plan as aio_plan
from aio import processes
from aio import service
from aio import services
from aio.services import keystone
from aio.services import mariadb
from aio.services import neutron
from aio.services import registry


def _free_port():
    """A free port below the ephemeral range, where no outgoing
    connection takes it between a test's bring-ups."""
    while True:
        port = random.randrange(20000, 32000)
        if processes.port_free('127.0.0.1', port):
            return port


def _local_url(port):
    """These services listen on the loopback address: the tests run
    before the management network exists."""
    return 'http://127.0.0.1:%d/' % port


class Pages(service.Service):
    """A web server whose page is written by its one-time set-up, from its
    configuration file."""
    name = 'pages'

    def __init__(self, layout, port, after=()):
        super().__init__(layout)
        self.port = port
        self.ports = {'pages-httpd': port}
        self.after = after

    def config_files(self):
        return {'greeting.ini': service.ini({'page': {'text': 'hello'}})}

    def initialize(self):
        os.makedirs(self.data('www'))
        with open(self.etc('greeting.ini')) as config, \
                open(self.data('www', 'index.html'), 'w') as page:
            page.write(config.read().split('= ')[1])

    def processes(self):
        return [service.Process(
            'pages-httpd', [sys.executable, '-m', 'http.server', '--bind',
                            '127.0.0.1', '--directory', self.data('www'),
                            str(self.port)],
            service.http_answers(_local_url(self.port)),
            timeout=30, stop_timeout=5)]


class Clock(service.Service):
    """A service that starts after Pages and records, when it starts,
    whether the page was already served."""
    name = 'clock'
    after = ('pages',)

    def __init__(self, layout, page_url):
        super().__init__(layout)
        self.page_url = page_url

    def processes(self):
        script = ('import sys, time, urllib.request\n'
                  'urllib.request.urlopen(sys.argv[1]).read()\n'
                  'print("page was served before me", flush=True)\n'
                  'time.sleep(3600)\n')
        return [service.Process(
            'clock', [sys.executable, '-c', script, self.page_url],
            service.is_running(), timeout=30, stop_timeout=5)]


class Broken(service.Service):
    name = 'broken'
    after = ('pages',)

    def processes(self):
        return [service.Process(
            'broken', ['/bin/sh', '-c', 'echo cannot bind >&2; exit 3'],
            service.port_answers(_free_port(), '127.0.0.1'), timeout=30)]


class HangsOnce(service.Service):
    """A web server whose first start hangs before it serves (as
    ovn-controller's now and then); the next one serves."""
    name = 'hangs-once'

    def __init__(self, layout, port, attempts):
        super().__init__(layout)
        self.port = port
        self.attempts = attempts

    def processes(self):
        script = ('import os, sys, time\n'
                  'if not os.path.exists(sys.argv[1]):\n'
                  '    open(sys.argv[1], "w").close()\n'
                  '    time.sleep(3600)\n'
                  'os.execv(sys.executable, [sys.executable, "-m", '
                  '"http.server", "--bind", "127.0.0.1", sys.argv[2]])\n')
        return [service.Process(
            'hangs-once', [sys.executable, '-c', script,
                           self.data('hung'), str(self.port)],
            service.http_answers(_local_url(self.port)),
            timeout=3, stop_timeout=5, attempts=self.attempts)]


class ServiceDescriptionTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        state = self.useFixture(fixtures.TempDir()).path
        self.layout = aio_layout.Layout(
            aio_layout.Layout.from_environment().repo, state)
        self.port = _free_port()
        self.page = _local_url(self.port)

    def _run(self, command, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = command(self.layout, *args)
        return code, out.getvalue(), err.getvalue()

    def _running(self, *names):
        return [name for name in names
                if processes.running_pid(self.layout, name)]

    def test_one_class_is_a_whole_service(self):
        described = [Clock(self.layout, self.page),
                     Pages(self.layout, self.port)]
        self.addCleanup(commands.stop, self.layout, described)
        code, out, err = self._run(commands.up, described)
        self.assertEqual(0, code, err)
        self.assertEqual(b'hello\n', urllib.request.urlopen(self.page).read())
        with open(self.layout.log('clock')) as log:
            self.assertIn('page was served before me', log.read())
        self.assertLess(out.index('pages-httpd ready'),
                        out.index('clock ready'))

        code, out, _ = self._run(commands.status, described)
        self.assertEqual(0, code)
        self.assertRegex(out, r'pages-httpd +running \(pid \d+\), ready')

        code, out, _ = self._run(commands.stop, described)
        self.assertIn('stopped: clock, pages-httpd', out)
        self.assertEqual([], self._running('clock', 'pages-httpd'))
        code, out, _ = self._run(commands.status, described)
        self.assertEqual(3, code)
        self.assertRegex(out, r'pages-httpd +stopped')

    def test_stop_also_stops_what_an_earlier_version_started(self):
        # A process it started under a name its services no longer have
        # (as the Neutron agents of the version on ML2/Open vSwitch).
        self.layout.make_dirs()
        agent = service.Process('neutron-dhcp-agent',
                                ['sleep', '3600'], service.is_running())
        pid = processes.start(self.layout, agent)
        self.addCleanup(processes.stop, self.layout, agent)
        described = [Pages(self.layout, self.port)]
        self.assertEqual(0, self._run(commands.up, described)[0])
        code, out, _ = self._run(commands.stop, described)
        self.assertIn('stopped: pages-httpd, neutron-dhcp-agent', out)
        self.assertFalse(os.path.exists('/proc/%d' % pid))

    def test_neutron_made_on_ml2_openvswitch_asks_for_a_wipe(self):
        neutron_service = neutron.Neutron(self.layout)
        self.assertEqual([], neutron_service.preflight())
        os.makedirs(self.layout.data('neutron'))
        open(self.layout.data('neutron', '.initialized'), 'w').close()
        problems = neutron_service.preflight()
        self.assertEqual(1, len(problems))
        self.assertIn('ML2/Open vSwitch', problems[0])
        self.assertIn('run "tools/aio wipe"', problems[0])
        os.makedirs(self.layout.data('ovn'))
        self.assertEqual([], neutron_service.preflight())

    def test_databases_made_in_latin1_are_named(self):
        # As an all-in-one made before utf8mb4 left them; MariaDB's own
        # database stays latin1, some services' migrations set utf8mb3.
        for database, charset in (('mysql', 'latin1'), ('neutron', 'latin1'),
                                  ('keystone', 'utf8mb3'),
                                  ('glance', 'utf8mb4')):
            os.makedirs(self.layout.data('mariadb', database))
            with open(self.layout.data('mariadb', database, 'db.opt'),
                      'w') as f:
                f.write('default-character-set=%s\n' % charset)
        self.assertEqual(['neutron'],
                         mariadb.MariaDB(self.layout).not_unicode())

    def test_status_shows_a_running_process_that_is_not_ready(self):
        described = [Pages(self.layout, self.port)]
        self.addCleanup(commands.stop, self.layout, described)
        self.assertEqual(0, self._run(commands.up, described)[0])
        pid = processes.running_pid(self.layout, 'pages-httpd')
        os.kill(pid, 19)  # SIGSTOP: it runs, but answers nothing
        self.addCleanup(os.kill, pid, 18)
        code, out, _ = self._run(commands.status, described)
        self.assertEqual(3, code)
        self.assertIn('pages-httpd                running (pid %d), NOT ready '
                      '(check: answers HTTP at %s' % (pid, self.page), out)

    def test_set_up_runs_once(self):
        described = [Pages(self.layout, self.port)]
        self.addCleanup(commands.stop, self.layout, described)
        self.assertEqual(0, self._run(commands.up, described)[0])
        self._run(commands.stop, described)
        # A second set-up would fail: its directory exists.
        code, out, err = self._run(commands.up, described)
        self.assertEqual(0, code, err)
        self.assertNotIn('pages set up', out)

    def test_service_dying_at_start_names_its_log_and_is_not_left(self):
        described = [Broken(self.layout), Pages(self.layout, self.port)]
        code, out, err = self._run(commands.up, described)
        self.assertEqual(1, code)
        self.assertIn('ERROR: broken exited during start-up with code 3; '
                      'read %s' % self.layout.log('broken'), err)
        with open(self.layout.log('broken')) as log:
            self.assertIn('cannot bind', log.read())
        self.assertIn('stopped: pages-httpd', out)
        self.assertEqual([], self._running('broken', 'pages-httpd'))

    def test_process_hanging_at_start_is_started_again(self):
        described = [HangsOnce(self.layout, self.port, attempts=2)]
        self.addCleanup(commands.stop, self.layout, described)
        code, out, err = self._run(commands.up, described)
        self.assertEqual(0, code, err)
        self.assertIn('hangs-once: hangs-once was not ready after 3 s', out)
        self.assertIn('starting it again', out)
        self.assertEqual(200, urllib.request.urlopen(self.page).status)

    def test_process_hanging_at_start_without_attempts_left_fails(self):
        described = [HangsOnce(self.layout, self.port, attempts=1)]
        self.addCleanup(commands.stop, self.layout, described)
        code, _, err = self._run(commands.up, described)
        self.assertEqual(1, code)
        self.assertIn('ERROR: hangs-once was not ready after 3 s', err)
        self.assertEqual([], self._running('hangs-once'))

    def test_port_taken_names_its_owner_and_nothing_starts(self):
        with socket.socket() as holder:
            holder.bind(('127.0.0.1', self.port))
            holder.listen()
            described = [Pages(self.layout, self.port)]
            code, _, err = self._run(commands.up, described)
        self.assertEqual(1, code)
        self.assertIn('port %d (pages-httpd) is already in use by (('
                      % self.port, err)
        self.assertIn('pid=%d,' % os.getpid(), err)
        self.assertEqual([], os.listdir(os.path.join(self.layout.state,
                                                     'run')))

    def test_unknown_or_circular_order_is_refused(self):
        pages = Pages(self.layout, self.port, after=('clock',))
        error = self.assertRaises(aio_plan.Invalid, aio_plan.Plan,
                                  self.layout, [pages, Clock(self.layout,
                                                             self.page)])
        self.assertIn('wait for each other', str(error))
        error = self.assertRaises(aio_plan.Invalid, aio_plan.Plan,
                                  self.layout, [Clock(self.layout, self.page)])
        self.assertEqual('nothing called pages is declared', str(error))

    def test_keystone_user_needs_an_identity_service(self):
        class Registered(Pages):
            user = 'pages'
        error = self.assertRaises(
            aio_plan.Invalid, aio_plan.Plan, self.layout,
            [Registered(self.layout, self.port)])
        self.assertEqual('pages needs a service that provides identity, '
                         'which is not declared',
                         str(error))


class OptionalServicesTestCase(testtools.TestCase):
    """AIO_DISABLED_SERVICES leaves out Heat and the registry, and only
    them."""

    def setUp(self):
        super().setUp()
        self.layout = aio_layout.Layout(
            aio_layout.Layout.from_environment().repo,
            self.useFixture(fixtures.TempDir()).path)

    @staticmethod
    def _nova_conf(described):
        compute = next(d for d in described if d.name == 'nova-compute')
        return compute.config_files()['nova-cpu.conf']

    def test_heat_and_the_registry_left_out(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'AIO_DISABLED_SERVICES', 'heat, registry'))
        chosen = services.chosen_for_bring_up(self.layout)
        plan = aio_plan.Plan(self.layout, chosen)
        self.assertNotIn('heat', plan.services)
        self.assertNotIn('registry', plan.services)
        self.assertEqual([], [name for name in plan.processes
                              if 'heat' in name or 'registry' in name])
        self.assertNotIn('registry =', self._nova_conf(chosen))
        # status reads the choice of the last bring-up.
        self.assertEqual([d.name for d in chosen],
                         [d.name for d in services.chosen(self.layout)])

        everything = services.described(self.layout)
        self.assertIn('registry = %s' % registry.ADDRESS,
                      self._nova_conf(everything))
        self.assertIn('heat', aio_plan.Plan(self.layout, everything).services)

    def test_required_or_unknown_services_are_refused(self):
        error = self.assertRaises(aio_plan.Invalid, services.described,
                                  self.layout, ('nova',))
        self.assertEqual('AIO_DISABLED_SERVICES=nova: nova cannot be left '
                         'out; only these may be left out: ceph, cinder, '
                         'registry, heat, zun, zun-compute', str(error))
        error = self.assertRaises(aio_plan.Invalid, services.described,
                                  self.layout, ('swift',))
        self.assertIn('no service is called swift', str(error))
        error = self.assertRaises(aio_plan.Invalid, services.described,
                                  self.layout, ('ceph',))
        self.assertEqual('AIO_DISABLED_SERVICES=ceph: cinder needs ceph; '
                         'leave it out too', str(error))
        self.assertNotIn('cinder', [s.name for s in services.described(
            self.layout, ('ceph', 'cinder'))])
        error = self.assertRaises(aio_plan.Invalid, services.described,
                                  self.layout, ('zun',))
        self.assertEqual('AIO_DISABLED_SERVICES=zun: zun-compute needs zun; '
                         'leave it out too', str(error))
        self.assertEqual([], [s.name for s in services.described(
            self.layout, ('zun', 'zun-compute')) if 'zun' in s.name])


class RealBringUpPreflightTestCase(testtools.TestCase):
    """tools/aio itself, on a port the real Keystone needs."""

    def test_ports_taken_and_engine_missing_name_the_cause(self):
        layout = aio_layout.Layout.from_environment()
        holder = socket.socket()
        self.addCleanup(holder.close)
        try:
            holder.bind(('127.0.0.1', keystone.PORT))
            holder.listen()
        except OSError as e:
            # A running all-in-one holds it: taken all the same.
            self.assertEqual(errno.EADDRINUSE, e.errno)
        with tempfile.TemporaryDirectory() as state:
            result = subprocess.run(
                [sys.executable, '-m', 'aio', 'up'], capture_output=True,
                text=True, cwd=layout.repo, timeout=120,
                env=dict(os.environ, AIO_STATE=state,
                         DOCKER_HOST='unix:///nonexistent.sock'))
            self.assertEqual(1, result.returncode)
            self.assertIn('port 5000 (keystone) is already in use',
                          result.stderr)
            self.assertIn('the Docker engine does not answer', result.stderr)
            self.assertEqual([], os.listdir(os.path.join(state, 'run')))
