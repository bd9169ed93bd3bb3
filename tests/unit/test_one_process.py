"""aio/one_process.py with the real oslo.service threading backend: a
service launched with one worker runs in the launching process, which
lives until SIGTERM and then stops the service, the way a forked worker
did."""

import os
import signal
import subprocess
import sys
import textwrap

import testtools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

SERVICE = textwrap.dedent('''
    import os
    import sys

    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)
    from oslo_config import cfg
    from oslo_service import service

    from aio import one_process

    one_process._keep_worker_in_process(service, threading_backend=True)


    class Recorder(service.ServiceBase):
        """Returns from wait() at once, as Neutron's maintenance worker
        does (its work runs in threads of its own)."""

        def start(self):
            print('started in', os.getpid(), flush=True)

        def wait(self):
            pass

        def stop(self):
            print('stopped', flush=True)

        def reset(self):
            pass


    conf = cfg.ConfigOpts()
    conf([])
    if sys.argv[1] == 'launch':
        launcher = service.launch(conf, Recorder(), workers=1,
                                  restart_method='mutate')
    else:
        launcher = service.ProcessLauncher(conf, restart_method='mutate')
        launcher.launch_service(Recorder(), 1)
    launcher.wait()
''')


class OneProcessTest(testtools.TestCase):

    def _run(self, how):
        child = subprocess.Popen(
            [sys.executable, '-c', SERVICE, how], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(child.kill)
        self.assertEqual('started in %d' % child.pid,
                         child.stdout.readline().strip())
        with testtools.ExpectedException(subprocess.TimeoutExpired):
            child.wait(timeout=2)
        self.assertEqual([], self._children(child.pid))
        child.send_signal(signal.SIGTERM)
        self.assertEqual(0, child.wait(timeout=20))
        self.assertEqual('stopped', child.stdout.readline().strip())

    @staticmethod
    def _children(pid):
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return f.read().split()

    def test_launch_of_one_worker_runs_it_here_until_sigterm(self):
        self._run('launch')

    def test_process_launcher_runs_its_worker_here_until_sigterm(self):
        self._run('process-launcher')
