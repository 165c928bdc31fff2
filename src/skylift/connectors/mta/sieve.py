"""Write one Sieve script per moved user into a folder, each replaced atomically.

For a source that cannot route by transport (a hosted or appliance server where only the
mailbox's own filter can be changed): the script redirects mail at final delivery (RFC 5228
``redirect``; Dovecot Pigeonhole, Cyrus sieve). A script of a user no longer moved is removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SUFFIX = ".sieve"


def write_scripts(folder: Path, scripts: dict[str, str]) -> list[Path]:
    """Make *folder* hold exactly *scripts* (user -> text) as ``user.sieve``; return changed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    wanted = {f"{user}{SUFFIX}": text for user, text in scripts.items()}
    for name, text in wanted.items():
        path = folder / name
        if path.exists() and path.read_text() == text:
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        changed.append(path)
    for path in folder.glob(f"*{SUFFIX}"):
        if path.name not in wanted:
            path.unlink()
            changed.append(path)
    return changed
