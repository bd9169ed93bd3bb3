"""kuryr's join check set to an engine's execution root (a table test of
the schema kuryr validates a join against, no kuryr running)."""

import copy

import jsonschema
from kuryr_libnetwork.schemata import commons
from kuryr_libnetwork import schemata
import testtools

from novadocker import kuryr_server

ID = 'a' * 64


def _join(sandbox_key):
    return {'NetworkID': ID, 'EndpointID': ID, 'SandboxKey': sandbox_key}


class AcceptEngineRootTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        saved = copy.deepcopy(commons.COMMONS['definitions']['sandbox_key'])
        self.addCleanup(commons.COMMONS['definitions'].__setitem__,
                        'sandbox_key', saved)

    def test_kuryr_alone_accepts_the_default_root_only(self):
        jsonschema.validate(_join('/var/run/docker/netns/0123456789ab'),
                            schemata.JOIN_SCHEMA)
        self.assertRaises(
            jsonschema.ValidationError, jsonschema.validate,
            _join('/srv/aio/hosts/h2/run/docker/netns/0123456789ab'),
            schemata.JOIN_SCHEMA)

    def test_an_added_hosts_root_is_accepted_and_no_other(self):
        kuryr_server.accept_engine_root('/srv/aio/hosts/h2/run/docker/')
        jsonschema.validate(
            _join('/srv/aio/hosts/h2/run/docker/netns/0123456789ab'),
            schemata.JOIN_SCHEMA)
        for refused in ('/var/run/docker/netns/0123456789ab',
                        '/srv/aio/hosts/h3/run/docker/netns/0123456789ab',
                        '/srv/aio/hosts/h2/run/docker/netns/../../x'):
            self.assertRaises(jsonschema.ValidationError,
                              jsonschema.validate, _join(refused),
                              schemata.JOIN_SCHEMA)
