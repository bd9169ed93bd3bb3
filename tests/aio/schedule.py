"""Which end-to-end tests run alone and which two at a time, as
tools/run-tests runs them: ``python -m tests.aio.schedule alone|shared``
prints the test ids of one kind, one a line (stestr's --load-list)."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def _tests(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _tests(test)
        else:
            yield test


def runs_alone(test):
    method = getattr(test, test._testMethodName)
    return bool(getattr(method, 'runs_alone', None)
                or getattr(type(test), 'runs_alone', None))


def main(kind):
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, top_level_dir=os.path.dirname(
        os.path.dirname(HERE)))
    for test in _tests(suite):
        if isinstance(test, unittest.loader._FailedTest):
            sys.exit('cannot load %s' % test.id())
        if runs_alone(test) == (kind == 'alone'):
            print(test.id())


if __name__ == '__main__':
    if sys.argv[1:] not in (['alone'], ['shared']):
        sys.exit('usage: python -m tests.aio.schedule alone|shared')
    main(sys.argv[1])
