"""The running all-in-one's host-wide resources are its own: another state
directory's bring-up, stop and wipe leave them alone, and running
tools/aio again repairs a lost outside world."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from aio import demo
from aio import hostwide
from aio import layout as aio_layout
from aio import processes
from aio import sample_image
from aio.services import openvswitch
from aio.services import ovn
from tests.aio import base as aio_base


@aio_base.alone("stops another all-in-one and deletes aio-outside's namespace")
class IsolationTest(aio_base.AllInOneBase):

    def _demo_address(self):
        server = self.conn.compute.find_server(demo.SERVER_NAME)
        port = next(iter(self.conn.network.ports(device_id=server.id)))
        return next(iter(self.conn.network.ips(
            port_id=port.id))).floating_ip_address

    def _host_view(self):
        """What another state directory must not touch."""
        def ports(bridge):
            return sorted(openvswitch.vsctl(self.layout, 'list-ports',
                                            bridge).split())
        links = json.loads(subprocess.run(
            ['ip', '-j', 'link', 'show'], check=True, capture_output=True,
            text=True).stdout)
        return {
            'namespaces': sorted(os.listdir(hostwide.NETNS_DIR)),
            'links': sorted((link['ifname'], link['ifindex'])
                            for link in links),
            'br-ex': ports(ovn.PROVIDER_BRIDGE),
            'br-int': ports(openvswitch.INTEGRATION_BRIDGE),
            'containers': sorted((c.id, c.status) for c in
                                 self.docker.containers.list(all=True)),
            'engine': self.docker.info()['ID'],
            'processes': {name: processes.running_pid(self.layout, name)
                          for name in ('ovs-vswitchd', 'ovn-controller',
                                       'nova-compute')},
        }

    def _aio(self, state, *argv):
        return subprocess.run(
            [sys.executable, '-m', 'aio'] + list(argv), capture_output=True,
            text=True, cwd=self.layout.repo, timeout=300,
            env=dict(os.environ, AIO_STATE=state))

    def test_another_state_directory_leaves_this_one_alone(self):
        address = self._demo_address()
        before = self._host_view()
        # A new state directory: its bring-up fails on the ports this one
        # holds and stops what it started; its stop and wipe.
        new = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, new, ignore_errors=True)
        failed = self._aio(new, 'up')
        self.assertEqual(1, failed.returncode)
        self.assertIn('is already in use', failed.stderr)
        self.assertEqual(0, self._aio(new, 'stop').returncode)
        # One whose record lists the outside world's namespace (it made
        # one of that name once): the host marks it as this one's.
        listed = tempfile.mkdtemp()
        hostwide.Record(aio_layout.Layout(
            self.layout.repo, listed)).add('netns', ovn.OUTSIDE_NAMESPACE)
        stopped = self._aio(listed, 'stop')
        self.assertEqual(0, stopped.returncode, stopped.stderr)
        self.assertNotIn('removed', stopped.stdout)
        wiped = self._aio(listed, 'wipe')
        self.assertEqual(0, wiped.returncode, wiped.stderr)
        self.assertNotIn(ovn.OUTSIDE_NAMESPACE, wiped.stdout)
        self.assertFalse(os.path.exists(listed))

        self.assertEqual(before, self._host_view())
        self.assertEqual(sample_image.SAMPLE_PAGE,
                         self._fetch_from_outside(address))

    def test_tools_aio_repairs_a_lost_outside_world(self):
        address = self._demo_address()
        self.assertEqual(sample_image.SAMPLE_PAGE,
                         self._fetch_from_outside(address))
        subprocess.run(['ip', 'netns', 'delete', ovn.OUTSIDE_NAMESPACE],
                       check=True)
        again = self._aio(self.layout.state, 'up')
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertIn('The outside world', again.stdout)
        self.assertTrue(self._until(
            lambda: self._fetch_from_outside(address) is not None, 30, 0.5),
            'no answer from %s in %s after tools/aio' % (
                address, ovn.OUTSIDE_NAMESPACE))
        self.assertEqual(self.layout.state, hostwide.owner(
            ovn.OUTSIDE_PEER, ovn.OUTSIDE_NAMESPACE))
