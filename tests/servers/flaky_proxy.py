"""A TCP relay on 127.0.0.1 that cuts connections: a real network fault, not a fake server.

Forwards to a real server; the first *drops* connections are cut after *after_bytes* have
flowed from the server to the client, as a dropped link or a server restart would.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FlakyProxy:
    def __init__(self, upstream_port: int, *, drops: int = 1, after_bytes: int = 200_000) -> None:
        self.upstream_port = upstream_port
        self.drops_left = drops
        self.after_bytes = after_bytes
        self.cut = 0
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
            with self._lock:
                doomed = self.drops_left > 0
                self.drops_left -= doomed
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            limit = self.after_bytes if doomed else None
            threading.Thread(target=self._pump, args=(upstream, client, limit), daemon=True).start()

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
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
