"""Read the users CSV: Microsoft's IMAP-migration format, plus skylift's optional columns.

Header ``EmailAddress,UserName,Password`` as Microsoft documents it (source login =
UserName/Password, target mailbox = EmailAddress), and optionally ``TargetUserName``,
``TargetPassword`` and ``File`` (an archive path for archive sources). A password cell may
be ``env:NAME`` or ``file:PATH`` so the CSV itself need not hold secrets.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from skylift.errors import ConfigError
from skylift.model.account import Login, MailboxPair, Secret

KNOWN_COLUMNS = {"EmailAddress", "UserName", "Password", "TargetUserName", "TargetPassword", "File"}


def resolve_secret(cell: str, *, where: str, base: Path | None = None) -> Secret | None:
    """Turn a password cell into a Secret: literal, ``env:NAME`` or ``file:PATH``."""
    if not cell:
        return None
    if cell.startswith("env:"):
        name = cell[4:]
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return Secret(os.environ[name])
    if cell.startswith("file:"):
        path = Path(cell[5:])
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            return Secret(path.read_text().rstrip("\r\n"))
        except OSError as exc:
            raise ConfigError(
                f"{where}: cannot read password file {path}: {exc.strerror}"
            ) from None
    return Secret(cell)


def load_users(
    path: str | Path,
    *,
    source_admin: str | None = None,
    source_admin_password: Secret | None = None,
    target_admin: str | None = None,
    target_admin_password: Secret | None = None,
    need_target: bool = False,
    source_oauth: bool = False,
    target_oauth: bool = False,
) -> list[MailboxPair]:
    """Parse the users CSV at *path* into mailbox pairs, in file order.

    Errors name the file and line. With *need_target*, every row must be able to log in
    to the target (TargetPassword or an admin), so a migration fails before it starts. Duplicate EmailAddress rows are refused: two sources
    written into one mailbox is a decision an admin must make, not a default. A side that
    signs in with app-only OAuth2 (*source_oauth*, *target_oauth*) needs no password column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read users CSV {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"users CSV {path} is not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "EmailAddress" not in header:
        raise ConfigError(
            f"{path}: header must contain EmailAddress (Microsoft's format: "
            "EmailAddress,UserName,Password); found: " + ",".join(header)
        )
    pairs: list[MailboxPair] = []
    seen: dict[str, int] = {}
    for lineno, raw_row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw_row.items() if k is not None}
        if not any(row.values()):
            continue
        where = f"{path.name} line {lineno}"
        email = row.get("EmailAddress", "")
        if not email:
            raise ConfigError(f"{where}: EmailAddress is empty")
        if email.lower() in seen:
            raise ConfigError(
                f"{where}: {email} is listed twice (first on line {seen[email.lower()]})"
            )
        seen[email.lower()] = lineno
        source_user = row.get("File") or row.get("UserName") or email
        source_pw = resolve_secret(row.get("Password", ""), where=where, base=path.parent)
        target_user = row.get("TargetUserName") or email
        target_pw = resolve_secret(row.get("TargetPassword", ""), where=where, base=path.parent)
        if source_pw is None and source_admin is None and "File" not in row and not source_oauth:
            raise ConfigError(f"{where}: no Password for {source_user} and no --source-admin")
        if need_target and target_pw is None and target_admin is None and not target_oauth:
            raise ConfigError(
                f"{where}: no TargetPassword for {target_user} and no --target-admin "
                "(the target needs a login too)"
            )
        extra = {k: v for k, v in row.items() if k not in KNOWN_COLUMNS}
        pairs.append(
            MailboxPair(
                key=email,
                source=Login(source_user, source_pw, source_admin, source_admin_password),
                target=Login(target_user, target_pw, target_admin, target_admin_password),
                extra=extra,
            )
        )
    if not pairs:
        raise ConfigError(f"{path}: no users listed")
    return pairs
