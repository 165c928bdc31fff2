"""The benchmark's two Dovecots: an on-prem style source and a hosted-style target.

Source: Maildir++ with '.' as separator, no quota. Target: '/' separator, the quota plugin
with the ``count`` backend and a per-user rule, ``quota_max_mail_size = 50M`` and
auto-created special-use folders, like a hosted suite. Both run on 127.0.0.1 from configs
in a temp folder (``skylift.demo.dovecot``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imapclient
import psutil

from skylift.demo.dovecot import DovecotServer

PASSWORD = "bench-pass"


def user_names(n: int) -> list[str]:
    return [f"user{i:02d}" for i in range(1, n + 1)]


@dataclass
class Servers:
    source: DovecotServer
    target: DovecotServer
    workdir: Path

    def users_csv(self, users: list[str]) -> Path:
        path = self.workdir / "users.csv"
        lines = ["EmailAddress,UserName,Password,TargetUserName,TargetPassword"]
        lines += [f"{u}@example.com,{u},{PASSWORD},{u}@example.com,{PASSWORD}" for u in users]
        path.write_text("\n".join(lines) + "\n")
        return path

    def server_cpu(self) -> float:
        """CPU seconds used so far by both Dovecots, their exited children included."""
        total = 0.0
        for server in (self.source, self.target):
            proc = server._proc
            if proc is None:
                continue
            try:
                p = psutil.Process(proc.pid)
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
                for child in p.children(recursive=True):
                    ct = child.cpu_times()
                    total += ct.user + ct.system
            except psutil.NoSuchProcess:
                pass
        return total


# Where the Dovecots keep mail: tmpfs by default (see README: on this VM's disk every
# Maildir message costs the target an fdatasync, which caps every tool alike).
MAIL_BASE: Path | None = Path("/dev/shm") if Path("/dev/shm").is_dir() else None


def on_mail_base(server: DovecotServer) -> DovecotServer:
    """Put *server*'s Maildirs under MAIL_BASE (None: DovecotServer's own choice)."""
    if MAIL_BASE is not None:
        folder = Path(tempfile.mkdtemp(prefix="skylift-bench-mail-", dir=MAIL_BASE))
        owner = mail_owner()
        if owner:
            shutil.chown(folder, owner, owner)
        server._mail_root = folder
    return server


def make_target(root: Path, users: list[str]) -> DovecotServer:
    """A target configured like a hosted server: '/' separator, count quota, 50M limit."""
    return on_mail_base(
        DovecotServer(
            root,
            users={f"{u}@example.com": PASSWORD for u in users},
            separator="/",
            quota_max_mail_size="50M",
            quota_messages=10_000_000,
            special_use_autocreate=True,
        )
    )


@contextmanager
def bench_servers(users: list[str]) -> Iterator[Servers]:
    """Start source and target with *users*; remove all their mail afterwards."""
    with tempfile.TemporaryDirectory(prefix="skylift-bench-") as tmp:
        root = Path(tmp)
        pw = dict.fromkeys(users, PASSWORD)
        source = on_mail_base(DovecotServer(root / "source", users=dict(pw), separator="."))
        target = make_target(root / "target", users)
        source.start()
        try:
            target.start()
            try:
                yield Servers(source, target, root)
            finally:
                target.cleanup()
        finally:
            source.cleanup()


def mail_owner() -> str | None:
    """The user Dovecot's mail must belong to (see DovecotServer.mail_root)."""
    return "dovecot" if os.getuid() == 0 else None


def warm_up(url_port: int, user: str, password: str = PASSWORD) -> int:
    """Let Dovecot index *user*'s folders (first access), outside the timed part.

    Returns the number of messages seen.
    """
    client = imapclient.IMAPClient("127.0.0.1", port=url_port, ssl=False, timeout=600)
    try:
        client.login(user, password)
        total = 0
        for flags, _delim, name in client.list_folders():
            if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                continue
            info = client.select_folder(name, readonly=True)
            total += int(info.get(b"EXISTS", 0))
            if info.get(b"EXISTS"):
                # Sequence set 1:* through imaplib: a UID list would be too long at 100k.
                client._imap.fetch("1:*", "(FLAGS RFC822.SIZE INTERNALDATE)")
            client.subscribe_folder(name)
        return total
    finally:
        client.logout()


def wait_quiet(seconds: float = 1.0) -> None:
    time.sleep(seconds)
