"""Runs an OpenStack service's console script with its one worker in the
process itself.

oslo.service's threading backend forks even a single worker into a child
(cotyledon) and keeps a parent that only watches it, so heat-engine and
neutron-ovn-maintenance-worker were each two whole copies of their
service in memory; cinder-volume (eventlet) forks one per backend the
same way. nova-compute asks oslo.service for exactly this (``no_fork``);
here these services get it too. nova-conductor and nova-scheduler keep
their fork: through this, boots were measurably slower (docs/benchmarks.md).

    python -P aio/one_process.py CONSOLE_SCRIPT [ARGUMENT...]
"""
import signal
import sys
from importlib import metadata


def _keep_worker_in_process(service, threading_backend):
    if not threading_backend:
        # Eventlet's launch() already keeps one worker in the process; its
        # ProcessLauncher (cinder-volume's) always forks.
        service.ProcessLauncher = (
            lambda conf, restart_method='reload', **_: service.ServiceLauncher(
                conf, restart_method=restart_method))
        return

    class InProcessLauncher(service.ProcessLauncher):
        def __init__(self, conf, restart_method='reload', **_):
            super().__init__(conf, restart_method=restart_method,
                             no_fork=True)

        def wait(self):
            # As a forked worker does, the process lives until it is
            # signalled, even when its service's wait() returns at once
            # (Neutron's maintenance worker runs in threads of its own).
            while True:
                signal.pause()

    launch = service.launch

    def launch_in_process(conf, served, workers=1, restart_method='reload',
                          **kwargs):
        if workers != 1:
            return launch(conf, served, workers,
                          restart_method=restart_method, **kwargs)
        launcher = InProcessLauncher(conf, restart_method=restart_method)
        launcher.launch_service(served)
        return launcher

    service.launch = launch_in_process
    service.ProcessLauncher = InProcessLauncher


def main():
    script = sys.argv[1]
    (entry_point,) = metadata.entry_points(group='console_scripts',
                                           name=script)
    # Loading the script's module first lets the service choose its
    # oslo.service backend (and patch what it patches) as it would alone.
    run = entry_point.load()
    from oslo_service import backend
    from oslo_service import service
    _keep_worker_in_process(
        service, backend.get_backend_type() is backend.BackendType.THREADING)
    sys.argv = [script] + sys.argv[2:]
    sys.exit(run())


if __name__ == '__main__':
    main()
