"""Options of the Docker compute driver, in the ``[docker]`` group."""

from oslo_config import cfg

docker_group = cfg.OptGroup(
    'docker', title='Docker compute driver',
    help='Options of the Docker compute driver (compute_driver = '
         'docker.DockerDriver).')

docker_opts = [
    cfg.StrOpt('host_url', default='unix:///var/run/docker.sock',
               help='URL of the Docker engine API: unix:///path/to/socket '
                    'or tcp://host:port.'),
    cfg.IntOpt('api_timeout', default=120, min=1,
               help='Seconds to wait for an answer from the Docker engine '
                    'before giving up on a call.'),
    cfg.StrOpt('tls_ca_file',
               help='CA certificate that signed the engine\'s TLS '
                    'certificate (tcp:// URLs only). The environment\'s '
                    'REQUESTS_CA_BUNDLE and proxy variables do not apply '
                    'to the engine\'s connection.'),
    cfg.StrOpt('tls_cert_file',
               help='Client certificate presented to the engine.'),
    cfg.StrOpt('tls_key_file',
               help='Private key of the client certificate.'),
    cfg.BoolOpt('tls_verify', default=True,
                help='Verify the engine\'s TLS certificate against '
                     'tls_ca_file (or the system CAs). Only turn this off '
                     'for testing.'),
    cfg.BoolOpt('privileged', default=False,
                help='Run every container privileged. Grants the '
                     'containers full access to the host: tenants could '
                     'escape. Nothing a tenant controls can turn it on.'),
    cfg.IntOpt('pids_limit', default=2048, min=-1,
               help='The most processes and threads a container may have at '
                    'once, so that a fork bomb in one instance cannot '
                    'exhaust the host\'s PIDs. A flavor overrides it with '
                    'the extra spec docker:pids_limit. 0 or -1: no limit.'),
    cfg.BoolOpt('inject_key', default=False,
                help='Bind-mount the instance\'s key pair read-only as '
                     '/root/.ssh/authorized_keys in the container.'),
    cfg.StrOpt('image_cache_dir',
               help='Directory of pre-staged "docker save" tarballs, each '
                    'named by its Glance image id. An image found there is '
                    'loaded from the file instead of downloaded from '
                    'Glance.'),
    cfg.StrOpt('data_dir', default='$state_path/docker',
               help='Directory for the driver\'s own data (injected keys). '
                    'Images are streamed, never staged here.'),
    cfg.IntOpt('stop_timeout', default=10, min=0,
               help='Seconds a soft reboot waits for the container\'s '
                    'process to exit after its stop signal before killing '
                    'it.'),
    cfg.FloatOpt('spawn_check_seconds', default=0.05, min=0,
                 help='After starting a container, seconds to watch for its '
                      'process exiting at once; such a spawn fails with the '
                      'exit code and the last lines of output. Raise it for '
                      'images whose process takes longer to fail; every '
                      'spawn waits this long. 0 disables the watch.'),
    cfg.StrOpt('registry',
               help='host:port of the registry whose pushes become Glance '
                    'images (novadocker-registry-sync). Booting such an '
                    'image pulls it from there by digest, with the booting '
                    'user\'s token, so the engine fetches only the layers '
                    'it lacks; on any failure the image is loaded from '
                    'Glance. Unset: always from Glance. Images naming '
                    'another registry are always loaded from Glance.'),
    cfg.StrOpt('volumes_dir', default='$state_path/docker-volumes',
               help='Directory under which attached volumes are mounted on '
                    'this host (made a shared mount at start), for the '
                    'containers to see.'),
    cfg.StrOpt('volumes_mount_point', default='/volumes',
               help='Directory inside every container where its attached '
                    'volumes appear, each named by its device: the volume '
                    'attached as /dev/vdb is /volumes/vdb. A server\'s '
                    'metadata docker:volumes chooses another at boot.'),
    cfg.StrOpt('ceph_conf', default='/etc/ceph/ceph.conf',
               help='Ceph configuration file for attaching RBD volumes: '
                    'the monitors, and the keyring of the client Cinder '
                    'names in its connections (rbd_user), as libvirt '
                    'hosts hold it in a secret.'),
    cfg.ListOpt('sandbox_command', default=['/usr/bin/catatonit', '-P'],
                help='Command of the sandbox container that holds each '
                     'instance\'s network namespace: a statically linked '
                     'program that waits for signals and nothing else. The '
                     'program (the first item) is copied from this host '
                     'into the sandbox image; Debian\'s catatonit package '
                     'provides the default.'),
]


CONF = cfg.CONF


def register_opts(conf):
    conf.register_group(docker_group)
    conf.register_opts(docker_opts, group=docker_group)


register_opts(CONF)


def list_opts():
    return [(docker_group, docker_opts)]
