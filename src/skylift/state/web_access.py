"""Who may use the dashboard: local accounts, sessions, login throttling and the audit trail.

The dashboard (``skylift web``) keeps its own small area in the state store so the admin
has one file to back up. Passwords are argon2id hashes (argon2-cffi, the OWASP choice);
a session is a random token the browser holds, stored here only as its SHA-256, so a copy
of the state file opens no session. After ``SLOW_AFTER`` wrong passwords in a row for a
name, each further try must wait (doubling, capped) — a guesser gets a few tries a minute.
Every action an admin takes lands in ``web_audit`` with the account that took it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from skylift.state.db import aware, ensure_area, open_engine, utcnow


def _utc(value: datetime) -> datetime:
    stamp = aware(value)
    assert stamp is not None
    return stamp


SCHEMA_VERSION = 1
ROLES = ("admin", "viewer")
SESSION_HOURS = 12
SLOW_AFTER = 20  # wrong passwords in a row before each try must wait
SLOW_CAP_SECONDS = 300

metadata = MetaData()

web_users = Table(
    "web_users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("name", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

web_login_failures = Table(
    "web_login_failures",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("in_a_row", Integer, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
)

web_audit = Table(
    "web_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("name", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(320), nullable=False),
    Column("outcome", Text, nullable=False),
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Account:
    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    name: str
    action: str
    target: str
    outcome: str

    def to_dict(self) -> dict[str, str]:
        return {**self.__dict__, "at": self.at.isoformat(timespec="seconds")}


class TooManyTries(Exception):
    """A name had SLOW_AFTER wrong passwords in a row: wait *retry_after* seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong passwords; try again in {retry_after} s")
        self.retry_after = retry_after


class WebAccess:
    """Accounts, sessions and the audit trail in the state store at *location*."""

    def __init__(self, location: str | Path | Engine) -> None:
        self._owned = not isinstance(location, Engine)
        self.engine = location if isinstance(location, Engine) else open_engine(location)
        ensure_area(self.engine, "web_access", metadata, SCHEMA_VERSION)
        self._hasher = PasswordHasher()
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()

    # -- accounts -----------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str) -> None:
        """Create *name*, or set a new password and role if it exists."""
        if role not in ROLES:
            raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
        values = {"role": role, "password_hash": self._hasher.hash(password)}
        with self._lock, self.engine.begin() as conn:
            found = conn.execute(select(web_users.c.name).where(web_users.c.name == name)).first()
            if found:
                conn.execute(update(web_users).where(web_users.c.name == name).values(**values))
            else:
                conn.execute(insert(web_users).values(name=name, created_at=utcnow(), **values))
            conn.execute(delete(web_sessions).where(web_sessions.c.name == name))

    def users(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(web_users.c.name, web_users.c.role).order_by("name"))
            return [Account(r.name, r.role) for r in rows]

    def check_password(self, name: str, password: str) -> Account | None:
        """The account if *password* is right; raises TooManyTries while *name* must wait."""
        with self.engine.connect() as conn:
            failed = conn.execute(
                select(web_login_failures).where(web_login_failures.c.name == name)
            ).first()
            row = conn.execute(select(web_users).where(web_users.c.name == name)).first()
        if failed is not None and failed.in_a_row >= SLOW_AFTER:
            wait = min(SLOW_CAP_SECONDS, 2 ** (failed.in_a_row - SLOW_AFTER))
            ready = _utc(failed.last_at) + timedelta(seconds=wait)
            if utcnow() < ready:
                raise TooManyTries(max(1, int((ready - utcnow()).total_seconds()) + 1))
        ok = False
        if row is not None:
            try:
                ok = self._hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            self._hasher.hash(password)  # same work for an unknown name: no timing oracle
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(web_login_failures).where(web_login_failures.c.name == name))
            if not ok:
                count = (failed.in_a_row if failed is not None else 0) + 1
                conn.execute(
                    insert(web_login_failures).values(name=name, in_a_row=count, last_at=utcnow())
                )
        return Account(row.name, row.role) if ok and row is not None else None

    # -- sessions -----------------------------------------------------------------------
    def open_session(self, name: str) -> str:
        """A new session for *name*: the token for the cookie (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < utcnow()))
            conn.execute(
                insert(web_sessions).values(
                    token_hash=_digest(token),
                    name=name,
                    expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
                )
            )
        return token

    def session(self, token: str | None) -> Account | None:
        """The account a live session *token* belongs to, else None."""
        if not token:
            return None
        s, u = web_sessions.c, web_users.c
        query = (
            select(u.name, u.role, s.expires_at)
            .join(web_users, u.name == s.name)
            .where(s.token_hash == _digest(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or _utc(row.expires_at) < utcnow():
            return None
        return Account(row.name, row.role)

    def close_session(self, token: str) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _digest(token)))

    @staticmethod
    def csrf_token(session_token: str) -> str:
        """The form token of a session: derived from it, so nothing more is stored."""
        return hmac.new(session_token.encode(), b"skylift-csrf", hashlib.sha256).hexdigest()

    # -- audit --------------------------------------------------------------------------
    def audit(self, name: str, action: str, target: str, outcome: str) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(web_audit).values(
                    at=utcnow(), name=name, action=action, target=target, outcome=outcome
                )
            )

    def audit_log(self, limit: int = 50) -> list[AuditEntry]:
        c = web_audit.c
        query = select(c.at, c.name, c.action, c.target, c.outcome).order_by(c.id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [AuditEntry(_utc(r.at), r.name, r.action, r.target, r.outcome) for r in rows]
