"""Loads a service's WSGI application for gunicorn.

The services parse ``sys.argv`` with oslo.config when their application
module is imported; gunicorn's own flags would make that fail and the
worker respawn forever, so they are replaced by the service's own
(``argv``), if any.
"""

import importlib
import sys


def application(module, *argv):
    sys.argv = sys.argv[:1] + list(argv)
    return importlib.import_module(module).application
