"""python -m aio [up|stop|wipe|status]: the all-in-one's command line."""

import argparse
import concurrent.futures
import contextlib
import datetime
import os
import shutil
import signal
import subprocess
import sys
import time

import docker

from aio import configs
from aio import databases
from aio import demo
from aio import identity
from aio import layout as aio_layout
from aio import network
from aio import processes
from aio import services
from aio.layout import HOST, PORTS

NOVA_BINARIES = ('nova-conductor', 'nova-scheduler', 'nova-compute')
NETWORK_AGENTS = ('neutron-openvswitch-agent', 'neutron-dhcp-agent')


class Failed(Exception):
    pass


@contextlib.contextmanager
def stage(title):
    print('==> %s' % title, flush=True)
    start = time.monotonic()
    yield
    print('    done in %.1fs' % (time.monotonic() - start), flush=True)


def _port_owner(port):
    out = subprocess.run(['ss', '-Hltnp', 'sport = :%d' % port],
                         capture_output=True, text=True).stdout
    return out.split('users:', 1)[1].strip() if 'users:' in out else 'unknown'


def preflight(layout):
    problems = []
    for name, port in PORTS.items():
        if processes.running_pid(layout, name):
            continue
        if processes.port_in_use(HOST, port):
            problems.append('port %d (%s) is already in use by %s; stop that '
                            'process or run "tools/aio stop"' % (
                                port, name, _port_owner(port)))
    try:
        docker.from_env().ping()
    except Exception as e:
        problems.append('the Docker engine does not answer (%s); start '
                        'dockerd (tools/aio starts it when it is installed)'
                        % e)
    if problems:
        raise Failed('\n       '.join(problems))


def _start(layout, service):
    processes.start(layout, service.name, service.argv, service.env)


def _wait(layout, service):
    processes.wait(layout, service.name, service.ready, service.timeout)


def _start_and_wait(layout, group):
    for service in group:
        _start(layout, service)
    for service in group:
        _wait(layout, service)


def _wait_for_nova_service(layout, conn, binary, started, timeout=120):
    """Until the service has reported through the services API since it
    was started (a record from an earlier run still reads "up" for a
    minute)."""
    deadline = time.monotonic() + timeout
    while not any(s.binary == binary and s.updated_at
                  and datetime.datetime.fromisoformat(s.updated_at) > started
                  for s in conn.compute.services()):
        processes.check_alive(layout, binary)
        if time.monotonic() > deadline:
            raise processes.ServiceFailed(
                binary, layout.log(binary),
                'did not report up within %d s' % timeout)
        time.sleep(0.3)


def _start_openvswitch(layout, by_name):
    network.create_ovsdb(layout)
    _start_and_wait(layout, [by_name['ovsdb-server']])
    network.configure_ovsdb(layout)
    _start_and_wait(layout, [by_name['ovs-vswitchd']])
    network.add_integration_bridge(layout)


def _map_compute_host(layout, conn, timeout=60):
    """Maps the compute host into its cell once its node record exists
    (nova-manage cell_v2 discover_hosts, run once rather than
    periodically by the scheduler)."""
    deadline = time.monotonic() + timeout
    while True:
        subprocess.run([layout.bin('nova-manage'), '--config-file',
                        layout.etc('nova', 'nova.conf'),
                        'cell_v2', 'discover_hosts'],
                       check=True, capture_output=True, text=True)
        if list(conn.compute.hypervisors()):
            return
        if time.monotonic() > deadline:
            raise processes.ServiceFailed(
                'nova-compute', layout.log('nova-compute'),
                'has no hypervisor to map after %d s' % timeout)
        time.sleep(1)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def up(layout):
    layout.make_dirs()
    secrets = aio_layout.load_secrets(layout)
    by_name = services.by_name(layout)

    def group(*names):
        return [by_name[n] for n in names]

    with stage('Checking ports %s and the Docker engine'
               % ', '.join(map(str, PORTS.values()))):
        preflight(layout)
    with stage('Writing configuration to %s' % layout.etc('')):
        configs.write_all(layout, secrets)
    with stage('Starting RabbitMQ, MariaDB and Open vSwitch (logs in %s)'
               % os.path.dirname(layout.log('rabbitmq'))):
        _start_and_wait(layout, group('epmd'))
        _start(layout, by_name['rabbitmq'])
        databases.initialize_mariadb(layout)
        _start_and_wait(layout, group('mariadb'))
        databases.create_databases(layout, secrets)
        _start_openvswitch(layout, by_name)
    pending = databases.pending(layout)
    if pending:
        with stage('Creating databases and keys: %s' % ', '.join(pending)):
            with concurrent.futures.ThreadPoolExecutor(len(pending)) as pool:
                for f in [pool.submit(databases.set_up, layout, name, secrets)
                          for name in pending]:
                    f.result()
    with stage('Starting Keystone (%s)' % aio_layout.url('keystone')):
        _start_and_wait(layout, group('keystone'))
    apis = group('placement', 'glance', 'nova-api', 'neutron-api')
    with stage('Starting Placement, Glance, Nova API, Neutron API and RPC '
               'server; registering users, projects and the catalog'):
        for service in apis + group('neutron-rpc'):
            _start(layout, service)
        identity.ensure(secrets)
        demo.write_clouds_yaml(layout, secrets)
        for service in apis:
            _wait(layout, service)
    with stage('Starting nova-conductor, nova-scheduler, nova-compute '
               '(docker.DockerDriver) and the Open vSwitch and DHCP agents'):
        _wait(layout, by_name['rabbitmq'])
        # nova-compute waits for the conductor, and retries only every
        # 10 s, if it starts first.
        started = _utcnow()
        for service in group('nova-conductor', 'nova-scheduler'):
            _start(layout, service)
        admin = identity.connect(secrets)
        _wait_for_nova_service(layout, admin, 'nova-conductor', started)
        _wait(layout, by_name['neutron-rpc'])
        # Started with nova-compute rather than with the conductor and the
        # scheduler, which already keep both cores busy.
        for service in group('nova-compute', *NETWORK_AGENTS):
            _start(layout, service)
        for binary in NOVA_BINARIES:
            _wait_for_nova_service(layout, admin, binary, started)
        network.wait_for_agents(layout, admin, NETWORK_AGENTS)
        _map_compute_host(layout, admin)
    with stage('Flavors and the sample image (docker save | openstack '
               'image create --container-format docker --disk-format raw)'):
        demo.ensure_flavors(admin)
        demo.ensure_image(layout, admin)
    demo_user = identity.connect(secrets, 'demo')
    with stage('The demo project\'s network %s (subnets %s; no router)' % (
            demo.NETWORK_NAME, ', '.join(
                '%s %s' % (name, cidr) for name, cidr, _ in demo.SUBNETS))):
        demo.ensure_network(demo_user)
    with stage('Booting the demo server (openstack server create --image %s '
               '--flavor m1.tiny --nic net-id=%s %s)' % (
                   demo.IMAGE_NAME, demo.NETWORK_NAME, demo.SERVER_NAME)):
        demo.ensure_server(layout, demo_user)
    print()
    print('$ OS_CLOUD=aio openstack server list')
    print(demo.openstack_cli(layout, 'aio', 'server', 'list').stdout, end='')
    server = demo_user.compute.find_server(demo.SERVER_NAME)
    print('$ docker ps --filter name=nova-%s' % server.id)
    print(subprocess.run(['docker', 'ps', '--filter', 'name=nova-' + server.id],
                         capture_output=True, text=True).stdout, end='')
    print()
    print('To use it:\n  export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=aio   '
          '# or aio-admin\n  %s server list' % (
              layout.clouds_yaml, layout.bin('openstack')))


def stop(layout):
    stopped = [s.name for s in reversed(services.all_services(layout))
               if processes.stop(layout, s.name, s.stop_argv, s.stop_timeout)]
    print('stopped: %s' % (', '.join(stopped) or 'nothing was running'))
    removed = network.remove_dhcp_namespaces(layout)
    if removed:
        print('removed namespaces: %s' % ', '.join(removed))


def wipe(layout):
    stop(layout)
    if not os.path.isdir(layout.state):
        print('nothing to wipe: %s does not exist' % layout.state)
        return
    client = docker.from_env()
    host_label = 'org.openstack.nova.host=' + aio_layout.compute_host(layout)
    for container in client.containers.list(
            all=True, filters={'label': host_label}):
        container.remove(force=True)
        print('removed container %s' % container.name)
    shutil.rmtree(layout.state, ignore_errors=True)
    print('removed %s' % layout.state)


def status(layout):
    all_running = True
    for service in services.all_services(layout):
        pid = processes.running_pid(layout, service.name)
        all_running = all_running and bool(pid)
        state = 'running (pid %d)' % pid if pid else 'stopped'
        if pid and service.name in PORTS:
            state += ', answering on port %d' % PORTS[service.name] \
                if service.ready() else ', NOT answering'
        print('%-25s %-45s %s' % (service.name, state,
                                  layout.log(service.name)))
    return 0 if all_running else 3


def main():
    parser = argparse.ArgumentParser(prog='tools/aio', description=__doc__)
    parser.add_argument('command', nargs='?', default='up',
                        choices=('up', 'stop', 'wipe', 'status'))
    args = parser.parse_args()
    layout = aio_layout.Layout.from_environment()
    if args.command == 'status':
        return status(layout)
    if args.command == 'stop':
        return stop(layout)
    if args.command == 'wipe':
        return wipe(layout)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        up(layout)
    except (Failed, processes.ServiceFailed) as e:
        print('ERROR: %s' % e, file=sys.stderr)
    except subprocess.CalledProcessError as e:
        print('ERROR: %s failed:\n%s' % (' '.join(e.cmd), e.stderr),
              file=sys.stderr)
    except BaseException:
        print('Interrupted: stopping what was started.', file=sys.stderr)
        stop(layout)
        raise
    else:
        return 0
    print('Stopping what was started, so nothing is left half-running.',
          file=sys.stderr)
    stop(layout)
    return 1


if __name__ == '__main__':
    sys.exit(main())
