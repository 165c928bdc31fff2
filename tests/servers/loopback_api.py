"""The HTTP side shared by the cloud API fakes (Google's, Graph's): one loopback server.

A fake says what each request means (:meth:`LoopbackApi.serve`: status, JSON body or bytes,
headers); this class runs the threaded server on 127.0.0.1 on a free port, reads each
request's body and writes the answer, so each fake is only its API's behaviour.
"""

from __future__ import annotations

import json
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackApi:
    """Start/stop a threaded HTTP server whose answers come from :meth:`serve`."""

    #: the media type of an answer given as bytes (a photo's ``$value``, a file's content)
    bytes_media_type = "application/octet-stream"
    json_media_type = "application/json"

    _httpd: ThreadingHTTPServer | None = None
    port = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(
        self, verb: str, path: str, headers: Message, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """The answer to one request; by default the fake's ``handle`` with its bearer token."""
        handle = getattr(self, "handle")  # noqa: B009 - each fake defines its own
        return handle(verb, path, headers.get("Authorization", ""), raw)  # type: ignore[no-any-return]

    def start(self) -> Self:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = api.serve(self.command, self.path, self.headers, raw)
                if isinstance(body, bytes):
                    data, kind = body, api.bytes_media_type
                else:
                    data = json.dumps(body).encode() if body is not None else b""
                    kind = api.json_media_type
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
