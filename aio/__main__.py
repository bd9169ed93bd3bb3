"""python -m aio [up|stop|wipe|status|registry-gc|compute add|stop|remove
NAME]: the all-in-one's command line."""

import argparse
import os
import signal
import sys

from aio import commands
from aio import compute
from aio import demo
from aio import layout as aio_layout
from aio import plan
from aio import services
from aio.services import registry


def main():
    parser = argparse.ArgumentParser(prog='tools/aio', description=__doc__)
    parser.add_argument('command', nargs='?', default='up',
                        choices=('up', 'stop', 'wipe', 'status',
                                 'registry-gc', 'compute'))
    parser.add_argument('action', nargs='?',
                        choices=('add', 'stop', 'remove'),
                        help='compute: add (or start again), stop or remove '
                             'a compute host')
    parser.add_argument('name', nargs='?', help='compute: the host\'s name')
    args = parser.parse_args()
    if (args.command == 'compute') != bool(args.action and args.name):
        parser.error('"compute add|stop|remove NAME" takes a name; the '
                     'other commands take nothing')
    layout = aio_layout.Layout.from_environment()
    if args.command in ('status', 'stop') and not os.path.isdir(
            layout.state):
        print('nothing runs: %s does not exist' % layout.state)
        return 3 if args.command == 'status' else 0
    if args.command == 'status':
        return max(commands.status(layout, services.chosen(layout)),
                   compute.status_all(layout))
    if args.command == 'stop':
        compute.stop_all(layout)
        return commands.stop(layout)
    if args.command == 'wipe':
        compute.stop_all(layout)
        compute.wipe_all(layout)
        return commands.wipe(layout)
    if args.command == 'registry-gc':
        return registry.collect_garbage(layout)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.command == 'compute':
        return {'add': compute.add, 'stop': compute.stop,
                'remove': compute.remove}[args.action](layout, args.name)
    try:
        chosen = services.chosen_for_bring_up(layout)
    except plan.Invalid as e:
        print('ERROR: %s' % e, file=sys.stderr)
        return 1
    return commands.up(layout, chosen, demo.run) or compute.up_all(layout)


if __name__ == '__main__':
    sys.exit(main())
