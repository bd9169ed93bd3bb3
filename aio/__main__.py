"""python -m aio [up|stop|wipe|status|registry-gc]: the all-in-one's
command line."""

import argparse
import signal
import sys

from aio import commands
from aio import demo
from aio import layout as aio_layout
from aio import plan
from aio import services
from aio.services import registry


def main():
    parser = argparse.ArgumentParser(prog='tools/aio', description=__doc__)
    parser.add_argument('command', nargs='?', default='up',
                        choices=('up', 'stop', 'wipe', 'status',
                                 'registry-gc'))
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    if args.command == 'status':
        return commands.status(layout, services.chosen(layout))
    if args.command == 'stop':
        return commands.stop(layout)
    if args.command == 'wipe':
        return commands.wipe(layout)
    if args.command == 'registry-gc':
        return registry.collect_garbage(layout)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        chosen = services.chosen_for_bring_up(layout)
    except plan.Invalid as e:
        print('ERROR: %s' % e, file=sys.stderr)
        return 1
    return commands.up(layout, chosen, demo.run)


if __name__ == '__main__':
    sys.exit(main())
