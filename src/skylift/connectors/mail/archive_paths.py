"""What every local-archive connector (mbox, Maildir, EML, PST) shares: safe paths and identity.

An archive is a user's property: skylift resolves the path a user or a mapping CSV gives
inside the endpoint's root, never follows a symlink out of that root, only ever opens files
for reading, and derives a folder's *validity* from the archive's identity so the ledger
notices when a file was replaced by another one.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from skylift.connectors.endpoint import Endpoint
from skylift.errors import ArchiveError, ConfigError
from skylift.model.account import Login

IDENTITY_BLOCK = 4096

# Folder names that imply a special use, in the spellings mail clients write to disk.
_ROLE_NAMES = {
    "inbox": "inbox",
    "sent": "sent",
    "sent items": "sent",
    "sent messages": "sent",
    "sent mail": "sent",
    "drafts": "drafts",
    "trash": "trash",
    "deleted items": "trash",
    "deleted messages": "trash",
    "junk": "junk",
    "junk e-mail": "junk",
    "junk email": "junk",
    "spam": "junk",
    "archive": "archive",
    "archives": "archive",
}


def role_for_name(name: str) -> str | None:
    """Guess a folder's special use from its (last) name part, as clients name them."""
    return _ROLE_NAMES.get(name.strip().lower())


def archive_root(endpoint: Endpoint, login: Login) -> tuple[Path, Path]:
    """Return (root, archive): the endpoint's root and this user's archive inside it.

    *login.user* is "" (the endpoint path is the archive) or a path relative to the root,
    from a mapping CSV. ConfigError for a path that leaves the root; ArchiveError when the
    archive is missing or unreadable (that user fails, the run goes on).
    """
    if not endpoint.path:
        raise ConfigError(f"{endpoint.scheme}:// needs a path, e.g. {endpoint.scheme}:///exports/")
    root = Path(os.path.realpath(endpoint.path))
    relative = login.user.strip()
    if relative and Path(relative).is_absolute():
        raise ConfigError(f"archive path {relative!r} must be relative to {endpoint.path}")
    archive = Path(os.path.realpath(root / relative)) if relative else root
    if not is_inside(archive, root):
        raise ConfigError(f"archive path {relative!r} leaves {endpoint.path}")
    if not archive.exists():
        raise ArchiveError(f"{display_path(archive)}: no such file or directory")
    if not os.access(archive, os.R_OK):
        raise ArchiveError(f"{display_path(archive)}: not readable (permission denied)")
    return root, archive


def is_inside(path: Path, root: Path) -> bool:
    """True when the real location of *path* is *root* or below it."""
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def safe_entries(directory: Path, root: Path) -> Iterator[os.DirEntry[str]]:
    """Yield *directory*'s entries sorted by name, leaving out links that point out of *root*."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise ArchiveError(f"{display_path(directory)}: {exc.strerror or exc}") from exc
    for entry in entries:
        if entry.is_symlink() and not is_inside(Path(entry.path), root):
            continue
        yield entry


def open_readonly(path: Path) -> int:
    """Open *path* for reading only (no lock, no access-time update where allowed)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        pass  # O_NOATIME needs ownership of the file
    except OSError as exc:
        raise ArchiveError(f"{display_path(path)}: {exc.strerror or exc}") from exc
    try:
        return os.open(path, flags)
    except OSError as exc:
        raise ArchiveError(f"{display_path(path)}: {exc.strerror or exc}") from exc


def file_identity(path: Path) -> str:
    """A validity string that changes when *path* is replaced by a different file.

    A hash of the first block survives copying the archive elsewhere and appending to it
    (new mail at the end of an mbox keeps every old offset), but not rewriting it.
    """
    fd = open_readonly(path)
    try:
        head = os.read(fd, IDENTITY_BLOCK)
    except OSError as exc:
        raise ArchiveError(f"{display_path(path)}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    return hashlib.sha256(head).hexdigest()[:16]


def directory_identity(path: Path) -> str:
    """A validity string for a folder kept as a directory: its inode number."""
    try:
        return f"dir-{os.stat(path).st_ino}"
    except OSError as exc:
        raise ArchiveError(f"{display_path(path)}: {exc.strerror or exc}") from exc


def display_path(path: Path) -> str:
    return str(path)


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DATE_HEADER = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def header_block(raw: bytes) -> bytes:
    """The header section of *raw* (everything before the first empty line)."""
    end = _HEADER_END.search(raw)
    return raw[: end.start()] if end else raw


def date_header(raw: bytes) -> datetime | None:
    """The message's Date header as an aware datetime, None when missing or unreadable."""
    match = _DATE_HEADER.search(header_block(raw))
    if not match:
        return None
    text = re.sub(rb"\r?\n[ \t]+", b" ", match.group(1)).decode("ascii", "replace").strip()
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def mtime_of(path: Path) -> datetime:
    return datetime.fromtimestamp(os.stat(path).st_mtime, tz=UTC)


def read_file(path: Path, limit: int | None = None) -> bytes:
    """Read a whole archive file read-only (or its first *limit* bytes).

    FileNotFoundError when it vanished since it was listed (a mail client or MDA moved it),
    so the caller can skip it; ArchiveError for any other failure.
    """
    if not path.exists():
        raise FileNotFoundError(path)
    fd = open_readonly(path)
    try:
        if limit is not None:
            return os.read(fd, limit)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ArchiveError(f"{display_path(path)}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
