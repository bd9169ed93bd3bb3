"""An added compute host's Docker engine (Debian's dockerd), in the host's
network namespace, with its own data, socket and cgroup parent.

The first host uses the machine's engine (tools/lib.sh starts it when none
answers). Every engine trusts the registry on the management network
without TLS (``--insecure-registry``): that network is the all-in-one's
own; a cloud on several machines gives its registry a certificate.
"""

import os

import docker

from aio import layout as aio_layout
from aio import service


def remove_labelled_containers(url, label, timeout=60):
    """Removes the containers labelled ``label`` ("key=value") from the
    engine at ``url``; returns the engine's client (None when it does not
    answer, which is said) and what it removed."""
    try:
        client = docker.DockerClient(base_url=url, timeout=timeout)
        containers = client.containers.list(all=True,
                                            filters={'label': label})
    except docker.errors.DockerException as e:
        print('The Docker engine does not answer (%s): what is labelled %s '
              'is left in it' % (e, label))
        return None, []
    for container in containers:
        container.remove(force=True)
    return client, ['container ' + c.name for c in containers]


def answers(url):
    return service.Check('answers at ' + url,
                         lambda: docker.DockerClient(url, timeout=2).ping())


class DockerEngine(service.Service):
    name = 'docker-engine'
    after = ('host-network',)

    def processes(self):
        host = self.host
        exec_root = host.docker_exec_root
        return [service.Process('dockerd', host.command([
            'dockerd',
            '--data-root', self.data(),
            '--exec-root', exec_root,
            '--pidfile', os.path.join(exec_root, 'dockerd.pid'),
            '--host', host.docker_url,
            '--cgroup-parent', '/novadocker-' + host.name,
            # Instances have Neutron's ports only; the engine makes no
            # network and no firewall rule.
            '--bridge', 'none', '--iptables=false', '--ip6tables=false',
            '--ip-forward=false', '--ip-masq=false',
            '--insecure-registry', aio_layout.MANAGEMENT_NETWORK,
            # A host's stop is its power going: its containers stop, and
            # nova-compute starts them again at the next start.
            '--shutdown-timeout', '5',
        ]), answers(host.docker_url), timeout=30, stop_timeout=30)]
