"""A small HTTP front on 127.0.0.1 that forwards every request to a real server behind it.

Why: Xandikos has no password check of its own on plain HTTP (it trusts ``X-Remote-User``
from a reverse proxy), and no real server answers 429 on demand. The front checks Basic
auth against its own users and passes the user on in ``X-Remote-User`` (a client's own
``X-Remote-User`` is dropped), and can answer the first *busy* requests with
``429 Retry-After``. It never follows redirects and never rewrites bodies, so what a client
sees is what the server behind said. Used by the tests and ``skylift demo`` only.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "content-length",
}


@dataclass
class HttpFront:
    """Listen on a free port of 127.0.0.1 and forward to *upstream* (``http://host:port``).

    With *users*, every request needs Basic auth from one of them (401 otherwise) and
    reaches the upstream with ``X-Remote-User``. *busy* requests get 429 before any is
    forwarded (``Retry-After: retry_after``); so do the requests of *throttle* (method ->
    the 1-based numbers, counted over all connections, of that method's requests to
    answer 429), wherever they fall. *log* keeps (monotonic time, method, path, status)
    per request, so a test can read how long a client waited.
    """

    upstream: str
    users: dict[str, str] | None = None
    busy: int = 0
    retry_after: str = "1"
    port: int = 0
    seen: list[str] = field(default_factory=list)
    throttle: dict[str, set[int]] = field(default_factory=dict)
    log: list[tuple[float, str, str, int]] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_user(self, name: str, password: str) -> None:
        if self.users is None:
            self.users = {}
        self.users[name] = password

    def _authenticated(self, header: str | None) -> str | None:
        if self.users is None:
            return ""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeError):
            return None
        return user if self.users.get(user) == password and password else None

    def _take_busy(self, method: str) -> bool:
        with self._lock:
            number = self._counts[method] = self._counts.get(method, 0) + 1
            if number in self.throttle.get(method, set()):
                return True
            if self.busy > 0:
                self.busy -= 1
                return True
            return False

    def _logged(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((time.monotonic(), method, path, status))

    def start(self) -> HttpFront:
        front = self
        client = httpx.Client(base_url=self.upstream, timeout=60, follow_redirects=False)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                front.seen.append(f"{self.command} {self.path}")
                user = front._authenticated(self.headers.get("Authorization"))
                if user is None:
                    challenge = [("WWW-Authenticate", 'Basic realm="skylift test"')]
                    self._reply(401, challenge, b"login refused\n")
                    return
                if front._take_busy(self.command):
                    front._logged(self.command, self.path, 429)
                    self._reply(429, [("Retry-After", front.retry_after)], b"slow down\n")
                    return
                headers = [
                    (k, v)
                    for k, v in self.headers.items()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "x-remote-user"
                ]
                if front.users is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
                    headers.append(("X-Remote-User", user))
                answer = client.request(self.command, self.path, content=body, headers=headers)
                front._logged(self.command, self.path, answer.status_code)
                out = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP]
                out = [(k, v) for k, v in out if k.lower() != "content-encoding"]
                self._reply(answer.status_code, out, answer.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_OPTIONS = _handle
            do_PROPFIND = do_PROPPATCH = do_MKCOL = do_MKCALENDAR = do_REPORT = _handle
            do_MOVE = do_COPY = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HttpFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
