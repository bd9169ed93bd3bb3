"""A server's serial console through Nova: the URL of ``openstack console
url show --serial``, opened with a websocket client as a user's terminal
would, through nova-serialproxy to the compute host's console port."""

import json
import re
import subprocess
import time

import websocket

from aio import demo
from aio.layout import HOST
from aio.services import mariadb
from novadocker import console
from tests.aio import base as aio_base

# nova-serialproxy speaks websockify's binary subprotocol.
SUBPROTOCOLS = ['binary', 'base64']
READ_SECONDS = 15


class ConsoleTestCase(aio_base.AllInOneBase):

    def setUp(self):
        super().setUp()
        self.image = self.conn.image.find_image(demo.IMAGE_NAME)

    def _url(self, server):
        return json.loads(self._cli('console', 'url', 'show', '--serial',
                                    '-f', 'json', server.id))['url']

    def _open(self, url):
        session = websocket.create_connection(url, subprotocols=SUBPROTOCOLS,
                                              timeout=READ_SECONDS)
        self.addCleanup(session.close)
        return session

    @staticmethod
    def _read_until(session, pattern):
        """The first match of ``pattern`` in what the console prints."""
        seen = ''
        deadline = time.monotonic() + READ_SECONDS
        while True:
            found = re.search(pattern, seen)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError('%r not in what the console printed: '
                                     '%r' % (pattern, seen))
            seen += session.recv().decode(errors='replace')

    def _typed(self, session, line, pattern):
        """``line`` typed, and the match of ``pattern`` in the answer (the
        terminal echoes the line itself first)."""
        session.send_binary((line + '\n').encode())
        return self._read_until(session, pattern)

    def _refused(self, url):
        """Whether nova-serialproxy refuses the URL: no handshake, or the
        connection closed at once."""
        try:
            return not self._open(url).recv()
        except (websocket.WebSocketException, ConnectionError):
            return True

    def _shells(self, server):
        """The console shells running in the server's container."""
        return [p for p in self._container(server).top()['Processes']
                if p[-1] == console.SHELL]

    def test_each_session_gets_a_shell_of_its_own_and_leaves_none(self):
        server = self._boot(self.image, 'e2e-console')
        started = self._started_at(server)
        first, second = (self._open(self._url(server)) for _ in range(2))

        self._typed(first, 'echo $((6*7))', r'\n42\r\n')
        pids = [self._typed(session, 'echo pid=$(($$))', r'pid=(\d+)\r\n')
                .group(1) for session in (first, second)]
        self.assertNotEqual(pids[0], pids[1])
        self.assertEqual(2, len(self._shells(server)))

        first.close()
        self.assertTrue(self._until(lambda: len(self._shells(server)) == 1,
                                    10))
        self._typed(second, 'echo $((6*7))', r'\n42\r\n')
        second.close()
        self.assertTrue(self._until(lambda: not self._shells(server), 10))
        self.assertEqual(('ACTIVE', started), (
            self.conn.compute.get_server(server.id).status,
            self._started_at(server)))

        # The port listens on the compute host's management address only.
        host, port = self._console_port(server)
        self.assertEqual(HOST, host)
        listening = subprocess.run(
            ['ss', '-Hltn', 'sport = :%d' % port], capture_output=True,
            text=True, check=True).stdout.split('\n')
        self.assertEqual(['%s:%d' % (host, port)],
                         [line.split()[3] for line in listening if line])

    def _console_port(self, server):
        """(host, port) of the server's console, as Nova recorded it for
        the last URL it gave."""
        out = subprocess.run(
            ['mariadb', '-S', mariadb.MariaDB(self.layout).socket, '-N',
             '-e',
             "SELECT host, port FROM nova_cell1.console_auth_tokens WHERE "
             "instance_uuid = '%s' ORDER BY id DESC LIMIT 1" % server.id],
            capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    def test_terminal_server_console_is_its_own_process(self):
        image, _ = self._upload_image('e2e-console-tty', ['/bin/sh'])
        server = self._boot(image, 'e2e-console-tty', metadata={
            'docker:tty': 'true', 'docker:stdin': 'true'})
        session = self._open(self._url(server))
        self._typed(session, 'echo pid=$(($$))', r'pid=1\r\n')
        # Its own /bin/sh only: no shell was started for the console.
        self.assertEqual(1, len(self._shells(server)))

    def test_server_without_a_shell_is_told_why(self):
        image, _ = self._upload_image(
            'e2e-console-no-shell', ['/bin/busybox', 'sleep', '3600'],
            applets=False)
        server = self._boot(image, 'e2e-console-no-shell')
        session = self._open(self._url(server))
        self._read_until(session, re.escape(console.NO_SHELL))

    def test_console_follows_the_server_through_stop_and_start(self):
        server = self._boot(self.image, 'e2e-console-stopped')
        self._act(self.conn.compute.stop_server, server, 'SHUTOFF', 'exited')
        self._read_until(self._open(self._url(server)),
                         re.escape(console.NOT_RUNNING))
        self._act(self.conn.compute.start_server, server, 'ACTIVE',
                  'running')
        self._typed(self._open(self._url(server)), 'echo $((6*7))',
                    r'\n42\r\n')

    def test_unknown_or_deleted_servers_token_is_refused(self):
        server = self._boot(self.image, 'e2e-console-deleted')
        url = self._url(server)
        self._open(url).close()
        self._delete(server)
        for refused in (url, url.split('token=')[0] + 'token=not-a-token'):
            self.assertTrue(self._refused(refused), refused)
