"""Cut a wave over to the cloud, or roll it back, in steps a rerun can always finish.

``cutover`` (issue 13): (1) mark the wave *migrating* and run the final delta (a rerun of
``migrate``: it copies only what is new); (2) pre-flight: every mailbox verified, the cloud
relay is not this MTA, every recipient resolves on the cloud side; a user who fails stays
on-prem and the report says why; (3) flip the routing of every user who passed in one
registry transaction and one atomic map change; (4) a last delta for the mail that arrived
on-prem during the flip; (5) record one work unit per user. ``rollback`` restores the route
each user of the wave had before (``runners/rollback.py``), then copies what arrived in the
cloud meanwhile back to the source (a reverse delta of mail, and of calendars and contacts
where configured), so nothing is stranded. The mail deltas and the pre-flight are in
``runners/cutover_mail.py``.

The registry is the only memory: the maps are always written from it, so a run killed at
any point is finished by running the same command again (maps rewritten to match, deltas
resumed from the ledger), and a second run of a finished wave changes nothing.

Ctrl-C (``WaveJob.stop``) stops the deltas at a batch boundary. Before the flip, no route
changes: the wave goes back to on-prem and the rerun cuts it over. After the flip, routes
stay flipped (the flip is one transaction) and the rerun runs the last delta again; a
stopped rollback has restored the routes and its rerun copies the rest back.
"""

from __future__ import annotations

import dataclasses
import getpass
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mta.postfix import PostfixConfig
from skylift.connectors.mta.sieve import write_scripts
from skylift.engine.mail.report import RunReport
from skylift.engine.routing.plan import (
    MAP_NAMES,
    CloudRelay,
    loop_reasons,
    postfix_maps,
    sieve_redirects,
)
from skylift.errors import ConfigError
from skylift.model.account import MailboxPair
from skylift.runners.cutover_dav import DavDelta, dav_delta
from skylift.runners.cutover_directory import DirectoryRouting, set_routes
from skylift.runners.cutover_mail import copied, failed, mail_delta, preflight
from skylift.runners.mail import RunSettings
from skylift.state.routing import RouteRecord, RouteState, RoutingRegistry
from skylift.state.store import StateStore
from skylift.state.work_units import WorkUnits, new_run_id

StepFn = Callable[[str], None]


def _no_step(_: str) -> None:
    pass


@dataclass
class Routing:
    """Where routes are written: a Postfix config dir and/or a Sieve folder."""

    relay: CloudRelay
    postfix: PostfixConfig | None = None
    sieve_dir: Path | None = None
    routing_domain: str | None = None
    directory: DirectoryRouting | None = None  # a routing attribute in LDAP / AD


@dataclass
class WaveJob:
    """One wave's cut-over or rollback: who, between which servers, with what state."""

    wave: int
    pairs: list[MailboxPair]
    everyone: list[str]  # every user of the users CSV (relay_recipient_maps)
    source: Endpoint
    target: Endpoint
    state: str
    routing: Routing
    settings: RunSettings = field(default_factory=RunSettings)
    dry_run: bool = False
    actor: str = ""
    on_step: StepFn = _no_step
    dav: list[DavDelta] = field(default_factory=list)  # calendars/contacts in the deltas
    drain_seconds: float = 30.0  # wait for deliveries on the old route before the last delta
    settle_seconds: float = 0.5  # after a reload, before the last delta
    stop: threading.Event = field(default_factory=threading.Event)  # the first Ctrl-C


@dataclass
class UserOutcome:
    user: str
    before: str
    after: str
    reason: str | None = None
    copied: int = 0
    dav_copied: int = 0  # calendar and contact objects written

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class WaveReport:
    command: str
    wave: int
    dry_run: bool
    run_id: str
    users: list[UserOutcome] = field(default_factory=list)
    maps_changed: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    stopped: bool = False  # Ctrl-C: see cutover()/rollback() for where each stops

    @property
    def ok(self) -> bool:
        return not any(u.reason for u in self.users)

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "wave": self.wave,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "ok": self.ok,
            "stopped": self.stopped,
            "steps": self.steps,
            "maps_changed": self.maps_changed,
            "users": [u.as_dict() for u in self.users],
        }


def default_actor() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"{who}@{socket.gethostname()}"


# -- the routing side -------------------------------------------------------------------------


def check_routing(routing: Routing) -> None:
    """Refuse a setup whose flip would do nothing or loop, before anything changes."""
    pf = routing.postfix
    if pf is None:
        return
    for parameter, name in (
        ("transport_maps", MAP_NAMES["transport"]),
        ("relay_recipient_maps", MAP_NAMES["relay_recipients"]),
        ("smtp_tls_policy_maps", MAP_NAMES["tls_policy"]),
    ):
        if parameter == "smtp_tls_policy_maps" and routing.relay.scheme != "smtp":
            continue
        if not pf.uses(parameter, pf.config_dir / name):
            raise ConfigError(
                f"{pf.config_dir}/main.cf does not use skylift's map: add "
                f"'{parameter} = hash:{pf.config_dir / name}' (see docs/cutover.md)"
            )
    names = {pf.param("myhostname")}
    reasons = loop_reasons(routing.relay, pf.inet_listeners(), names)
    if reasons:
        raise ConfigError(reasons[0])


def write_routes(
    routing: Routing, routes: dict[str, RouteRecord], everyone: list[str]
) -> tuple[list[str], bool]:
    """Make the MTA's maps say what the registry says: (the files changed, reloaded?).

    Postfix is reloaded when a map changed, and also when the running Postfix has not been
    told of the maps as they are (a run killed between the map write and the reload): the
    reload is recorded beside the maps, so a rerun that finds them already written still
    reloads once.
    """
    changed: list[str] = []
    reloaded = False
    pf = routing.postfix
    if pf is not None:
        maps = postfix_maps(routes, routing.relay, everyone)
        for name, text in maps.items():
            if pf.install(name, text):
                changed.append(name)
        if changed or not pf.loaded(maps):
            pf.reload()
            pf.mark_loaded(maps)
            reloaded = True
    if routing.sieve_dir is not None:
        if not routing.routing_domain:
            raise ConfigError("--sieve-dir needs --routing-domain (the cloud's routing domain)")
        scripts = sieve_redirects(routes, routing.routing_domain)
        changed += [p.name for p in write_scripts(routing.sieve_dir, scripts)]
    return changed, reloaded


def wait_for_deliveries(routing: Routing, users: set[str], seconds: float) -> None:
    """Wait (up to *seconds*) until no delivery the MTA began on the old route is running."""
    if routing.postfix is None or not users:
        return
    deadline = time.monotonic() + seconds
    while routing.postfix.in_delivery(users) and time.monotonic() < deadline:
        time.sleep(0.2)


# -- the two commands -------------------------------------------------------------------------


def cutover(job: WaveJob) -> WaveReport:
    """Move the wave's mail routing to the cloud (see the module docstring for the steps)."""
    run_id = new_run_id("cutover")
    report = WaveReport("cutover", job.wave, job.dry_run, run_id)
    check_routing(job.routing)
    registry = RoutingRegistry(job.state)
    store = StateStore(job.state)
    units = WorkUnits(store.engine)
    try:
        now = registry.all_current()
        before = {
            p.key: (now[p.key].state if p.key in now else RouteState.ONPREM) for p in job.pairs
        }
        done = [p for p in job.pairs if before[p.key] == RouteState.CLOUD]
        todo = [p for p in job.pairs if before[p.key] != RouteState.CLOUD]
        if job.dry_run:
            report.users = [
                UserOutcome(p.key, before[p.key].value, RouteState.CLOUD.value) for p in job.pairs
            ]
            report.steps = ["dry-run: nothing copied, no route changed"]
            return report
        ids = units.queue(run_id, "cutover", [p.key for p in job.pairs])
        for p in job.pairs:
            units.start(ids[p.key])

        def mark(users: list[str], state: RouteState, reason: str) -> None:
            registry.set(users, state, wave=job.wave, run_id=run_id, actor=job.actor, reason=reason)

        outcomes = {
            p.key: UserOutcome(p.key, before[p.key].value, before[p.key].value) for p in job.pairs
        }

        # (1) final delta, the wave marked migrating (still delivered on-prem)
        job.on_step("final-delta")
        mark([p.key for p in todo], RouteState.MIGRATING, "final delta")
        first = mail_delta(job, todo, store)
        why = failed(first)
        dav_why, dav_first = (
            ({}, {})
            if job.stop.is_set()
            else dav_delta(job.dav, todo, job.state, job.settings.parallel)
        )
        for user, reason in dav_why.items():
            why.setdefault(user, reason)
        report.steps.append("final-delta")
        if job.stop.is_set():
            return _stopped_before_flip(job, report, todo, outcomes, mark, units, ids, first)
        # (2) pre-flight: verify (once more after another delta, for mail that came meanwhile)
        job.on_step("preflight")
        ready = [p for p in todo if p.key not in why]
        why |= preflight(job, ready, store) if ready else {}
        again = [p for p in ready if p.key in why and why[p.key].startswith("verify:")]
        if again:
            second = mail_delta(job, again, store)
            for p in again:
                del why[p.key]
            why |= failed(second) | preflight(job, again, store)
        report.steps.append("preflight")
        if job.stop.is_set():
            return _stopped_before_flip(job, report, todo, outcomes, mark, units, ids, first)
        stay = [p.key for p in todo if p.key in why]
        for user in stay:
            mark([user], RouteState.ONPREM, why[user])
            outcomes[user].after, outcomes[user].reason = RouteState.ONPREM.value, why[user]
        # (3) flip: the directory attribute (a user it refuses stays on-prem), then one
        # registry transaction and one atomic map change
        job.on_step("flip")
        moving = [p for p in todo if p.key not in why]
        if job.routing.directory is not None:
            refused = set_routes(
                job.routing.directory, registry, [p.key for p in moving + done], job.wave, run_id
            )
            for user, reason in refused.items():
                if any(p.key == user for p in moving):
                    why[user] = reason
                    mark([user], RouteState.ONPREM, reason)
                    outcomes[user].after, outcomes[user].reason = RouteState.ONPREM.value, reason
            moving = [p for p in moving if p.key not in refused]
        mark([p.key for p in moving], RouteState.CLOUD, "cut-over")
        report.maps_changed, reloaded = write_routes(
            job.routing, registry.all_current(), job.everyone
        )
        report.steps.append("flip")
        # (4) last delta: what reached the source while the route changed (after the
        # deliveries the MTA had already started on the old route have ended)
        if reloaded:
            # `postfix reload` returns before every daemon has let go of the old tables.
            time.sleep(job.settle_seconds)
        wait_for_deliveries(job.routing, {p.key for p in moving}, job.drain_seconds)
        job.on_step("last-delta")
        last = mail_delta(job, moving + done, store)
        if job.stop.is_set():  # routed to the cloud already: a rerun runs the last delta again
            report.stopped = True
            dav_late = {p.key: "stopped by Ctrl-C" for p in moving + done} if job.dav else {}
            dav_last: dict[str, int] = {}
        else:
            dav_late, dav_last = dav_delta(job.dav, moving + done, job.state, job.settings.parallel)
        report.steps.append("last-delta")
        # (5) record
        for p in moving + done:
            outcomes[p.key].after = RouteState.CLOUD.value
            outcomes[p.key].copied = copied(first, p.key) + copied(last, p.key)
            outcomes[p.key].dav_copied = dav_first.get(p.key, 0) + dav_last.get(p.key, 0)
        late = failed(last) | {u: r for u, r in dav_late.items() if u not in failed(last)}
        for p in job.pairs:
            o = outcomes[p.key]
            if p.key in late and not o.reason:
                o.reason = f"last delta: {late[p.key]} (mail is routed to the cloud; rerun)"
            units.finish(
                ids[p.key], "failed" if o.reason else "done", items=o.copied, error=o.reason
            )
        report.steps.append("record")
        report.users = list(outcomes.values())
        return report
    finally:
        units.close()
        store.close()
        registry.close()


def _stopped_before_flip(
    job: WaveJob,
    report: WaveReport,
    todo: list[MailboxPair],
    outcomes: dict[str, UserOutcome],
    mark: Callable[[list[str], RouteState, str], None],
    units: WorkUnits,
    ids: dict[str, int],
    first: RunReport,
) -> WaveReport:
    """Ctrl-C before the flip: no route changed; the wave goes back to on-prem delivery and
    the rerun starts the cut-over again (the final delta resumes from the ledger)."""
    reason = "stopped by Ctrl-C before the flip; rerun to cut over"
    mark([p.key for p in todo], RouteState.ONPREM, reason)
    for p in job.pairs:
        o = outcomes[p.key]
        o.copied = copied(first, p.key)
        if any(t.key == p.key for t in todo):
            o.after, o.reason = RouteState.ONPREM.value, reason
        units.finish(ids[p.key], "partial" if o.reason else "done", items=o.copied, error=o.reason)
    report.stopped = True
    report.users = list(outcomes.values())
    return report
