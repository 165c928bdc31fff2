"""Run an assessment over many users: a bounded thread pool, progress, optional probe.

At most ``parallel * 2`` users are in flight and each finished mailbox is written out at
once, so 10,000 users need about the memory of a few dozen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailConnector
from skylift.engine.assess.checks import check_mailbox, throttle_finding
from skylift.engine.assess.estimate import RateBounds, estimate_mailbox
from skylift.engine.assess.files import AssessmentWriter, UserSummary
from skylift.engine.assess.html import write_html
from skylift.engine.assess.inventory import MailboxInventory, take_inventory
from skylift.engine.profiles import TargetProfile
from skylift.errors import AuthError, ConnectError, SkyliftError
from skylift.model.account import MailboxPair
from skylift.runners.base import RunControl, WorkUnit
from skylift.runners.local import run_units

PROBE_BYTES = 4 * 1024 * 1024
PROBE_SECONDS = 15.0
PROBE_TRIES = 3

Progress = Callable[[int, int, UserSummary], None]


@dataclass(frozen=True)
class ProbeResult:
    """A measured download from the source: *bytes* in *seconds* from *user*'s mailbox."""

    bytes: int
    seconds: float
    user: str

    @property
    def rate(self) -> float:
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "bytes_per_second": round(self.rate, 1),
            "user": self.user,
        }


def inventory_user(
    connector: MailConnector, pair: MailboxPair, large_item_bytes: int | None
) -> MailboxInventory:
    """Inventory one mailbox; a refused login or a broken connection becomes its error."""
    try:
        with connector.open_source(pair.source) as source:
            return take_inventory(
                source, pair.key, pair.source.user, large_item_bytes=large_item_bytes
            )
    except AuthError as exc:
        return MailboxInventory(pair.key, pair.source.user, error=str(exc), error_kind="login")
    except ConnectError as exc:
        return MailboxInventory(pair.key, pair.source.user, error=str(exc), error_kind="connect")
    except SkyliftError as exc:
        return MailboxInventory(pair.key, pair.source.user, error=str(exc), error_kind="read")
    except Exception as exc:  # an odd server reply must not stop the other 9,999 users
        detail = f"{type(exc).__name__}: {exc}"
        return MailboxInventory(pair.key, pair.source.user, error=detail, error_kind="read")


def probe_source(
    connector: MailConnector,
    pairs: Sequence[MailboxPair],
    *,
    budget_bytes: int = PROBE_BYTES,
    budget_seconds: float = PROBE_SECONDS,
) -> ProbeResult | None:
    """Download up to *budget_bytes* from the first mailboxes that have mail; time it."""
    for pair in pairs[:PROBE_TRIES]:
        try:
            with connector.open_source(pair.source) as source:
                for folder in source.folders():
                    if not folder.selectable or not source.select(folder).count:
                        continue
                    uids: list[str] = []
                    planned = 0
                    for ref in islice(source.list_messages(folder), 2000):
                        uids.append(ref.uid)
                        planned += ref.size
                        if planned >= budget_bytes:
                            break
                    got = 0
                    started = time.monotonic()
                    for message in source.fetch(folder, uids):
                        got += len(message.raw)
                        if got >= budget_bytes or time.monotonic() - started > budget_seconds:
                            break
                    seconds = time.monotonic() - started
                    if got:
                        return ProbeResult(got, seconds, pair.key)
        except Exception:  # a probe is best effort: try the next mailbox
            continue
    return None


def run_assessment(
    endpoint: Endpoint,
    pairs: Sequence[MailboxPair],
    profile: TargetProfile,
    out_dir: Path,
    *,
    bandwidth: float | None = None,
    probe: bool = False,
    parallel: int = 4,
    connections: int = 1,
    group_by: str | None = None,
    meta: dict[str, Any] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    read_inventory: Callable[[int], MailboxInventory] | None = None,
) -> dict[str, Any]:
    """Assess every user and write assessment.json/.csv/.html into *out_dir*.

    Returns the JSON header (profile, rates, totals) for the CLI to print. Once *stop* is
    set (Ctrl-C) no further mailbox is started; the report covers those read so far and
    ``not_assessed`` counts the rest. *read_inventory* (index -> inventory) replaces reading
    the mailboxes here: ``assess --runner celery`` builds the report from what the workers
    read (state/inventories.py).
    """
    stop = stop or threading.Event()
    connector = mail_connector(endpoint)
    probe_result = probe_source(connector, pairs) if probe else None
    rates = RateBounds.build(
        profile, bandwidth=bandwidth, probe=probe_result.rate if probe_result else None
    )
    extra_columns: list[str] = []
    for pair in pairs:
        for column in pair.extra:
            if column not in extra_columns:
                extra_columns.append(column)
    info = dict(meta or {})
    info["probe"] = probe_result.to_dict() if probe_result else None
    info["connections_per_mailbox"] = connections
    writer = AssessmentWriter(out_dir, profile, rates, info, extra_columns)
    large = profile.value("max_item_bytes")
    total = len(pairs)

    lock = threading.Lock()

    def work(unit: WorkUnit) -> None:
        index = unit.index
        if stop.is_set():
            return
        inventory = (
            read_inventory(index)
            if read_inventory is not None
            else inventory_user(connector, pairs[index], large)
        )
        findings = check_mailbox(inventory, profile, connections=connections, include_public=False)
        estimate = estimate_mailbox(inventory.total_bytes, inventory.count, rates)
        throttled = throttle_finding(inventory.user, estimate, profile)
        if throttled is not None:
            findings.append(throttled)
        with lock:  # the writer streams rows in order of arrival; one at a time
            summary = writer.add(index, inventory, findings, estimate, dict(pairs[index].extra))
            if progress is not None:
                progress(len(writer.summaries), total, summary)

    units = [WorkUnit("assess", p.key, i) for i, p in enumerate(pairs)]
    run_units(units, work, parallel=parallel, control=RunControl(stop=stop))
    head = writer.finish()
    head["not_assessed"] = total - len(writer.summaries)
    if head["not_assessed"]:  # Ctrl-C: no verdict stands on part of the organization
        head["verdict"]["headline"] = (
            f"Partial assessment (stopped by Ctrl-C): {len(writer.summaries)} of {total} "
            f"mailboxes read; rerun for a verdict. {head['verdict']['headline']}"
        )
    write_html(
        out_dir / "assessment.html", head, writer.summaries, writer.findings_sample, group_by
    )
    return head
