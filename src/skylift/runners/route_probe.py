"""``route probe``: send a tagged message per user through the real path and see where it lands.

It notes each INBOX's next UID on both sides, hands one probe per user to the MTA named by
``--smtp`` (the path the internet's mail takes), then watches both sides — and, with
``--probe-from``, that mailbox for bounces — until every probe is accounted for or the wait
is over. Nothing is routed or changed; the probes stay in the mailboxes, marked by subject.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailSource
from skylift.connectors.mta.smtp import send
from skylift.engine.routing.probe import (
    TAG_HEADER,
    ProbeVerdict,
    Sighting,
    bounce_reason,
    judge,
    probe_message,
    received_count,
)
from skylift.errors import ConfigError, ConnectError
from skylift.model.account import MailboxPair
from skylift.model.mail import Folder
from skylift.state.routing import RouteState, RoutingRegistry
from skylift.state.work_units import new_run_id

INBOX = Folder(("INBOX",), role="inbox")


@dataclass
class ProbeJob:
    smtp: str
    pairs: list[MailboxPair]
    source: Endpoint
    target: Endpoint
    state: str
    probe_from: MailboxPair | None = None
    wait: float = 30.0
    max_hops: int = 20


@contextlib.contextmanager
def _open(endpoint: Endpoint, pair: MailboxPair, side: str) -> Iterator[MailSource]:
    login = pair.source if side == "source" else pair.target
    with mail_connector(endpoint).open_source(login) as box:
        yield box


def _marks(job: ProbeJob, pair: MailboxPair) -> dict[str, int | None]:
    """Each side's INBOX UIDNEXT; None where the user has no mailbox (or cannot log in)."""
    marks: dict[str, int | None] = {}
    for side, ep in (("source", job.source), ("target", job.target)):
        try:
            with _open(ep, pair, side) as box:
                marks[side] = box.select(INBOX).next_uid or 1
        except ConnectError:
            marks[side] = None
    return marks


def _new_messages(
    job: ProbeJob, pair: MailboxPair, marks: dict[str, int | None]
) -> list[tuple[str, bytes]]:
    seen = []
    for side, ep in (("source", job.source), ("target", job.target)):
        mark = marks[side]
        if mark is None:
            continue
        with _open(ep, pair, side) as box:
            box.select(INBOX)
            uids = [r.uid for r in box.list_from(INBOX, mark)]
            seen += [(side, m.raw) for m in box.fetch(INBOX, uids)] if uids else []
    return seen


def _sightings(
    job: ProbeJob, pair: MailboxPair, marks: dict[str, int | None], tag: str
) -> list[Sighting]:
    return [
        Sighting(side, received_count(raw))
        for side, raw in _new_messages(job, pair, marks)
        if TAG_HEADER.encode() in raw.split(b"\r\n\r\n")[0] and tag.encode() in raw
    ]


def probe(job: ProbeJob) -> list[ProbeVerdict]:
    parts = urlsplit(job.smtp)
    if parts.scheme not in ("smtp", "lmtp") or not parts.hostname:
        raise ConfigError(f"--smtp {job.smtp!r}: use smtp://host[:port]")
    port = parts.port or 25
    run = new_run_id("probe").split("-")[1]
    with RoutingRegistry(job.state) as registry:
        routes = registry.all_current()
    watch = list(job.pairs)
    if job.probe_from is not None and job.probe_from.key not in {p.key for p in watch}:
        watch.append(job.probe_from)
    marks = {p.key: _marks(job, p) for p in watch}
    sender = job.probe_from.key if job.probe_from else "<>"
    verdicts: dict[str, ProbeVerdict] = {}
    tags: dict[str, str] = {}
    refused: dict[str, tuple[int, str]] = {}
    for n, pair in enumerate(job.pairs, start=1):
        route = routes.get(pair.key)
        expected = "target" if route and route.state == RouteState.CLOUD else "source"
        verdicts[pair.key] = ProbeVerdict(pair.key, expected)
        tags[pair.key] = tag = f"{run}.{n}"
        answer = send(
            parts.scheme, parts.hostname, port, "" if sender == "<>" else sender, [pair.key],
            probe_message(tag, sender, pair.key),
        )[pair.key]  # fmt: skip
        if not answer.ok:
            refused[pair.key] = (answer.code, answer.text)
    started = time.monotonic()
    bounces: dict[str, str] = {}
    while True:
        for pair in job.pairs:
            v = verdicts[pair.key]
            if pair.key in refused:
                continue
            v.landed = _sightings(job, pair, marks[pair.key], tags[pair.key])
        if job.probe_from is not None:
            for _side, raw in _new_messages(job, job.probe_from, marks[job.probe_from.key]):
                if TAG_HEADER.encode() in raw.split(b"\r\n\r\n")[0]:
                    continue  # a probe itself, not a bounce
                for user, tag in tags.items():
                    if tag.encode() in raw:
                        bounces[user] = bounce_reason(raw)
        pending = [
            p for p in job.pairs
            if p.key not in refused and not verdicts[p.key].landed and p.key not in bounces
        ]  # fmt: skip
        waited = time.monotonic() - started
        if not pending or waited > job.wait:
            break
        time.sleep(0.5)
    if verdicts and any(len(v.landed) == 1 for v in verdicts.values()):
        time.sleep(1.0)  # a looping copy may be a moment behind the first
        for pair in job.pairs:
            if pair.key not in refused and verdicts[pair.key].landed:
                verdicts[pair.key].landed = _sightings(job, pair, marks[pair.key], tags[pair.key])
    results = []
    for p in job.pairs:
        v, why, bounce = verdicts[p.key], refused.get(p.key), bounces.get(p.key)
        results.append(judge(v, refused=why, bounce=bounce, max_hops=job.max_hops, waited=job.wait))
    return results
