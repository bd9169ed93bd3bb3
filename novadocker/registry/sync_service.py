"""The synchronisation's process (novadocker-registry-sync): reads its
configuration, receives the registry's notifications, applies them and
reconciles periodically."""

import functools
import sys
import threading
from wsgiref import simple_server

from oslo_log import log as logging

from novadocker.registry import client
from novadocker.registry import conf
from novadocker.registry import events
from novadocker.registry import glance
from novadocker.registry import record
from novadocker.registry import signer
from novadocker.registry import sync

LOG = logging.getLogger(__name__)


def run_forever(synchronisation, server, interval, stop):
    """Serves notifications and applies them, with a reconcile every
    ``interval`` seconds (the first at once), until ``stop`` is set."""
    def reconcile_every():
        while not stop.is_set():
            synchronisation.queue.put((sync.RECONCILE,))
            stop.wait(interval)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=reconcile_every, daemon=True).start()
    synchronisation.work(stop)


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        LOG.debug('events: ' + format, *args)


def main():
    logging.register_options(conf.CONF)
    conf.CONF(sys.argv[1:], project='novadocker')
    logging.setup(conf.CONF, 'novadocker-registry-sync')
    options = conf.CONF.sync
    cloud = glance.connect(conf.CONF)

    @functools.cache
    def domain_id():
        return cloud.identity.find_domain(
            conf.CONF.registry.project_domain_name, ignore_missing=False).id

    def project_id(name):
        # One list call: find_project first asks for an id of that name.
        found = list(cloud.identity.projects(name=name,
                                             domain_id=domain_id()))
        return found[0].id if found else None
    synchronisation = sync.Sync(
        client.Registry(options.registry_url,
                        signer.Signer(conf.CONF.registry)),
        glance.Glance(cloud.image), project_id,
        record.Record(record.path(options.state_path)),
        options.registry_address)
    server = simple_server.make_server(
        options.listen_host, options.listen_port,
        events.application(synchronisation, options.events_secret),
        handler_class=_QuietHandler)
    LOG.info('Receiving the registry\'s notifications on %s:%d',
             options.listen_host, options.listen_port)
    run_forever(synchronisation, server, options.reconcile_interval,
                threading.Event())
