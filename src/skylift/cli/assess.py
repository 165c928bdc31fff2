"""``skylift assess`` (inventory + blockers + hours) and ``skylift plan`` (waves.csv)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from skylift.cli.common import envelope, print_json
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.mail_sides import admin_password
from skylift.cli.mail_sides import endpoint as source_endpoint
from skylift.cli.options import (
    DEFAULT_PARALLEL,
    DEFAULT_TIMEOUT,
    AllowPlaintextOpt,
    BrokerOpt,
    InsecureSourceOpt,
    JsonOpt,
    ParallelOpt,
    RunnerOpt,
    SourceAdminPasswordFileOpt,
    SourceCaOpt,
    TimeoutOpt,
    WaitOpt,
)
from skylift.connectors.endpoint import Endpoint
from skylift.engine.assess.estimate import parse_bandwidth
from skylift.engine.assess.files import UserSummary, read_assessment
from skylift.engine.assess.summary import kind_label
from skylift.engine.assess.waves import parse_window, plan_waves
from skylift.engine.assess.waves_csv import (
    not_assessed,
    plan_to_dict,
    plan_users,
    read_measured_rates,
    write_waves_csv,
)
from skylift.engine.profiles import TargetProfile, load_profile
from skylift.engine.users import load_users
from skylift.errors import EXIT_INTERRUPTED, EXIT_OK, ConfigError, ConnectError
from skylift.model.account import MailboxPair
from skylift.model.units import human_bytes
from skylift.runners.assess import run_assessment
from skylift.runners.mail import RunSettings
from skylift.state.store import StateStore


def assess(
    source: Annotated[
        str, typer.Option("--source", help="Source server URL, e.g. imaps://mail.example.com")
    ],
    users: Annotated[
        Path, typer.Option("--users", help="Users CSV (EmailAddress,UserName,Password)")
    ],
    target_profile: Annotated[
        str,
        typer.Option(
            "--target-profile",
            help="microsoft365, google-workspace, generic-imap, or a path to your own .toml",
        ),
    ] = "microsoft365",
    bandwidth: Annotated[
        str | None, typer.Option("--bandwidth", help="Link speed, e.g. 100Mbit")
    ] = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Time a real download of a few MB")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for assessment.json/.csv/.html")
    ] = Path("report"),
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    connections: Annotated[
        int,
        typer.Option("--connections", min=1, help="Connections per mailbox the migration will use"),
    ] = 1,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Column for 'data per' chart")
    ] = None,
    source_admin: Annotated[
        str | None,
        typer.Option(
            "--source-admin", help="Proxy login; password in $SKYLIFT_SOURCE_ADMIN_PASSWORD"
        ),
    ] = None,
    source_admin_password_file: SourceAdminPasswordFileOpt = None,
    source_ca: SourceCaOpt = None,
    insecure_source: InsecureSourceOpt = False,
    allow_plaintext: AllowPlaintextOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    as_json: JsonOpt = False,
    runner: RunnerOpt = "local",
    broker: BrokerOpt = None,
    wait: WaitOpt = False,
    state: Annotated[
        str | None, typer.Option("--state", help="--runner celery: the shared database URL")
    ] = None,
) -> int:
    """Inventory every mailbox read-only and check it against the target's limits."""
    params = dict(locals())
    if runner == "local" and (broker is not None or wait or state is not None):
        raise ConfigError("--broker, --wait and --state go with --runner celery")
    profile, pairs, endpoint = prepare_assessment(params)
    rate = parse_bandwidth(bandwidth) if bandwidth else None
    read_inventory = None
    if runner != "local":
        from skylift.cli.assess_celery import assess_on_workers

        read_inventory = assess_on_workers(params, pairs)
    meta = {
        "source": {"url": endpoint.display(), "users_csv": str(users.resolve())},
    }
    show = not as_json and sys.stderr.isatty()
    with Progress(
        TextColumn("assess"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        disable=not show,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=len(pairs))

        def progress(done: int, total: int, summary: UserSummary) -> None:
            bar.update(task, completed=done, description=summary.key)

        stop = threading.Event()
        with graceful_stop(stop):
            head = run_assessment(
                endpoint,
                pairs,
                profile,
                out,
                bandwidth=rate,
                probe=probe,
                parallel=parallel,
                connections=connections,
                group_by=group_by,
                meta=meta,
                progress=progress,
                stop=stop,
                read_inventory=read_inventory,
            )
    totals = head["totals"]
    if stop.is_set():
        totals["not_assessed"] = head["not_assessed"]
    if totals["users"] and not totals["users_ok"] and not stop.is_set():
        raise ConnectError(
            f"no mailbox could be read from {endpoint.display()}; "
            f"see {out / 'assessment.csv'} for each user's error"
        )
    if as_json:
        print_json(
            envelope(
                "assess",
                totals,
                [],  # every user's row is in assessment.json/.csv
                out=str(out),
                profile=profile.name,
                probe=head.get("probe"),
                rates=head["rates"],
                verdict=head["verdict"],
            )
        )
        return _stopped(stop, head, len(pairs))
    print(head["verdict"]["headline"])
    for line in head["verdict"]["to_fix"]:
        print(f"  - {line}")
    sev = totals["findings_by_severity"]
    print(
        f"{totals['users']} mailboxes ({totals['users_failed']} unreadable), "
        f"{human_bytes(totals['bytes'])} in {totals['items']} items; "
        f"{sev.get('blocker', 0)} blockers, {sev.get('warning', 0)} warnings"
    )
    print(f"estimated {totals['hours']:.1f} h (bound by {totals['hours_bound']})")
    for kind, count in totals["findings_by_kind"].items():
        print(f"  {kind_label(kind)}: {count}")
    print(f"report: {out / 'assessment.html'} (every item: {out / 'findings.csv'})")
    return _stopped(stop, head, len(pairs))


def prepare_assessment(p: dict[str, Any]) -> tuple[TargetProfile, list[MailboxPair], Endpoint]:
    """The profile, the users and the source endpoint of assess's options *p* (by name): the
    same on the client and on a ``skylift worker``, each reading passwords on its machine."""
    admin, admin_file = p["source_admin"], p["source_admin_password_file"]
    pairs = load_users(
        p["users"],
        source_admin=admin,
        source_admin_password=admin_password("source", admin, admin_file),
    )
    endpoint = source_endpoint(
        p["source"], p["source_ca"], p["insecure_source"], p["allow_plaintext"], p["timeout"]
    )
    return load_profile(p["target_profile"]), pairs, endpoint


def _stopped(stop: threading.Event, head: dict[str, Any], total: int) -> int:
    """After Ctrl-C: the report is partial; say how partial and how to finish."""
    if not stop.is_set():
        return EXIT_OK
    done = total - int(head["not_assessed"])
    print_resume_hint(f"the report covers {done} of {total} mailboxes; rerun to assess them all")
    return EXIT_INTERRUPTED


def plan(
    assessment: Annotated[Path, typer.Option("--assessment", help="assessment.json from assess")],
    window: Annotated[str, typer.Option("--window", help="e.g. 'Sat 20:00-Mon 06:00' or '30h'")],
    waves: Annotated[
        int | None,
        typer.Option("--wave-count", "--waves", min=1, help="Exactly this many waves"),
    ] = None,
    max_hours: Annotated[
        float | None, typer.Option("--max-hours", help="Longest wave in hours")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Keep this column's groups together")
    ] = None,
    first: Annotated[
        list[str] | None, typer.Option("--first", help="User, group value or column for wave 1")
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            help="Mailboxes migrated at once (default: what migrate runs, 4, within the profile's cap)",
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="State store of a pilot migration: its measured rates win"),
    ] = None,
    measured_rates: Annotated[
        Path | None, typer.Option("--measured-rates", help="CSV user,bytes_per_second from a pilot")
    ] = None,
    users: Annotated[
        Path | None, typer.Option("--users", help="Users CSV (default: the assessed one)")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="waves.csv to write")] = Path("waves.csv"),
    as_json: JsonOpt = False,
) -> None:
    """Split users into waves that fit the cut-over window; write waves.csv."""
    if waves is not None and max_hours is not None:
        raise ConfigError("give --wave-count or --max-hours, not both")
    data = read_assessment(assessment)
    hours = parse_window(window)
    firsts = [part for item in first or [] for part in item.split(",")]
    measured = read_measured_rates(measured_rates) if measured_rates else {}
    if state:
        if "://" not in state and not Path(state).is_file():
            raise ConfigError(f"state store {state} not found")
        store = StateStore(state)
        try:
            measured.update(store.measured_rates())
        finally:
            store.close()
    people = plan_users(data, group_by=group_by, first=firsts, measured=measured)
    left_out = not_assessed(data)
    cap = int((data.get("rates") or {}).get("concurrency") or 0)
    lanes = parallel or (min(RunSettings.parallel, cap) if cap else RunSettings.parallel)
    result = plan_waves(people, window_hours=hours, waves=waves, max_hours=max_hours, lanes=lanes)
    users_csv = users or Path(str((data.get("source") or {}).get("users_csv") or ""))
    if not str(users_csv) or not users_csv.is_file():
        raise ConfigError(f"users CSV {users_csv} not found; pass --users")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: folder {out.parent} does not exist")
    rows = write_waves_csv(users_csv, result, out)
    summary = plan_to_dict(result, left_out)
    summary["out"] = str(out)
    summary["rows"] = rows
    if as_json:
        waves_out = summary.pop("waves")
        totals = {
            "waves": len(waves_out),
            "users": sum(len(w["users"]) for w in waves_out),
            "hours": round(sum(w["hours"] for w in waves_out), 3),
            "bytes": sum(w["bytes"] for w in waves_out),
        }
        print_json(envelope("plan", totals, waves_out, **summary))
        return
    print(
        f"{len(result.waves)} waves for a {hours:.1f} h window, {lanes} mailboxes at a time "
        f"(rates: {', '.join(f'{k} {v}' for k, v in sorted(result.rate_sources.items()))})"
    )
    for wave in summary["waves"]:
        print(
            f"  wave {wave['wave']}: {len(wave['users'])} users, {human_bytes(wave['bytes'])}, "
            f"{wave['hours']:.1f} h"
        )
    for item in summary["oversize"]:
        print(f"  oversize: {item['advice']}")
    for number in result.overrun:
        print(f"  warning: wave {number} does not fit the window")
    for group in result.split_groups:
        print(f"  note: group {group} is too big for one wave and was split")
    if result.fewer_waves_reason:
        print(f"  note: {result.fewer_waves_reason}")
    for key, status in sorted(left_out.items()):
        print(f"  warning: {key} is in no wave (assessment: {status}); fix it and assess again")
    print(f"wrote {out} ({rows} users)")


def register(app: typer.Typer) -> None:
    """Add ``assess`` and ``plan`` to *app*."""
    app.command("assess")(assess)
    app.command("plan")(plan)
