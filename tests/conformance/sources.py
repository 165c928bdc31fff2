"""Small helpers the conformance modules share: open a source by URL, snapshot a tree."""

from __future__ import annotations

import os
from pathlib import Path

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailSource
from skylift.model.account import Login, Secret


def open_url(
    url: str, user: str = "", password: str | None = None, **options: object
) -> MailSource:
    """Open a source the way the engine does: scheme registry, then open_source(login)."""
    endpoint = Endpoint.parse(url, **options)
    login = Login(user, Secret(password) if password is not None else None)
    return mail_connector(endpoint).open_source(login)


def tree_snapshot(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every file and directory below *root* with size, mtime and inode (not atime)."""
    entries = []
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            entries.append((os.path.relpath(path, root), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sorted(entries))
