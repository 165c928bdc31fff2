"""A TCP relay in front of a real HTTP server that throttles chosen requests as hosted
SCIM providers do: ``429 Too Many Requests`` with ``Retry-After``, then the link closes.

It reads the HTTP/1.1 request stream (request line, headers, Content-Length body) and passes
every request to the real server except those it is told to throttle (by their order,
counted over all connections), which never reach the server. It logs every request with
the time it arrived, so a test can check that after each 429 the client waited at least
the Retry-After it was given before asking again.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from tests.servers.relay import Relay


@dataclass(frozen=True)
class Logged:
    at: float
    method: str
    path: str
    throttled: bool


class HttpThrottleProxy(Relay):
    def __init__(self, upstream_port: int, *, throttle: set[int], retry_after: int) -> None:
        self.throttle = throttle
        self.retry_after = retry_after
        self.log: list[Logged] = []
        super().__init__(upstream_port)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        state: dict[str, bool] = {"cut": False}
        self.spawn(self._from_client, client, upstream, state)
        self.spawn(self.pump_from_server, upstream, client, state)

    def early_retries(self) -> list[Logged]:
        """Requests that came sooner after a 429 than its Retry-After allowed."""
        early = []
        for before, after in zip(self.log, self.log[1:], strict=False):
            if before.throttled and after.at - before.at < self.retry_after:
                early.append(after)
        return early

    def _decide(self, head: bytes) -> tuple[bool, int]:
        """(throttle it?, body length) for the request whose head is *head*."""
        request_line, *headers = head.decode("latin-1").split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        length = 0
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        with self._lock:
            hit = len(self.log) + 1 in self.throttle
            self.log.append(Logged(time.monotonic(), method, path, hit))
        return hit, length

    def _from_client(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        buffer = b""
        body_left = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buffer += data
                while buffer:
                    if body_left:
                        chunk, buffer = buffer[:body_left], buffer[body_left:]
                        dst.sendall(chunk)
                        body_left -= len(chunk)
                        continue
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        break  # the rest of the head is still on its way
                    head, buffer = buffer[:end], buffer[end + 4 :]
                    throttled, body_left = self._decide(head)
                    if throttled:
                        state["cut"] = True
                        self.shut(dst)
                        body = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429"}'
                        reply = (
                            b"HTTP/1.1 429 Too Many Requests\r\n"
                            b"Retry-After: " + str(self.retry_after).encode() + b"\r\n"
                            b"Content-Type: application/scim+json\r\n"
                            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                            b"Connection: close\r\n\r\n" + body
                        )  # fmt: skip
                        self.answer_and_close(src, reply)
                        self.shut(src)
                        return
                    dst.sendall(head + b"\r\n\r\n")
        except OSError:
            pass
        self.shut(src, dst)
