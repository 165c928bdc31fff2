"""Start a private Xandikos CalDAV/CardDAV server on 127.0.0.1, behind a password front.

The second real server of the DAV tests, beside Radicale, chosen because it differs where
it matters: it keeps objects byte for byte (Radicale re-serialises them), refuses some
properties inside a 201 MKCOL answer, and serves its DAV root under a path prefix with
``.well-known`` redirects (302). Xandikos runs in multi-user mode and trusts
``X-Remote-User`` from 127.0.0.1 only; :class:`~skylift.demo.http_front.HttpFront` checks
the passwords and is the only port clients see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from skylift.demo.http_front import HttpFront
from skylift.demo.radicale import free_port, listening, stop_process


@dataclass
class XandikosServer:
    """Xandikos under *prefix* (e.g. ``/dav/``) with storage under *root*, users in memory."""

    root: Path
    users: dict[str, str] = field(default_factory=dict)
    prefix: str = "/dav/"
    _proc: subprocess.Popen[bytes] | None = None
    _front: HttpFront | None = None

    @property
    def port(self) -> int:
        return self._front.port if self._front else 0

    def url(self, scheme: str = "caldav") -> str:
        """The bare host (discovery goes through ``.well-known``); *scheme* as for Radicale."""
        if "+" not in scheme:
            scheme += "+http"
        return f"{scheme}://127.0.0.1:{self.port}/"

    def root_url(self, scheme: str = "caldav") -> str:
        """The DAV root itself (``…/dav/``), for a client that skips discovery."""
        return self.url(scheme) + self.prefix.lstrip("/")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def add_user(self, name: str, password: str) -> None:
        """Add a user (takes effect at once; Xandikos creates the principal on first use)."""
        self.users[name] = password
        if self._front is not None:
            self._front.add_user(name, password)

    def start(self, timeout: float = 30.0) -> XandikosServer:
        self.root.mkdir(parents=True, exist_ok=True)
        inner = free_port()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xandikos",
                "multi-user",
                "-d",
                str(self.root / "data"),
                "--state-dir",
                str(self.root / "state"),
                "-l",
                "127.0.0.1",
                "-p",
                str(inner),
                "--route-prefix",
                self.prefix,
                "--trust-x-remote-user-from",
                "127.0.0.1",
                "--no-detect-systemd",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "xandikos.log", "wb"),  # noqa: SIM115
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while not listening(inner):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"xandikos did not start: {self.log_tail()}")
            time.sleep(0.05)
        self._front = HttpFront(f"http://127.0.0.1:{inner}", users=dict(self.users)).start()
        return self

    def log_tail(self) -> str:
        path = self.root / "xandikos.log"
        return path.read_text(errors="replace")[-2000:].strip() if path.exists() else ""

    def stop(self) -> None:
        if self._front is not None:
            self._front.stop()
            self._front = None
        stop_process(self._proc)
        self._proc = None

    def __enter__(self) -> XandikosServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
