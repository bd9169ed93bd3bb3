"""Loads the Docker driver as ``compute_driver = docker.DockerDriver``.

Nova only imports compute drivers from ``nova.virt``; the driver itself lives
in the ``novadocker`` package.
"""

from novadocker.driver import DockerDriver

__all__ = ['DockerDriver']
