"""kuryr-libnetwork's server for a Docker engine whose execution root is
not the default: ``python -m novadocker.kuryr_server EXEC_ROOT
[kuryr-server's arguments]``.

kuryr checks a join's sandbox key against the default root
(``^/var/run/docker/netns/<id>$``), which only one engine of a machine can
have (the all-in-one's added compute hosts each run another, as rootless
engines do). kuryr only checks the key (the engine moves the container's
end of the veth into the sandbox itself), so the pattern here is the
engine's own root; nothing else of kuryr changes.
"""

import re
import sys

from kuryr_libnetwork.schemata import commons


def accept_engine_root(exec_root):
    """kuryr's joins accept the network namespaces of the engine whose
    execution root is ``exec_root`` (and no other)."""
    commons.COMMONS['definitions']['sandbox_key']['pattern'] = (
        '^(%s/netns/[0-9a-f]{12})$' % re.escape(exec_root.rstrip('/')))


def main():
    # Imported here: kuryr's options clash with Nova's in one process
    # (the tests import this module beside Nova).
    from kuryr_libnetwork import server
    accept_engine_root(sys.argv.pop(1))
    return server.start()


if __name__ == '__main__':
    sys.exit(main())
