"""A private Cyrus IMAP on 127.0.0.1 in a temp folder, in either namespace layout.

Debian's cyrus-imapd conflicts with dovecot-imapd, so ``scripts/setup.sh`` unpacks its
daemons into ``.cache/cyrus``; the tools (``master``, ``ctl_cyrusdb``, ``saslpasswd2``) are
installed system-wide. *debian_layout* picks the namespace users see:

* True (Debian's default, ``altnamespace: no``, ``unixhierarchysep: no``): personal folders
  under ``INBOX.`` with separator ``.``, other users under ``user.``, shared folders at the
  top level (an empty shared prefix);
* False (upstream's default): personal folders at the top level with ``/``, other users under
  ``Other Users/``, shared folders under ``Shared Folders/``.

Users live in a private sasldb; their INBOX is created over IMAP by the admin.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import imapclient

from skylift.demo.dovecot import free_port

REPO = Path(__file__).resolve().parents[2]
PRIVATE_BIN = REPO / ".cache" / "cyrus" / "usr" / "lib" / "cyrus" / "bin"
SYSTEM_BIN = Path("/usr/lib/cyrus/bin")
ADMIN = ("cyradmin", "cyrus-admin-secret")


def missing_parts() -> list[str]:
    """What the machine lacks to run Cyrus; [] when it can."""
    need = [PRIVATE_BIN / "imapd", SYSTEM_BIN / "master", SYSTEM_BIN / "ctl_cyrusdb"]
    missing = [str(p) for p in need if not os.access(p, os.X_OK)]
    if shutil.which("saslpasswd2") is None:
        missing.append("saslpasswd2 (sasl2-bin)")
    return missing


class CyrusServer:
    """One Cyrus instance; :meth:`add_user` gives a fresh user with an empty INBOX."""

    def __init__(self, debian_layout: bool = True) -> None:
        self.debian_layout = debian_layout
        self.separator = "." if debian_layout else "/"
        self.root = Path(tempfile.mkdtemp(prefix="skylift-cyrus-", dir="/tmp"))
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_root = os.getuid() == 0

    def imap_url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    @property
    def conf(self) -> Path:
        return self.root / "imapd.conf"

    def mailbox_name(self, user: str) -> str:
        """The admin's name of *user*'s INBOX."""
        return f"user{self.separator}{user}"

    def _imapd_conf(self) -> str:
        yes_no = "no" if self.debian_layout else "yes"
        r = self.root
        return "\n".join(
            [
                f"configdirectory: {r}/config",
                "defaultpartition: default",
                f"partition-default: {r}/spool",
                f"proc_path: {r}/run/proc",
                f"mboxname_lockpath: {r}/run/lock",
                f"idlesocket: {r}/run/socket/idle",
                f"notifysocket: {r}/run/socket/notify",
                f"lmtpsocket: {r}/run/socket/lmtp",
                f"altnamespace: {yes_no}",
                f"unixhierarchysep: {yes_no}",
                f"admins: {ADMIN[0]}",
                f"proxyservers: {ADMIN[0]}",
                "allowplaintext: yes",
                "sasl_pwcheck_method: auxprop",
                "sasl_auxprop_plugin: sasldb",
                f"sasl_sasldb_path: {r}/sasldb",
                "sasl_mech_list: PLAIN LOGIN",
                "specialusealways: 1",
                "hashimapspool: false",
                "umask: 077",
                "syslog_prefix: skylift-cyrus",
                "",
            ]
        )

    def _cyrus_conf(self) -> str:
        c = self.conf
        return (
            "START {\n"
            f'  recover cmd="{SYSTEM_BIN}/ctl_cyrusdb -r -C {c}"\n'
            "}\n"
            "SERVICES {\n"
            f'  imap cmd="{self.root}/bin/imapd -C {c}" listen="127.0.0.1:{self.port}" '
            "prefork=1 maxchild=50\n"
            "}\n"
            "EVENTS {\n"
            f'  checkpoint cmd="{SYSTEM_BIN}/ctl_cyrusdb -c -C {c}" period=30\n'
            "}\n"
        )

    def start(self, timeout: float = 20.0) -> CyrusServer:
        missing = missing_parts()
        if missing:
            raise RuntimeError(
                "Cyrus IMAP is not set up (run scripts/setup.sh): missing " + ", ".join(missing)
            )
        for sub in ("config", "spool", "run/proc", "run/lock", "run/socket", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # The daemons run as the cyrus user: they get their own copy, readable wherever the
        # checkout lives.
        for name in ("imapd", "idled"):
            if (PRIVATE_BIN / name).exists():
                shutil.copy2(PRIVATE_BIN / name, self.root / "bin" / name)
        self.port = self.port or free_port()
        self.conf.write_text(self._imapd_conf())
        (self.root / "cyrus.conf").write_text(self._cyrus_conf())
        self._saslpasswd(*ADMIN)
        if self._as_root:
            subprocess.run(["chown", "-R", "cyrus:mail", str(self.root)], check=True)
        self._proc = subprocess.Popen(
            [
                str(SYSTEM_BIN / "master"), "-C", str(self.conf), "-M", str(self.root / "cyrus.conf"),
                "-p", str(self.root / "run" / "master.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "master.stderr", "wb"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"cyrus master exited: {self._log_tail()}")
            with contextlib.suppress(OSError, imapclient.exceptions.IMAPClientError):
                self.admin().logout()
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"cyrus did not answer within {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.root / "master.stderr"
        return path.read_text(errors="replace")[-2000:].strip() if path.exists() else ""

    def _saslpasswd(self, user: str, password: str) -> None:
        subprocess.run(
            ["saslpasswd2", "-p", "-c", "-f", str(self.root / "sasldb"), "-u", "", user],
            input=password.encode(),
            check=True,
            capture_output=True,
        )
        if self._as_root:
            shutil.chown(self.root / "sasldb", "cyrus", "mail")

    def admin(self) -> imapclient.IMAPClient:
        client = imapclient.IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.normalise_times = False
        client.login(*ADMIN)
        return client

    def add_user(self, user: str, password: str) -> None:
        """A user with a password and an empty INBOX (created by the admin, as a site would)."""
        self._saslpasswd(user, password)
        client = self.admin()
        try:
            client.create_folder(self.mailbox_name(user))
        finally:
            client.logout()

    def add_shared_folder(self, name: str, readers: str = "anyone") -> str:
        """A public folder (``news`` / ``Shared Folders/news`` as users see it), readable by
        *readers*; returns the name users see."""
        client = self.admin()
        try:
            client.create_folder(name)
            client.setacl(name, readers, "lrs")
        finally:
            client.logout()
        return name if self.debian_layout else f"Shared Folders/{name}"

    def stop(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # children left behind
        self._proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> CyrusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
