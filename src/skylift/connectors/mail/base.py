"""The contracts every mail connector fulfils, and the capabilities it declares.

A source has no write method at all, so it is read-only by construction. The engine reads
:class:`Capabilities` instead of probing with ``hasattr`` (rclone's ``Features``); the
conformance suite in ``tests/conformance/`` skips a test only with a capability as reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skylift.errors import ConfigError
from skylift.model.account import Login
from skylift.model.mail import AppendResult, Folder, FolderState, Message, MessageRef

if TYPE_CHECKING:
    from skylift.connectors.endpoint import Endpoint


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do; the engine checks these before it relies on a feature.

    *separator* is the hierarchy separator of a server (None for a format that keeps path
    parts apart itself). *case_insensitive_names*: "Work" and "work" are the same folder.
    *max_message_bytes*: the largest message the target takes (None: unknown).
    *batch_append*: several messages per round trip (IMAP MULTIAPPEND).
    *labels*: one message shows in several folders (Gmail's X-GM-EXT-1): as a source its
    listings carry ``MessageRef.labels``; as a target :meth:`MailTarget.add_label` puts a
    message already there into one more folder without a second upload.
    """

    separator: str | None = "/"
    keeps_internaldate: bool = True
    reports_appended_uid: bool = False
    custom_flags: bool = True
    folders: bool = True
    case_insensitive_names: bool = False
    max_message_bytes: int | None = None
    batch_append: bool = False
    changes_since: bool = False
    reserved_names: frozenset[str] = frozenset()
    labels: bool = False


@dataclass(frozen=True)
class Namespace:
    """One IMAP NAMESPACE entry (RFC 2342): whose folders live under *prefix*.

    *kind* is "personal", "other" (other users' mailboxes, e.g. ``shared/bob/``) or "shared"
    (public folders). *prefix* is the raw prefix with its trailing separator.
    """

    kind: str
    prefix: str
    separator: str | None

    def path(self) -> tuple[str, ...]:
        """The prefix as a folder path, e.g. ``("shared",)`` for ``shared/``."""
        if not self.separator:
            return (self.prefix,) if self.prefix else ()
        return tuple(part for part in self.prefix.split(self.separator) if part)


class MailSource(ABC):
    """A mailbox to read from, opened for one user; use it as a context manager.

    Implementations yield messages with their raw bytes untouched, never mark anything
    read, and raise :class:`~skylift.errors.TransientError` for failures worth a retry.
    """

    capabilities: Capabilities = Capabilities()

    @abstractmethod
    def folders(self) -> list[Folder]:
        """Return every folder of the mailbox, parents before children."""

    @abstractmethod
    def select(self, folder: Folder) -> FolderState:
        """Open *folder* read-only and say what it holds; FolderNotFound if missing."""

    @abstractmethod
    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        """Yield every message of the selected *folder* (uid, size, flags, date)."""

    def list_changed(self, folder: Folder, since_modseq: int) -> Iterator[MessageRef]:
        """Yield messages whose flags changed after *since_modseq* (CONDSTORE)."""
        yield from self.list_messages(folder)

    def list_from(self, folder: Folder, first_uid: int) -> Iterator[MessageRef]:
        """Yield messages whose numeric uid is *first_uid* or higher (new since a mark)."""
        for ref in self.list_messages(folder):
            if ref.uid.isdigit() and int(ref.uid) >= first_uid:
                yield ref

    @abstractmethod
    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        """Yield the raw messages for *uids* of *folder*, in any order.

        A uid that vanished in the meantime is left out.
        """

    def quota(self) -> tuple[int, int] | None:
        """Return (used bytes, limit bytes) of the mailbox when the server tells."""
        return None

    def export_non_mail(self, directory: Path) -> Mapping[str, int]:
        """Write items that are not mail (appointments .ics, contacts .vcf) under *directory*.

        Returns counts per kind; sources that hold only mail return nothing.
        """
        return {}

    # --- Inventory extras for ``skylift assess`` (optional; safe defaults) -------------------

    def namespaces(self) -> list[Namespace]:
        """Return the namespaces the server declares (IMAP NAMESPACE); [] when it has none."""
        return []

    def shared_folders(self) -> list[Folder]:
        """Return folders in other users' and public namespaces this login can see."""
        return []

    def folder_acl(self, folder: Folder) -> dict[str, str]:
        """Return who else has which rights on *folder* (IMAP ACL); {} when unknown."""
        return {}

    # --- end of inventory extras ---------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection or file."""

    def __enter__(self) -> MailSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MailTarget(MailSource):
    """A mailbox to write into. Deleting is not part of the contract."""

    @abstractmethod
    def create_folder(self, folder: Folder) -> None:
        """Create *folder* (and its parents); creating an existing folder is not an error."""

    @abstractmethod
    def subscribe(self, folder: Folder) -> None:
        """Subscribe *folder* so mail clients show it."""

    @abstractmethod
    def append(self, folder: Folder, messages: Sequence[Message]) -> list[AppendResult]:
        """Store *messages* in *folder* with their flags and dates, one result each.

        A message the server refuses gets a result with the server's words as *error*; the
        others are still stored. Connection failures raise TransientError.
        """

    @abstractmethod
    def set_flags(self, folder: Folder, uids: Sequence[str], flags: frozenset[str]) -> None:
        """Replace the flags of messages *uids* in *folder*."""

    def wait_for_earlier_writes(self, folder: Folder) -> None:
        """Return once appends of an earlier, dead session can no longer appear in *folder*.

        A server may still commit an APPEND whose client was killed after sending it (the
        bytes were in its buffer). Called before a run concludes that a killed run's append
        never arrived, so it does not copy the message a second time. Default: nothing to
        wait for (a format or server that commits synchronously).
        """

    def add_label(self, folder: Folder, uid: str, label: Folder) -> None:
        """Show message *uid* of *folder* in *label* too (only with ``capabilities.labels``)."""
        raise NotImplementedError("this target has no labels")

    def __enter__(self) -> MailTarget:
        return self


class MailConnector(ABC):
    """Opens a source or target for one mailbox from an :class:`Endpoint`."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @abstractmethod
    def open_source(self, login: Login) -> MailSource:
        """Connect and log in as *login*; ConnectError/AuthError on failure."""

    def open_target(self, login: Login) -> MailTarget:
        raise ConfigError(f"{self.endpoint.scheme}:// can only be a source")
