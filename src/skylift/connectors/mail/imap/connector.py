"""IMAP source and target over imapclient.

imapclient is chosen over raw imaplib for its typed FETCH parsing, modified UTF-7 folder
names and SASL PLAIN with an authorization identity (proxy login); aioimaplib would force
async on an engine that runs one thread per mailbox. What imapclient lacks (MULTIAPPEND
result parsing, throttling hints) is done here on top of it.

Transport rules (see ``docs/migrate.md``): ``imaps://`` is implicit TLS; ``imap://`` upgrades
with STARTTLS when offered; a password is sent without TLS only to 127.0.0.0/8 or with
``--allow-plaintext``. Certificates are verified unless the user says ``--insecure-*``.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import Capabilities, MailConnector, MailTarget, Namespace
from skylift.connectors.mail.imap.gmail import GmailLabels, gmail_labels
from skylift.connectors.mail.imap.namespace import NamespaceMap
from skylift.connectors.mail.imap.wire import FetchedItem, append_command, parse_fetch, uid_set
from skylift.connectors.throttle_hints import imap_backoff, imap_throttled
from skylift.errors import (
    AuthError,
    ConfigError,
    ConnectError,
    FolderNotFound,
    FolderRefused,
    TokenExpired,
    TransientError,
)
from skylift.model.account import Login
from skylift.model.mail import AppendResult, Folder, FolderState, Message, MessageRef

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

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.I)

# Servers that answered a LITERAL+ MULTIAPPEND with BAD: later sessions wait for continuations.
_LITERAL_PLUS_REFUSED: set[tuple[str, int | None]] = set()

# Errors that mean the connection is gone or hung: worth a reconnect and retry.
NETWORK_ERRORS = (imaplib.IMAP4.abort, OSError, socket.timeout, ssl.SSLError, EOFError)


def transient_from(exc: BaseException) -> TransientError:
    """Turn a dropped connection, BYE or throttling answer into a TransientError.

    The wait is the server's own (Exchange's Suggested Backoff Time, also when it came on the
    NO before the BYE that imaplib reports); None lets the retry rule double its backoff.
    """
    text = str(exc) or type(exc).__name__
    retry_after = imap_backoff(text)
    if "AccessTokenExpired" in text:  # Exchange ends a session whose token expired
        return TokenExpired(f"IMAP session ended: {text}")
    return TransientError(f"IMAP connection problem: {text}", retry_after=retry_after)


def is_throttling(text: str) -> bool:
    """True when a NO/BAD answer asks us to slow down rather than refusing the item."""
    return imap_throttled(text)


def parse_uid_set(spec: bytes) -> list[int]:
    """Expand an RFC 4315 uid-set like ``b"4:6,9"`` into ``[4, 5, 6, 9]``."""
    out: list[int] = []
    for part in spec.split(b","):
        lo, _, hi = part.partition(b":")
        a = int(lo)
        b = int(hi) if hi else a
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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


class ImapMailbox(MailTarget):
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
        self._literal_plus = b"LITERAL+" in caps and self._server_key() not in _LITERAL_PLUS_REFUSED
        self._nodelay = False

    # -- connection -------------------------------------------------------------------
    def _connect(self) -> imapclient.IMAPClient:
        ep = self.endpoint
        port = ep.port or (993 if ep.scheme == "imaps" else 143)
        where = f"{ep.host}:{port}"
        try:
            client = imapclient.IMAPClient(
                ep.host,
                port=port,
                ssl=ep.scheme == "imaps",
                ssl_context=ep.ssl_context() if ep.scheme == "imaps" else None,
                timeout=imapclient.SocketTimeout(
                    connect=min(ep.connect_timeout, ep.timeout), read=ep.timeout
                ),
            )
        except ssl.SSLCertVerificationError as exc:
            raise ConnectError(
                f"TLS certificate of {where} not trusted ({exc.verify_message}); pass the CA "
                "with --source-ca/--target-ca, or --insecure-source/--insecure-target"
            ) from None
        except TimeoutError:
            raise ConnectError(ep.no_greeting(where)) from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS with {where} failed ({exc.reason or exc})") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ConnectError(f"cannot connect to {where}: {exc}") from None
        client.normalise_times = False
        if ep.scheme == "imap":
            if b"STARTTLS" in client.capabilities():
                try:
                    client.starttls(ep.ssl_context())
                except ssl.SSLCertVerificationError as exc:
                    _close_quietly(client)
                    raise ConnectError(
                        f"TLS certificate of {where} not trusted ({exc.verify_message}); pass "
                        "the CA with --source-ca/--target-ca, or --insecure-source/--insecure-target"
                    ) from None
                except (OSError, imaplib.IMAP4.error) as exc:
                    _close_quietly(client)
                    raise ConnectError(f"STARTTLS with {where} failed: {exc}") from None
            elif not (ep.is_loopback() or ep.allow_plaintext):
                _close_quietly(client)
                raise ConnectError(
                    f"{where} offers no STARTTLS; refusing to send a password in clear "
                    "(use imaps://, or --allow-plaintext if you accept the risk)"
                )
        return client

    def _login(self) -> None:
        who = self.login_info
        if (
            self.endpoint.oauth is not None
        ):  # app-only OAuth2, SASL XOAUTH2 (connectors/auth/sasl.py)
            from skylift.connectors.auth.sasl import imap_login

            try:
                return imap_login(
                    self.client, self.endpoint.oauth, who.user, self.endpoint.display()
                )
            except NETWORK_ERRORS as exc:
                raise transient_from(exc) from None
        try:
            if who.admin:
                if who.admin_password is None:
                    raise ConfigError(f"no password for admin {who.admin}")
                self.client.plain_login(
                    who.admin, who.admin_password.reveal(), authorization_identity=who.user
                )
            else:
                if who.password is None:
                    raise ConfigError(f"no password for {who.user}")
                self.client.login(who.user, who.password.reveal())
        except LoginError as exc:
            via = f" via admin {who.admin}" if who.admin else ""
            detail = str(exc)
            if is_throttling(detail):
                raise transient_from(exc) from None
            raise AuthError(
                f"login refused for {who.user}{via} on {self.endpoint.display()}: {detail}"
            ) from None
        except NETWORK_ERRORS as exc:
            raise transient_from(exc) from None

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
        _close_quietly(self.client)

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

    def quota(self) -> tuple[int, int] | None:
        if b"QUOTA" not in self.client.capabilities():
            return None
        try:
            _, quotas = self._call(self.client.get_quota_root, "INBOX")
        except IMAPClientError:
            return None
        for q in quotas:
            if q.resource.upper() == "STORAGE":
                return int(q.usage) * 1024, int(q.limit) * 1024
        return None

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

    def append(self, folder: Folder, messages: Sequence[Message]) -> list[AppendResult]:
        limit = self.capabilities.max_message_bytes
        if limit is not None and any(len(m.raw) > limit for m in messages):
            # Never send what the server said it refuses: Cyrus drops the connection on a
            # literal over its APPENDLIMIT, which would lose the rest of the batch too.
            fits = [m for m in messages if len(m.raw) <= limit]
            stored = iter(self.append(folder, fits))
            too_big = AppendResult(error=f"larger than the server's APPENDLIMIT ({limit} bytes)")
            return [next(stored) if len(m.raw) <= limit else too_big for m in messages]
        if not messages:
            return []
        name = self.name_of(folder)
        if len(messages) > 1 and self.capabilities.batch_append:
            results = self._call(self._multiappend, name, messages)
            if results is not None:
                return results
            # The batch was refused as a whole (MULTIAPPEND is atomic: nothing was stored).
            # One by one, so the message the server refuses gets its own answer.
        return [self._append_one(name, m) for m in messages]

    def _multiappend(self, name: str, messages: Sequence[Message]) -> list[AppendResult] | None:
        """Store *messages* in one APPEND transaction (RFC 3502); None if the server said NO.

        The target's cost is per transaction (quota, index, fsync), so one transaction for
        the batch is what lifts the per-APPEND cap. With LITERAL+ the whole batch also goes
        out without waiting: one round trip; without it, imapclient waits for a continuation
        before each literal.
        """
        if self._literal_plus:
            typ, text = self._append_nonsync(name, messages)
            if typ != "OK":
                return None
            return self._batch_results(text, len(messages))
        try:
            resp = self.client.multiappend(
                name,
                [
                    {"msg": m.raw, "flags": sorted(m.ref.flags), "date": m.ref.internaldate}
                    if m.ref.internaldate
                    else {"msg": m.raw, "flags": sorted(m.ref.flags)}
                    for m in messages
                ],
            )
        except imaplib.IMAP4.abort:
            raise
        except IMAPClientError as exc:
            if is_throttling(str(exc)):
                raise transient_from(exc) from None
            return None
        if isinstance(resp, tuple):  # imapclient hands back a NO instead of raising
            typ, data = resp
            said = _text(data[0] if data else typ)
            if _text(typ).upper() != "OK":
                if is_throttling(said):
                    raise transient_from(imaplib.IMAP4.error(said))
                return None
            resp = data[0] if data else b""
        return self._batch_results(resp, len(messages))

    def _append_nonsync(self, name: str, messages: Sequence[Message]) -> tuple[str, bytes]:
        """Send one APPEND with LITERAL+ literals; return the server's (OK|NO, text).

        A throttling NO becomes TransientError; so does BAD, because the server may then
        have read our message bytes as commands: the runner reconnects, and later sessions
        to this server wait for continuations instead.
        """
        imap = self.client._imap
        if not self._nodelay:
            # Our writes are few and large; the last, short one must not wait for an ACK.
            with contextlib.suppress(OSError):
                imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._nodelay = True
        tag = imap._new_tag()
        mailbox = bytes(self.client._normalise_folder(name))
        for piece in append_command(
            tag, mailbox, [(m.raw, m.ref.flags, m.ref.internaldate) for m in messages]
        ):
            imap.send(piece)
        try:
            typ, data = imap._command_complete("APPEND", tag)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            if not is_throttling(str(exc)):  # a throttling BAD says nothing about LITERAL+
                _LITERAL_PLUS_REFUSED.add(self._server_key())
            raise transient_from(exc) from None
        text = b" ".join(d for d in data if isinstance(d, bytes))
        if typ != "OK" and is_throttling(_text(text)):
            raise transient_from(imaplib.IMAP4.error(_text(text)))
        return typ, text

    def _batch_results(self, resp: Any, count: int) -> list[AppendResult]:
        uids = self._appended_uids(resp)
        if len(uids) == count:
            return [AppendResult(uid=str(u)) for u in uids]
        return [AppendResult() for _ in range(count)]

    def _server_key(self) -> tuple[str, int | None]:
        return (self.endpoint.host, self.endpoint.port)

    def _append_one(self, name: str, message: Message) -> AppendResult:
        if self._literal_plus:
            typ, text = self._call(self._append_nonsync, name, [message])
            if typ != "OK":
                return AppendResult(error=_clean_server_text(_text(text)))
            uids = self._appended_uids(text)
            return AppendResult(uid=str(uids[0]) if uids else None)
        try:
            resp = self._call(
                self.client.append,
                name,
                message.raw,
                sorted(message.ref.flags),
                message.ref.internaldate,
            )
        except IMAPClientError as exc:
            return AppendResult(error=_clean_server_text(str(exc)))
        uids = self._appended_uids(resp)
        return AppendResult(uid=str(uids[0]) if uids else None)

    @staticmethod
    def _appended_uids(resp: Any) -> list[int]:
        if isinstance(resp, tuple):
            resp = b" ".join(x if isinstance(x, bytes) else str(x).encode() for x in resp[1])
        raw = resp if isinstance(resp, bytes) else str(resp).encode()
        m = _APPENDUID.search(raw)
        return parse_uid_set(m.group(2)) if m else []

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

    # --- Inventory extras for ``skylift assess`` (NAMESPACE, shared folders, ACL) ------

    def namespaces(self) -> list[Namespace]:
        try:
            found = self._call(self.client.namespace)
        except IMAPClientError:
            return []
        out: list[Namespace] = []
        for kind, entries in (
            ("personal", found.personal),
            ("other", found.other),
            ("shared", found.shared),
        ):
            for prefix, sep in entries or ():
                out.append(Namespace(kind, _text(prefix), _text(sep) if sep else None))
        return out

    def shared_folders(self) -> list[Folder]:
        """Listed folders outside the personal namespace (full server paths)."""
        if self._foreign is None:
            self.folders()
        return list(self._foreign or [])

    def folder_acl(self, folder: Folder) -> dict[str, str]:
        if b"ACL" not in self.client.capabilities():
            return {}
        try:
            entries = self._call(self.client.getacl, self.name_of(folder))
        except IMAPClientError:
            return {}
        return {_text(who): _text(rights) for who, rights in entries}

    # --- end of inventory extras ---------------------------------------------------------


def _close_quietly(client: imapclient.IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()


def _clean_server_text(text: str) -> str:
    text = re.sub(r"^append failed:\s*", "", text)
    return re.sub(r"\s*\(\d+\.\d+ \+ \d+\.\d+.*?secs\)\.?", "", text).strip()
