"""End-to-end: the Docker engine under the all-in-one restarting (as a
package upgrade restarts dockerd) and its containers dying outside Nova,
seen by Nova through the engine's events."""

import os
import signal
import subprocess

from aio import demo
from aio import processes
from aio import services
from novadocker import engine
from tests.aio import base as aio_base
from tests import base

# The bound on Nova showing a container's death outside Nova;
# without the driver's events, its periodic sync takes up to 10 minutes.
SHUTOFF_WITHIN = 10
# ...and on instances running again once a restarted engine answers.
RUNNING_AGAIN_WITHIN = 60
# Waits on the file /tmp/go (written with docker exec), then exits with
# code 3, or grows a line of zeros past the flavor's memory.
EXITS_ON_GO = ['/bin/sh', '-c',
               'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 3']
HOGS_MEMORY_ON_GO = ['/bin/sh', '-c',
                     'while [ ! -e /tmp/go ]; do sleep 0.1; done; '
                     'exec tail /dev/zero']
MANY_SERVERS = 20
# dockerd's default.
MACHINE_ENGINE_PIDFILE = '/var/run/docker.pid'


def _dockerd_pid():
    """The machine's engine's (an added compute host's has its own pid
    file)."""
    with open(MACHINE_ENGINE_PIDFILE) as f:
        return int(f.read())


class EngineTest(aio_base.AllInOneBase):

    def _stop_dockerd(self):
        pid = _dockerd_pid()
        os.kill(pid, signal.SIGTERM)
        child = getattr(self, '_dockerd_child', None)
        if child is not None and child.pid == pid:
            child.wait(timeout=60)
            return
        self.assertTrue(self._until(
            lambda: not os.path.exists('/proc/%d' % pid), timeout=60),
            'dockerd did not exit')

    def _start_dockerd(self):
        """The README's command starts it (tools/lib.sh: ensure_docker),
        with live-restore."""
        subprocess.run(['bash', '-c', '. tools/lib.sh && ensure_docker'],
                       cwd=self.layout.repo, check=True, timeout=120,
                       capture_output=True)
        self.docker = base.docker_client()

    def _start_dockerd_without_live_restore(self):
        """As an operator who could not enable it; the README's engine is
        back after the test."""
        log = open(self.layout.log('dockerd-without-live-restore'), 'ab')
        self.addCleanup(log.close)
        # The test's child: its exit is waited for (reaped) in
        # _stop_dockerd.
        self._dockerd_child = subprocess.Popen(
            ['dockerd'], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.addCleanup(self._ensure_live_restore)
        self.assertTrue(self._until(
            lambda: subprocess.run(['docker', 'version'],
                                   capture_output=True).returncode == 0,
            timeout=60), 'dockerd did not start')
        self.docker = base.docker_client()
        self.assertFalse(self.docker.info()['LiveRestoreEnabled'])

    def _ensure_live_restore(self):
        """The README's engine again, whatever the test left running."""
        try:
            running = base.docker_client().info()['LiveRestoreEnabled']
        except Exception:
            running = None
        if running is False:
            self._stop_dockerd()
        if not running:
            self._start_dockerd()

    def _web_server(self, name):
        """A server of the demo's web image with a floating IP, and that
        address once its page answers from aio-outside."""
        private = self.conn.network.find_network(demo.NETWORK_NAME)
        server = self._boot(
            self.conn.image.find_image(demo.IMAGE_NAME), name,
            networks=[{'uuid': private.id}],
            security_groups=[{'name': 'default'}, {'name': demo.WEB_GROUP}])
        address = self._floating_ip(server).floating_ip_address
        self._assert_page(address, 'before')
        return server, address

    def _assert_page(self, address, when, timeout=aio_base.WAIT):
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is not None,
            timeout=timeout, interval=0.5),
            'no page from %s %s' % (address, when))

    def _started(self, server):
        return {c.name: c.attrs['State']['StartedAt'] for c in (
            self._container(server), self._sandbox(server))}

    def _assert_shuts_off_by_itself(self, server):
        """SHUTOFF within 10 s, stopped by Nova's power-state sync (its
        stop action) with no one asking."""
        seen = [server]

        def shut_off():
            seen[0] = self.conn.compute.get_server(server.id)
            return seen[0].status == 'SHUTOFF'
        self.assertTrue(self._until(shut_off, timeout=SHUTOFF_WITHIN),
                        '%s is %s %d s after its container stopped' % (
                            server.name, seen[0].status, SHUTOFF_WITHIN))
        self.assertEqual(['create', 'stop'], self._actions(server))

    def _delete_all(self, servers):
        """Every delete asked at once, then waited for."""
        for server in servers:
            self.conn.compute.delete_server(server, ignore_missing=True)
        for server in servers:
            self.conn.compute.wait_for_delete(
                server, interval=aio_base.API_POLL, wait=aio_base.WAIT)

    # Engine restarts

    @aio_base.alone('restarts the engine')
    def test_containers_outlive_an_engine_restart(self):
        self.assertTrue(self.docker.info()['LiveRestoreEnabled'],
                        'the engine runs without --live-restore')
        server, address = self._web_server('e2e-engine-web')
        started = self._started(server)

        self._stop_dockerd()
        self._start_dockerd()

        self.assertEqual(started, self._started(server))
        self.assertEqual('running', self._container(server).status)
        self.assertIsNotNone(self._fetch_from_outside(address))
        self.assertEqual('ACTIVE',
                         self.conn.compute.get_server(server.id).status)
        # nova-compute still works with the engine: a new boot.
        again = self._boot(self.conn.image.find_image(demo.IMAGE_NAME),
                           'e2e-engine-after')
        self.assertEqual('running', self._container(again).status)

    @aio_base.alone('restarts the engine without live-restore')
    def test_servers_run_again_after_a_restart_without_live_restore(self):
        server, address = self._web_server('e2e-engine-no-live-restore')
        # Its containers survive this restart (live-restore is on)...
        self._stop_dockerd()
        self._start_dockerd_without_live_restore()
        started = self._started(server)

        # ...and not this one: the engine stops every container.
        self._stop_dockerd()
        self._start_dockerd()

        self._assert_page(address, 'after the engine restarted',
                          timeout=RUNNING_AGAIN_WITHIN)
        again = self._started(server)
        self.assertTrue(all(again[name] != started[name] for name in started),
                        'not started again: %s then %s' % (started, again))
        server = self.conn.compute.get_server(server.id)
        self.assertEqual(('ACTIVE', 1), (server.status, server.power_state))
        self.assertEqual(['create'], self._actions(server))

    # Deaths outside Nova

    def test_killed_container_shuts_off_and_starts_with_its_network(self):
        server, address = self._web_server('e2e-engine-killed')
        self.docker.containers.get(engine.container_name(server.id)).kill()
        self._assert_shuts_off_by_itself(server)
        demo.openstack_cli(self.layout, 'aio', 'server', 'start', server.id)
        self._wait_status(server, 'ACTIVE')
        self._assert_page(address, 'after openstack server start')

    def test_exit_and_out_of_memory_shut_off(self):
        image, _ = self._upload_image('e2e-exits-on-go', EXITS_ON_GO)
        exits = self._boot(image, 'e2e-engine-exits')
        image, _ = self._upload_image('e2e-hogs-memory', HOGS_MEMORY_ON_GO)
        hog = self._boot(image, 'e2e-engine-hog')
        for server in (exits, hog):
            self._container(server).exec_run(['touch', '/tmp/go'])
        for server in (exits, hog):
            self._assert_shuts_off_by_itself(server)
        self.assertEqual(3, self._container(exits).attrs['State']['ExitCode'])
        self.assertTrue(self._container(hog).attrs['State']['OOMKilled'])

    # nova-compute restarts

    @aio_base.alone('restarts nova-compute')
    def test_compute_restart_keeps_many_servers_running(self):
        admin = demo.cloud(self.layout, 'aio-admin')
        image = self.conn.image.find_image(demo.IMAGE_NAME)
        self.conn.compute.create_server(
            name='e2e-engine-many', image_id=image.id, networks='none',
            flavor_id=self.conn.compute.find_flavor('m1.nano').id,
            min_count=MANY_SERVERS, max_count=MANY_SERVERS)
        servers = list(self.conn.compute.servers(name='^e2e-engine-many-'))
        self.assertEqual(MANY_SERVERS, len(servers))
        self.addCleanup(self._delete_all, servers)
        for server in servers:
            self._wait_status(server, 'ACTIVE')
        started = {s.id: self._started(s) for s in servers}

        compute = services.process(self.layout, 'nova-compute')
        processes.stop(self.layout, compute)
        processes.start(self.layout, compute)
        processes.wait(self.layout, compute)

        for server in servers:
            server = self.conn.compute.get_server(server.id)
            self.assertEqual(('ACTIVE', 1, None), (
                server.status, server.power_state, server.task_state))
            self.assertEqual(started[server.id], self._started(server))
            self.assertEqual(['create'], self._actions(server))
        # Each container of the host is a server Nova has.
        nova_ids = {s.id for s in admin.compute.servers(all_projects=True)}
        host_label = '%s=%s' % (engine.LABEL_HOST, self.layout.compute_host)
        for label in (engine.LABEL_INSTANCE, engine.LABEL_SANDBOX):
            for container in self.docker.containers.list(
                    all=True, filters={'label': [label, host_label]}):
                self.assertIn(container.labels[label], nova_ids,
                              'orphan container %s' % container.name)
