"""``assess --runner celery``: the mailboxes are read on ``skylift worker`` processes, the
report is written here.

Each mailbox is one ``assess`` unit: the worker rebuilds the users and the source from the
task's references (cli/mail_celery.py's recipe: no password on the broker), takes the
inventory read-only and stores it in the shared state (state/inventories.py). The report needs
every user at once (totals, verdict, the waves `plan` makes from it), so this client waits for
the run (``--wait`` is required) and then writes assessment.json/.csv/.html from the stored
inventories with the same checks and estimates as a local run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from skylift.cli.mail_celery import (
    check_broker,
    check_celery_run,
    options_of,
    ping_broker,
    task_spec,
)
from skylift.connectors import mail_connector
from skylift.engine.assess.inventory import MailboxInventory
from skylift.errors import ConfigError
from skylift.model.account import MailboxPair
from skylift.runners.assess import inventory_user
from skylift.runners.celery_app import UnitContext, make_app, submit, wait
from skylift.state.inventories import Inventories
from skylift.state.work_units import WorkUnits, new_run_id


def assess_on_workers(
    params: dict[str, Any], pairs: list[MailboxPair]
) -> Callable[[int], MailboxInventory]:
    """Queue one unit per mailbox, wait for all, and return index -> the inventory read."""
    if not params["wait"]:
        raise ConfigError(
            "assess --runner celery needs --wait: the report is written here from every "
            "mailbox's inventory once the workers have read them all"
        )
    if params["state"] is None:
        raise ConfigError("--runner celery needs --state postgresql+psycopg://… (shared by all)")
    check_celery_run({**params, "dry_run": False})
    broker = check_broker(params["broker"])
    app = make_app(broker)
    ping_broker(app, broker)
    spec = task_spec({**params, "out": None, "as_json": False})
    units = WorkUnits(str(params["state"]))
    try:
        run = new_run_id("assess")
        ids = submit(app, units, run, "assess", {p.key: spec for p in pairs})
        print(f"queued {len(pairs)} mailboxes as run {run}; waiting for the workers",
              file=sys.stderr)  # fmt: skip
        rows = {r.key: r for r in wait(units, run)}
        stored = Inventories(units.engine).of_units(list(ids.values()))
    finally:
        units.close()

    def read(index: int) -> MailboxInventory:
        pair = pairs[index]
        found = stored.get(ids[pair.key])
        if found is not None:
            return MailboxInventory.from_dict(found)
        row = rows.get(pair.key)
        why = (row.last_error if row else None) or (row.state if row else "not run")
        return MailboxInventory(pair.key, pair.source.user, error=f"no worker read it: {why}",
                                error_kind="read")  # fmt: skip

    return read


def run_assess_unit(spec: dict[str, Any], ctx: UnitContext) -> None:
    """The worker's handler: read one mailbox, store its inventory, end the unit."""
    from skylift.cli.assess import prepare_assessment

    profile, pairs, endpoint = prepare_assessment(options_of(spec))
    pair = next((p for p in pairs if p.key == ctx.key), None)
    if pair is None:
        raise ConfigError(f"{ctx.key} is not in this worker's copy of the users file")
    inventory = inventory_user(mail_connector(endpoint), pair, profile.value("max_item_bytes"))
    Inventories(ctx.units.engine).save(ctx.unit_id, pair.key, inventory.to_dict())
    ctx.units.finish(
        ctx.unit_id, "failed" if inventory.error else "done", items=inventory.count,
        nbytes=inventory.total_bytes, error=inventory.error,
    )  # fmt: skip
