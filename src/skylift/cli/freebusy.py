"""``skylift freebusy publish``: each user's busy times from one side written into the other,
so people on either side of a coexisting move can schedule each other (docs/calendars.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from skylift.cli.common import envelope, parse_duration, print_json
from skylift.cli.dav_sides import AdminOpt, UserOpt, UsersOpt, account_pairs, dav_sides
from skylift.cli.options import (
    AllowPlaintextOpt,
    DryRunOpt,
    InsecureSourceOpt,
    InsecureTargetOpt,
    JsonOpt,
    SourceCaOpt,
    TargetCaOpt,
)
from skylift.errors import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    ConfigError,
)
from skylift.model.dav import DavKind
from skylift.runners.davsync import (
    check_schemes,
    open_source,
    open_target,
)
from skylift.runners.davsync_freebusy import FreeBusyReport, publish


def freebusy_publish(
    source: Annotated[str, typer.Option("--source", help="caldav+https://… to read events")],
    target: Annotated[str, typer.Option("--target", help="caldav+https://… to write busy")],
    users: UsersOpt = None,
    user: UserOpt = None,
    weeks: Annotated[int, typer.Option(min=1, help="How far ahead")] = 8,
    label: Annotated[str, typer.Option(help="Title of the busy blocks")] = "Busy",
    every: Annotated[
        str | None,
        typer.Option(help="Repeat at this interval, e.g. 30m or 2h (default: once, for cron)"),
    ] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    vfreebusy_out: Annotated[
        str | None,
        typer.Option(
            "--vfreebusy-out",
            help="Also write each user's VFREEBUSY here: a folder (USER.ifb) or a path with {user}",
        ),
    ] = None,
    source_admin: AdminOpt = None,
    target_admin: AdminOpt = None,
    allow_plaintext: AllowPlaintextOpt = False,
    source_ca: SourceCaOpt = None,
    target_ca: TargetCaOpt = None,
    insecure_source: InsecureSourceOpt = False,
    insecure_target: InsecureTargetOpt = False,
) -> int:
    """Write each user's busy times (next N weeks) from one side into the other."""
    interval = parse_duration(every, "--every").total_seconds() if every else 0.0
    src, dst = dav_sides(
        source, target, allow_plaintext, source_ca, target_ca, insecure_source, insecure_target
    )
    if src.endpoint().scheme not in ("caldav+https", "caldav+http"):
        raise ConfigError("--source must be caldav+https:// (or caldav+http:// locally)")
    check_schemes(DavKind.CALENDAR, src, dst)
    pairs = account_pairs(users, user, source_admin, target_admin)
    out_files = {p.key: vfreebusy_path(vfreebusy_out, p.key, len(pairs)) for p in pairs}
    while True:
        reports: list[FreeBusyReport] = []
        for pair in pairs:
            with (
                open_source(src, DavKind.CALENDAR, pair.source) as reader,
                open_target(dst, DavKind.CALENDAR, pair.target) as writer,
            ):
                reports.append(
                    publish(
                        reader,
                        writer,
                        pair.key,
                        weeks,
                        label,
                        dry_run,
                        vfreebusy_out=out_files[pair.key],
                    )
                )
        if json_out:
            items = [r.to_json() for r in reports]
            print_json(
                envelope("freebusy publish", {"accounts": len(items)}, items, dry_run=dry_run)
            )
        else:
            for r in reports:
                print(
                    f"{r.account}: {len(r.busy)} busy period(s); "
                    f"{r.created} block(s) added, {r.deleted} removed"
                )
                if r.calendar_url:
                    print(f"  calendar: {r.calendar_url}")
                if r.vfreebusy_file:
                    print(f"  VFREEBUSY: {r.vfreebusy_file}")
                for problem in r.failed:
                    print(f"  failed {problem}")
        if not interval:
            return EXIT_ITEMS_FAILED if any(r.failed for r in reports) else EXIT_OK
        time.sleep(interval)


def vfreebusy_path(template: str | None, account: str, accounts: int) -> Path | None:
    """Where *account*'s VFREEBUSY goes: ``{user}`` filled in, or ``FOLDER/ACCOUNT.ifb``."""
    if template is None:
        return None
    if "{user}" in template:
        path = Path(template.replace("{user}", account))
    elif Path(template).is_dir():
        path = Path(template) / f"{account}.ifb"
    elif accounts == 1:
        path = Path(template)
    else:
        raise ConfigError("--vfreebusy-out for several users wants a folder or a path with {user}")
    if not path.parent.is_dir():
        raise ConfigError(f"--vfreebusy-out: folder does not exist: {path.parent}")
    return path


def register(app: typer.Typer) -> None:
    """Add ``freebusy publish``."""
    freebusy = typer.Typer(help="Free/busy during coexistence.", no_args_is_help=True)
    freebusy.command("publish")(freebusy_publish)
    app.add_typer(freebusy, name="freebusy")
