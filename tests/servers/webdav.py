"""A real WebDAV server (wsgidav) over a temp folder, as the document library of the tests.

The files it writes are the library's content: tests read them from ``root`` to check that
what landed is byte-identical to the source.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from skylift.demo.dovecot import _listening, free_port

MAIN = Path(__file__).with_name("wsgidav_main.py")


@dataclass
class WebDavServer:
    root: Path
    user: str = "librarian"
    password: str = "lib-secret-1"
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, path: str = "/") -> str:
        return f"webdav+http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebDavServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log = open(self.root.parent / f"wsgidav-{self.port}.log", "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, str(MAIN), str(self.root), str(self.port), self.user, self.password],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not _listening(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"wsgidav did not start (pip install wsgidav): see {log.name}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> WebDavServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
