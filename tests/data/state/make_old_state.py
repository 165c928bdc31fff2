"""Write a state file with the state layout of skylift before state/db.py (tests/data/state).

Run against the tree of commit 6ddf977: PYTHONPATH=<that tree>/src python make_old_state.py OUT.db
"""

import sys
from pathlib import Path

from skylift.connectors.memory import MemoryMailbox
from skylift.engine.migrate import MailboxMigration, MigrateOptions
from skylift.engine.report import MailboxReport

from skylift.model.dav import DavKind, ItemRecord
from skylift.state.dav_ledger import DavLedger
from skylift.state.store import StateStore
from skylift.state.work_units import WorkUnits

out = Path(sys.argv[1])
out.unlink(missing_ok=True)
source, target = MemoryMailbox(), MemoryMailbox()
for i in range(30):
    source.put(("INBOX",), b"Message-ID: <m%d@old>\r\nSubject: %d\r\n\r\nbody %d\r\n" % (i, i, i))
for i in range(5):
    source.put(("Work", "2019"), b"Subject: w%d\r\n\r\nwork %d\r\n" % (i, i), frozenset({"\\Seen"}))
store = StateStore(out)
report = MailboxReport("jane@old.example", "jane")
MailboxMigration(
    "jane@old.example", source, target, store, store.start_run("migrate"), MigrateOptions(), report
).run()
report.finish()
units = WorkUnits(store.engine)
ids = units.queue("migrate-20261201T000000", "mail", ["jane@old.example"])
units.start(ids["jane@old.example"])
units.finish(
    ids["jane@old.example"], "done", items=35, nbytes=1000, problems=0, error=None, attempts=1
)
ledger = DavLedger(out)
ledger.save(
    "jane@old.example",
    DavKind.CALENDAR,
    "/cal/jane/team/",
    ItemRecord(
        "ev1@old", "/cal/jane/team/ev1.ics", '"e1"', "/jane/team/ev1.ics", '"t1"', "sha256:abc"
    ),
)
ledger.save_markers(
    "jane@old.example",
    DavKind.CALENDAR,
    "/cal/jane/team/",
    "/jane/team/",
    "http://old/sync/7",
    '"ctag7"',
)
print(report.totals())
