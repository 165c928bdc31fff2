"""A private Prosody XMPP server (Debian ``prosody``) on 127.0.0.1 from a config in a temp folder.

No TLS, no server-to-server links, plain-text passwords (loopback only): two instances are
the old and the new IM service of a migration.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from skylift.demo.dovecot import _listening, free_port


@dataclass
class ProsodyServer:
    root: Path
    domain: str
    users: dict[str, str] = field(default_factory=dict)
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self) -> str:
        return f"xmpp://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.root / "prosody.cfg.lua"

    def start(self) -> ProsodyServer:
        if shutil.which("prosody") is None:
            raise RuntimeError("prosody is not installed (Debian: apt-get install prosody)")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "certs").mkdir(exist_ok=True)
        self.port = self.port or free_port()
        r = self.root
        self.config.write_text(
            f'pidfile = "{r}/prosody.pid"\ndata_path = "{r}/data"\ncertificates = "{r}/certs"\n'
            f"run_as_root = true\nc2s_ports = {{ {self.port} }}\n"
            'c2s_interfaces = { "127.0.0.1" }\ns2s_ports = { }\nhttp_ports = { }\n'
            "https_ports = { }\nc2s_require_encryption = false\n"
            'allow_unencrypted_plain_auth = true\nauthentication = "internal_plain"\n'
            'modules_enabled = { "roster"; "saslauth"; "disco"; "presence"; "ping" }\n'
            'modules_disabled = { "s2s"; "tls" }\n'
            f'log = {{ info = "{r}/prosody.log"; error = "{r}/prosody.err" }}\n'
            f'VirtualHost "{self.domain}"\n'
        )
        for user, password in self.users.items():
            self.register(user, password)
        self._proc = subprocess.Popen(
            ["prosody", "--config", str(self.config), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not _listening(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prosody did not start: see {r}/prosody.err")
            time.sleep(0.05)
        return self

    def register(self, user: str, password: str) -> None:
        subprocess.run(
            ["prosodyctl", "--config", str(self.config), "register", user, self.domain, password],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> ProsodyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
