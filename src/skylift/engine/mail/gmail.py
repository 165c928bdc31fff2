"""Gmail's labels, as folders or as keywords: what each label folder copies.

Gmail shows one message in every folder of its labels and once more in ``[Gmail]/All Mail``
(Google's "IMAP Extensions" page: ``X-GM-EXT-1``, ``X-GM-MSGID`` names one message across
folders, ``X-GM-LABELS`` lists its labels, ``\\All`` marks All Mail). Copied folder by
folder, a message with three labels would arrive four times. skylift reads the labels
(``MessageRef.labels``, folder paths, set by the IMAP connector when the source has
``Capabilities.labels``) and decides per folder, without a connection:

``folders`` (default, ``--gmail-labels folders``)
    A label folder copies all its messages: a message with three labels is copied once into
    each of the three folders. ``[Gmail]/All Mail`` copies only the messages with no label
    that this run migrates (archived mail): nothing is lost, nothing arrives twice. A label
    left out with ``--exclude`` no longer counts, so its messages come through All Mail.
``keywords`` (``--gmail-labels keywords``)
    One copy per message, in its first label folder in the run's order (INBOX first, then the
    order of the folder plan; All Mail when it has none), with its other labels as IMAP
    keywords (``$`` and characters IMAP forbids in a keyword become ``_``).

The choice is made from the labels alone, so every run (and every worker lent to the
mailbox) makes the same one and the ledger stays exact.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

from skylift.model.mail import Folder, MessageRef

MODES = ("folders", "keywords")
_NOT_IN_KEYWORD = re.compile(r"[\s(){}%*\"\\\]\x00-\x1f\x7f]")

Path = tuple[str, ...]


def keyword_for(label: Path) -> str:
    """An IMAP keyword (RFC 3501 flag-keyword, an atom) naming *label*."""
    return _NOT_IN_KEYWORD.sub("_", "/".join(label)) or "_"


@dataclasses.dataclass(frozen=True)
class LabelView:
    """How one source folder of a Gmail mailbox is copied."""

    folder: Folder
    mode: str
    migrated: tuple[Path, ...]  # source folders this run copies, in plan order

    def home(self, ref: MessageRef) -> Path | None:
        """The one folder that copies *ref* in ``keywords`` mode (None: All Mail)."""
        labelled = set(ref.labels) | ({self.folder.path} if self.folder.role != "all" else set())
        for path in self.migrated:
            if path in labelled:
                return path
        return None

    def keep(self, refs: Iterable[MessageRef]) -> tuple[list[MessageRef], int]:
        """The refs this folder copies (with keywords added in ``keywords`` mode), and how
        many it leaves to another folder of the run."""
        kept: list[MessageRef] = []
        elsewhere = 0
        others = set(self.migrated) - {self.folder.path}
        all_mail = self.folder.role == "all"
        for ref in refs:
            if self.mode == "keywords":
                home = self.home(ref)
                mine = home == self.folder.path or (home is None and all_mail)
                if not mine:
                    elsewhere += 1
                    continue
                extra = {keyword_for(p) for p in ref.labels if p != self.folder.path}
                kept.append(dataclasses.replace(ref, flags=ref.flags | extra) if extra else ref)
            elif all_mail and set(ref.labels) & others:
                elsewhere += 1
            else:
                kept.append(ref)
        return kept, elsewhere


def label_view(folder: Folder, mode: str, migrated: Sequence[Folder]) -> LabelView:
    """The view for *folder* when the run copies *migrated* (All Mail is never a label)."""
    paths = tuple(f.path for f in migrated if f.role != "all")
    inbox_first = tuple(sorted(paths, key=lambda p: p != ("INBOX",)))
    return LabelView(folder, mode, inbox_first)
