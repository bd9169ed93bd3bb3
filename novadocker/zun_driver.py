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
"""

from oslo_config import cfg
from zun.container.docker import driver

CONF = cfg.CONF


class DockerDriver(driver.DockerDriver):

    def get_available_nodes(self):
        return [CONF.host]
