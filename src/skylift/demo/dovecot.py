"""Start a private Dovecot IMAP/POP3 server on 127.0.0.1 from a config in a temp folder.

Used by ``skylift demo``, by the test fixtures and by the benchmarks: all three need a real
peer, never a mock. The server runs with its own base_dir, log and Maildir storage, so several
instances (source and target) live side by side and vanish with their folder.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_self_signed_cert(folder: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    """Write a self-signed certificate and key for *hostname* (and 127.0.0.1) into *folder*."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname},IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class DovecotServer:
    """A Dovecot instance with passwd-file users, an optional master user and Maildir storage.

    *separator* is the IMAP hierarchy separator: '.' gives a classic Maildir++ server, '/' a
    server with the ``fs`` layout (like most hosted suites). *quota_max_mail_size* makes the
    server refuse larger APPENDs, as a hosted target does.
    """

    root: Path
    users: dict[str, str] = field(default_factory=dict)
    master_user: tuple[str, str] | None = None
    separator: str = "."
    tls: bool = False
    quota_max_mail_size: str | None = None
    quota_messages: int | None = None
    special_use_autocreate: bool = False
    #: prefix of a public namespace (Exchange-style public folders, shared by every user)
    public_namespace: str | None = None
    imap_port: int = 0
    imaps_port: int = 0
    pop3_port: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def cert_file(self) -> Path:
        return self.root / "cert.pem"

    _mail_root: Path | None = None

    @property
    def mail_root(self) -> Path:
        """Where the Maildirs live.

        Dovecot refuses to run mail processes as uid 0, so under root the mail belongs to the
        ``dovecot`` system user and lives in a folder of its own under /tmp (the temp folder
        given by a test runner is often 0700 and not reachable by that user).
        """
        if self._mail_root is None:
            if os.getuid() == 0:
                self._mail_root = Path(tempfile.mkdtemp(prefix="skylift-dovecot-mail-", dir="/tmp"))
                shutil.chown(self._mail_root, "dovecot", "dovecot")
            else:
                self._mail_root = self.root / "mail"
        return self._mail_root

    def user_maildir(self, user: str) -> Path:
        return self.mail_root / user / "Maildir"

    def imap_url(self) -> str:
        return f"imap://127.0.0.1:{self.imap_port}"

    def imaps_url(self) -> str:
        return f"imaps://127.0.0.1:{self.imaps_port}"

    def pop3_url(self) -> str:
        return f"pop3://127.0.0.1:{self.pop3_port}"

    def add_user(self, name: str, password: str) -> None:
        """Add a user; takes effect at once (passwd-file is re-read on change)."""
        self.users[name] = password
        if self._proc is not None:
            self._write_passwd()

    def _write_passwd(self) -> None:
        lines = [f"{u}:{{PLAIN}}{p}" for u, p in self.users.items()]
        (self.root / "passwd").write_text("\n".join(lines) + "\n")
        if self.master_user:
            name, password = self.master_user
            (self.root / "master-passwd").write_text(f"{name}:{{PLAIN}}{password}\n")

    def _config(self) -> str:
        is_root = os.getuid() == 0
        me = "dovecot" if is_root else pwd.getpwuid(os.getuid()).pw_name
        group = "dovecot" if is_root else grp.getgrgid(os.getgid()).gr_name
        layout = ":LAYOUT=fs" if self.separator == "/" else ""
        lines = [
            f"base_dir = {self.root}/run",
            f"state_dir = {self.root}/state",
            f"log_path = {self.root}/dovecot.log",
            f"info_log_path = {self.root}/dovecot.log",
            "protocols = imap pop3",
            "listen = 127.0.0.1",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_master_user_separator = *",
            "first_valid_uid = 0",
            f"mail_uid = {me}",
            f"mail_gid = {group}",
            f"mail_location = maildir:{self.mail_root}/%u/Maildir{layout}",
            "mail_plugins = $mail_plugins" + (" quota" if self._quota else ""),
            "pop3_uidl_format = %08Xu%08Xv",
            "imap_capability = +SPECIAL-USE",
            "mail_max_userip_connections = 100",
            "ssl = " + ("yes" if self.tls else "no"),
            "passdb {\n  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {self.root}/passwd\n}}",
            "userdb {\n  driver = static\n"
            f"  args = uid={me} gid={group} home={self.mail_root}/%u\n}}",
        ]
        if is_root:
            # The auth processes read the passwd files from a temp folder that may be 0700.
            lines += ["service auth {\n  user = root\n}", "service auth-worker {\n  user = root\n}"]
        else:
            lines += [
                f"default_login_user = {me}",
                f"default_internal_user = {me}",
                f"default_internal_group = {group}",
            ]
        if self.tls:
            lines += [f"ssl_cert = <{self.root}/cert.pem", f"ssl_key = <{self.root}/key.pem"]
        if self.master_user:
            lines.append(
                "passdb {\n  driver = passwd-file\n  master = yes\n  pass = yes\n"
                f"  args = scheme=PLAIN {self.root}/master-passwd\n}}"
            )
        lines.append(
            "service imap-login {\n"
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.imap_port}\n  }}\n"
            f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.imaps_port}\n"
            f"    ssl = yes\n  }}\n}}"
            if self.tls
            else "service imap-login {\n"
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.imap_port}\n  }}\n"
            "  inet_listener imaps {\n    port = 0\n  }\n}"
        )
        lines.append(
            "service pop3-login {\n"
            f"  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {self.pop3_port}\n  }}\n"
            "  inet_listener pop3s {\n    port = 0\n  }\n}"
        )
        lines += [
            "service submission-login {\n  inet_listener submission {\n    port = 0\n  }\n}",
            "service lmtp {\n  unix_listener lmtp {\n    mode = 0600\n  }\n}",
            "service anvil {\n  client_limit = 2000\n}",
            "service imap {\n  process_limit = 256\n}",
        ]
        specials = ""
        if self.special_use_autocreate:
            for name, use in (
                ("Sent", r"\Sent"),
                ("Drafts", r"\Drafts"),
                ("Trash", r"\Trash"),
                ("Junk", r"\Junk"),
            ):
                specials += (
                    f'  mailbox "{name}" {{\n    auto = subscribe\n    special_use = {use}\n  }}\n'
                )
        lines.append(
            f"namespace inbox {{\n  inbox = yes\n  separator = {self.separator}\n{specials}}}"
        )
        if self.public_namespace:
            lines.append(
                f"namespace public {{\n  type = public\n  separator = {self.separator}\n"
                f"  prefix = {self.public_namespace}{self.separator}\n"
                f"  location = maildir:{self.mail_root}/public{layout}:INDEX=~/public\n"
                "  subscriptions = no\n  list = yes\n}"
            )
        if self._quota:
            rules = ["  quota = count:User quota", "  quota_vsizes = yes"]
            if self.quota_max_mail_size:
                rules.append(f"  quota_max_mail_size = {self.quota_max_mail_size}")
            if self.quota_messages:
                rules.append(f"  quota_rule = *:messages={self.quota_messages}")
            lines.append("plugin {\n" + "\n".join(rules) + "\n}")
            lines.append("protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}")
        return "\n".join(lines) + "\n"

    @property
    def _quota(self) -> bool:
        return bool(self.quota_max_mail_size or self.quota_messages)

    def start(self, timeout: float = 15.0) -> DovecotServer:
        """Write the config and start dovecot in the foreground as a child process."""
        if not Path(DOVECOT).exists():
            raise RuntimeError("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state"):
            (self.root / sub).mkdir(exist_ok=True)
        self.mail_root.mkdir(exist_ok=True)
        # Login processes run as dovenull and must reach base_dir.
        for path in (self.root, self.root / "run"):
            path.chmod(0o755)
        if self.tls and not self.cert_file.exists():
            make_self_signed_cert(self.root)
        chosen = not (self.imap_port or self.pop3_port)
        for attempt in range(3):
            self._pick_ports()
            try:
                return self._launch(timeout)
            except RuntimeError as exc:
                # A port picked free a moment ago can be taken (or picked twice) by the time
                # dovecot binds it: pick again, unless the caller chose the ports.
                busy = "duplicate listener" in str(exc) or "Address already in use" in str(exc)
                if not (chosen and busy) or attempt == 2:
                    raise
                self.imap_port = self.imaps_port = self.pop3_port = 0
        raise AssertionError("unreachable")

    def _pick_ports(self) -> None:
        taken: set[int] = set()

        def pick(current: int) -> int:
            port = current
            while not port or port in taken:
                port = free_port()
            taken.add(port)
            return port

        self.imap_port = pick(self.imap_port)
        self.imaps_port = pick(self.imaps_port) if self.tls else 0
        self.pop3_port = pick(self.pop3_port)

    def _launch(self, timeout: float) -> DovecotServer:
        self._write_passwd()
        conf = self.root / "dovecot.conf"
        conf.write_text(self._config())
        self._proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "dovecot.stderr", "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        ports = [self.imap_port, self.pop3_port] + ([self.imaps_port] if self.tls else [])
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._log_tail()}")
            if all(_listening(p) for p in ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start within {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        text = ""
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text.strip()

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self._proc is None:
            return
        self._proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=1)
        # Dovecot runs in its own session: take its children (imap, auth, …) with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same ports (simulates a server restart)."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its mail."""
        self.stop()
        shutil.rmtree(self.mail_root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
