"""The all-in-one's benchmarks run to their end, each at its smallest size
(their figures are read in docs/benchmarks.md, not here)."""

import testtools

from tests.aio import base as aio_base
from tests.driver.test_benchmarks import run_bench


class AllInOneBenchTestCase(testtools.TestCase):

    def test_aio_bench(self):
        out = run_bench(self, 'aio_bench.py', '--boots', '1', '--many', '1')
        self.assertIn('idle memory (PSS)', out)
        self.assertRegex(out, r'1 servers with a port each in one request '
                              r'.* all ACTIVE after [0-9.]+ s')

    def test_registry_bench(self):
        out = run_bench(self, 'registry_bench.py', '--base-mib', '1',
                        '--top-mib', '1', '--repeat', '1')
        self.assertRegex(out, r'ratio pull / Glance archive: [0-9.]+')

    @aio_base.alone('restarts the engine')
    def test_lifecycle_bench(self):
        out = run_bench(self, 'lifecycle_bench.py', '--count', '1')
        self.assertRegex(out, r'docker kill until SHUTOFF: median [0-9.]+ s')
        self.assertRegex(out, r'until 1 servers run again: [0-9.]+ s')

    def test_heat_bench(self):
        out = run_bench(self, 'heat_bench.py', '--count', '1', '--rounds',
                        '1')
        self.assertRegex(out, r'stack of 1 containers until CREATE_COMPLETE')

    @aio_base.alone("adds a compute host, and disables the others' "
                    'nova-compute while it boots')
    def test_hosts_bench(self):
        out = run_bench(self, 'hosts_bench.py', '--many', '1',
                        '--migrate-mib', '1')
        self.assertRegex(out, r'compute add until its nova-compute is up '
                              r'and mapped: [0-9.]+ s')
        self.assertRegex(out, r'added host idle memory \(PSS\): [0-9]+ MiB')
        self.assertRegex(out, r'1 servers with a port each in one request '
                              r'.*ratio two / one [0-9.]+')
        self.assertRegex(out, r'cold migration of a server that wrote 1 MiB '
                              r'.*ratio [0-9.]+')

    def test_volumes_bench(self):
        out = run_bench(self, 'volumes_bench.py', '--mib', '1', '--rounds',
                        '1')
        self.assertRegex(out, r'attach until /volumes/vdb is mounted in the '
                              r'running container, 1 rounds: median [0-9.]+')
        self.assertRegex(out, r'ratio volume / container [0-9.]+')
        self.assertRegex(out, r'volumes add [0-9]+ MiB')

    def test_zun_bench(self):
        out = run_bench(self, 'zun_bench.py', '--rounds', '1')
        self.assertRegex(out, r'appcontainer run until Running median '
                              r'[0-9.]+ s .* ratio Zun / Nova [0-9.]+')
        self.assertRegex(out, r'Zun adds [0-9]+ MiB')

    def test_console_bench(self):
        out = run_bench(self, 'console_bench.py', '--keys', '3')
        self.assertRegex(out, r"typed key echoed through Nova's serial "
                              r"console: median [0-9.]+ ms")
        self.assertRegex(out, r'ratio Nova console / docker exec [0-9.]+')
