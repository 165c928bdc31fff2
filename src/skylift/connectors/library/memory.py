"""An in-memory library: the reference the conformance suite compares WebDAV with."""

from __future__ import annotations

from datetime import datetime

from skylift.connectors.library.base import (
    LibraryCapabilities,
    LibraryConnector,
    LibraryFile,
    LibraryTarget,
)
from skylift.errors import ItemRejected
from skylift.model.account import Login


class MemoryLibrary(LibraryTarget):
    """Folders and files in dicts; keeps file times."""

    capabilities = LibraryCapabilities(file_times=True)

    def __init__(self) -> None:
        self.folders: set[tuple[str, ...]] = {()}
        self.files: dict[tuple[tuple[str, ...], str], tuple[bytes, datetime | None]] = {}
        self.puts = 0

    def ensure_folder(self, path: tuple[str, ...]) -> None:
        for depth in range(1, len(path) + 1):
            self.folders.add(path[:depth])

    def put(
        self, folder: tuple[str, ...], name: str, data: bytes, mtime: datetime | None = None
    ) -> None:
        if folder not in self.folders:
            raise ItemRejected(f"no folder {'/'.join(folder)!r}")
        self.files[(folder, name)] = (bytes(data), mtime)
        self.puts += 1

    def get(self, folder: tuple[str, ...], name: str) -> bytes | None:
        found = self.files.get((folder, name))
        return found[0] if found else None

    def list(self, folder: tuple[str, ...]) -> list[LibraryFile]:
        return [
            LibraryFile(name, len(data))
            for (where, name), (data, _) in sorted(self.files.items())
            if where == folder
        ]

    def mtime(self, folder: tuple[str, ...], name: str) -> datetime | None:
        found = self.files.get((folder, name))
        return found[1] if found else None


class MemoryLibraryConnector(LibraryConnector):
    """``memory-library://NAME``: one shared in-memory library per name (tests, demos)."""

    capabilities = MemoryLibrary.capabilities
    libraries: dict[str, MemoryLibrary] = {}  # noqa: RUF012 - shared on purpose

    def open(self, login: Login) -> MemoryLibrary:
        return self.libraries.setdefault(self.endpoint.host, MemoryLibrary())
