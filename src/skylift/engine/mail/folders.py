"""Folder mapping: which source folder lands in which target folder, and why.

The rules, in order (documented in ``docs/folders.md``; stable for the same input):

1. ``--exclude``/``--include`` regexes match the source path written with '/'.
2. ``--map-folder OLD=NEW`` wins over everything below (also for OLD's subfolders).
3. Special folders land in the target's own: the source's role comes from SPECIAL-USE
   (RFC 6154), else from a well-known name in several languages ("Sent Items",
   "Gesendete Objekte", "Éléments envoyés", …); the target folder with that role (or a
   well-known name) receives it, subfolders included.
4. A name part holding the target's separator gets it replaced by ``_``.
5. Names the target reserves, and names equal but for case on a case-insensitive target
   (INBOX always is), get `` (2)``, `` (3)``… in source order.

Every change a user did not ask for by name is reported as a rename with its reason;
nothing is merged or dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from skylift.model.mail import Folder

WELL_KNOWN_NAMES: dict[str, tuple[str, ...]] = {
    "sent": (
        "Sent", "Sent Items", "Sent Messages", "Sent Mail", "Sent Mails", "Gesendete Objekte",
        "Gesendet", "Gesendete Elemente", "Éléments envoyés", "Messages envoyés", "Envoyés",
        "Elementos enviados", "Enviados", "Posta inviata", "Inviati", "Elementi inviati",
        "Verzonden items", "Verzonden", "Skickat", "Skickade objekt", "Sendt", "Lähetetyt",
        "Wysłane", "Отправленные", "送信済みアイテム",
    ),
    "drafts": (
        "Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores", "Bozze", "Concepten",
        "Utkast", "Kladder", "Luonnokset", "Kopie robocze", "Черновики", "下書き",
    ),
    "trash": (
        "Trash", "Deleted Items", "Deleted Messages", "Deleted", "Bin", "Gelöschte Objekte",
        "Gelöschte Elemente", "Papierkorb", "Éléments supprimés", "Corbeille",
        "Elementos eliminados", "Papelera", "Posta eliminata", "Cestino", "Elementi eliminati",
        "Verwijderde items", "Prullenbak", "Borttaget", "Papperskorgen", "Slettet",
        "Poistetut", "Kosz", "Удаленные", "Корзина", "削除済みアイテム",
    ),
    "junk": (
        "Junk", "Junk E-mail", "Junk Email", "Junk Mail", "Spam", "Junk-E-Mail",
        "Courrier indésirable", "Indésirables", "Correo no deseado", "Posta indesiderata",
        "Ongewenste e-mail", "Skräppost", "Uønsket e-post", "Roskaposti", "Спам", "迷惑メール",
    ),
    "archive": ("Archive", "Archives", "Archiv", "Archivo", "Archivio", "Archief", "Arkiv", "Архив"),
}  # fmt: skip

_NAME_TO_ROLE = {n.casefold(): role for role, names in WELL_KNOWN_NAMES.items() for n in names}

SEPARATOR_SUBSTITUTE = "_"


def role_of(folder: Folder) -> str | None:
    """The folder's special use: declared by the server, else implied by a top-level name."""
    if folder.role:
        return folder.role
    if folder.is_inbox:
        return "inbox"
    if len(folder.path) == 1:
        return _NAME_TO_ROLE.get(folder.path[0].casefold())
    return None


@dataclass(frozen=True)
class FolderMapping:
    """Where one source folder goes; *reason* is set when the name changed unasked."""

    source: Folder
    target: Folder
    reason: str | None = None

    @property
    def source_name(self) -> str:
        return self.source.display("/")

    @property
    def target_name(self) -> str:
        return self.target.display("/")


@dataclass
class FolderRules:
    """The user's folder options."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    map_folder: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._include = [re.compile(p) for p in self.include]
        self._exclude = [re.compile(p) for p in self.exclude]

    def wanted(self, name: str) -> bool:
        if self._include and not any(p.search(name) for p in self._include):
            return False
        return not any(p.search(name) for p in self._exclude)


def parse_map_folder(values: list[str]) -> dict[str, str]:
    """Parse ``OLD=NEW`` pairs; ValueError names the bad one."""
    out: dict[str, str] = {}
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f"--map-folder wants OLD=NEW, got {value!r}")
        out[old.strip().strip("/")] = new.strip().strip("/")
    return out


def map_folders(
    source_folders: list[Folder],
    target_folders: list[Folder],
    *,
    target_separator: str | None,
    rules: FolderRules | None = None,
    case_insensitive: bool = False,
    reserved: frozenset[str] = frozenset(),
) -> list[FolderMapping]:
    """Map every wanted, selectable source folder onto a target folder.

    Pure: same input, same output. Parents come before children in the result.
    """
    rules = rules or FolderRules()
    role_targets = _role_targets(target_folders)
    taken: dict[str, str] = {}  # folded target name -> source name that took it
    reserved_folded = {r.casefold() for r in reserved}
    result: list[FolderMapping] = []
    root_roles = {f.path[0]: role_of(f) for f in source_folders if len(f.path) == 1}
    for folder in sorted(source_folders, key=lambda f: (not f.is_inbox, f.path)):
        name = folder.display("/")
        if not rules.wanted(name) or (not folder.selectable and len(folder.path) > 1):
            continue
        reasons: list[str] = []
        explicit = _explicit(folder.path, rules.map_folder)
        path = explicit or folder.path
        role = root_roles.get(folder.path[0]) if explicit is None else None
        if folder.is_inbox and _fold(("INBOX",), case_insensitive) not in taken:
            path = ("INBOX",)
        elif role and role != "inbox" and role in role_targets:
            new_root = role_targets[role]
            if new_root != path[:1]:
                reasons.append(f"special folder ({role}) goes to the target's own")
                path = new_root + path[1:]
        if target_separator:
            fixed = tuple(p.replace(target_separator, SEPARATOR_SUBSTITUTE) for p in path)
            if fixed != path:
                reasons.append(f"'{target_separator}' is the target's separator")
                path = fixed
        if explicit is None:
            path = _follow_parent(folder.path, path, result)
        target_name = "/".join(path)
        key = _fold(path, case_insensitive)
        if key in taken and taken[key] != name:
            base = path
            n = 2
            while key in taken or (len(path) == 1 and path[0].casefold() in reserved_folded):
                path = (*base[:-1], f"{base[-1]} ({n})")
                key = _fold(path, case_insensitive)
                n += 1
            reasons.append(
                f"'{target_name}' is already taken by '{taken[_fold(base, case_insensitive)]}'"
                + (" on a case-insensitive target" if case_insensitive else "")
            )
        elif len(path) == 1 and path[0].casefold() in reserved_folded and not folder.is_inbox:
            base = path
            n = 2
            while key in taken or path[0].casefold() in reserved_folded:
                path = (f"{base[0]} ({n})",)
                key = _fold(path, case_insensitive)
                n += 1
            reasons.append(f"'{base[0]}' is reserved on the target")
        taken[key] = name
        result.append(
            FolderMapping(
                source=folder,
                target=Folder(path=path, role=role_of(folder), subscribed=folder.subscribed),
                reason="; ".join(reasons) or None,
            )
        )
    return result


def _fold(path: tuple[str, ...], case_insensitive: bool) -> str:
    if path and path[0].upper() == "INBOX":
        path = ("INBOX", *path[1:])
    name = "\x00".join(path)
    return name.casefold() if case_insensitive else name


def _explicit(path: tuple[str, ...], mapping: dict[str, str]) -> tuple[str, ...] | None:
    name = "/".join(path)
    for old in sorted(mapping, key=len, reverse=True):
        if name == old or name.startswith(old + "/"):
            new = mapping[old] + name[len(old) :]
            return tuple(p for p in new.split("/") if p)
    return None


def _follow_parent(
    source_path: tuple[str, ...], path: tuple[str, ...], done: list[FolderMapping]
) -> tuple[str, ...]:
    """A subfolder goes wherever its nearest mapped source parent went."""
    for m in reversed(done):
        sp = m.source.path
        if len(source_path) > len(sp) and source_path[: len(sp)] == sp:
            return m.target.path + path[len(path) - (len(source_path) - len(sp)) :]
    return path


def _role_targets(target_folders: list[Folder]) -> dict[str, tuple[str, ...]]:
    """The target folder for each role: declared special-use first, then well-known names."""
    found: dict[str, tuple[str, ...]] = {}
    for f in target_folders:
        if f.role and f.role not in found and f.selectable:
            found[f.role] = f.path
    for f in sorted(target_folders, key=lambda f: f.path):
        role = role_of(Folder(path=f.path))
        if len(f.path) == 1 and role and role not in found:
            found[role] = f.path
    return found
