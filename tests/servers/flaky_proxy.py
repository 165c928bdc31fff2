"""A TCP relay on 127.0.0.1 that cuts connections: a real network fault, not a fake server.

Forwards to a real server; the first *drops* connections are cut after *after_bytes* have
flowed from the server to the client, as a dropped link or a server restart would.
"""

from __future__ import annotations

import socket

from tests.servers.relay import Relay


class FlakyProxy(Relay):
    def __init__(self, upstream_port: int, *, drops: int = 1, after_bytes: int = 200_000) -> None:
        self.drops_left = drops
        self.after_bytes = after_bytes
        self.cut = 0
        super().__init__(upstream_port)

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            doomed = self.drops_left > 0
            self.drops_left -= doomed
        self.spawn(self._pump, client, upstream, None)
        self.spawn(self._pump, upstream, client, self.after_bytes if doomed else None)

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
                if limit is not None and sent >= limit:
                    with self._lock:
                        self.cut += 1
                    break
        except OSError:
            pass
        self.shut(src, dst)
