"""Folder and file names a document library can hold: SharePoint's rules, applied everywhere.

SharePoint Online and OneDrive refuse ``" * : < > ? / \\ |``, names that begin or end with a
space or end with a dot, the reserved names (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM0``-``9``,
``LPT0``-``9``, ``.lock``, ``desktop.ini``), names starting with ``~$`` or containing
``_vti_``, and a decoded path longer than 400 characters. Nextcloud and plain WebDAV take
more, so the strictest rule is used for every library: a tree copied once can move on.
The rule (docs/public-folders.md) is applied per name, then per path:

1. each forbidden character (and each control character) becomes ``_``;
2. spaces and dots are stripped from both ends; an empty name becomes ``_``;
3. a reserved name gets ``_`` appended (``CON`` -> ``CON_``), ``~$`` becomes ``_$``,
   ``_vti_`` becomes ``_vti-``;
4. two siblings that end up equal (case-insensitively) get `` (2)``, `` (3)``, …;
5. a name over 128 characters, or a path over the limit, has its last name cut to fit, keeping a 6-character hash of the
   source name so cut names stay distinct (parents are cut first, so a folder is cut the
   same way for all its children).
"""

from __future__ import annotations

import hashlib
import re

FORBIDDEN = re.compile(r'["*:<>?/\\|\x00-\x1f\x7f]')
RESERVED = frozenset(
    {"con", "prn", "aux", "nul", ".lock", "desktop.ini"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)
MAX_PATH = 400
#: room kept below the limit for a file name in the folder ("2024-01-31_120000_12345.eml")
FILE_ROOM = 40
MIN_PART = 12
#: longest single name kept (OneDrive's sync client and Windows stop at 255; half leaves room)
MAX_NAME = 128


def safe_name(name: str) -> str:
    """One name after steps 1-3 of the rule."""
    out = FORBIDDEN.sub("_", name).strip(" .") or "_"
    stem = out.split(".", 1)[0].lower()
    if out.lower() in RESERVED or stem in RESERVED - {".lock", "desktop.ini"}:
        out += "_"
    if out.startswith("~$"):
        out = "_$" + out[2:]
    return out.replace("_vti_", "_vti-")


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]


def fit_path(
    source_name: str, parent: tuple[str, ...], name: str, limit: int = MAX_PATH - FILE_ROOM
) -> str:
    """Step 5: *name* cut so ``parent/name`` fits *limit* (parents were cut already)."""
    over = max(len("/".join((*parent, name))) - limit, len(name) - MAX_NAME)
    if over <= 0:
        return name
    keep = max(MIN_PART - 7, len(name) - over - 7)
    return name[:keep].rstrip(" .") + "~" + _hash(source_name)


class FolderNames:
    """Maps source folder paths to library paths, siblings kept distinct (step 4)."""

    def __init__(self, limit: int = MAX_PATH - FILE_ROOM) -> None:
        self.limit = limit
        self._mapped: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
        self._taken: dict[tuple[str, ...], set[str]] = {}

    def map(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """The library path of source *path* (parents mapped first, the same way each time)."""
        if path in self._mapped:
            return self._mapped[path]
        parent = self.map(path[:-1])
        base = safe_name(path[-1])
        taken = self._taken.setdefault(parent, set())
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base} ({n})"
        taken.add(name.lower())
        mapped = (*parent, fit_path(path[-1], parent, name, self.limit))
        self._mapped[path] = mapped
        return mapped
