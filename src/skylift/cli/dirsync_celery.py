"""``dirsync --runner celery``: the directory sync as one work unit on a ``skylift worker``.

A directory pair is one unit (its plan needs the whole source); running it on a worker puts
it beside the mailboxes, with its journal in the shared store and the bind password and
tokens read from the worker's environment and files (cli/mail_celery.py's recipe).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from skylift.cli.mail_celery import check_celery_run, options_of, queue_on_workers, task_spec
from skylift.runners.celery_app import UnitContext
from skylift.runners.dirsync import pair_name, run_once


def dirsync_on_workers(params: dict[str, Any]) -> int:
    from skylift.cli.dirsync import prepare_dirsync

    check_celery_run(params)
    spec = task_spec({**params, "as_json": False})
    options = prepare_dirsync({**options_of(spec), "state": params["state"]})
    return queue_on_workers("directory", "dirsync", {**params, "json_out": params["as_json"]},
                            spec, [pair_name(options)])  # fmt: skip


def run_dirsync_unit(spec: dict[str, Any], ctx: UnitContext) -> None:
    """The worker's handler: one preview or apply, recorded in the claimed unit."""
    from skylift.cli.dirsync import prepare_dirsync

    state = ctx.units.engine.url.render_as_string(hide_password=False)
    options = replace(prepare_dirsync({**options_of(spec), "state": state}), stop=ctx.stop)
    run_once(options, claimed=(ctx.units, ctx.unit_id))
