"""A TCP relay that hands the client's bytes to a real IMAP server late, even after the
client is gone — what a server does that commits an APPEND whose client was killed.

A large chunk the client sends (a batch of messages, at least *big* bytes) reaches the
server *delay* seconds later, and whatever follows it waits behind it (order is kept); small
commands pass at once. When the client dies, what it had sent is still delivered, and only
then is the server connection closed. So a
killed run's MULTIAPPEND (all literals sent, LITERAL+) is committed by the real Dovecot after
the kill, as it is on a busy server. It reproduces that timing only: the server itself, its
answers and its storage are Dovecot's own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque

from tests.servers.relay import Relay


class LateCommitProxy(Relay):
    def __init__(self, upstream_port: int, *, delay: float, big: int = 32 * 1024) -> None:
        self.delay = delay
        self.big = big
        super().__init__(upstream_port)

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        state: dict[str, bool] = {"cut": False}
        queue: deque[tuple[float, bytes]] = deque()
        ready = threading.Condition()
        self.spawn(self._read_client, client, queue, ready)
        self.spawn(self._write_server, upstream, client, queue, ready)
        self.spawn(self.pump_from_server, upstream, client, state)

    def _read_client(
        self, src: socket.socket, queue: deque[tuple[float, bytes]], ready: threading.Condition
    ) -> None:
        last_due = 0.0
        try:
            while data := src.recv(65536):
                wait = self.delay if len(data) >= self.big else 0.0
                last_due = max(time.monotonic() + wait, last_due)
                with ready:
                    queue.append((last_due, data))
                    ready.notify()
        except OSError:
            pass
        with ready:
            queue.append((last_due, b""))  # the client is gone
            ready.notify()

    def _write_server(
        self, dst: socket.socket, client: socket.socket, queue: deque[tuple[float, bytes]],
        ready: threading.Condition,
    ) -> None:  # fmt: skip
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, data = queue.popleft()
            time.sleep(max(0.0, due - time.monotonic()))
            if not data:
                time.sleep(self.delay)  # let the server finish what it was sent
                self.shut(dst, client)
                return
            try:
                dst.sendall(data)
            except OSError:
                return
