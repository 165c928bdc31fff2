"""A document library that is a local folder (``folder:///path``): a synced OneDrive or
SharePoint folder, a mounted share, or the demo's library.

It keeps file times (``os.utime``), which a WebDAV library cannot, and writes each file
through a temporary name and a rename, so a killed run never leaves half a file behind.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from skylift.connectors.library.base import (
    LibraryCapabilities,
    LibraryConnector,
    LibraryFile,
    LibraryTarget,
)
from skylift.errors import ConfigError, ItemRejected
from skylift.model.account import Login


class FolderLibrary(LibraryTarget):
    capabilities = LibraryCapabilities(file_times=True)

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, folder: tuple[str, ...]) -> Path:
        return self.root.joinpath(*folder)

    def url_of(self, folder: tuple[str, ...], name: str) -> str:
        return (self._dir(folder) / name).as_uri()

    def ensure_folder(self, path: tuple[str, ...]) -> None:
        self._dir(path).mkdir(parents=True, exist_ok=True)

    def put(
        self, folder: tuple[str, ...], name: str, data: bytes, mtime: datetime | None = None
    ) -> None:
        final = self._dir(folder) / name
        part = final.with_name(f".{name}.part")
        try:
            part.write_bytes(data)
            if mtime is not None:
                stamp = mtime.timestamp()
                os.utime(part, (stamp, stamp))
            part.replace(final)
        except OSError as exc:
            raise ItemRejected(f"{final}: {exc.strerror or exc}") from None

    def get(self, folder: tuple[str, ...], name: str) -> bytes | None:
        path = self._dir(folder) / name
        return path.read_bytes() if path.is_file() else None

    def list(self, folder: tuple[str, ...]) -> list[LibraryFile]:
        where = self._dir(folder)
        if not where.is_dir():
            return []
        return [
            LibraryFile(p.name, p.stat().st_size)
            for p in sorted(where.iterdir())
            if p.is_file() and not p.name.endswith(".part")
        ]

    def mtime(self, folder: tuple[str, ...], name: str) -> datetime | None:
        path = self._dir(folder) / name
        return datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.is_file() else None


class FolderLibraryConnector(LibraryConnector):
    """``folder:///absolute/path``: the folder must exist (a typo is not a new library)."""

    capabilities = FolderLibrary.capabilities

    def open(self, login: Login) -> FolderLibrary:
        root = Path(self.endpoint.path or "/")
        if not root.is_dir():
            raise ConfigError(f"folder:// library {root} is not a folder")
        return FolderLibrary(root)
