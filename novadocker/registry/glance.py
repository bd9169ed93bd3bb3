"""Glance as the registry side sees it: an admin's connection from the
[service_auth] options, and the few calls of Glance's v2 API it makes."""

from keystoneauth1 import loading as ks_loading
import openstack

from novadocker.registry import conf as registry_conf

JSON_PATCH = 'application/openstack-images-v2.1-json-patch'


def connect(conf):
    """An openstacksdk connection authenticated with [service_auth]."""
    auth = ks_loading.load_auth_from_conf_options(
        conf, registry_conf.SERVICE_AUTH)
    session = ks_loading.load_session_from_conf_options(
        conf, registry_conf.SERVICE_AUTH, auth=auth)
    return openstack.connection.Connection(session=session)


class Glance:
    """Through an admin's keystoneauth adapter (openstacksdk's image
    proxy)."""

    def __init__(self, adapter):
        self._api = adapter

    def images(self, **properties):
        """Every image with these properties, hidden ones too."""
        found = []
        for hidden in ('false', 'true'):
            params = dict(properties, os_hidden=hidden, limit=1000)
            url = '/images'
            while url:
                page = self._api.get(url, params=params).json()
                found.extend(page['images'])
                url, params = page.get('next'), None
        return found

    def get(self, image_id):
        response = self._api.get('/images/%s' % image_id,
                                 raise_exc=False)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def create(self, fields):
        return self._api.post('/images', json=fields).json()

    def upload(self, image_id, chunks):
        """The image's data, sent as it is produced (chunked)."""
        self._api.put('/images/%s/file' % image_id, data=chunks,
                      headers={'Content-Type': 'application/octet-stream'})

    def patch(self, image_id, operations):
        self._api.patch('/images/%s' % image_id, json=operations,
                        headers={'Content-Type': JSON_PATCH})

    def delete(self, image_id):
        self._api.delete('/images/%s' % image_id, raise_exc=False)
