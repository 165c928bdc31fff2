"""Where the original of an object that did not arrive as it was goes: an export folder.

An object skylift does not store (malformed, too large, refused by the target) or stores
only after a repair is written, byte for byte as the source served it, to
``EXPORT/<account>/<collection>/<name>``; the report line says so. Nothing is dropped
silently, and a person can import or mend the file by hand. Files are replaced atomically,
so a rerun leaves one copy, never a half-written one. With ``--dry-run`` nothing is written
and the line says where the original stays.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from skylift.model.dav import Item

UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


def safe_part(text: str) -> str:
    """A file-name piece for *text*: kept when harmless, else readable with a short hash."""
    cleaned = UNSAFE.sub("_", text).strip("._") or "_"
    if cleaned == text and len(text) <= 120:
        return text
    return cleaned[:80] + "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class ExportFolder:
    """The export folder of one collection; *root* None (a dry run) writes nothing."""

    root: Path | None
    account: str
    collection: str
    source_url: str = ""

    def save(self, item: Item, name: str) -> str:
        """Write *item*'s original bytes; return the phrase for the report line."""
        if not item.raw:  # a stray part of an export file: nothing whole to save
            return f"the source file keeps it ({item.href})"
        if self.root is None:
            where = self.source_url or item.href
            return f"original left at the source: {where}"
        folder = self.root / safe_part(self.account) / safe_part(self.collection)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / safe_part(name)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(item.raw)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return f"original saved to {path}"
