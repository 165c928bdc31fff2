"""Tables of the mail ledger: what was copied where, per folder sync marks, runs, problems.

The ledger follows vdirsyncer's status table: one row per copied message with its location
on both sides and its content fingerprint. The unique key on the source location makes a
rerun a no-op; the (mailbox, target folder, fingerprint) index lets a rerun recognise copies
when the source's UIDVALIDITY changed. No column ever holds a password or token.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 1

metadata = MetaData()

meta = Table(
    "skylift_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per source message that was copied (state 'copied') or is being copied right now
# (state 'pending', written before the APPEND so a killed run can settle it on resume).
messages = Table(
    "mail_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mailbox", String(320), nullable=False),
    Column("source_folder", Text, nullable=False),
    Column("source_validity", String(64), nullable=False),
    Column("source_uid", String(128), nullable=False),
    Column("target_folder", Text, nullable=False),
    Column("target_uid", String(64)),
    Column("target_mark", BigInteger),  # target UIDNEXT seen before a pending append
    Column("fingerprint", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("flags", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("copied_at", DateTime(timezone=True)),
    UniqueConstraint("mailbox", "source_folder", "source_validity", "source_uid"),
    Index("ix_ledger_target_fp", "mailbox", "target_folder", "fingerprint"),
    Index("ix_ledger_pending", "mailbox", "state"),
)

# Where a rerun may start: the source folder's marks at the end of the last complete pass.
folder_marks = Table(
    "mail_folder_marks",
    metadata,
    Column("mailbox", String(320), primary_key=True),
    Column("source_folder", Text, primary_key=True),
    Column("source_validity", String(64), nullable=False),
    Column("target_folder", Text, nullable=False),
    Column("next_uid", BigInteger),
    Column("modseq", BigInteger),
    Column("count", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("summary", Text),
)

# Per mailbox per run: what moved and how long it took (the wave planner's measured rates).
mailbox_runs = Table(
    "mailbox_runs",
    metadata,
    Column("run_id", Integer, primary_key=True),
    Column("mailbox", String(320), primary_key=True),
    Column("messages", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("outcome", String(32), nullable=False),
)

# Items that did not arrive, with the reason, so nobody has to read a log.
problems = Table(
    "mail_problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("mailbox", String(320), nullable=False),
    Column("source_folder", Text, nullable=False),
    Column("source_uid", String(128)),
    Column("kind", String(16), nullable=False),  # skipped | rejected | failed
    Column("reason", Text, nullable=False),
    Column("size", BigInteger),
)
