"""Start a private Radicale CalDAV/CardDAV server on 127.0.0.1 from a config in a temp folder.

Used by the test fixtures and ``skylift demo``: calendar migration is tested against a real
server, never a mock. Each instance has its own storage folder, htpasswd users and a rights
file that gives every user their own collections and one optional *admin* read/write access
to everybody's (the proxy login a migration uses when it has no user passwords).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from skylift.demo.dovecot import make_self_signed_cert

RIGHTS = """\
[admin]
user: {admin}
collection: .*
permissions: RrWw

[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {{user}}
permissions: RW

{read_only}[collections]
user: .+
collection: {{user}}/[^/]+
permissions: rw
"""

NO_ADMIN = "(?!)"  # a user pattern that never matches
READ_ONLY = """\
[read-only]
user: .+
collection: {{user}}/{pattern}
permissions: r

"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RadicaleServer:
    """A Radicale instance with plain htpasswd users and filesystem storage under *root*.

    *max_resource_size* makes the server refuse larger objects, as a hosted target does;
    *read_only* collections refuse every write (a shared calendar the user may only read).
    """

    root: Path
    users: dict[str, str] = field(default_factory=dict)
    admin: tuple[str, str] | None = None
    max_resource_size: int | None = None
    read_only: str = ""  # collection names (a regex) users may read but not change
    tls: bool = False
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def storage(self) -> Path:
        return self.root / "collections"

    @property
    def cert_file(self) -> Path:
        return self.root / "cert.pem"

    def url(self, scheme: str = "caldav") -> str:
        """``caldav+https://…`` (or +http without TLS); *scheme* may carry its own suffix."""
        if "+" not in scheme:
            scheme += "+https" if self.tls else "+http"
        return f"{scheme}://127.0.0.1:{self.port}/"

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def add_user(self, name: str, password: str) -> None:
        """Add a user and create their principal collection (takes effect at once)."""
        self.users[name] = password
        self._write_users()

    def _write_users(self) -> None:
        accounts = dict(self.users)
        if self.admin:
            accounts[self.admin[0]] = self.admin[1]
        lines = [f"{user}:{password}" for user, password in accounts.items()]
        (self.root / "users").write_text("\n".join(lines) + "\n")
        for user in self.users:
            # An empty folder is a principal collection; Radicale would create it only on the
            # user's own first login, and the admin must reach it before that.
            (self.storage / "collection-root" / user).mkdir(parents=True, exist_ok=True)

    def _config(self) -> str:
        lines = [
            "[server]",
            f"hosts = 127.0.0.1:{self.port}",
        ]
        if self.max_resource_size:
            lines.append(f"max_resource_size = {self.max_resource_size}")
        if self.tls:
            lines += [
                "ssl = True",
                f"certificate = {self.cert_file}",
                f"key = {self.root / 'key.pem'}",
            ]
        lines += [
            "[auth]",
            "type = htpasswd",
            f"htpasswd_filename = {self.root / 'users'}",
            "htpasswd_encryption = plain",
            "delay = 0",
            "[rights]",
            "type = from_file",
            f"file = {self.root / 'rights'}",
            "[storage]",
            f"filesystem_folder = {self.storage}",
            "[web]",
            "type = none",
            "[logging]",
            "level = warning",
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 20.0) -> RadicaleServer:
        """Write users, rights and config, then run Radicale as a child process."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        self.port = self.port or free_port()
        if self.tls and not self.cert_file.exists():
            make_self_signed_cert(self.root)
        self._write_users()
        admin_pattern = self.admin[0].replace(".", r"\.") if self.admin else NO_ADMIN
        read_only = READ_ONLY.format(pattern=self.read_only) if self.read_only else ""
        (self.root / "rights").write_text(RIGHTS.format(admin=admin_pattern, read_only=read_only))
        conf = self.root / "radicale.conf"
        conf.write_text(self._config())
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "radicale.log", "wb"),  # noqa: SIM115
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"radicale exited: {self.log_tail()}")
            if listening(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"radicale did not start within {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.root / "radicale.log"
        return path.read_text(errors="replace")[-2000:].strip() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None

    def __enter__(self) -> RadicaleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Ask a server child to stop, wait ten seconds, then kill it (every DAV demo server)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> None:
    """``python -m skylift.demo.radicale FOLDER USER:PASSWORD…``: one server until Ctrl-C."""
    import sys as _sys

    args = _sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m skylift.demo.radicale FOLDER USER:PASSWORD ...", file=_sys.stderr)
        raise SystemExit(2)
    users = dict(a.split(":", 1) for a in args[1:] if ":" in a)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # so `kill` also stops the child server
    with RadicaleServer(Path(args[0]), users=users) as server:
        print(f"Radicale on {server.url()} (and {server.url('carddav')}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
