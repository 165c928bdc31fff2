"""Write one Sieve script per moved user into a folder, each replaced atomically.

For a source that cannot route by transport (a hosted or appliance server where only the
mailbox's own filter can be changed): the script redirects mail at final delivery (RFC 5228
``redirect``; Dovecot Pigeonhole, Cyrus sieve). A script of a user no longer moved is removed.
"""

from __future__ import annotations

from pathlib import Path

from skylift.connectors.mta.files import replace_text

SUFFIX = ".sieve"


def write_scripts(folder: Path, scripts: dict[str, str]) -> list[Path]:
    """Make *folder* hold exactly *scripts* (user -> text) as ``user.sieve``; return changed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    wanted = {f"{user}{SUFFIX}": text for user, text in scripts.items()}
    for name, text in wanted.items():
        path = folder / name
        if replace_text(path, text):
            changed.append(path)
    for path in folder.glob(f"*{SUFFIX}"):
        if path.name not in wanted:
            path.unlink()
            changed.append(path)
    return changed
