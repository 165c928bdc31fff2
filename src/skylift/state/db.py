"""One way to open state, for every area: the mail ledger, the DAV ledger, the directory
journal, work units and whatever comes next.

A ``--state`` is a file path (SQLite, WAL) or a SQLAlchemy URL (``postgresql+psycopg://…``)
for scale-out. Each area owns its tables and keeps its own schema version in the shared
``skylift_schema`` table, so areas upgrade independently and a state file written by an
older skylift is upgraded in place, without losing a row, the first time it is opened.
Times are stored timezone-aware, in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, SQLAlchemyError

from skylift.errors import ConfigError

_versions_metadata = MetaData()
schema_versions = Table(
    "skylift_schema",
    _versions_metadata,
    Column("area", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("upgraded_at", DateTime(timezone=True), nullable=False),
)

#: an upgrade step of one area: runs inside a transaction, from version N-1 to N
Upgrade = Callable[[Connection], None]


def utcnow() -> datetime:
    """Now, timezone-aware UTC: the one clock every area stores."""
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive values; they were written as UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def shown_location(location: str | Path) -> str:
    """*location* as it may be printed: a database URL with its password replaced by ***."""
    loc = str(location)
    if "://" not in loc:
        return loc
    try:
        return make_url(loc).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return loc.split("://", 1)[0] + "://***"


def open_engine(location: str | Path, *, must_exist: bool = False) -> Engine:
    """Create the SQLAlchemy engine for a file path or a database URL.

    The first connection is made here, so a file that is not a database, a wrong URL or an
    unreachable server is one ConfigError before any mailbox is touched. *must_exist*: a
    command that reads an earlier run's state (``verify``) refuses a file that is not there
    rather than silently creating an empty one and passing.
    """
    loc = str(location)
    shown = shown_location(location)
    if "://" not in loc:
        path = Path(loc)
        if path.parent and not path.parent.exists():
            raise ConfigError(f"state file folder does not exist: {path.parent}")
        if must_exist and not path.is_file():
            raise ConfigError(f"state file does not exist: {path} (check the --state path)")
        if path.is_dir():
            raise ConfigError(f"state file is a folder: {path}")
        loc = f"sqlite:///{path}"
    try:
        engine = create_engine(
            loc, connect_args={"timeout": 60} if loc.startswith("sqlite") else {}
        )
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigError(f"cannot open state store {shown}: {exc}") from None
    if loc.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    try:
        with engine.connect():
            pass
    except DatabaseError as exc:
        engine.dispose()
        raise ConfigError(f"cannot use state store {shown}: {_first_line(exc)}") from None
    return engine


def _first_line(exc: DatabaseError) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def ensure_area(
    engine: Engine,
    area: str,
    metadata: MetaData,
    version: int,
    upgrades: Mapping[int, Upgrade] | None = None,
    *,
    legacy_version: Callable[[Connection], int | None] | None = None,
) -> None:
    """Create *area*'s tables if missing and bring an older layout up to *version*.

    *upgrades* maps a version to the step that reaches it from the one before.
    *legacy_version* tells the version of a state written before this table existed (None:
    the area was never there, so its tables are simply created). A state written by a newer
    skylift is refused rather than misread.
    """
    shown = shown_location(str(engine.url))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # workers opening a fresh shared store at once: one creates, the others wait
                conn.execute(text("SELECT pg_advisory_xact_lock(7254)"))
            _versions_metadata.create_all(conn)
            row = conn.execute(
                select(schema_versions.c.version).where(schema_versions.c.area == area)
            ).first()
            current: int | None = int(row[0]) if row else None
            if current is None:
                had_tables = any(inspect(conn).has_table(t.name) for t in metadata.sorted_tables)
                current = (legacy_version(conn) if legacy_version else 1) if had_tables else None
            if current is not None and current > version:
                raise ConfigError(
                    f"state store {shown} was written by a newer skylift ({area} schema "
                    f"{current}, this one knows {version}); upgrade skylift"
                )
            metadata.create_all(conn)
            for step in range((current or version) + 1, version + 1):
                (upgrades or {})[step](conn)
            if row is None:
                conn.execute(
                    insert(schema_versions).values(area=area, version=version, upgraded_at=utcnow())
                )
            elif current != version:
                conn.execute(
                    update(schema_versions)
                    .where(schema_versions.c.area == area)
                    .values(version=version, upgraded_at=utcnow())
                )
    except DatabaseError as exc:
        raise ConfigError(f"cannot use state store {shown}: {_first_line(exc)}") from None


def area_versions(engine: Engine) -> dict[str, int]:
    """Each area's schema version in this state (for ``skylift jobs`` and bug reports)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema_versions.name):
            return {}
        rows = conn.execute(select(schema_versions.c.area, schema_versions.c.version))
        return {r.area: int(r.version) for r in rows}
