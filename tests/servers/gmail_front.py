"""A stateful loopback IMAP front that makes a real Dovecot look like Gmail (X-GM-EXT-1).

Gmail's labels are folders for IMAP: one message object shows in the folder of each of its
labels and in ``[Gmail]/All Mail`` (Google, "IMAP Extensions",
https://developers.google.com/workspace/gmail/imap/imap-extensions; pinned in
``tests/data/SOURCES.md``). Dovecot keeps folders of copies; this front, between the client
and Dovecot, turns those copies back into one message object the way Google documents it:

What it reproduces:

- ``X-GM-EXT-1`` in every CAPABILITY answer, and ``\\All`` on ``[Gmail]/All Mail`` in LIST.
- One message object: the copies with the same bytes are one message. ``FETCH
  (X-GM-MSGID X-GM-LABELS)`` answers, for each message, a 64-bit id that is the same in every
  folder and the labels of all folders holding it (``\\Inbox`` for INBOX, ``\\Sent``,
  ``\\Draft``, ``\\Starred``, ``\\Important`` for the ``[Gmail]/…`` folders, else the
  folder's name; never All Mail, Trash or Spam).
- ``[Gmail]/All Mail`` holds every message of every label exactly once, plus those with no
  label: before a LIST, SELECT, EXAMINE or STATUS the front adds what a change through it
  (APPEND, COPY, STORE) left missing there.
- ``STORE +X-GM-LABELS[.SILENT] (label …)``: the message shows in each label's folder (the
  folder is made if missing; a folder already holding those bytes gets nothing), answered
  with the new label list (or only OK when silent). Logged in ``label_stores``; every APPEND
  that reaches Dovecot is logged in ``appends``.

What it cannot reproduce: two different Gmail messages with identical bytes (here they are
one message), per-message flags (Dovecot keeps flags per copy; the front copies them along),
removing a label (``-X-GM-LABELS`` is refused), ``X-GM-THRID``, ``X-GM-RAW`` searches, FETCH
of ``X-GM-*`` mixed with other items (only the ``X-GM-*`` items are answered), labels with ``&`` (modified
UTF-7), and Gmail's quotas and throttling (``throttle_proxy.py`` scripts those).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import threading
from dataclasses import dataclass, field

import imapclient

from skylift.model.mail import fingerprint
from tests.servers.relay import Relay

ALL_MAIL = "[Gmail]/All Mail"
NOT_LABELS = {ALL_MAIL, "[Gmail]/Trash", "[Gmail]/Spam"}
SYSTEM = {
    "INBOX": "\\Inbox",
    "[Gmail]/Sent Mail": "\\Sent",
    "[Gmail]/Drafts": "\\Draft",
    "[Gmail]/Starred": "\\Starred",
    "[Gmail]/Important": "\\Important",
}
FOLDER_OF = {label.lower(): folder for folder, label in SYSTEM.items()}
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|\(|\)|([^\s()"]+)')
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_ALL_MAIL_LIST = re.compile(rb'^(\* LIST \()([^)]*)(\) \S+ "\[Gmail\]/All Mail"\r\n)$')


def tokens(text: bytes) -> list[str | list]:
    """IMAP atoms, quoted strings and parenthesised lists of them, as Python values."""
    stack: list[list] = [[]]
    for m in _TOKEN.finditer(text):
        if m.group(0) == b"(":
            stack.append([])
        elif m.group(0) == b")":
            inner = stack.pop()
            stack[-1].append(inner)
        elif m.group(1) is not None:
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", m.group(1)).decode())
        else:
            stack[-1].append(m.group(2).decode())
    return stack[0]


def uid_set(spec: str, known: list[int]) -> list[int]:
    out: set[int] = set()
    top = max(known, default=0)
    for part in spec.split(","):
        lo, _, hi = part.partition(":")
        a = top if lo == "*" else int(lo)
        b = a if not hi else (top if hi == "*" else int(hi))
        out.update(u for u in known if min(a, b) <= u <= max(a, b))
    return sorted(out)


def label_of(folder: str) -> str:
    return SYSTEM.get(folder, folder)


def quote(label: str) -> str:
    if label.startswith("\\"):
        return label
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def msgid_of(fp: str) -> int:
    return int(hashlib.sha256(fp.encode()).hexdigest()[:15], 16)


@dataclass
class Copy:
    fp: str
    raw: bytes
    flags: tuple[str, ...]
    date: object


@dataclass
class Session:
    client: socket.socket
    upstream: socket.socket
    user: str | None = None
    selected: str | None = None
    in_append: bool = False
    message: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)


class GmailFront(Relay):
    def __init__(self, upstream_port: int, master: tuple[str, str]) -> None:
        self.master = master
        self.appends: list[tuple[str, str]] = []  # (user, folder) of APPENDs passed on
        self.label_stores: list[tuple[str, str, int, tuple[str, ...]]] = []
        self.uploaded: list[str] = []  # fingerprint of every message an APPEND carried
        self._dirty: dict[str, bool] = {}
        self._user_lock = threading.Lock()
        super().__init__(upstream_port)

    # -- plumbing -------------------------------------------------------------------------
    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        s = Session(client, upstream)
        self.spawn(self._from_client, s)
        self.spawn(self._from_server, s)

    def _send_client(self, s: Session, data: bytes) -> None:
        with s.lock:
            s.client.sendall(data)

    def _from_server(self, s: Session) -> None:
        buf, literal = b"", 0
        try:
            while True:
                data = s.upstream.recv(65536)
                if not data:
                    break
                buf += data
                out = bytearray()
                while buf:
                    if literal:
                        take = min(literal, len(buf))
                        out += buf[:take]
                        buf, literal = buf[take:], literal - take
                        continue
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    line, buf = buf[: end + 2], buf[end + 2 :]
                    if m := _LITERAL.search(line):
                        literal = int(m.group(1))
                    else:
                        line = self._rewrite(line)
                    out += line
                if out:
                    self._send_client(s, bytes(out))
        except OSError:
            pass
        self.shut(s.upstream, s.client)

    @staticmethod
    def _rewrite(line: bytes) -> bytes:
        if b"CAPABILITY" in line.upper() and b"X-GM-EXT-1" not in line:
            return line.replace(b"IMAP4rev1", b"IMAP4rev1 X-GM-EXT-1", 1)
        if m := _ALL_MAIL_LIST.match(line):
            return m.group(1) + (m.group(2) + b" \\All").strip() + m.group(3)
        return line

    def _from_client(self, s: Session) -> None:
        buf, literal, inside = b"", 0, False
        try:
            while True:
                data = s.client.recv(65536)
                if not data:
                    break
                buf += data
                while buf:
                    if literal:
                        take = min(literal, len(buf))
                        s.upstream.sendall(buf[:take])
                        if s.in_append:
                            s.message += buf[:take]
                        buf, literal = buf[take:], literal - take
                        if not literal and s.in_append:
                            with self._user_lock:
                                self.uploaded.append(fingerprint(bytes(s.message)))
                            s.message.clear()
                        continue
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    line, buf = buf[: end + 2], buf[end + 2 :]
                    if not inside:
                        s.in_append = False
                        if self._command(s, line):
                            continue  # answered here
                    m = _LITERAL.search(line)
                    literal, inside = (int(m.group(1)), True) if m else (0, False)
                    s.upstream.sendall(line)
        except OSError:
            pass
        self.shut(s.client, s.upstream)

    # -- commands -------------------------------------------------------------------------
    def _command(self, s: Session, line: bytes) -> bool:
        parts = tokens(line.rstrip(b"\r\n"))
        if len(parts) < 2 or not all(isinstance(p, str) for p in parts[:2]):
            return False
        tag, name = str(parts[0]), str(parts[1]).upper()
        args = parts[2:]
        if name == "UID" and args:
            name, args = "UID " + str(args[0]).upper(), args[1:]
        upper = line.upper()
        if name == "LOGIN" and args:
            s.user = str(args[0])
        if s.user and name in ("LIST", "LSUB", "SELECT", "EXAMINE", "STATUS"):
            self._materialize(s.user)
        if name in ("SELECT", "EXAMINE") and args:
            s.selected = str(args[0])
        if s.user and name in ("FETCH", "UID FETCH") and b"X-GM-" in upper:
            self._answer(s, tag, self._fetch_labels(s, str(args[0]), upper, uid="UID" in name))
            return True
        if s.user and name in ("STORE", "UID STORE") and b"X-GM-LABELS" in upper:
            self._answer(s, tag, self._store_labels(s, args, silent=b".SILENT" in upper))
            return True
        if s.user and name in ("APPEND", "COPY", "UID COPY", "MOVE", "UID MOVE", "STORE",
                               "UID STORE", "EXPUNGE"):  # fmt: skip
            with self._user_lock:
                self._dirty[s.user] = True
                if name == "APPEND" and args:
                    self.appends.append((s.user, str(args[0])))
                    s.in_append = True
        return False

    def _answer(self, s: Session, tag: str, lines: list[str]) -> None:
        self._send_client(s, "".join(f"{x}\r\n" for x in lines).encode() + f"{tag} ".encode()
                          + (b"OK Success\r\n" if not lines or not lines[-1].startswith("!")
                             else lines[-1][1:].encode() + b"\r\n"))  # fmt: skip

    # -- Dovecot behind the front, as the master user ---------------------------------------
    def _side(self, user: str) -> imapclient.IMAPClient:
        c = imapclient.IMAPClient("127.0.0.1", port=self.upstream_port, ssl=False, timeout=30)
        c.normalise_times = False
        c.login(f"{user}*{self.master[0]}", self.master[1])
        return c

    @staticmethod
    def _folder(c: imapclient.IMAPClient, name: str) -> dict[int, Copy]:
        c.select_folder(name, readonly=True)
        uids = c.search("ALL")
        if not uids:
            return {}
        data = c.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
        return {
            int(u): Copy(
                fingerprint(d[b"BODY[]"]),
                d[b"BODY[]"],
                tuple(f.decode() for f in d[b"FLAGS"] if f.lower() != b"\\recent"),
                d[b"INTERNALDATE"],
            )
            for u, d in data.items()
        }

    def _index(self, c: imapclient.IMAPClient) -> dict[str, dict[int, Copy]]:
        out = {}
        for flags, _, name in c.list_folders():
            if b"\\Noselect" not in flags and b"\\NonExistent" not in flags:
                out[name] = self._folder(c, name)
        return out

    def _labels(self, index: dict[str, dict[int, Copy]], fp: str) -> list[str]:
        return sorted(
            label_of(f)
            for f, copies in index.items()
            if f not in NOT_LABELS and any(x.fp == fp for x in copies.values())
        )

    def _materialize(self, user: str) -> None:
        """Make All Mail hold every labelled message once (Gmail's All Mail is a view)."""
        with self._user_lock:
            if not self._dirty.get(user, True):
                return
            self._dirty[user] = False
        c = self._side(user)
        try:
            if not c.folder_exists(ALL_MAIL):
                c.create_folder(ALL_MAIL)
            index = self._index(c)
            have = {x.fp for x in index.get(ALL_MAIL, {}).values()}
            for folder, copies in index.items():
                if folder in NOT_LABELS:
                    continue
                for x in copies.values():
                    if x.fp not in have:
                        c.append(ALL_MAIL, x.raw, x.flags, x.date)
                        have.add(x.fp)
        finally:
            with contextlib.suppress(Exception):
                c.logout()

    def _fetch_labels(self, s: Session, spec: str, upper: bytes, *, uid: bool) -> list[str]:
        assert s.user and s.selected
        c = self._side(s.user)
        try:
            index = self._index(c)
        finally:
            c.logout()
        copies = index.get(s.selected, {})
        known = sorted(copies)
        wanted = uid_set(spec, known) if uid else [known[int(n) - 1] for n in spec.split(",")]
        lines = []
        for u in wanted:
            fp = copies[u].fp
            items = []
            if b"X-GM-MSGID" in upper:
                items.append(f"X-GM-MSGID {msgid_of(fp)}")
            if b"X-GM-LABELS" in upper:
                items.append(f"X-GM-LABELS ({' '.join(quote(x) for x in self._labels(index, fp))})")
            lines.append(f"* {known.index(u) + 1} FETCH ({' '.join(items)} UID {u})")
        return lines

    def _store_labels(self, s: Session, args: list, *, silent: bool) -> list[str]:
        assert s.user and s.selected
        spec, op, labels = str(args[0]), str(args[1]).upper(), args[2]
        if not op.startswith("+"):
            return ["!NO [CANNOT] this test front only adds labels"]
        labels = labels if isinstance(labels, list) else [labels]
        c = self._side(s.user)
        lines: list[str] = []
        try:
            index = self._index(c)
            copies = index.get(s.selected, {})
            known = sorted(copies)
            for u in uid_set(spec, known):
                x = copies[u]
                for label in labels:
                    folder = FOLDER_OF.get(str(label).lower(), str(label))
                    if not c.folder_exists(folder):
                        c.create_folder(folder)
                        index[folder] = {}
                    if not any(y.fp == x.fp for y in index.get(folder, {}).values()):
                        c.append(folder, x.raw, x.flags, x.date)
                        index.setdefault(folder, {})[-1 - len(index[folder])] = x
                with self._user_lock:
                    self.label_stores.append((s.user, s.selected, u, tuple(map(str, labels))))
                    self._dirty[s.user] = True
                if not silent:
                    now = " ".join(quote(y) for y in self._labels(index, x.fp))
                    lines.append(f"* {known.index(u) + 1} FETCH (X-GM-LABELS ({now}) UID {u})")
        finally:
            c.logout()
        return lines
