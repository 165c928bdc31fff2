"""Run wsgidav (PyPI) over a folder on 127.0.0.1: ``python wsgidav_main.py ROOT PORT USER PW``.

wsgidav needs a WSGI server; the stdlib's threading one is enough for tests (cheroot is not
a dependency). wsgiref hands the application the raw socket as ``wsgi.input``, so the body
is cut at Content-Length here, as every production WSGI server does.
"""

from __future__ import annotations

import io
import sys
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgidav.wsgidav_app import WsgiDAVApp


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _Body(io.RawIOBase):
    def __init__(self, stream: Any, length: int) -> None:
        self.stream, self.left = stream, length

    def read(self, size: int | None = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data: bytes = self.stream.read(size)
        self.left -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)


def main() -> None:
    root, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    dav = WsgiDAVApp(
        {
            "host": "127.0.0.1",
            "port": port,
            "provider_mapping": {"/": root},
            "http_authenticator": {
                "domain_controller": None,
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
            "verbose": 1,
            "lock_storage": True,
            "property_manager": True,
        }
    )

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = _Body(environ["wsgi.input"], length)
        return dav(environ, start_response)

    make_server("127.0.0.1", port, app, server_class=_Server, handler_class=_Quiet).serve_forever()


if __name__ == "__main__":
    main()
