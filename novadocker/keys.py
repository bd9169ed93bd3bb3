"""Key pair injection: the instance's public key, bind-mounted read-only."""

import os
import shutil

from novadocker import conf

CONF = conf.CONF
CONTAINER_PATH = '/root/.ssh/authorized_keys'


def _directory(instance):
    return os.path.join(CONF.docker.data_dir, 'keys', instance.uuid)


def binds(instance):
    """Volume binds for the instance's key, or None when nothing to inject."""
    if not (CONF.docker.inject_key and instance.key_data):
        return None
    directory = _directory(instance)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, 'authorized_keys')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as keyfile:
        keyfile.write(instance.key_data.strip() + '\n')
    return {path: {'bind': CONTAINER_PATH, 'mode': 'ro'}}


def remove(instance):
    shutil.rmtree(_directory(instance), ignore_errors=True)
