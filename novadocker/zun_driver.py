"""Zun's Docker driver for a compute host that Nova's Docker driver
shares: the engine's own name is not the host's.

Zun takes the node it manages from the engine (``docker info``'s Name,
the machine's host name) and ignores its resources when that differs
from its ``[DEFAULT] host``. With ``host_shared_with_nova`` that option
must be Nova's host name, which names the resource provider both write
into; one engine may serve a compute host named otherwise (the
all-in-one's first host, whose name is its state directory's). This
driver manages the node its configuration names. zun-compute loads it
as ``[DEFAULT] container_driver = novadocker``.

Zun's kuryr network driver, as ``[network] driver = novadocker-kuryr``,
labels what it makes in the engine with the host, as Nova's driver labels
its own containers: the host's cleanup finds them by it.
"""

from oslo_config import cfg
from zun.container.docker import driver
from zun.network import kuryr_network

from novadocker import engine

CONF = cfg.CONF


def host_label():
    return {engine.LABEL_ZUN_HOST: CONF.host}


class DockerDriver(driver.DockerDriver):

    def get_available_nodes(self):
        return [CONF.host]


class _LabellingNetworks(object):
    """A Docker API client whose networks are created with the host's
    label."""

    def __init__(self, docker_api):
        self._docker_api = docker_api

    def __getattr__(self, name):
        return getattr(self._docker_api, name)

    def create_network(self, *args, **kwargs):
        return self._docker_api.create_network(
            *args, labels=host_label(), **kwargs)


class KuryrNetwork(kuryr_network.KuryrNetwork):

    def init(self, context, docker_api):
        super().init(context, _LabellingNetworks(docker_api))

    def process_networking_config(self, container, requested_network,
                                  host_config, container_kwargs, docker,
                                  security_group_ids):
        """The arguments of the container's creation (its first network
        is given there) get the host's label too, beside its user's."""
        super().process_networking_config(
            container, requested_network, host_config, container_kwargs,
            docker, security_group_ids)
        container_kwargs['labels'] = dict(container_kwargs.get('labels') or
                                          {}, **host_label())
