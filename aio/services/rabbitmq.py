"""RabbitMQ (Debian's) on the management address, with its own epmd."""

import amqp

from aio import service
from aio.layout import HOST

PORT = 5672
EPMD_PORT = 4369
USER = 'openstack'
LOCAL = '127.0.0.1'


def transport_url(layout):
    return 'rabbit://%s:%s@%s:%d/' % (USER, layout.secrets['rabbit'], HOST,
                                      PORT)


def queues_consumed(layout, queues):
    """A readiness check: each RabbitMQ queue has a consumer."""
    def consumed():
        with amqp.Connection('%s:%d' % (HOST, PORT), userid=USER,
                             password=layout.secrets['rabbit'],
                             connect_timeout=2) as connection:
            return all(connection.channel().queue_declare(
                queue, passive=True).consumer_count for queue in queues)
    return service.Check('consumes RabbitMQ queues %s' % ', '.join(queues),
                         consumed)


class RabbitMQ(service.Service):
    name = 'rabbitmq'
    after = ('management',)
    ports = {'rabbitmq': PORT, 'epmd': EPMD_PORT}

    def config_files(self):
        return {
            'rabbitmq.conf': '\n'.join([
                'listeners.tcp.default = %s:%d' % (HOST, PORT),
                'default_user = %s' % USER,
                'default_pass = %s' % self.layout.secrets['rabbit'],
            ]) + '\n',
            'enabled_plugins': '[].\n',
        }

    def processes(self):
        return [
            # Erlang's port mapper and distribution serve rabbitmqctl on
            # this machine only.
            service.Process('epmd', ['epmd', '-address', LOCAL],
                            service.port_answers(EPMD_PORT, LOCAL),
                            timeout=10),
            service.Process(
                'rabbitmq', ['/usr/lib/rabbitmq/bin/rabbitmq-server'],
                service.port_answers(PORT), {
                    'HOME': self.data(),
                    'RABBITMQ_NODENAME': 'rabbit@localhost',
                    'ERL_EPMD_ADDRESS': LOCAL,
                    'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                        '-kernel inet_dist_use_interface {127,0,0,1}',
                    'RABBITMQ_CONFIG_FILE': self.etc('rabbitmq.conf'),
                    'RABBITMQ_ENABLED_PLUGINS_FILE': self.etc(
                        'enabled_plugins'),
                    'RABBITMQ_MNESIA_BASE': self.data('mnesia'),
                    'RABBITMQ_LOG_BASE': self.data('log'),
                    'RABBITMQ_PID_FILE': self.data('beam.pid'),
                }, after=('epmd',)),
        ]
