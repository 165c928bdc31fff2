"""A TCP relay in front of a real IMAP server that counts the sessions open at once.

It reproduces nothing of a cloud; it is the place where a test sees what a cloud would
count: how many sessions one tenant holds at the same moment. A session counts from the
moment it is accepted until the client sends LOGOUT (passed on only after the count drops,
so the client cannot have its answer, and start another session, before) or hangs up.
"""

from __future__ import annotations

import re
import socket

from tests.servers.relay import Relay

_LOGOUT = re.compile(rb"(?:^|\r\n)\S+ LOGOUT\r\n", re.I)


class CountingProxy(Relay):
    def __init__(self, upstream_port: int) -> None:
        self.open = 0
        self.most = 0
        self.sessions = 0
        super().__init__(upstream_port)

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            self.open += 1
            self.sessions += 1
            self.most = max(self.most, self.open)
        state = {"counted": True}
        self.spawn(self._from_client, client, upstream, state)
        self.spawn(self.pump_from_server, upstream, client, {})

    def _leave(self, state: dict[str, bool]) -> None:
        with self._lock:
            if state["counted"]:
                state["counted"] = False
                self.open -= 1

    def _from_client(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if _LOGOUT.search(data):
                    self._leave(state)
                dst.sendall(data)
        except OSError:
            pass
        self._leave(state)
        self.shut(src, dst)
