"""Gmail's IMAP extensions (X-GM-EXT-1) read into folder paths.

Google's "IMAP Extensions" page: ``X-GM-MSGID`` is one 64-bit id per message across every
folder, ``X-GM-LABELS`` its labels, and a label is a folder for IMAP; the system labels
(``\\Inbox``, ``\\Sent``, ``\\Draft``, ``\\Starred``, ``\\Important``, ``\\Trash``,
``\\Spam``) name the special-use folders. The engine decides what each folder copies from
these paths (``engine/mail/gmail.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import imapclient

from skylift.connectors.mail.imap.namespace import NamespaceMap

# Gmail's system labels and the special-use role of the folder that shows them.
GMAIL_SYSTEM_LABELS = {
    "\\inbox": "inbox",
    "\\sent": "sent",
    "\\draft": "drafts",
    "\\drafts": "drafts",
    "\\starred": "flagged",
    "\\important": "important",
    "\\trash": "trash",
    "\\spam": "junk",
}

#: (X-GM-MSGID as text, the labels as folder paths)
GmailLabels = tuple[str | None, frozenset[tuple[str, ...]]]


def gmail_labels(
    found: Mapping[int, Mapping[bytes, Any]],
    roles: Mapping[str, tuple[str, ...]],
    names: NamespaceMap,
    separator: str | None,
) -> dict[int, GmailLabels]:
    """imapclient's FETCH answer (uid -> items) as msgid and label paths per uid; a system
    label whose folder the server does not list is left out."""
    out: dict[int, GmailLabels] = {}
    for uid, data in found.items():
        paths: set[tuple[str, ...]] = set()
        for raw in data.get(b"X-GM-LABELS", ()):
            label = imapclient.imap_utf7.decode(raw) if isinstance(raw, bytes) else str(raw)
            role = GMAIL_SYSTEM_LABELS.get(label.lower())
            if role == "inbox":
                paths.add(("INBOX",))
            elif role is not None:
                if role in roles:
                    paths.add(roles[role])
            else:
                path = names.to_path(label, separator)
                paths.add(path if path is not None else (label,))
        msgid = data.get(b"X-GM-MSGID")
        out[int(uid)] = (str(msgid) if msgid is not None else None, frozenset(paths))
    return out
