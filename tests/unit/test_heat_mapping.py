"""DockerInc::Docker::Container's mapping onto Nova, as tables: image
references, flavor choice, environment and command, ports, refusals and
update decisions."""

import json

import testtools

from novadocker.heat import mapping

FLAVORS = [('m1.nano', 64, 1, 1), ('m1.micro', 128, 1, 1),
           ('m1.tiny', 512, 1, 1), ('m1.small', 2048, 1, 20),
           ('m1.medium', 4096, 2, 40)]


class ImageReferenceTestCase(testtools.TestCase):

    def test_names_a_reference_may_stand_for(self):
        table = [
            ('busybox', ['busybox']),
            ('busybox:latest', ['busybox:latest', 'busybox',
                                'busybox_latest']),
            ('busybox:1.36', ['busybox:1.36', 'busybox_1.36']),
            ('library/busybox', ['library/busybox', 'busybox']),
            ('docker.io/library/busybox:1.36',
             ['docker.io/library/busybox:1.36', 'busybox:1.36',
              'busybox_1.36']),
            ('demo/web:1', ['demo/web:1', 'demo/web_1']),
            ('127.0.0.1:5042/demo/web', ['127.0.0.1:5042/demo/web']),
            ('busybox@sha256:' + 'a' * 64, ['busybox@sha256:' + 'a' * 64]),
        ]
        for reference, names in table:
            self.assertEqual(names, mapping.reference_names(reference),
                             reference)

    def test_references_to_the_clouds_registry(self):
        registry = '127.0.0.1:5042'
        table = [
            ('127.0.0.1:5042/demo/web:1', ('demo/web', '1')),
            ('127.0.0.1:5042/demo/web', ('demo/web', 'latest')),
            ('127.0.0.1:5043/demo/web:1', None),
            ('demo/web:1', None),
        ]
        for reference, found in table:
            self.assertEqual(found, mapping.registry_reference(reference,
                                                               registry))
        self.assertIsNone(mapping.registry_reference('demo/web', None))

    def test_which_references_name_a_registry(self):
        for reference, names in [('127.0.0.1:5042/demo/web', True),
                                 ('registry.example.org/web', True),
                                 ('localhost/web', True),
                                 ('demo/web:1', False), ('busybox:1', False),
                                 ('busybox', False)]:
            self.assertEqual(names, mapping.names_a_registry(reference),
                             reference)

    def test_upload_hint_names_the_command(self):
        self.assertIn('docker save busybox:1.36 | openstack image create '
                      '--container-format docker --disk-format raw '
                      'busybox_1.36', mapping.upload_hint('busybox:1.36'))


class FlavorTestCase(testtools.TestCase):

    def test_smallest_fitting_flavor(self):
        table = [
            ((None, None), 'm1.tiny'),
            ((64 * mapping.MIB, None), 'm1.nano'),
            ((65 * mapping.MIB, None), 'm1.micro'),
            ((128 * mapping.MIB, 1024), 'm1.micro'),
            ((128 * mapping.MIB, 1025), 'm1.medium'),
            ((None, 2048), 'm1.medium'),
            ((1, 0), 'm1.nano'),
        ]
        for (memory, shares), name in table:
            self.assertEqual(name, mapping.smallest_flavor(
                FLAVORS, memory, shares), (memory, shares))

    def test_nothing_fits(self):
        error = self.assertRaises(mapping.Invalid, mapping.smallest_flavor,
                                  FLAVORS, 8192 * mapping.MIB)
        self.assertIn('no flavor has 8192 MiB of memory and 0 vCPUs',
                      str(error))
        self.assertIn('the largest is m1.medium (4096 MiB, 2 vCPUs)',
                      str(error))


class ServerMetadataTestCase(testtools.TestCase):

    def test_environment_and_reserved_keys(self):
        self.assertEqual({
            'GREETING': 'a=b', 'EMPTY': '',
            'docker:cmd': json.dumps(['sh', '-c', 'echo hi']),
            'docker:user': '1000', 'docker:tty': 'true',
            'docker:stdin': 'true', 'docker:read_only': 'true',
        }, mapping.server_metadata({
            'env': ['GREETING=a=b', 'EMPTY='],
            'cmd': ['sh', '-c', 'echo hi'], 'user': '1000', 'tty': True,
            'open_stdin': True, 'read_only': True}))
        self.assertEqual({}, mapping.server_metadata({
            'env': None, 'cmd': [], 'tty': False}))

    def test_bad_values_name_the_property(self):
        table = [
            ({'env': ['NOEQUALS']}, "env item 'NOEQUALS'"),
            ({'env': ['BAD NAME!=x']}, "env item 'BAD NAME!=x'"),
            ({'env': ['docker:cmd=x']}, 'not starting with docker:'),
            ({'env': ['LONG=' + 'x' * 256]},
             'env item LONG has a value of 256'),
            ({'cmd': ['x' * 300]}, 'cmd is 304 characters as JSON'),
            ({'user': 'root; reboot'}, 'docker:user'),
        ]
        for properties, message in table:
            error = self.assertRaises(mapping.Invalid,
                                      mapping.server_metadata, properties)
            self.assertIn(message, str(error), properties)


class PortSpecsTestCase(testtools.TestCase):

    def test_rules(self):
        self.assertEqual([(80, 'tcp'), (53, 'udp'), (8080, 'tcp')],
                         mapping.port_rules([80, '53/udp', '8080/tcp',
                                             '80']))
        self.assertEqual([], mapping.port_rules(None))

    def test_bad_ports(self):
        for spec in ('0', '65536', 'http', '80/sctp', '-1', ''):
            self.assertRaises(mapping.Invalid, mapping.port_rules, [spec])


class RefusedTestCase(testtools.TestCase):

    def test_only_what_would_do_something_is_refused(self):
        self.assertEqual([], mapping.refused({
            'privileged': False, 'volumes': {}, 'cap_add': [],
            'restart_policy': {'Name': 'no', 'MaximumRetryCount': 0},
            'docker_endpoint': None}))
        refused = dict(mapping.refused({
            'privileged': True, 'port_bindings': {'80/tcp': []},
            'restart_policy': {'Name': 'always'}, 'dns': ['203.0.113.53']}))
        self.assertEqual(['dns', 'port_bindings', 'privileged',
                          'restart_policy'], sorted(refused))
        self.assertIn('floating IP', refused['port_bindings'])
        self.assertIn('dns_nameservers', refused['dns'])

    def test_every_refusal_says_what_to_do(self):
        for name, why in mapping.REFUSED.items():
            self.assertGreater(len(why), 20, name)


class UpdateStepsTestCase(testtools.TestCase):

    def test_steps(self):
        table = [
            ({'name'}, ['rename']),
            ({'env'}, ['rebuild']),
            ({'image', 'cmd'}, ['rebuild']),
            ({'hostname'}, ['rebuild']),
            ({'memory'}, ['resize']),
            ({'cpu_shares', 'flavor'}, ['resize']),
            ({'port_specs'}, ['port_rules']),
            ({'security_groups'}, ['security_groups']),
            ({'name', 'env', 'memory', 'port_specs'},
             ['rename', 'rebuild', 'resize', 'port_rules']),
            (set(), []),
        ]
        for changed, steps in table:
            self.assertEqual(steps, mapping.update_steps(changed), changed)
