"""The TCP relay the fault proxies share: 127.0.0.1 in front of a real server.

Each proxy (a dropped link, an expired token, a throttle) decides what flows per connection
in :meth:`Relay.relay`; accepting, pumping bytes, answering a client and closing are here.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


class Relay:
    """Accepts on a free loopback port and hands each client, with a fresh upstream
    connection, to :meth:`relay`. Subclasses set their attributes before calling
    ``super().__init__`` (the accept thread starts here)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        raise NotImplementedError

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
            self.relay(client, upstream)

    @staticmethod
    def spawn(target: Any, *args: Any) -> None:
        threading.Thread(target=target, args=args, daemon=True).start()

    def pump_from_server(self, src: socket.socket, dst: socket.socket, state: dict) -> None:
        """Server -> client until either side ends or the client path cut the session."""
        try:
            while True:
                data = src.recv(65536)
                if not data or state.get("cut"):
                    break
                dst.sendall(data)
        except OSError:
            pass
        if state.get("cut"):
            self.shut(src)  # the client side is closed by the path that answered it
        else:
            self.shut(src, dst)

    @staticmethod
    def answer_and_close(client: socket.socket, reply: bytes) -> None:
        """Send *reply* instead of the server, then close without resetting the client
        before it has read it (what it still sends is read and dropped)."""
        with contextlib.suppress(OSError):
            client.sendall(reply)
            client.shutdown(socket.SHUT_WR)
            client.settimeout(2.0)
            while client.recv(65536):
                pass

    @staticmethod
    def shut(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
