"""The registry's token service: ``docker login`` with Keystone credentials.

Docker's registry (CNCF distribution, ``auth: token``) sends a client
without a token to this service; the engine asks it, with the user's
HTTP Basic credentials, for a token granting actions on the repositories
it names (``scope=repository:demo/web:push,pull``). This service checks the
credentials against Keystone and signs a JWT that the registry verifies
with the key's certificate.

A repository is ``<project name>/<name>``: a push needs one of
``push_roles`` in that project, a pull one of ``pull_roles`` (or a push
role); a user with one of ``service_roles`` in its own project (Nova's)
may pull every repository, and anyone may pull a repository one of whose
Glance images is public. What is not granted is left out of the token and
the registry refuses it. With the user name ``keystone-token``, the
password is a Keystone token, whose roles count in its own project only
(the driver pulls with the booting user's token this way).
"""

import base64
import hashlib
import threading
import time

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
from oslo_log import log as logging
import webob
import webob.dec

from novadocker import registry
from novadocker.registry import glance
from novadocker.registry import signer

LOG = logging.getLogger(__name__)

PUSH, PULL = 'push', 'pull'


class Scope:
    """One item of a token request's scope: ``type:name:actions``."""

    def __init__(self, text):
        kind, _, rest = text.partition(':')
        self.name, _, actions = rest.rpartition(':')
        self.type = kind
        self.actions = frozenset(a for a in actions.split(',') if a)

    @classmethod
    def parse_all(cls, values):
        """Docker sends several ``scope`` parameters, or one with scopes
        separated by spaces."""
        return [cls(text) for value in values for text in value.split()]

    @property
    def project(self):
        """The Keystone project a repository belongs to, or None for a
        name without one."""
        project, slash, rest = self.name.partition('/')
        return project if slash and project and rest else None


def repository_actions(requested, project_roles, own_roles, conf):
    """The actions granted on one repository: ``project_roles`` are the
    user's roles in the repository's project, ``own_roles`` in its own."""
    granted = set()
    if set(project_roles) & set(conf.push_roles):
        granted = {PUSH, PULL}
    elif set(project_roles) & set(conf.pull_roles):
        granted = {PULL}
    if set(own_roles) & set(conf.service_roles):
        granted.add(PULL)
    return granted & set(requested)


class Unauthorized(Exception):
    """Keystone refused the user name or password."""


class KeystoneUnavailable(Exception):
    pass


class _Remembered:
    """Values kept for ``seconds`` after they were put (thread-safe)."""

    def __init__(self, seconds):
        self._seconds = seconds
        self._values = {}
        self._lock = threading.Lock()

    def get(self, key):
        """(True, value) while it is remembered, else (False, None)."""
        with self._lock:
            hit = self._values.get(key)
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def put(self, key, value):
        now = time.monotonic()
        with self._lock:
            self._values = {k: v for k, v in self._values.items()
                            if v[0] > now}
            self._values[key] = (now + self._seconds, value)


class Keystone:
    """Checks credentials with Keystone: a password authentication, or a
    token's validation; remembers a success for
    ``credential_cache_seconds``."""

    def __init__(self, conf):
        self._conf = conf
        self._session = ks_session.Session()
        self._cache = _Remembered(conf.credential_cache_seconds)

    def roles(self, user, password, project=None):
        """The user's role names in ``project`` (without one: in its
        default project, or the token's, none if it has none); None if it
        has no role there. Raises Unauthorized for wrong credentials."""
        key = (user, hashlib.sha256(password.encode()).digest(), project)
        known, roles = self._cache.get(key)
        if known:
            return roles
        if user == registry.TOKEN_USER:
            roles = self._token_roles(password, project)
        else:
            roles = self._password_roles(user, password, project)
        self._cache.put(key, roles)
        return roles

    def _token_roles(self, token, project):
        try:
            body = self._session.get(
                self._conf.auth_url.rstrip('/') + '/auth/tokens',
                headers={'X-Auth-Token': token, 'X-Subject-Token': token},
                authenticated=False).json()['token']
        except (ks_exceptions.Unauthorized, ks_exceptions.NotFound):
            raise Unauthorized()
        except (ks_exceptions.ConnectFailure, ks_exceptions.ConnectTimeout,
                ks_exceptions.ServiceUnavailable) as e:
            raise KeystoneUnavailable(str(e)) from e
        roles = frozenset(role['name'] for role in body.get('roles', ()))
        scope = body.get('project') or {}
        if project is None:
            return roles
        if scope.get('name') == project and scope.get('domain', {}).get(
                'name') == self._conf.project_domain_name:
            return roles
        return None

    def _password_roles(self, user, password, project):
        conf = self._conf
        scope = ({'project_name': project,
                  'project_domain_name': conf.project_domain_name}
                 if project else {})
        auth = v3.Password(auth_url=conf.auth_url, username=user,
                           password=password,
                           user_domain_name=conf.user_domain_name, **scope)
        try:
            return frozenset(auth.get_access(self._session).role_names
                             or ())
        except ks_exceptions.Unauthorized:
            if project is None:
                raise Unauthorized()
            return None
        except (ks_exceptions.ConnectFailure, ks_exceptions.ConnectTimeout,
                ks_exceptions.ServiceUnavailable) as e:
            raise KeystoneUnavailable(str(e)) from e


def _error(status, code, message):
    response = webob.Response(status=status, json_body={
        'errors': [{'code': code, 'message': message}]})
    if status == 401:
        response.www_authenticate = ('Basic', {'realm': 'novadocker'})
    return response


class TokenService:
    """The WSGI application: ``GET /token``."""

    def __init__(self, conf):
        self._conf = conf.registry
        self.signer = signer.Signer(self._conf)
        self._keystone = Keystone(self._conf)
        self._glance = glance.Glance(glance.connect(conf).image)
        self._public = _Remembered(self._conf.credential_cache_seconds)

    def _is_public(self, repository):
        """Whether a Glance image of the repository is public: anyone may
        pull it then (a yes is remembered for credential_cache_seconds, a
        no is asked again, so an image made public is pullable at once)."""
        if self._public.get(repository)[0]:
            return True
        try:
            public = bool(self._glance.images(docker_repository=repository,
                                              visibility='public'))
        except Exception as e:
            LOG.warning('Could not ask Glance whether %s is public (%s): '
                        'taken as not', repository, e)
            return False
        if public:
            self._public.put(repository, True)
        return public

    def access(self, user, password, scopes):
        own_roles = self._keystone.roles(user, password)
        access = []
        for scope in scopes:
            if scope.type != 'repository' or not scope.project:
                continue
            project_roles = self._keystone.roles(user, password,
                                                 scope.project) or ()
            actions = repository_actions(scope.actions, project_roles,
                                         own_roles, self._conf)
            if PULL in scope.actions - actions and self._is_public(scope.name):
                actions.add(PULL)
            if actions:
                access.append({'type': 'repository', 'name': scope.name,
                               'actions': sorted(actions)})
            if actions != scope.actions:
                LOG.info('%s asked %s on %s, granted %s', user,
                         sorted(scope.actions), scope.name,
                         sorted(actions) or 'nothing')
        return access

    @webob.dec.wsgify
    def __call__(self, request):
        if request.path_info != '/token':
            return _error(404, 'NOT_FOUND', 'only /token is served here')
        if request.method != 'GET':
            return _error(405, 'UNSUPPORTED', 'ask for a token with GET')
        if request.authorization is None or \
                request.authorization.authtype.lower() != 'basic':
            return _error(401, 'UNAUTHORIZED',
                          'log in with your OpenStack user name and '
                          'password: docker login -u <user> <registry>')
        try:
            user, _, password = base64.b64decode(
                request.authorization.params).decode().partition(':')
        except (ValueError, UnicodeDecodeError):
            return _error(400, 'UNAUTHORIZED', 'malformed Basic credentials')
        try:
            access = self.access(
                user, password, Scope.parse_all(request.GET.getall('scope')))
        except Unauthorized:
            LOG.info('Keystone refused the password of %s', user)
            return _error(401, 'UNAUTHORIZED',
                          'Keystone refused user name or password of %s '
                          '(user domain %s)' % (
                              user, self._conf.user_domain_name))
        except KeystoneUnavailable as e:
            LOG.error('Keystone at %s did not answer: %s',
                      self._conf.auth_url, e)
            return _error(503, 'UNAVAILABLE',
                          'Keystone did not answer; try again later')
        return webob.Response(json_body=self.signer.token(user, access))
