"""``migrate-calendars|-contacts --runner celery``: one work unit per account on the workers.

The same recipe as mail (cli/mail_celery.py): the client checks the options and lists the
accounts, each task carries the command's options as references, and the worker rebuilds the
run on its own machine (:func:`run_dav_unit`), reading the passwords there, with the DAV
ledger in the shared store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skylift.cli.mail_celery import check_celery_run, options_of, queue_on_workers, task_spec
from skylift.errors import ConfigError
from skylift.model.dav import DavKind
from skylift.runners.celery_app import UnitContext
from skylift.runners.davsync import migrate_accounts
from skylift.state.dav_ledger import DavLedger


def _names(kind: DavKind) -> tuple[str, str]:
    return ("calendars", "migrate-calendars") if kind is DavKind.CALENDAR else (
        "contacts", "migrate-contacts")  # fmt: skip


def migrate_accounts_on_workers(kind: DavKind, params: dict[str, Any]) -> int:
    from skylift.cli.dav_sides import default_export_dir, prepare_dav

    check_celery_run(params)
    # where the originals of changed objects go: decided here, the same folder on every worker
    params = {**params, "export_dir": params["export_dir"] or default_export_dir(params["state"])}
    spec = task_spec(params)
    _, _, pairs, _ = prepare_dav(kind, {**options_of(spec), "state": params["state"]})
    unit_kind, command = _names(kind)
    return queue_on_workers(unit_kind, command, params, spec, [p.key for p in pairs])


def run_dav_unit(kind: DavKind) -> Callable[[dict[str, Any], UnitContext], None]:
    """The worker's handler for one calendars or contacts account."""

    def run(spec: dict[str, Any], ctx: UnitContext) -> None:
        from skylift.cli.dav_sides import prepare_dav

        src, dst, pairs, options = prepare_dav(kind, options_of(spec))
        pairs = [p for p in pairs if p.key == ctx.key]
        if not pairs:
            raise ConfigError(f"{ctx.key} is not in this worker's copy of the users file")
        options.stop = ctx.stop
        ledger = DavLedger(ctx.units.engine.url.render_as_string(hide_password=False))
        try:
            for _ in migrate_accounts(
                pairs, src, dst, ledger, options, claimed=(ctx.units, {ctx.key: ctx.unit_id})
            ):
                pass  # recorded in the unit's row
        finally:
            ledger.close()

    return run
