"""The driver's benchmark runs to its end, at its smallest size (its
figures are read in docs/benchmarks.md, not here)."""

import os
import subprocess
import sys

import testtools

BENCH = os.path.join(os.path.dirname(__file__), '..', '..', 'bench')


def run_bench(test, script, *argv):
    """Runs bench/<script> once; returns its output, failing the test with
    that output if it did not end well."""
    done = subprocess.run([sys.executable, os.path.join(BENCH, script)]
                          + list(argv), capture_output=True, text=True,
                          timeout=600)
    test.assertEqual(0, done.returncode, done.stdout + done.stderr)
    return done.stdout


class DriverBenchTestCase(testtools.TestCase):

    def test_driver_bench_reports_each_pair(self):
        out = run_bench(self, 'driver_bench.py', '--repeat', '1',
                        '--padding-mib', '0')
        for pair in ('spawn, image loaded', 'spawn, image not loaded',
                     'snapshot'):
            self.assertRegex(out, r'%s +[0-9.]+s .* ratio [0-9.]+' % pair)
