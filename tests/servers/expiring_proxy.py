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
import contextlib
import json
import socket
import threading
import time

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


class ExpiringProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.byes = 0
        self.logins = 0
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
            state: dict[str, float | None] = {"exp": None}
            threading.Thread(
                target=self._from_client, args=(client, upstream, state), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(upstream, client, state), daemon=True).start()

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
                    state["bye"] = 1.0
                    self._close(dst)
                    with contextlib.suppress(OSError):
                        src.sendall(BYE)
                        src.shutdown(socket.SHUT_WR)
                        # Read what the client still sends, so closing does not reset the
                        # connection before it has read the BYE.
                        src.settimeout(2.0)
                        while src.recv(65536):
                            pass
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
        self._close(src, dst)

    def _pump(self, src: socket.socket, dst: socket.socket, state: dict) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or state.get("bye"):
                    break
                dst.sendall(data)
        except OSError:
            pass
        if state.get("bye"):
            self._close(src)  # the client side is closed by the BYE path
        else:
            self._close(src, dst)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
