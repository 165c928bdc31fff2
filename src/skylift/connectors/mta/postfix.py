"""Install Postfix lookup tables atomically, and read what the running config says.

A map is replaced the way postmap(1) recommends for a live server: write the text to a temp
file in the same folder, build its ``.db`` with ``postmap``, rename the ``.db`` and then the
text over the old ones (rename is atomic on one file system: a lookup sees the old table or
the new one, never half of each), then ``postfix -c DIR reload`` so the long-running
trivial-rewrite and smtp processes drop cached lookups. A table whose text is unchanged is
not touched, so a rerun changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from skylift.connectors.mta.files import replace_text
from skylift.errors import ConfigError, ConnectError


class PostfixConfig:
    """One Postfix instance: its config dir and the folder holding postfix/postmap/postconf."""

    def __init__(self, config_dir: Path, command_dir: Path | None = None) -> None:
        if not (config_dir / "main.cf").is_file():
            raise ConfigError(f"--postfix-config-dir {config_dir}: no main.cf there")
        self.config_dir = config_dir
        self.command_dir = command_dir or _find_commands()
        for name in ("postfix", "postmap", "postconf"):
            if not os.access(self.command_dir / name, os.X_OK):
                raise ConfigError(f"no {name} in {self.command_dir} (give --postfix-command-dir)")
        self.env = dict(os.environ)
        # A Postfix unpacked with dpkg -x (not installed) finds its shared libraries only
        # when told where they are: its binaries' RUNPATH is /usr/lib/postfix.
        private_libs = self.command_dir.parent / "lib" / "postfix"
        if (private_libs / "libpostfix-util.so").exists() and private_libs != Path(
            "/usr/lib/postfix"
        ):
            self.env["LD_LIBRARY_PATH"] = str(private_libs)

    def _run(self, *args: str) -> str:
        cmd = [str(self.command_dir / args[0]), *args[1:]]
        try:
            done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConnectError(f"{args[0]} did not run: {exc}") from None
        if done.returncode != 0:
            words = (done.stderr or done.stdout).strip().splitlines()
            raise ConnectError(
                f"{' '.join(args[:2])} failed: {words[-1] if words else done.returncode}"
            )
        return done.stdout

    def param(self, name: str) -> str:
        """A main.cf parameter as Postfix expands it (``postconf -c DIR -xh NAME``)."""
        return self._run("postconf", "-c", str(self.config_dir), "-xh", name).strip()

    def inet_listeners(self) -> set[tuple[str, int]]:
        """(address, port) of every inet service in master.cf (for the loop check)."""
        found: set[tuple[str, int]] = set()
        interfaces = [i.strip() for i in self.param("inet_interfaces").replace(",", " ").split()]
        for line in self._run("postconf", "-c", str(self.config_dir), "-M").splitlines():
            fields = line.split()
            if len(fields) < 2 or fields[1] != "inet":
                continue
            host, _, port = fields[0].rpartition(":")
            port = {"smtp": "25", "submission": "587", "smtps": "465"}.get(port, port)
            if not port.isdigit():
                continue
            hosts = [host] if host else [("0.0.0.0" if i == "all" else i) for i in interfaces]
            found |= {(h.lower(), int(port)) for h in hosts}
        return found

    def uses(self, parameter: str, path: Path) -> bool:
        """Whether *parameter* in main.cf lists the table at *path*."""
        return str(path) in self.param(parameter)

    def install(self, name: str, text: str, *, map_type: str = "hash") -> bool:
        """Replace map *name* in the config dir with *text*; False when it was already so."""
        final = self.config_dir / name
        if final.exists() and final.read_text() == text and _built(final, map_type):
            return False
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=self.config_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.chmod(0o644)
            self._run("postmap", "-c", str(self.config_dir), f"{map_type}:{tmp}")
            os.replace(f"{tmp}.db", f"{final}.db")
            os.replace(tmp, final)
        finally:
            for leftover in (tmp, Path(f"{tmp}.db")):
                leftover.unlink(missing_ok=True)
        return True

    def in_delivery(self, users: set[str]) -> int:
        """Messages in the active queue for any of *users* (``postqueue -j``).

        Those were routed before the last reload and may still land on the old side; queued
        ones not yet active are routed by the new maps when their turn comes.
        """
        wanted = {u.lower() for u in users}
        out = self._run("postqueue", "-c", str(self.config_dir), "-j")
        busy = 0
        for line in out.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("queue_name") != "active":
                continue
            rcpts = {str(r.get("address", "")).lower() for r in entry.get("recipients", [])}
            busy += bool(rcpts & wanted)
        return busy

    def reload(self) -> None:
        """``postfix -c DIR reload``: the daemons pick up the new tables."""
        self._run("postfix", "-c", str(self.config_dir), "reload")

    @property
    def _stamp(self) -> Path:
        return self.config_dir / LOADED_STAMP

    def loaded(self, maps: dict[str, str]) -> bool:
        """Whether Postfix was reloaded after *maps* were last installed (see mark_loaded)."""
        try:
            return self._stamp.read_text() == _digest(maps)
        except OSError:
            return False

    def mark_loaded(self, maps: dict[str, str]) -> None:
        """Record that the running Postfix has been told of *maps* (after a reload)."""
        replace_text(self._stamp, _digest(maps))


LOADED_STAMP = ".skylift_reloaded"


def _digest(maps: dict[str, str]) -> str:
    text = "".join(f"{name}\0{maps[name]}\0" for name in sorted(maps))
    return hashlib.sha256(text.encode()).hexdigest() + "\n"


def _env_for(command_dir: Path) -> dict[str, str]:
    """The environment Postfix's commands run with.

    A Postfix unpacked with dpkg -x (not installed) finds its shared libraries only when told
    where they are: its binaries' RUNPATH is /usr/lib/postfix.
    """
    env = dict(os.environ)
    private_libs = command_dir.parent / "lib" / "postfix"
    if (private_libs / "libpostfix-util.so").exists() and private_libs != Path("/usr/lib/postfix"):
        env["LD_LIBRARY_PATH"] = str(private_libs)
    return env


def _built(path: Path, map_type: str) -> bool:
    return map_type != "hash" or Path(f"{path}.db").exists()


def _find_commands() -> Path:
    found = shutil.which("postmap")
    if found:
        return Path(found).parent
    return Path("/usr/sbin")


def write_map_files(folder: Path, maps: dict[str, str], command_dir: Path | None) -> list[str]:
    """Write *maps* as text files into *folder* (``route export``), each replaced atomically,
    and build their ``.db`` with postmap when one is found; return the files changed."""
    changed = []
    postmap = (command_dir or _find_commands()) / "postmap"
    for name, text in maps.items():
        final = folder / name
        if not replace_text(final, text):
            continue
        changed.append(name)
        if os.access(postmap, os.X_OK):
            config = PostfixConfig.__new__(PostfixConfig)
            config.command_dir = postmap.parent
            config.env = _env_for(postmap.parent)
            own = ["-c", str(folder)] if (folder / "main.cf").exists() else []
            config._run("postmap", *own, f"hash:{final}")
    return changed
