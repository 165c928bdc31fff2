"""Who was sent which wave notice, when: so a notice goes out once, unless ``--resend``.

One row per message handed to the SMTP server (user, notice, wave, language, time, run,
Message-ID). It holds addresses and ids, never a message body, password or token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, insert, select

from skylift.state.db import ensure_area, open_engine

SCHEMA_VERSION = 1
metadata = MetaData()

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(320), nullable=False, index=True),
    Column("notice", String(32), nullable=False),
    Column("wave", String(32), nullable=False),
    Column("language", String(16), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("run", String(128), nullable=False),
    Column("message_id", String(255), nullable=False),
)


@dataclass(frozen=True)
class SentNotice:
    user: str
    notice: str
    wave: str
    language: str
    sent_at: datetime
    run: str
    message_id: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class NoticeLedger:
    """The notices table at a state file path or database URL."""

    def __init__(self, location: str | Path | Engine) -> None:
        self.engine = location if isinstance(location, Engine) else open_engine(location)
        self._owned = not isinstance(location, Engine)
        ensure_area(self.engine, "notices", metadata, SCHEMA_VERSION)

    def sent(self, user: str, notice: str, wave: str) -> SentNotice | None:
        """The last time *notice* of *wave* went to *user*, or None."""
        query = (
            select(notices)
            .where(
                notices.c.user == user.lower(), notices.c.notice == notice, notices.c.wave == wave
            )
            .order_by(notices.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._row(row)

    def record(
        self, user: str, notice: str, wave: str, language: str, run: str, message_id: str
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(notices).values(
                    user=user.lower(), notice=notice, wave=wave, language=language,
                    sent_at=datetime.now(UTC), run=run, message_id=message_id,
                )
            )  # fmt: skip

    def for_user(self, user: str) -> list[SentNotice]:
        query = select(notices).where(notices.c.user == user.lower()).order_by(notices.c.id)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query)]

    @staticmethod
    def _row(row: object) -> SentNotice:
        m = row._mapping  # type: ignore[attr-defined]
        return SentNotice(
            m["user"], m["notice"], m["wave"], m["language"], _aware(m["sent_at"]), m["run"],
            m["message_id"],
        )  # fmt: skip

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()
