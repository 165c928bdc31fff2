"""A private Postfix on 127.0.0.1 in a temp folder: its own config dir, queue, log and ports.

Debian's ``postfix`` package replaces the system MTA (it and exim4 both provide
mail-transport-agent), so ``scripts/setup.sh`` unpacks it into ``.cache/postfix`` with
``apt-get download`` + ``dpkg -x`` instead of installing it; an installed Postfix is used when
there is one. Each instance runs ``postfix -c DIR start`` with a main.cf that points every
directory (queue, data, daemons, shared libraries, meta files) at the temp folder or the
unpacked tree, listens on 127.0.0.1 only, on a free port, and logs to a file
(``maillog_file``, Postfix 3.4+). Without a ``postfix`` account it runs as ``nobody``, with
``mail`` (or ``postdrop``) as its set-gid group.

Used by ``skylift demo`` (its on-prem MTA) and by the routing and notice tests. Small API::

    mta = start(tmp_dir, relay_domains=["corp.example"], main={"relay_transport": "lmtp:inet:127.0.0.1:2424"})
    mta.smtp_port, mta.config_dir, mta.log_path, mta.command_directory
    mta.postconf({"transport_maps": "hash:..."}); mta.reload(); mta.flush()
    mta.wait_for_log(r"status=deferred"); mta.stop()
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from skylift.demo.dovecot import free_port

# Where setup.sh unpacks it: .cache/postfix of the source tree (this file is
# src/skylift/demo/postfix.py); else of the current folder; else the user's cache, where
# ``skylift demo`` unpacks it. SKYLIFT_POSTFIX_ROOT comes first.
_TREE = Path(__file__).resolve().parents[3]


def user_cache() -> Path:
    """Where ``skylift demo`` unpacks Postfix when no copy is found."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "skylift" / "postfix"


def private_roots() -> list[Path]:
    """The folders a privately unpacked Postfix is looked for in, in order."""
    first = os.environ.get("SKYLIFT_POSTFIX_ROOT")
    roots = [Path(first)] if first else []
    return [*roots, _TREE / ".cache" / "postfix", Path.cwd() / ".cache" / "postfix", user_cache()]


@dataclass(frozen=True)
class PostfixInstall:
    """Where one Postfix's programs live, and the environment they need to run."""

    command_directory: Path  # postfix, postmap, postconf, postqueue
    daemon_directory: Path  # master, smtpd, smtp, lmtp, …
    shlib_directory: Path  # libpostfix-*.so
    share_directory: Path  # dynamicmaps.cf (Debian's template)
    meta_source: Path  # postfix-files: what `postfix start` checks and creates
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a Postfix command (``postmap``, ``postfix``, …) with this install's environment."""
        cmd = [str(self.command_directory / args[0]), *args[1:]]
        return subprocess.run(
            cmd, env={**os.environ, **self.env}, capture_output=True, text=True, check=check
        )


def find_install() -> PostfixInstall | None:
    """An installed Postfix, else the copy setup.sh unpacked; None when there is neither."""
    if Path("/usr/sbin/postfix").exists() and Path("/usr/lib/postfix/sbin/master").exists():
        return PostfixInstall(
            Path("/usr/sbin"),
            Path("/usr/lib/postfix/sbin"),
            Path("/usr/lib/postfix"),
            Path("/usr/share/postfix"),
            Path("/etc/postfix"),
        )
    for private in private_roots():
        if not (private / "usr/sbin/postfix").exists():
            continue
        # The binaries' RUNPATH is /usr/lib/postfix: point the loader at the private copy.
        return PostfixInstall(
            private / "usr/sbin",
            private / "usr/lib/postfix/sbin",
            private / "usr/lib/postfix",
            private / "usr/share/postfix",
            private / "etc/postfix",
            env={"LD_LIBRARY_PATH": str(private / "usr/lib/postfix")},
        )
    return None


def _accounts() -> tuple[str, str, str]:
    """(mail_owner, setgid_group, default_privs) that exist here.

    Postfix wants three different identities: the daemons' owner, the group of its set-gid
    programs, and the rights of local delivery (which these tests never use).
    """
    owner = "postfix" if _exists(pwd.getpwnam, "postfix") else "nobody"
    group = next((g for g in ("postdrop", "mail") if _exists(grp.getgrnam, g)), None)
    privs = next(
        (u for u in ("nobody", "daemon", "bin") if u != owner and _exists(pwd.getpwnam, u)), None
    )
    if group is None or privs is None:
        raise RuntimeError("no postdrop/mail group or spare account for Postfix")
    return owner, group, privs


def _exists(lookup: object, name: str) -> bool:
    try:
        lookup(name)  # type: ignore[operator]
    except KeyError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class PostfixServer:
    """One Postfix instance. *main* adds or overrides main.cf settings."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        hostname: str = "mx.onprem.test",
        relay_domains: list[str] | None = None,
        main: dict[str, str] | None = None,
        tls_cert: tuple[Path, Path] | None = None,
        services: list[str] | None = None,
    ) -> None:
        install = find_install()
        if install is None:
            raise RuntimeError(
                "Postfix is not set up (run scripts/setup.sh: it unpacks Debian's postfix "
                "into .cache/postfix)"
            )
        self.install = install
        # The daemons run as an unprivileged user and must reach the queue: a folder of its
        # own under /tmp (a test runner's temp folder is often 0700).
        self.root = Path(tempfile.mkdtemp(prefix="skylift-postfix-", dir="/tmp"))
        self.root.chmod(0o755)
        self.parent = root
        self.hostname = hostname
        self.relay_domains = relay_domains or []
        self.extra = dict(main or {})
        self.tls_cert = tls_cert
        self.services = list(services or [])  # more master.cf rows (a submission port, ...)
        self.smtp_port = 0
        self.owner, self.group, self.privs = _accounts()

    # -- paths ------------------------------------------------------------------------------

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def log_path(self) -> Path:
        return self.root / "maillog"

    @property
    def queue_dir(self) -> Path:
        return self.root / "queue"

    @property
    def command_directory(self) -> Path:
        return self.install.command_directory

    @property
    def env(self) -> dict[str, str]:
        return self.install.env

    # -- configuration ------------------------------------------------------------------------

    def _main_cf(self) -> dict[str, str]:
        i = self.install
        env = " ".join(f"{k}={v}" for k, v in i.env.items())
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.root / "data"),
            "command_directory": str(i.command_directory),
            "daemon_directory": str(i.daemon_directory),
            "shlib_directory": str(i.shlib_directory),
            "meta_directory": str(self.root / "meta"),
            "mail_owner": self.owner,
            "setgid_group": self.group,
            "default_privs": self.privs,
            "myhostname": self.hostname,
            "mydomain": self.hostname.split(".", 1)[-1],
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": ", ".join(self.relay_domains),
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtputf8_enable": "no",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.root),
            "import_environment": (
                "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME "
                + env
            ).strip(),
            # Tests wait for retries: keep them seconds apart, not minutes.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connect_timeout": "5s",
            "lmtp_connect_timeout": "5s",
            "delay_warning_time": "0",
            "disable_dns_lookups": "yes",
            "smtp_host_lookup": "native",
            "lmtp_host_lookup": "native",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
        }
        if self.tls_cert:
            cert, key = self.tls_cert
            settings |= {
                "smtpd_tls_cert_file": str(cert),
                "smtpd_tls_key_file": str(key),
                "smtpd_tls_security_level": "may",
                "smtpd_tls_loglevel": "1",
            }
        return settings | self.extra

    def _master_cf(self) -> str:
        rows = [
            f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd",
            "pickup    unix n - n 60 1 pickup",
            "cleanup   unix n - n - 0 cleanup",
            "qmgr      unix n - n 300 1 qmgr",
            "tlsmgr    unix - - n 1000? 1 tlsmgr",
            "rewrite   unix - - n - - trivial-rewrite",
            "bounce    unix - - n - 0 bounce",
            "defer     unix - - n - 0 bounce",
            "trace     unix - - n - 0 bounce",
            "verify    unix - - n - 1 verify",
            "flush     unix n - n 1000? 0 flush",
            "proxymap  unix - - n - - proxymap",
            "smtp      unix - - n - - smtp",
            "relay     unix - - n - - smtp -o syslog_name=postfix/$service_name",
            "showq     unix n - n - - showq",
            "error     unix - - n - - error",
            "retry     unix - - n - - error",
            "discard   unix - - n - - discard",
            "lmtp      unix - - n - - lmtp",
            "anvil     unix - - n - 1 anvil",
            "scache    unix - - n - 1 scache",
            "postlog   unix-dgram n - n - 1 postlogd",
            *self.services,
        ]
        return "\n".join(rows) + "\n"

    def _write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        meta = self.root / "meta"
        meta.mkdir(exist_ok=True)
        shutil.copy2(self.install.meta_source / "postfix-files", meta / "postfix-files")
        dynamicmaps = self.install.meta_source / "dynamicmaps.cf"
        if not dynamicmaps.exists():
            dynamicmaps = self.install.share_directory / "dynamicmaps.cf"
        shutil.copy2(dynamicmaps, meta / "dynamicmaps.cf")
        (meta / "dynamicmaps.cf.d").mkdir(exist_ok=True)
        (meta / "postfix-files.d").mkdir(exist_ok=True)
        main = "".join(f"{k} = {v}\n" for k, v in self._main_cf().items())
        (self.config_dir / "main.cf").write_text(main)
        (self.config_dir / "master.cf").write_text(self._master_cf())

    def postconf(self, settings: dict[str, str]) -> None:
        """Change main.cf settings (takes effect on :meth:`reload`)."""
        self.extra.update(settings)
        if self.config_dir.exists():
            self._write_config()

    # -- running ------------------------------------------------------------------------------

    def postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.install.run("postfix", "-c", str(self.config_dir), *args, check=check)

    def start(self, timeout: float = 20.0) -> PostfixServer:
        self.smtp_port = self.smtp_port or free_port()
        for sub in ("queue", "queue/pid", "data"):
            (self.root / sub).mkdir(exist_ok=True)
        shutil.chown(self.root / "data", self.owner)
        self._write_config()
        done = self.postfix("start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"postfix start failed: {done.stderr.strip()} {self._log_tail()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _listening(self.smtp_port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"postfix did not listen within {timeout}s: {self._log_tail()}")

    def reload(self) -> None:
        self.postfix("reload")

    def flush(self) -> None:
        """Retry every deferred message now (``postqueue -f``)."""
        self.install.run("postqueue", "-c", str(self.config_dir), "-f", check=False)

    def queue_ids(self) -> list[str]:
        """Ids of the messages still queued (deferred, active, incoming)."""
        ids = []
        for sub in ("incoming", "active", "deferred", "hold"):
            folder = self.queue_dir / sub
            if folder.exists():
                ids += [p.name for p in folder.rglob("*") if p.is_file()]
        return ids

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 20.0, *, after: int = 0) -> re.Match[str]:
        """The first match of *pattern* in the log from offset *after*, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.log(), after)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"postfix log has no {pattern!r}:\n{self._log_tail()}")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        return self.log()[-3000:]

    def stop(self) -> None:
        """Stop Postfix and remove its folder."""
        pid_file = self.queue_dir / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid and _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)  # what `postfix stop` does
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.02)
            # master runs in a session of its own: take its children with it.
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def start(tmpdir: Path | None = None, **kwargs: object) -> PostfixServer:
    """Start a Postfix for a test (see :class:`PostfixServer` for the keyword arguments)."""
    return PostfixServer(tmpdir, **kwargs).start()  # type: ignore[arg-type]
