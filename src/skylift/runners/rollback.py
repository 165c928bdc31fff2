"""Roll a wave back: restore the route each user had before this wave's cut-over, then copy
what reached the cloud meanwhile back to the source (mail, and calendars and contacts where
configured), so nothing is stranded. Steps and guarantees: ``runners/cutover.py``."""

from __future__ import annotations

from skylift.model.account import MailboxPair
from skylift.runners.cutover import (
    UserOutcome,
    WaveJob,
    WaveReport,
    check_routing,
    write_routes,
)
from skylift.runners.cutover_dav import dav_delta
from skylift.runners.cutover_directory import restore_routes
from skylift.runners.cutover_mail import copied, failed, mail_delta
from skylift.state.routing import RouteRecord, RouteState, RoutingRegistry
from skylift.state.store import StateStore
from skylift.state.work_units import WorkUnits, new_run_id


def previous_state(history: list[RouteRecord], wave: int) -> RouteState:
    """The route a user had before this wave's cut-over moved them (on-prem if none)."""
    for record in reversed(history):
        if record.wave == wave and record.state in (RouteState.MIGRATING, RouteState.CLOUD):
            continue
        if record.reason and record.reason.startswith("rollback"):
            continue
        return record.state
    return RouteState.ONPREM


def rollback(job: WaveJob) -> WaveReport:
    """Restore the wave's previous routing, then copy the cloud's new mail back."""
    run_id = new_run_id("rollback")
    report = WaveReport("rollback", job.wave, job.dry_run, run_id)
    check_routing(job.routing)
    registry = RoutingRegistry(job.state)
    store = StateStore(job.state)
    units = WorkUnits(store.engine)
    try:
        outcomes: dict[str, UserOutcome] = {}
        back: list[MailboxPair] = []
        for p in job.pairs:
            current = registry.current(p.key)
            now = current.state if current else RouteState.ONPREM
            wanted = previous_state(registry.history(p.key), job.wave)
            outcomes[p.key] = UserOutcome(p.key, now.value, wanted.value)
            history = registry.history(p.key)
            if any(r.wave == job.wave and r.state == RouteState.CLOUD for r in history):
                back.append(p)  # mail may have reached the cloud: copy it back
        if job.dry_run:
            report.users = list(outcomes.values())
            report.steps = ["dry-run: nothing copied, no route changed"]
            return report
        ids = units.queue(run_id, "cutover", [p.key for p in job.pairs])
        for p in job.pairs:
            units.start(ids[p.key])
        job.on_step("flip")
        for p in job.pairs:
            registry.set(
                [p.key], outcomes[p.key].after, wave=job.wave, run_id=run_id, actor=job.actor,
                reason=f"rollback of wave {job.wave}",
            )  # fmt: skip
        report.maps_changed, _ = write_routes(job.routing, registry.all_current(), job.everyone)
        unrestored: dict[str, str] = {}
        if job.routing.directory is not None:
            unrestored = restore_routes(
                job.routing.directory, registry, [p.key for p in job.pairs], job.wave
            )
        report.steps.append("flip")
        # reverse delta: the mail that reached the cloud while the wave lived there
        job.on_step("reverse-delta")
        reverse = mail_delta(job, back, store, reverse=True)
        report.stopped = job.stop.is_set()  # routes restored; the rerun copies the rest back
        dav_late, dav_back = (
            ({}, {})
            if report.stopped
            else dav_delta(job.dav, back, job.state, job.settings.parallel, reverse=True)
        )
        report.steps.append("reverse-delta")
        late = failed(reverse)
        for p in job.pairs:
            o = outcomes[p.key]
            o.copied = copied(reverse, p.key)
            o.dav_copied = dav_back.get(p.key, 0)
            if p.key in late:
                o.reason = f"reverse delta: {late[p.key]} (rerun rollback)"
            elif p.key in dav_late:
                o.reason = f"reverse delta: {dav_late[p.key]} (rerun rollback)"
            if p.key in unrestored:
                o.reason = f"{unrestored[p.key]} (rerun rollback)"
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
