"""IMAP source and target over imapclient: folders, listing, fetching, flags, labels.

imapclient is chosen over raw imaplib for its typed FETCH parsing, modified UTF-7 folder
names and SASL PLAIN with an authorization identity (proxy login); aioimaplib would force
async on an engine that runs one thread per mailbox. What imapclient lacks is done on top of
it: the session and its transport rules in :mod:`.session`, APPEND in :mod:`.append`, FETCH
parsing in :mod:`.wire`, what ``assess`` asks in :mod:`.inventory`.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import Capabilities, MailConnector, MailTarget
from skylift.connectors.mail.imap.append import LITERAL_PLUS_REFUSED, AppendMixin
from skylift.connectors.mail.imap.gmail import GmailLabels, gmail_labels
from skylift.connectors.mail.imap.inventory import InventoryMixin
from skylift.connectors.mail.imap.namespace import NamespaceMap
from skylift.connectors.mail.imap.session import (
    NETWORK_ERRORS,
    close_quietly,
    connect,
    is_throttling,
    login,
    transient_from,
)
from skylift.connectors.mail.imap.session import text_of as _text
from skylift.connectors.mail.imap.wire import FetchedItem, parse_fetch, uid_set
from skylift.errors import ConfigError, FolderNotFound, FolderRefused
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

SPECIAL_USE_ROLES = {
    b"\\sent": "sent",
    b"\\drafts": "drafts",
    b"\\trash": "trash",
    b"\\junk": "junk",
    b"\\archive": "archive",
    b"\\all": "all",
    b"\\flagged": "flagged",
    b"\\important": "important",
}

# Flags a client may not set (RFC 3501 2.3.2); everything else is carried.
UNSETTABLE_FLAGS = {"\\recent"}

# A killed run's last APPEND may still be committed: how long the folder must stay unchanged
QUIET_SECONDS = 1.0
QUIET_MAX_SECONDS = 15.0
LIST_CHUNK = 5000  # UIDs per FETCH of sizes/flags: bounds memory on 100k-message folders


def _flags(raw: Iterable[bytes | str]) -> frozenset[str]:
    return frozenset(_text(f) for f in raw if _text(f).lower() not in UNSETTABLE_FLAGS)


_FLAG_SETS: dict[tuple[bytes, ...], frozenset[str]] = {}
_FLAG_SETS_MAX = 4096


def _shared_flags(raw: tuple[bytes, ...]) -> frozenset[str]:
    """The flags of a listed message as a frozenset shared with every message that has the
    same flags: a 100,000-message folder holds a handful of sets, not 100,000 of them."""
    found = _FLAG_SETS.get(raw)
    if found is None:
        found = _flags(raw)
        if len(_FLAG_SETS) < _FLAG_SETS_MAX:
            _FLAG_SETS[raw] = found
    return found


class ImapConnector(MailConnector):
    """Opens IMAP sessions for one server URL."""

    def open_source(self, login: Login) -> ImapMailbox:
        return ImapMailbox(self.endpoint, login)

    def open_target(self, login: Login) -> ImapMailbox:
        return ImapMailbox(self.endpoint, login)


class ImapMailbox(AppendMixin, InventoryMixin, MailTarget):
    """One logged-in IMAP session for one mailbox; source and target in one class.

    Not thread-safe: the engine gives each mailbox its own session.
    """

    def __init__(self, endpoint: Endpoint, login: Login) -> None:
        if endpoint.scheme not in ("imap", "imaps"):
            raise ConfigError(f"not an IMAP URL: {endpoint.display()}")
        self.endpoint = endpoint
        self.login_info = login
        self._selected: tuple[str, bool] | None = None
        self._foreign: list[Folder] | None = None  # listed folders outside the personal namespace
        self._foreign_names: dict[tuple[str, ...], str] = {}  # their paths -> server names
        self.client = self._connect()
        try:
            self._login()
            caps = set(self.client.capabilities())
            if b"CONDSTORE" in caps:
                self.client.enable("CONDSTORE")
            self.names = self._namespace_map()
            self.separator = self.names.separator
        except BaseException:
            self._abandon()
            raise
        self.capabilities = Capabilities(
            separator=self.separator,
            reports_appended_uid=b"UIDPLUS" in caps,
            batch_append=b"MULTIAPPEND" in caps,
            changes_since=b"CONDSTORE" in caps,
            case_insensitive_names=False,
            max_message_bytes=self._appendlimit(caps),
            reserved_names=self.names.reserved(),
            labels=b"X-GM-EXT-1" in caps,
        )
        self._role_paths: dict[str, tuple[str, ...]] | None = None
        self._literal_plus = b"LITERAL+" in caps and self._server_key() not in LITERAL_PLUS_REFUSED
        self._nodelay = False

    # -- connection -------------------------------------------------------------------
    def _connect(self) -> imapclient.IMAPClient:
        return connect(self.endpoint)

    def _login(self) -> None:
        login(self.client, self.endpoint, self.login_info)

    def _namespace_map(self) -> NamespaceMap:
        """Personal prefix and separator from NAMESPACE; LIST's separator without it."""
        if b"NAMESPACE" in self.client.capabilities():
            try:
                found = NamespaceMap.from_response(self.client.namespace())
                if found.separator:
                    return found
            except IMAPClientError:
                pass
        listing = self.client.list_folders(directory="", pattern="")
        return NamespaceMap(_text(listing[0][1]) if listing and listing[0][1] else "/")

    @staticmethod
    def _appendlimit(caps: set[bytes]) -> int | None:
        for cap in caps:
            if cap.upper().startswith(b"APPENDLIMIT="):
                try:
                    return int(cap.split(b"=", 1)[1])
                except ValueError:
                    return None
        return None

    def _abandon(self) -> None:
        close_quietly(self.client)

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:
            self._abandon()

    # -- helpers ----------------------------------------------------------------------
    def name_of(self, folder: Folder) -> str:
        """The server's name of *folder*; a shared or other user's folder (from
        :meth:`shared_folders`) keeps the full server name it was listed with."""
        foreign = self._foreign_names.get(folder.path)
        return foreign if foreign is not None else self.names.to_name(folder.path)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one IMAP command; connection failures become TransientError."""
        try:
            return fn(*args, **kwargs)
        except NETWORK_ERRORS as exc:
            self._selected = None
            raise transient_from(exc) from None
        except IMAPClientError as exc:
            if is_throttling(str(exc)):
                raise transient_from(exc) from None
            raise

    def _select(self, folder: Folder, readonly: bool) -> dict[bytes, Any]:
        name = self.name_of(folder)
        try:
            info = self._call(self.client.select_folder, name, readonly=readonly)
        except IMAPClientError as exc:
            raise FolderNotFound(f"folder {name!r}: {exc}") from None
        self._selected = (name, readonly)
        return dict(info)

    def _ensure_selected(self, folder: Folder, readonly: bool) -> None:
        name = self.name_of(folder)
        if (
            self._selected is None
            or self._selected[0] != name
            or (self._selected[1] and not readonly)
        ):
            self._select(folder, readonly)

    # -- source -----------------------------------------------------------------------
    def folders(self) -> list[Folder]:
        listed = self._call(self.client.list_folders)
        subscribed = {_text(n) for _, _, n in self._call(self.client.list_sub_folders)}
        out: list[Folder] = []
        self._foreign = []
        for flags, delim, name in listed:
            name = _text(name)
            sep = _text(delim) if delim else None
            lower = {f.lower() for f in flags}
            found = self.names.to_path(name, sep)
            if found is None:  # another user's or a shared folder: not this mailbox's tree
                self._foreign_names[tuple(name.split(sep)) if sep else (name,)] = name
                self._foreign.append(
                    Folder(
                        path=tuple(name.split(sep)) if sep else (name,),
                        subscribed=name in subscribed,
                        selectable=b"\\noselect" not in lower and b"\\nonexistent" not in lower,
                    )
                )
                continue
            path = found
            role = next((r for f, r in SPECIAL_USE_ROLES.items() if f in lower), None)
            if path[0].upper() == "INBOX" and len(path) == 1:
                path, role = ("INBOX",), "inbox"
            out.append(
                Folder(
                    path=path,
                    role=role,
                    subscribed=name in subscribed or role == "inbox",
                    selectable=b"\\noselect" not in lower and b"\\nonexistent" not in lower,
                )
            )
        out.sort(key=lambda f: (f.path[0].upper() != "INBOX", f.path))
        self._role_paths = {f.role: f.path for f in out if f.role}
        return out

    def wait_for_earlier_writes(self, folder: Folder) -> None:
        """Poll the folder until UIDNEXT and EXISTS stay the same for QUIET_SECONDS
        (``?settle_seconds=N`` on the target URL for a server that commits slowly).

        A killed run's MULTIAPPEND is committed by the server after the client is gone when
        every literal was already sent; a rerun that settles pending rows at once would miss
        it and copy the batch again (seen with Dovecot, 500 messages). Bounded: at most
        QUIET_MAX_SECONDS, then the rerun goes on as before.
        """
        quiet = float(self.endpoint.options.get("settle_seconds", QUIET_SECONDS))
        deadline = time.monotonic() + max(QUIET_MAX_SECONDS, 3 * quiet)
        before = self._counts(folder)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self._counts(folder)
            if now == before:
                return
            before = now

    def _counts(self, folder: Folder) -> tuple[int | None, int]:
        self._selected = None  # a fresh SELECT: the server reports what is committed now
        state = self.select(folder)
        return state.next_uid, state.count

    def select(self, folder: Folder) -> FolderState:
        info = self._select(folder, readonly=True)
        modseq = info.get(b"HIGHESTMODSEQ")
        return FolderState(
            validity=str(info.get(b"UIDVALIDITY", 0)),
            count=int(info.get(b"EXISTS", 0)),
            next_uid=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
            modseq=int(modseq) if modseq is not None else None,
        )

    def _uids(self, criteria: Any = "ALL") -> list[int]:
        return sorted(self._call(self.client.search, criteria))

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        self._ensure_selected(folder, readonly=True)
        yield from self._refs(self._uids())

    def list_changed(self, folder: Folder, since_modseq: int) -> Iterator[MessageRef]:
        self._ensure_selected(folder, readonly=True)
        if not self.capabilities.changes_since:
            yield from self._refs(self._uids())
            return
        uids = self._uids(["MODSEQ", str(since_modseq + 1)]) if since_modseq else self._uids()
        yield from self._refs(uids)

    def _refs(self, uids: list[int]) -> Iterator[MessageRef]:
        for i in range(0, len(uids), LIST_CHUNK):
            chunk = uids[i : i + LIST_CHUNK]
            wanted = set(chunk)
            found = {
                item.uid: item
                for item in self._uid_fetch(chunk, b"(UID RFC822.SIZE FLAGS INTERNALDATE)")
                if item.uid in wanted
            }
            labels = self._gmail_labels(chunk) if self.capabilities.labels else {}
            for uid in chunk:
                item = found.get(uid)
                if item is None:
                    continue  # expunged meanwhile
                msgid, paths = labels.get(uid, (None, frozenset()))
                yield MessageRef(
                    uid=str(uid),
                    size=item.size or 0,
                    flags=_shared_flags(item.flags),
                    internaldate=item.internaldate,
                    msgid=msgid,
                    labels=paths,
                )

    def _gmail_labels(self, uids: Sequence[int]) -> dict[int, GmailLabels]:
        """X-GM-MSGID and X-GM-LABELS (as folder paths) of *uids* in the selected folder."""
        if self._role_paths is None:
            self.folders()
        found = self._call(self.client.fetch, list(uids), ["X-GM-MSGID", "X-GM-LABELS"])
        return gmail_labels(found, self._role_paths or {}, self.names, self.separator)

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        self._ensure_selected(folder, readonly=True)
        ids = [int(u) for u in uids]
        if not ids:
            return
        wanted = set(ids)
        found = {
            item.uid: item
            for item in self._uid_fetch(ids, b"(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[])")
            if item.uid in wanted and item.body is not None
        }
        for uid in ids:
            item = found.pop(uid, None)
            if item is None:
                continue
            raw = item.body or b""
            yield Message(
                MessageRef(
                    uid=str(uid),
                    size=item.size if item.size is not None else len(raw),
                    flags=_shared_flags(item.flags),
                    internaldate=item.internaldate,
                ),
                raw,
            )

    def _uid_fetch(self, uids: Sequence[int], items: bytes) -> list[FetchedItem]:
        """One ``UID FETCH``, parsed by :mod:`imap_wire` (imapclient's parser is byte-wise)."""
        imap = self.client._imap

        def run() -> list[FetchedItem]:
            imap.untagged_responses.pop("FETCH", None)  # stale unsolicited updates
            typ, data = imap.uid("FETCH", uid_set(uids).decode(), items.decode())
            if typ != "OK":
                raise imaplib.IMAP4.error(f"fetch failed: {_text(data[0] if data else b'')}")
            return list(parse_fetch(data))

        return self._call(run)  # type: ignore[no-any-return]

    # -- target -----------------------------------------------------------------------
    def create_folder(self, folder: Folder) -> None:
        if folder.is_inbox:
            return
        existing = {
            _text(n) for _, _, n in self._call(self.client.list_folders, "", self.name_of(folder))
        }
        for depth in range(1, len(folder.path) + 1):
            name = self.names.to_name(folder.path[:depth])
            if name in existing or (depth < len(folder.path) and self._exists(name)):
                continue
            try:
                self._call(self.client.create_folder, name)
            except IMAPClientError as exc:
                if "exists" not in str(exc).lower():
                    said = re.sub(r"^create failed:\s*", "", str(exc))
                    raise FolderRefused(f"the target refused to create {name!r}: {said}") from None

    def _exists(self, name: str) -> bool:
        return bool(self._call(self.client.list_folders, "", name))

    def subscribe(self, folder: Folder) -> None:
        # Subscriptions are a courtesy; a server may refuse them for INBOX.
        with contextlib.suppress(IMAPClientError):
            self._call(self.client.subscribe_folder, self.name_of(folder))

    def set_flags(self, folder: Folder, uids: Sequence[str], flags: frozenset[str]) -> None:
        self._ensure_selected(folder, readonly=False)
        self._call(self.client.set_flags, [int(u) for u in uids], sorted(flags), silent=True)

    def add_label(self, folder: Folder, uid: str, label: Folder) -> None:
        """Gmail: ``UID STORE uid +X-GM-LABELS (label)`` in *folder*; the message then shows
        in *label*'s folder too, without a second upload."""
        self._ensure_selected(folder, readonly=False)
        name = "\\Inbox" if label.is_inbox else self.name_of(label)
        try:
            self._call(self.client.add_gmail_labels, [int(uid)], [name], silent=True)
        except IMAPClientError as exc:
            raise FolderRefused(f"the target refused label {name!r}: {exc}") from None

    def list_from(self, folder: Folder, first_uid: int) -> Iterator[MessageRef]:
        self._ensure_selected(folder, readonly=True)
        yield from self._refs([u for u in self._uids(["UID", f"{first_uid}:*"]) if u >= first_uid])
