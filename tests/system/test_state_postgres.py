"""The ledger on PostgreSQL (scale-out mode) behaves as on SQLite: rerun copies nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, message, run_skylift, seed, when
from tests.servers.postgres import PostgresServer, postgres_bin


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is not installed: run the README's setup command")
    server = PostgresServer().start()
    yield server
    server.stop()


def test_migrate_with_the_ledger_in_postgresql(
    postgres: PostgresServer,
    source_server: DovecotServer,
    target_server: DovecotServer,
    users_csv: Path,
) -> None:
    seed(source_server.imap_port, "alice", "alice-pw",
         {"INBOX": [Item(message(i), ("\\Seen",), when(i)) for i in range(30)]}, sep=".")  # fmt: skip
    args = ["migrate", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
            "--users", users_csv, "--state", postgres.url, "--json"]  # fmt: skip
    first = run_skylift(*args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["totals"]["copied"] == 30
    again = run_skylift(*args)
    assert json.loads(again.stdout)["totals"]["copied"] == 0
    engine = sqlalchemy.create_engine(postgres.url)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("select count(*) from mail_ledger")).scalar()
        everything = ""
        for table in sqlalchemy.inspect(conn).get_table_names():
            everything += repr(conn.execute(sqlalchemy.text(f'select * from "{table}"')).all())
    engine.dispose()
    assert rows == 30
    for secret in ("alice-pw", "alice-new-pw", "bob-pw", "bob-new-pw"):
        assert secret not in everything
