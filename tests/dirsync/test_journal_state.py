"""The directory journal opens like every other state area: SQLite or PostgreSQL, aware UTC
times, a schema version, and a journal written before that upgraded without losing a row."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy

from skylift.state.directory_journal import SCHEMA_VERSION, DirectoryJournal, KnownObject
from tests.dirsync.conftest import Sync, scim_users
from tests.dirsync.servers import ScimServer
from tests.mailtools import run_skylift
from tests.servers.postgres import PostgresServer, postgres_bin

DATA = Path(__file__).resolve().parent.parent / "data" / "state"
V1_PAIR = "ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2"


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is not installed: run scripts/setup.sh")
    server = PostgresServer().start()
    yield server
    server.stop()


def test_dirsync_keeps_its_journal_and_units_in_postgresql(
    postgres: PostgresServer, scim_sync: Sync, scim: ScimServer
) -> None:
    first = scim_sync.json("--apply", "--state", postgres.url)
    assert first["applied"] == 240 + 13 and first["failed"] == []
    assert not (scim_sync.workdir / "state.db").exists()  # nothing went to a SQLite file
    assert len(scim_users(scim)) == 240

    again = scim_sync.json("--apply", "--state", postgres.url)
    assert again["delta"] is True and again["changes"] == []  # the marks came back

    journal = run_skylift("dirsync-journal", "--state", postgres.url, "--json", "--limit", "500")
    rows = json.loads(journal.stdout)
    assert len(rows) == 240 + 13 and all(r["ok"] for r in rows)
    jobs = run_skylift("jobs", "--state", postgres.url, "--kind", "directory", "--all", "--json")
    units = json.loads(jobs.stdout)["items"]
    assert [(u["kind"], u["state"]) for u in units] == [("directory", "done")] * 2

    engine = sqlalchemy.create_engine(postgres.url)
    with engine.connect() as conn:
        types = dict(
            conn.execute(
                sqlalchemy.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name IN ('dirsync_journal', 'dirsync_objects') "
                    "AND column_name IN ('at', 'updated_at')"
                )
            ).all()
        )
        version = conn.execute(
            sqlalchemy.text("SELECT version FROM skylift_schema WHERE area = 'directory'")
        ).scalar()
    engine.dispose()
    assert types == {"at": "timestamp with time zone", "updated_at": "timestamp with time zone"}
    assert version == SCHEMA_VERSION


def _v1_state(tmp_path: Path) -> Path:
    """A state file as skylift wrote it before this version: no dirsync_meta, naive times."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / "dirsync-journal-v1.sql").read_text(encoding="utf-8"))
    return path


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_journal_written_with_naive_times_is_upgraded_without_losing_a_row(
    tmp_path: Path,
) -> None:
    path = _v1_state(tmp_path)
    before = {t: _count(path, t) for t in ("dirsync_objects", "dirsync_marks", "dirsync_journal")}
    assert before == {"dirsync_objects": 3, "dirsync_marks": 3, "dirsync_journal": 3}

    journal = DirectoryJournal(path, V1_PAIR)
    known = journal.load()
    assert set(known) == {"a-1", "a-2", "g-1"}
    assert known["a-2"].disabled_at == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert known["a-2"].applied == {"active": False, "user_name": "bob@new.example"}
    assert journal.get_mark("last_full") == "2026-12-01T06:00:00.123456"
    history = journal.history(every_pair=True)
    assert [r["action"] for r in history] == ["create", "disable", "create"]
    assert all(r["at"].tzinfo is not None for r in history)
    assert history[0]["error"] == "409 uniqueness"

    journal.save_objects([("a-3", KnownObject("user", "t-4", None, {"user_name": "cy"}, None))])
    journal.set_mark("high_water", "next")
    journal.close()
    after = {t: _count(path, t) for t in before}
    assert after == {"dirsync_objects": 4, "dirsync_marks": 3, "dirsync_journal": 3}
    with sqlite3.connect(path) as conn:
        version = conn.execute(
            "SELECT version FROM skylift_schema WHERE area = 'directory'"
        ).fetchone()[0]
    assert version == SCHEMA_VERSION

    reopened = DirectoryJournal(path, V1_PAIR)  # the upgraded file opens again as it is
    assert set(reopened.load()) == {"a-1", "a-2", "a-3", "g-1"}
    assert reopened.get_mark("high_water") == "next"
    reopened.close()


def test_a_journal_from_a_newer_skylift_is_refused(tmp_path: Path) -> None:
    from skylift.errors import ConfigError

    path = _v1_state(tmp_path)
    DirectoryJournal(path, V1_PAIR).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE skylift_schema SET version = 99 WHERE area = 'directory'")
    with pytest.raises(ConfigError, match="newer skylift"):
        DirectoryJournal(path, V1_PAIR)
