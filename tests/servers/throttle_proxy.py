"""A TCP relay in front of a real IMAP server that throttles APPENDs the way Exchange Online does.

Exchange answers a client that goes too fast with ``NO ... Request is throttled. Suggested
Backoff Time: N milliseconds`` and then drops the connection (imapsync issues #198 and #272,
imap_tools #135). This relay passes everything to the real server except the APPENDs it is
told to throttle (by their order, counted over all sessions): those get that tagged NO and a
``* BYE``, never reach the server, and the session is closed. It records when each APPEND
arrived, so a test can check the client waited as long as it was told.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

_APPEND = re.compile(rb"^(\S+) APPEND ", re.I)


class ThrottleProxy:
    def __init__(self, upstream_port: int, *, throttle: set[int], backoff_ms: int) -> None:
        self.upstream_port = upstream_port
        self.throttle = throttle
        self.backoff_ms = backoff_ms
        self.appends: list[tuple[float, bool]] = []  # (when, throttled)
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            state: dict[str, bool] = {"cut": False}
            threading.Thread(
                target=self._from_client, args=(client, upstream, state), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(upstream, client, state), daemon=True).start()

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
                    self._close(dst)
                    reply = (
                        tag + b" NO [UNAVAILABLE] Request is throttled. Suggested Backoff Time: "
                        + str(self.backoff_ms).encode() + b" milliseconds\r\n"
                        b"* BYE Connection closed. 14\r\n"
                    )  # fmt: skip
                    with contextlib.suppress(OSError):
                        src.sendall(reply)
                        src.shutdown(socket.SHUT_WR)
                        src.settimeout(2.0)
                        while src.recv(65536):
                            pass
                    break
                at_line_start = data.endswith(b"\r\n")
                dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def _pump(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or state["cut"]:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._close(src) if state["cut"] else self._close(src, dst)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
