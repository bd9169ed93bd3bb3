"""The engine's container events as Nova lifecycle events.

A thread follows the engine's event stream for this host's instance
containers and hands each start, exit, pause and unpause to Nova, as the
libvirt driver hands on its domains' events: Nova's power-state sync then
runs within a second of a container exiting, being killed or OOM-killed,
not at its next periodic run (sync_power_state_interval, 10 minutes).

When the stream ends (dockerd stopped or restarts), the thread connects
again with back-off and, once the engine answers, calls ``reconnected``:
what stopped while it could not watch is not in any stream.
"""

import threading

from nova.virt import event as virtevent
from oslo_log import log as logging

from novadocker import engine

LOG = logging.getLogger(__name__)

TRANSITIONS = {
    'start': virtevent.EVENT_LIFECYCLE_STARTED,
    'die': virtevent.EVENT_LIFECYCLE_STOPPED,
    'pause': virtevent.EVENT_LIFECYCLE_PAUSED,
    'unpause': virtevent.EVENT_LIFECYCLE_RESUMED,
}
# Seconds between attempts to reach an engine that does not answer,
# doubling from the first to the most.
RETRY_FIRST = 0.5
RETRY_MOST = 5
STOP_WAIT = 10


def lifecycle_event(engine_event):
    """The Nova lifecycle event of an engine event of a container; None
    for what has none (create, kill, oom, exec, ...)."""
    transition = TRANSITIONS.get(engine_event.get('Action'))
    if transition is None:
        return None
    return virtevent.LifecycleEvent(
        engine_event['Actor']['Attributes'][engine.LABEL_INSTANCE],
        transition, timestamp=engine_event['timeNano'] / 1e9)


class Watcher(object):
    """Follows the engine's events in a thread of its own, so that
    nothing in nova-compute waits on the engine's stream."""

    def __init__(self, emit, reconnected):
        self._engine = engine.Engine()
        self._emit = emit
        self._reconnected = reconnected
        self._stopping = threading.Event()
        self._stream = None
        self._since = None
        self._thread = threading.Thread(
            target=self._run, name='docker-events', daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        self._thread.join(STOP_WAIT)

    def _run(self):
        retry = RETRY_FIRST
        lost = False
        while not self._stopping.is_set():
            try:
                self._stream = self._engine.events(self._since)
            except engine.EngineUnavailable as e:
                if not lost:
                    LOG.warning('Cannot follow the Docker engine\'s events; '
                                'trying again until it answers: %s', e)
                lost = True
                self._stopping.wait(retry)
                retry = min(2 * retry, RETRY_MOST)
                continue
            if self._stopping.is_set():
                # stop() came while the stream was being opened.
                self._stream.close()
                return
            retry = RETRY_FIRST
            try:
                if lost:
                    LOG.info('The Docker engine answers again')
                    self._reconnected()
                self._follow()
            except engine.EngineUnavailable as e:
                LOG.warning('Lost the Docker engine again: %s', e)
            except Exception:
                LOG.exception('Following the Docker engine\'s events failed; '
                              'connecting again')
                self._stopping.wait(RETRY_FIRST)
            self._stream = None
            lost = True

    def _follow(self):
        for event in self._stream:
            self._since = event['timeNano']
            self._handle(event)
        if not self._stopping.is_set():
            LOG.warning('The Docker engine ended its event stream (stopped '
                        'or restarting); connecting again')

    def _handle(self, event):
        attributes = event['Actor']['Attributes']
        if not engine.is_instance_container(attributes['name'], attributes):
            return
        uuid = attributes[engine.LABEL_INSTANCE]
        if event['Action'] == 'oom':
            LOG.warning('The kernel\'s OOM killer killed a process of '
                        '%s: its memory reached the flavor\'s limit',
                        attributes['name'], instance_uuid=uuid)
        lifecycle = lifecycle_event(event)
        if lifecycle is None:
            return
        if event['Action'] == 'die':
            if not self._engine.accepts_connections():
                LOG.info('%s stopped as the Docker engine shut down; it is '
                         'started again once the engine answers if Nova has '
                         'it running', attributes['name'], instance_uuid=uuid)
                return
            if self._engine.is_running(attributes['name']):
                # A stream followed again from the last event seen replays
                # what happened while it was lost, and the container may
                # have been started since (reconnected): Nova would stop
                # it.
                LOG.info('%s exited and was started again since: its exit '
                         'is not reported', attributes['name'],
                         instance_uuid=uuid)
                return
            LOG.info('%(name)s exited with code %(code)s',
                     {'name': attributes['name'],
                      'code': attributes.get('exitCode')},
                     instance_uuid=uuid)
        self._emit(lifecycle)
