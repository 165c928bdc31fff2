"""A TCP relay in front of a real IMAP server that throttles APPENDs the way Exchange Online does.

Exchange answers a client that goes too fast with ``NO ... Request is throttled. Suggested
Backoff Time: N milliseconds`` and then drops the connection (imapsync issues #198 and #272,
imap_tools #135). This relay passes everything to the real server except the APPENDs it is
told to throttle (by their order, counted over all sessions): those get that tagged NO and a
``* BYE``, never reach the server, and the session is closed. It records when each APPEND
arrived, so a test can check the client waited as long as it was told.
"""

from __future__ import annotations

import re
import socket
import time

from tests.servers.relay import Relay

_APPEND = re.compile(rb"^(\S+) APPEND ", re.I)


class ThrottleProxy(Relay):
    def __init__(self, upstream_port: int, *, throttle: set[int], backoff_ms: int) -> None:
        self.throttle = throttle
        self.backoff_ms = backoff_ms
        self.appends: list[tuple[float, bool]] = []  # (when, throttled)
        super().__init__(upstream_port)

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        state: dict[str, bool] = {"cut": False}
        self.spawn(self._from_client, client, upstream, state)
        self.spawn(self.pump_from_server, upstream, client, state)

    def _throttled(self, data: bytes) -> bytes | None:
        """The tag of a command to throttle when *data* starts an APPEND, else None."""
        m = _APPEND.match(data)
        if not m:
            return None
        with self._lock:
            number = len(self.appends) + 1
            hit = number in self.throttle
            self.appends.append((time.monotonic(), hit))
        return m.group(1) if hit else None

    def _from_client(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        at_line_start = True
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                tag = self._throttled(data) if at_line_start else None
                if tag is not None:
                    state["cut"] = True
                    self.shut(dst)
                    reply = (
                        tag + b" NO [UNAVAILABLE] Request is throttled. Suggested Backoff Time: "
                        + str(self.backoff_ms).encode() + b" milliseconds\r\n"
                        b"* BYE Connection closed. 14\r\n"
                    )  # fmt: skip
                    self.answer_and_close(src, reply)
                    break
                at_line_start = data.endswith(b"\r\n")
                dst.sendall(data)
        except OSError:
            pass
        self.shut(src, dst)
