"""Receives the registry's notifications (POST /events) and hands them to
the synchronisation."""

import json


def application(sync, secret):
    """The WSGI application receiving the registry's notifications."""
    expected = 'Bearer ' + secret

    def receive(environ, start_response):
        if environ.get('PATH_INFO') != '/events' or \
                environ['REQUEST_METHOD'] != 'POST':
            start_response('404 Not Found', [])
            return [b'']
        if environ.get('HTTP_AUTHORIZATION') != expected:
            start_response('401 Unauthorized', [])
            return [b'']
        length = int(environ.get('CONTENT_LENGTH') or 0)
        try:
            sync.notified(json.loads(environ['wsgi.input'].read(length)))
        except ValueError:
            start_response('400 Bad Request', [])
            return [b'']
        start_response('200 OK', [])
        return [b'']
    return receive
