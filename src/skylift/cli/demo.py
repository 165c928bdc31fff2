"""``skylift demo``: two real local Dovecot servers, a sample organization, a full migration.

Shows a new user the whole loop — migrate, verify, rerun (nothing copied) — on their own
machine in under a minute, with the same code paths a real migration takes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from skylift.cli.render import print_run_summary, print_verify
from skylift.connectors.base import Endpoint
from skylift.demo.dovecot import DovecotServer
from skylift.demo.organization import PEOPLE, demo_messages, fill_mailbox
from skylift.engine.migrate import MigrateOptions
from skylift.engine.users import load_users
from skylift.errors import EXIT_ITEMS_FAILED, EXIT_OK, ConfigError
from skylift.runners.local import RunSettings, migrate_all, verify_all
from skylift.state.store import StateStore

console = Console(stderr=True)


def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="Keep servers' data and the state file here")
    ] = None,
    messages: Annotated[int, typer.Option(min=1, help="Messages per mailbox")] = 120,
) -> int:
    """Start two local Dovecot servers, fill one with a sample organization, migrate, verify."""
    root = workdir or Path(tempfile.mkdtemp(prefix="skylift-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    users = {name: f"{name}-old-pw" for name, _ in PEOPLE}
    targets = {f"{name}@new.example": f"{name}-new-pw" for name, _ in PEOPLE}
    console.print(f"[bold]skylift demo[/bold] in {root}")
    source = DovecotServer(root / "old-mail-server", users=users, separator=".")
    target = DovecotServer(
        root / "cloud-suite",
        users=targets,
        separator="/",
        special_use_autocreate=True,
        quota_max_mail_size="25M",
    )
    try:
        source.start()
        target.start()
    except RuntimeError as exc:
        raise ConfigError(f"cannot start the demo servers: {exc}") from None
    try:
        console.print(
            f"source (on-prem style, '.' separator): {source.imap_url()}\n"
            f"target (hosted style, '/' separator, special folders): {target.imap_url()}"
        )
        for name, password in users.items():
            fill_mailbox(source.imap_port, name, password, demo_messages(name, messages), ".")
        csv = root / "users.csv"
        csv.write_text(
            "EmailAddress,UserName,Password,TargetPassword\n"
            + "".join(f"{n}@new.example,{n},{p},{n}-new-pw\n" for n, p in users.items())
        )
        console.print(f"filled {len(users)} mailboxes; users file: {csv}")
        pairs = load_users(csv)
        src, dst = Endpoint.parse(source.imap_url()), Endpoint.parse(target.imap_url())
        store = StateStore(root / "skylift.db")
        try:
            settings = RunSettings(parallel=3)
            run = migrate_all(pairs, src, dst, store, MigrateOptions(), settings, lambda *_: None)
            print_run_summary(run)
            reports = verify_all(pairs, src, dst, store, MigrateOptions(), settings, deep=True)
            print_verify(reports)
            rerun = migrate_all(pairs, src, dst, store, MigrateOptions(), settings, lambda *_: None)
            t = rerun.totals()
            console.print(
                f"rerun: {t['copied']} copied, {t['already_there']} already there "
                f"in {rerun.seconds:.2f}s — reruns only move what is new"
            )
        finally:
            store.close()
        ok = run.ok and all(r.ok for r in reports) and rerun.totals()["copied"] == 0
        console.print(
            "[green]demo finished: every message arrived byte for byte[/green]"
            if ok
            else "[red]demo finished with differences (see above)[/red]"
        )
        console.print(
            "try it yourself: skylift migrate --source <old> --target <new> --users users.csv"
        )
        return EXIT_OK if ok else EXIT_ITEMS_FAILED
    finally:
        source.cleanup()
        target.cleanup()


def register(app: typer.Typer) -> None:
    """Add ``demo``."""
    app.command()(demo)
