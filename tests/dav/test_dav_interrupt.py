"""Ctrl-C during migrate-calendars: the first stops after the object in hand with the partial
summary and the resume command (exit 130); the rerun copies the rest, each object once."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

from skylift.model.dav import Collection, DavKind

from .conftest import DavPair, seed
from .test_dav_workers import _event

PER_CALENDAR = 120
CALENDARS = ("team", "home", "travel")


def _recorded(state: str) -> int:
    try:
        with sqlite3.connect(state) as db:
            return int(db.execute("select count(*) from dav_items").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_ctrl_c_stops_cleanly_and_the_rerun_finishes_with_no_duplicate(dav_pair: DavPair) -> None:
    total = PER_CALENDAR * len(CALENDARS)
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        for i, name in enumerate(CALENDARS):
            spec = Collection(
                DavKind.CALENDAR, name, name.title(), components=frozenset({"VEVENT"})
            )
            seed(source, spec, {f"{n}.ics": _event(i * 1000 + n) for n in range(PER_CALENDAR)})
    command = [
        sys.executable, "-m", "skylift", "migrate-calendars",
        "--source", dav_pair.source.url("caldav+http"),
        "--target", dav_pair.target.url("caldav+http"),
        "--user", dav_pair.target_user, "--state", str(dav_pair.state),
        "--dav-workers", "1", "--json",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dav_pair.env(), cwd=dav_pair.workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while _recorded(str(dav_pair.state)) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "stopping after the current batch; Ctrl-C again to abort" in err
    assert "Resume with the same command" in err and "migrate-calendars" in err
    assert "Traceback" not in err
    summary = json.loads(out)  # the partial summary is still printed
    assert summary["totals"]["accounts_stopped"] == 1
    written = summary["totals"]["create"]
    assert 10 <= written < total  # it stopped part way, and said so
    assert any(c["stopped"] for c in summary["items"][0]["collections"])
    assert _recorded(str(dav_pair.state)) == written  # everything written is in the ledger

    rerun = dav_pair.migrate(DavKind.CALENDAR, "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["totals"]["create"] == total - written
    with dav_pair.account("target", DavKind.CALENDAR) as target:
        hrefs = [
            ref.href
            for c in target.collections()
            if c.name in CALENDARS
            for ref in target.list_items(c)
        ]
    assert len(hrefs) == total  # each object once: nothing lost, nothing twice
