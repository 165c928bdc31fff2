"""imapsync on the same corpus: the tool most admins would otherwise pick, one process per user.

imapsync is not packaged in Debian. It is one Perl script: take ``imapsync`` from its
repository (github.com/imapsync/imapsync, NOLIMIT licence) and install the Perl modules its
INSTALL.d/INSTALL.Debian.txt lists (all Debian packages, e.g. ``libmail-imapclient-perl``,
``libio-socket-inet6-perl``, ``libencode-imaputf7-perl``, ``libunicode-string-perl``,
``libsys-meminfo-perl``, ``libfile-copy-recursive-perl``, ``libio-tee-perl``,
``libreadonly-perl``, ``libregexp-common-perl``, ``libterm-readkey-perl``,
``libfile-tail-perl``), then point ``--imapsync PATH`` or ``$IMAPSYNC`` at the script. The
benchmark does not ship the script: the project contains only code written for it.

Options are imapsync's defaults for a plain migration, plus ``--nolog`` and
``--noreleasecheck`` (no files, no network) and ``--usecache`` off; passwords go through
``--passfile1/2`` so they are not on a command line.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def find_imapsync(explicit: Path | None) -> str | None:
    """The imapsync script to run, if there is one: --imapsync, $IMAPSYNC, then $PATH."""
    for candidate in (explicit, os.environ.get("IMAPSYNC"), shutil.which("imapsync")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def imapsync_commands(
    script: str, workdir: Path, users: list[str], src_port: int, dst_port: int, password: str
) -> list[list[str]]:
    """One imapsync run per user (source USER, target USER@example.com)."""
    secret = workdir / "imapsync.pass"
    workdir.mkdir(parents=True, exist_ok=True)
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    commands = []
    for user in users:
        commands.append(
            ["perl", script,
             "--host1", "127.0.0.1", "--port1", str(src_port), "--user1", user,
             "--passfile1", str(secret),
             "--host2", "127.0.0.1", "--port2", str(dst_port), "--user2", f"{user}@example.com",
             "--passfile2", str(secret),
             "--nossl1", "--nossl2", "--notls1", "--notls2",
             "--nolog", "--noreleasecheck", "--tmpdir", str(workdir)]
        )  # fmt: skip
    return commands
