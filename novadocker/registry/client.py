"""The few calls of the registry's HTTP API (distribution v2) that the
synchronisation makes, each with a token it signs itself."""

import contextlib
import time

import requests

SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json'
MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
IMAGE_MANIFESTS = (SCHEMA2, OCI_MANIFEST)
LISTS = (MANIFEST_LIST, OCI_INDEX)
PLATFORM = {'os': 'linux', 'architecture': 'amd64'}
# A manifest read again after a server error: Distribution 2.8's filesystem
# store rewrites a tag's link in place, and a read racing a push of the tag
# answers 500 "invalid checksum digest format".
MANIFEST_READS = 3
MANIFEST_RETRY_SECONDS = 0.5


class UnsupportedManifest(Exception):
    pass


class Registry:

    def __init__(self, url, signer, subject='novadocker-registry-sync',
                 timeout=30):
        self.url = url.rstrip('/')
        self._signer = signer
        self._subject = subject
        self._timeout = timeout
        self._session = requests.Session()

    def _request(self, method, path, access, **kwargs):
        token = self._signer.token(self._subject, access)['token']
        headers = dict(kwargs.pop('headers', {}),
                       Authorization='Bearer ' + token)
        return self._session.request(method, self.url + path,
                                     headers=headers, timeout=self._timeout,
                                     **kwargs)

    @staticmethod
    def _repository(name, *actions):
        return [{'type': 'repository', 'name': name,
                 'actions': list(actions)}]

    def repositories(self):
        access = [{'type': 'registry', 'name': 'catalog', 'actions': ['*']}]
        found, last = [], None
        while True:
            params = {'n': 1000}
            if last:
                params['last'] = last
            response = self._request('GET', '/v2/_catalog', access,
                                     params=params)
            response.raise_for_status()
            page = response.json().get('repositories') or []
            found.extend(page)
            if 'next' not in response.links or not page:
                return found
            last = page[-1]

    def tags(self, repository):
        response = self._request('GET', '/v2/%s/tags/list' % repository,
                                 self._repository(repository, 'pull'))
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return response.json().get('tags') or []

    def manifest(self, repository, reference):
        """(digest, manifest) of an image for linux/amd64 under a tag or
        digest (a manifest list or OCI index is resolved), or None if
        there is none."""
        for attempt in range(1, MANIFEST_READS + 1):
            response = self._request(
                'GET', '/v2/%s/manifests/%s' % (repository, reference),
                self._repository(repository, 'pull'),
                headers={'Accept': ', '.join(IMAGE_MANIFESTS + LISTS)})
            if response.status_code < 500 or attempt == MANIFEST_READS:
                break
            time.sleep(MANIFEST_RETRY_SECONDS)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        media_type = response.headers.get('Content-Type', '').split(';')[0]
        body = response.json()
        media_type = body.get('mediaType', media_type)
        if media_type in LISTS:
            for entry in body.get('manifests', []):
                platform = entry.get('platform', {})
                if all(platform.get(k) == v for k, v in PLATFORM.items()):
                    return self.manifest(repository, entry['digest'])
            raise UnsupportedManifest(
                'no linux/amd64 image in %s:%s' % (repository, reference))
        if media_type not in IMAGE_MANIFESTS:
            raise UnsupportedManifest('%s:%s is a %s, not an image manifest'
                                      % (repository, reference, media_type))
        return response.headers['Docker-Content-Digest'], body

    @contextlib.contextmanager
    def blob(self, repository, digest):
        """The blob's bytes as a readable (the registry answers a blob GET
        with its content, or a redirect the session follows)."""
        response = self._request(
            'GET', '/v2/%s/blobs/%s' % (repository, digest),
            self._repository(repository, 'pull'), stream=True)
        try:
            response.raise_for_status()
            response.raw.decode_content = False
            yield response.raw
        finally:
            response.close()

    def delete_manifest(self, repository, digest):
        """Removes the manifest and every tag on it; False if it was not
        there."""
        response = self._request(
            'DELETE', '/v2/%s/manifests/%s' % (repository, digest),
            self._repository(repository, 'pull', 'delete'))
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True
