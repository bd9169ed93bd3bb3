"""End-to-end: the Docker engine restarting under the all-in-one (as a
package upgrade restarts dockerd)."""

import os
import signal
import subprocess

from aio import demo
from tests import aio_base
from tests import base


def _dockerd_pid():
    return int(subprocess.run(['pidof', 'dockerd'], capture_output=True,
                              text=True, check=True).stdout.split()[0])


class EngineRestartTest(aio_base.AllInOneBase):

    def _restart_dockerd(self):
        """SIGTERM to dockerd, then the README's command starts it again
        (tools/lib.sh: ensure_docker)."""
        pid = _dockerd_pid()
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(self._until(
            lambda: not os.path.exists('/proc/%d' % pid), timeout=60),
            'dockerd did not exit')
        subprocess.run(['bash', '-c', '. tools/lib.sh && ensure_docker'],
                       cwd=self.layout.repo, check=True, timeout=120,
                       capture_output=True)
        self.docker = base.docker_client()

    def test_containers_outlive_an_engine_restart(self):
        self.assertTrue(self.docker.info()['LiveRestoreEnabled'],
                        'the engine runs without --live-restore')
        private = self.conn.network.find_network(demo.NETWORK_NAME)
        server = self._boot(
            self.conn.image.find_image(demo.IMAGE_NAME), 'e2e-engine-web',
            networks=[{'uuid': private.id}],
            security_groups=[{'name': 'default'}, {'name': demo.WEB_GROUP}])
        address = self._floating_ip(server).floating_ip_address
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is not None,
            interval=0.5), 'no page from %s before the restart' % address)
        started = {c.name: c.attrs['State']['StartedAt'] for c in (
            self._container(server), self._sandbox(server))}

        self._restart_dockerd()

        self.assertEqual(started, {c.name: c.attrs['State']['StartedAt']
                                   for c in (self._container(server),
                                             self._sandbox(server))})
        self.assertEqual('running', self._container(server).status)
        self.assertIsNotNone(self._fetch_from_outside(address))
        self.assertEqual('ACTIVE',
                         self.conn.compute.get_server(server.id).status)
        # nova-compute still works with the engine: a new boot.
        again = self._boot(self.conn.image.find_image(demo.IMAGE_NAME),
                           'e2e-engine-after')
        self.assertEqual('running', self._container(again).status)
