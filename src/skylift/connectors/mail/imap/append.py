"""APPEND for the IMAP target: MULTIAPPEND in one transaction, LITERAL+ without round trips,
APPENDUID parsing, and the one-by-one fallback that gives each refused message its own answer.

imapclient parses neither MULTIAPPEND results nor LITERAL+ batches, so this is done here on top
of it. A mixin of :class:`ImapMailbox`: it needs that session's client, name mapping and
``_call`` (connection failures become TransientError).
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
from collections.abc import Sequence
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import Capabilities
from skylift.connectors.mail.imap.session import is_throttling, text_of, transient_from
from skylift.connectors.mail.imap.wire import append_command
from skylift.model.mail import AppendResult, Folder, Message

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.I)

# Servers that answered a LITERAL+ MULTIAPPEND with BAD: later sessions wait for continuations.
LITERAL_PLUS_REFUSED: set[tuple[str, int | None]] = set()


def parse_uid_set(spec: bytes) -> list[int]:
    """Expand an RFC 4315 uid-set like ``b"4:6,9"`` into ``[4, 5, 6, 9]``."""
    out: list[int] = []
    for part in spec.split(b","):
        lo, _, hi = part.partition(b":")
        a = int(lo)
        b = int(hi) if hi else a
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


class AppendMixin:
    """The target's ``append``; the session attributes it uses are set by ImapMailbox."""

    client: imapclient.IMAPClient
    endpoint: Endpoint
    capabilities: Capabilities
    _literal_plus: bool
    _nodelay: bool

    def name_of(self, folder: Folder) -> str:
        raise NotImplementedError

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

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
            said = text_of(data[0] if data else typ)
            if text_of(typ).upper() != "OK":
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
                LITERAL_PLUS_REFUSED.add(self._server_key())
            raise transient_from(exc) from None
        text = b" ".join(d for d in data if isinstance(d, bytes))
        if typ != "OK" and is_throttling(text_of(text)):
            raise transient_from(imaplib.IMAP4.error(text_of(text)))
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
                return AppendResult(error=_clean_servertext_of(text_of(text)))
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
            return AppendResult(error=_clean_servertext_of(str(exc)))
        uids = self._appended_uids(resp)
        return AppendResult(uid=str(uids[0]) if uids else None)

    @staticmethod
    def _appended_uids(resp: Any) -> list[int]:
        if isinstance(resp, tuple):
            resp = b" ".join(x if isinstance(x, bytes) else str(x).encode() for x in resp[1])
        raw = resp if isinstance(resp, bytes) else str(resp).encode()
        m = _APPENDUID.search(raw)
        return parse_uid_set(m.group(2)) if m else []


def _clean_servertext_of(text: str) -> str:
    text = re.sub(r"^append failed:\s*", "", text)
    return re.sub(r"\s*\(\d+\.\d+ \+ \d+\.\d+.*?secs\)\.?", "", text).strip()
