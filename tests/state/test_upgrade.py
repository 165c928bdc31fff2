"""A state file written by an older skylift opens, upgrades in place and resumes.

``tests/data/state/skylift-0.x-6ddf977.db`` was written by skylift at commit 6ddf977 (before
``state/db.py``): one mailbox of 35 messages in two folders, one finished mail work unit and
one calendar item in the DAV ledger, all in one file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from skylift.connectors.mail.memory import MemoryMailbox
from skylift.engine.mail.report import MailboxReport
from skylift.engine.mail.sync import MailboxMigration, MigrateOptions
from skylift.errors import ConfigError
from skylift.model.dav import DavKind
from skylift.state.dav_ledger import DavLedger
from skylift.state.db import area_versions
from skylift.state.store import StateStore
from skylift.state.work_units import WorkUnits

OLD = Path(__file__).parent.parent / "data" / "state" / "skylift-0.x-6ddf977.db"


def _same_source() -> MemoryMailbox:
    """The mailbox the old run copied (same content, so the same uids and validity)."""
    source = MemoryMailbox()
    for i in range(30):
        source.put(
            ("INBOX",), b"Message-ID: <m%d@old>\r\nSubject: %d\r\n\r\nbody %d\r\n" % (i, i, i)
        )
    for i in range(5):
        source.put(
            ("Work", "2019"), b"Subject: w%d\r\n\r\nwork %d\r\n" % (i, i), frozenset({"\\Seen"})
        )
    return source


def _rows(path: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        names = [
            r[0] for r in conn.execute(text("select name from sqlite_master where type='table'"))
        ]
        counts = {n: conn.execute(text(f'select count(*) from "{n}"')).scalar_one() for n in names}
    engine.dispose()
    return counts


def test_old_state_file_upgrades_without_losing_a_row_and_resumes(tmp_path: Path) -> None:
    state = tmp_path / "old.db"
    shutil.copy(OLD, state)
    before = _rows(state)

    store = StateStore(state)
    source, target = _same_source(), MemoryMailbox()
    source.put(("INBOX",), b"Subject: new since the old run\r\n\r\nnew\r\n")
    report = MailboxReport("jane@old.example", "jane")
    MailboxMigration(
        "jane@old.example",
        source,
        target,
        store,
        store.start_run("migrate"),
        MigrateOptions(),
        report,
    ).run()
    totals = report.totals()
    assert totals["copied"] == 1 and totals["already_there"] == 35  # resumed, not recopied

    units = WorkUnits(store.engine)
    old_units = [u for u in units.list() if u.run == "migrate-20261201T000000"]
    assert [(u.key, u.state, u.items) for u in old_units] == [("jane@old.example", "done", 35)]
    assert old_units[0].finished_at is not None and old_units[0].finished_at.tzinfo is not None

    dav = DavLedger(state)
    [record] = dav.records("jane@old.example", DavKind.CALENDAR, "/cal/jane/team/")
    assert record.uid == "ev1@old" and record.target_etag == '"t1"'
    assert (
        dav.markers("jane@old.example", DavKind.CALENDAR, "/cal/jane/team/")[1]
        == "http://old/sync/7"
    )

    # work_units 2: the lease columns of scale-out (state/leases.py), added in place
    assert area_versions(store.engine) == {"mail": 1, "dav": 1, "work_units": 2}
    store.close()
    dav.close()
    after = _rows(state)
    for table, count in before.items():
        assert after[table] >= count, table  # nothing lost
    assert after["mail_ledger"] == before["mail_ledger"] + 1


def test_a_state_from_a_newer_skylift_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "new.db"
    StateStore(state).close()
    engine = create_engine(f"sqlite:///{state}")
    with engine.begin() as conn:
        conn.execute(text("update skylift_schema set version = 99 where area = 'mail'"))
    engine.dispose()
    with pytest.raises(ConfigError, match=r"newer skylift .*mail schema 99"):
        StateStore(state)
