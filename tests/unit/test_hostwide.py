"""Host-wide resources belong to the state directory that made them: a
namespace and its marked link, between two state directories."""

import os
import shutil
import subprocess
import tempfile

import testtools

from aio import hostwide
from aio import layout as aio_layout
from aio import processes
from aio import service


def _make_marked_namespace(layout, name):
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    # A veth: the kernel here loads no module (no dummy links).
    subprocess.run(['ip', '-n', name, 'link', 'add', 'mark0', 'type',
                    'veth', 'peer', 'name', 'mark1'], check=True)
    hostwide.set_alias(layout, 'mark0', name)
    hostwide.Record(layout).add('netns', name)


class HostWideTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.name = 'nd-test-%s' % os.urandom(4).hex()
        self.addCleanup(subprocess.run, ['ip', 'netns', 'delete', self.name],
                        capture_output=True)
        self.first, self.second = (self._layout(), self._layout())

    def _layout(self):
        state = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, state, ignore_errors=True)
        return aio_layout.Layout('/nonexistent', state)

    def _run_a_process_of(self, layout):
        layout.make_dirs()
        process = service.Process('holder', ['sleep', '300'], ready=None)
        processes.start(layout, process)
        self.addCleanup(processes.stop, layout, process)

    def test_only_the_maker_removes_a_namespace(self):
        _make_marked_namespace(self.first, self.name)
        self._run_a_process_of(self.first)
        self.assertEqual(self.first.state, hostwide.owner('mark0', self.name))
        # Another state directory: not in its record, then in its record
        # (as if it made one of that name once) but marked as the first's.
        self.assertFalse(hostwide.remove_namespace(self.second, self.name,
                                                   'mark0'))
        hostwide.Record(self.second).add('netns', self.name)
        self.assertFalse(hostwide.remove_namespace(self.second, self.name,
                                                   'mark0'))
        self.assertTrue(hostwide.namespace_exists(self.name))
        error = self.assertRaises(hostwide.Taken, hostwide.claim_namespace,
                                  self.second, self.name, 'mark0')
        self.assertIn('belongs to the all-in-one in %s, which is running'
                      % self.first.state, str(error))
        self.assertIn('AIO_STATE=%s tools/aio stop' % self.first.state,
                      str(error))

        self.assertTrue(hostwide.claim_namespace(self.first, self.name,
                                                 'mark0'))
        self.assertTrue(hostwide.remove_namespace(self.first, self.name,
                                                  'mark0'))
        self.assertFalse(hostwide.namespace_exists(self.name))
        self.assertFalse(hostwide.Record(self.first).lists('netns',
                                                           self.name))

    def test_a_namespace_whose_owner_is_gone_is_taken_over(self):
        _make_marked_namespace(self.first, self.name)
        shutil.rmtree(self.first.state)
        self.assertFalse(hostwide.claim_namespace(self.second, self.name,
                                                  'mark0'))
        self.assertFalse(hostwide.namespace_exists(self.name))

    def test_a_namespace_whose_owner_runs_nothing_is_taken_over(self):
        # Its processes gone (a machine rebooted, a session ended) while
        # its state directory and the namespace stayed.
        _make_marked_namespace(self.first, self.name)
        self.assertFalse(hostwide.claim_namespace(self.second, self.name,
                                                  'mark0'))
        self.assertFalse(hostwide.namespace_exists(self.name))

    def test_an_unmarked_namespace_is_taken_over(self):
        # As the namespace of an all-in-one made before marks existed.
        subprocess.run(['ip', 'netns', 'add', self.name], check=True)
        self.assertIsNone(hostwide.owner('mark0', self.name))
        self.assertFalse(hostwide.claim_namespace(self.second, self.name,
                                                  'mark0'))
        self.assertFalse(hostwide.namespace_exists(self.name))
