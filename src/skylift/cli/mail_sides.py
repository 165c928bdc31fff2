"""How ``migrate``, ``verify`` and the other mail commands read their sides and their users:
endpoints with TLS rules and sign-in, admin passwords, the users CSV or one user, and the
parallelism a wave plan chose. Shared by every command that opens mailboxes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from skylift.cli import cloud
from skylift.connectors import MAIL_CONNECTORS
from skylift.connectors.endpoint import Endpoint
from skylift.engine.users import load_users
from skylift.errors import (
    ConfigError,
)
from skylift.model.account import Login, MailboxPair, Secret

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """``35M`` -> 36700160; plain numbers are bytes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1] if t and t[-1] in "KMG" else ""
    number = t[: -1 if unit else None]
    try:
        return int(float(number) * _SIZE_UNITS[unit])
    except ValueError:
        raise ConfigError(f"not a size: {text!r} (examples: 35M, 150M, 1G)") from None


def endpoint(
    url: str,
    ca: Path | None,
    insecure: bool,
    allow_plaintext: bool,
    timeout: float,
    connect_timeout: float = 15.0,
) -> Endpoint:
    if ca is not None and not ca.is_file():
        raise ConfigError(f"CA file not found: {ca}")
    if timeout <= 0 or connect_timeout <= 0:
        raise ConfigError("--timeout and --connect-timeout must be more than zero seconds")
    parsed = Endpoint.parse(
        url,
        ca_file=str(ca) if ca else None,
        insecure=insecure,
        allow_plaintext=allow_plaintext,
        timeout=timeout,
        connect_timeout=connect_timeout,
    )
    if parsed.scheme not in MAIL_CONNECTORS:
        known = ", ".join(sorted(MAIL_CONNECTORS))
        raise ConfigError(f"unknown mail URL scheme {parsed.scheme!r} (known: {known})")
    return parsed


def sign_in_endpoints(
    sign_in: cloud.SignIn,
    source: str | None,
    target: str | None,
    cas: tuple[Path | None, Path | None],
    insecure: tuple[bool, bool],
    allow_plaintext: bool,
    timeout: float,
    connect_timeout: float = 15.0,
) -> tuple[Endpoint, Endpoint]:
    """Both endpoints, from the URLs or the profiles, with their OAuth2 token providers."""
    src = endpoint(
        sign_in.source.url(source), cas[0], insecure[0], allow_plaintext, timeout, connect_timeout
    )
    dst = endpoint(
        sign_in.target.url(target), cas[1], insecure[1], allow_plaintext, timeout, connect_timeout
    )
    return sign_in.source.attach(src), sign_in.target.attach(dst)


def admin_password(side: str, admin: str | None, file: Path | None = None) -> Secret | None:
    """The proxy login's password: from *file* (``--SIDE-admin-password-file``), else the
    environment; never from the command line, where ``ps`` would show it."""
    if not admin:
        if file is not None:
            raise ConfigError(f"--{side}-admin-password-file needs --{side}-admin")
        return None
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read --{side}-admin-password-file {file}: {exc.strerror}"
            ) from None
        if not value:
            raise ConfigError(f"--{side}-admin-password-file {file} is empty")
        return Secret(value)
    var = f"SKYLIFT_{side.upper()}_ADMIN_PASSWORD"
    from_env = os.environ.get(var)
    if not from_env:
        raise ConfigError(
            f"--{side}-admin {admin} needs its password in {var} or --{side}-admin-password-file"
        )
    return Secret(from_env)


def planned_parallel(pairs: list[MailboxPair], waves: Path) -> int | None:
    """The mailboxes at once that ``skylift plan`` sized the waves for (its Parallel column)."""
    values = {p.extra.get("Parallel", "").strip() for p in pairs} - {""}
    if len(values) != 1 or not next(iter(values)).isdigit() or int(next(iter(values))) < 1:
        return None
    planned = int(values.pop())
    print(f"{planned} mailboxes at a time, as planned in {waves}", file=sys.stderr)
    return planned


def load_pairs(
    users: Path | None,
    user: str | None,
    waves: Path | None,
    wave: str | None,
    source_admin: str | None,
    target_admin: str | None,
    oauth: tuple[bool, bool] = (False, False),
    admin_files: tuple[Path | None, Path | None] = (None, None),
) -> list[MailboxPair]:
    src_pw = admin_password("source", source_admin, admin_files[0])
    dst_pw = admin_password("target", target_admin, admin_files[1])
    if waves is not None:
        if wave is None:
            raise ConfigError("--waves needs --wave N")
        pairs = load_users(
            waves, source_admin=source_admin, source_admin_password=src_pw,
            target_admin=target_admin, target_admin_password=dst_pw, need_target=True,
            source_oauth=oauth[0], target_oauth=oauth[1],
        )  # fmt: skip
        chosen = [p for p in pairs if p.extra.get("Wave", "").strip() == str(wave)]
        if "Wave" not in (pairs[0].extra if pairs else {}):
            raise ConfigError(f"{waves} has no Wave column (make it with 'skylift plan')")
        if not chosen:
            raise ConfigError(f"no users in wave {wave} of {waves}")
        return chosen
    if users is not None and user is not None:
        raise ConfigError("give either --users or --user, not both")
    if users is not None:
        return load_users(
            users, source_admin=source_admin, source_admin_password=src_pw,
            target_admin=target_admin, target_admin_password=dst_pw, need_target=True,
            source_oauth=oauth[0], target_oauth=oauth[1],
        )  # fmt: skip
    if user is not None:
        pw = os.environ.get("SKYLIFT_TARGET_PASSWORD")
        src = os.environ.get("SKYLIFT_SOURCE_PASSWORD")
        return [
            MailboxPair(
                key=user,
                source=Login(os.environ.get("SKYLIFT_SOURCE_USER", ""), Secret(src) if src else None,
                             source_admin, src_pw),
                target=Login(user, Secret(pw) if pw else None, target_admin, dst_pw),
            )
        ]  # fmt: skip
    raise ConfigError("say whose mail to move: --users users.csv, --user ADDRESS or --waves")
