"""A TCP relay in front of a real IMAP server that ends sessions whose OAuth2 token expired.

Dovecot checks a bearer token only at login; Exchange Online also ends a live session once
its token expires, with ``* BYE Session invalidated - AccessTokenExpired``. This relay reads
the XOAUTH2 string the client sends, takes ``exp`` from the JWT in it, and when the client
sends anything after that moment it answers with that BYE (instead of passing the command
on) and closes both ends, so no command is left half-done on the server. Exchange may also
cut a session mid-command; that case is the one ``flaky_proxy.py`` covers.
"""

from __future__ import annotations

import base64
import json
import socket
import time

from tests.servers.relay import Relay

BYE = b"* BYE Session invalidated - AccessTokenExpired\r\n"


def _exp_of(blob_line: bytes) -> float | None:
    try:
        raw = base64.b64decode(blob_line.strip().split()[-1])
        token = raw.split(b"auth=Bearer ", 1)[1].split(b"\x01", 1)[0].decode()
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, ValueError):
        return None


class ExpiringProxy(Relay):
    def __init__(self, upstream_port: int) -> None:
        self.byes = 0
        self.logins = 0
        super().__init__(upstream_port)

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        state: dict[str, float | None] = {"exp": None}
        self.spawn(self._from_client, client, upstream, state)
        self.spawn(self.pump_from_server, upstream, client, state)

    def _from_client(self, src: socket.socket, dst: socket.socket, state: dict) -> None:
        pending = b""
        expect_blob = False
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                exp = state["exp"]
                if exp is not None and time.time() >= exp:
                    with self._lock:
                        self.byes += 1
                    state["cut"] = 1.0
                    self.shut(dst)
                    self.answer_and_close(src, BYE)
                    break
                if exp is None:
                    pending += data
                    while b"\r\n" in pending:
                        line, pending = pending.split(b"\r\n", 1)
                        upper = line.upper()
                        if expect_blob:
                            state["exp"] = _exp_of(line)
                            expect_blob = False
                            with self._lock:
                                self.logins += 1
                        elif b"AUTHENTICATE XOAUTH2" in upper:
                            parts = line.split()
                            if len(parts) >= 4:  # SASL-IR: the string is on the command line
                                state["exp"] = _exp_of(line)
                                with self._lock:
                                    self.logins += 1
                            else:
                                expect_blob = True
                dst.sendall(data)
        except OSError:
            pass
        self.shut(src, dst)
