"""The contract of a document library target, and the capabilities it declares.

Public folders and detached attachments land in a library as plain files in folders. The
engine only creates folders, writes files whole, reads them back and lists a folder; a
library that cannot keep a file time or a long path says so in :class:`LibraryCapabilities`,
and the engine puts the date in the file name and the index page instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from skylift.model.account import Login

if TYPE_CHECKING:
    from skylift.connectors.endpoint import Endpoint


@dataclass(frozen=True)
class LibraryCapabilities:
    """What a library keeps.

    *file_times*: :meth:`LibraryTarget.put` can set a file's modification time (WebDAV's
    ``getlastmodified`` is protected on SharePoint, Nextcloud and wsgidav, so a WebDAV
    library declares False). *max_path*: the longest path, in characters, below the
    library's root (SharePoint: 400 for the whole decoded URL path). *case_insensitive*:
    "Work" and "work" are the same folder.
    """

    file_times: bool = False
    max_path: int | None = None
    case_insensitive: bool = False


@dataclass(frozen=True)
class LibraryFile:
    """One file as listed: its name in its folder and its size in bytes."""

    name: str
    size: int


class LibraryTarget(ABC):
    """A library opened for writing; paths are tuples of names below the library's root."""

    capabilities: LibraryCapabilities = LibraryCapabilities()

    @abstractmethod
    def ensure_folder(self, path: tuple[str, ...]) -> None:
        """Create the folder *path* and its parents; an existing folder is not an error."""

    @abstractmethod
    def put(
        self, folder: tuple[str, ...], name: str, data: bytes, mtime: datetime | None = None
    ) -> None:
        """Write file *name* in *folder* whole (replacing one of that name).

        *mtime* is applied only with ``capabilities.file_times``. A refusal raises
        :class:`~skylift.errors.ItemRejected` with the server's words.
        """

    @abstractmethod
    def get(self, folder: tuple[str, ...], name: str) -> bytes | None:
        """The bytes of file *name* in *folder*, or None when there is none."""

    @abstractmethod
    def list(self, folder: tuple[str, ...]) -> list[LibraryFile]:
        """The files (not sub-folders) of *folder*; [] for a folder that does not exist."""

    def url_of(self, folder: tuple[str, ...], name: str) -> str:
        """The address a reader opens file *name* of *folder* with (a link in a message)."""
        return "/".join((*folder, name))

    def mtime(self, folder: tuple[str, ...], name: str) -> datetime | None:
        """The file's modification time where the library keeps one set by :meth:`put`."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""

    def __enter__(self) -> LibraryTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LibraryConnector(ABC):
    """Opens a library from an :class:`Endpoint` for one login."""

    capabilities: LibraryCapabilities = LibraryCapabilities()

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @abstractmethod
    def open(self, login: Login) -> LibraryTarget:
        """Connect and sign in; ConnectError/AuthError on failure."""
