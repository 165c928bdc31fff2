"""``skylift demo``: two real local Dovecot servers, a sample organization, a full migration.

Shows a new user the whole loop — migrate, verify, rerun (nothing copied) — on their own
machine in under a minute, with the same code paths a real migration takes. With ``--keep``
the servers stay up and the user gets commands to paste; ``--stop`` ends them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from skylift.cli.render import print_run_summary, print_verify
from skylift.connectors.endpoint import Endpoint
from skylift.demo.dovecot import DovecotServer
from skylift.demo.organization import PEOPLE, demo_messages, fill_mailbox
from skylift.engine.mail.sync import MigrateOptions
from skylift.engine.users import load_users
from skylift.errors import EXIT_ITEMS_FAILED, EXIT_OK, ConfigError
from skylift.runners.mail import RunSettings, migrate_all, verify_all
from skylift.state.store import StateStore

console = Console(stderr=True)
KEPT_DIR = Path("skylift-demo")
SERVERS_FILE = "demo-servers.json"


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option(help="Servers' data, users file and state file (--keep: ./skylift-demo)"),
    ] = None,
    messages: Annotated[int, typer.Option(min=1, help="Messages per mailbox")] = 120,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the servers running and print commands to try")
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop the servers a 'demo --keep' left running")
    ] = False,
) -> int:
    """Start two local Dovecot servers, fill one with a sample organization, migrate, verify."""
    if stop:
        return stop_kept(workdir or KEPT_DIR)
    if keep:
        workdir = workdir or KEPT_DIR
        if running_pids(workdir):
            raise ConfigError(
                f"a demo is already running in {workdir}; stop it first: "
                f"skylift demo --stop --workdir {workdir}"
            )
    root = workdir or Path(tempfile.mkdtemp(prefix="skylift-demo-"))
    # Dovecot's sockets live under the workdir; a unix socket path holds at most 107 bytes.
    longest = root.resolve() / "old-mail-server" / "run" / "token-login" / "imap-urlauth"
    if len(str(longest)) > 107:
        raise ConfigError(
            f"--workdir {root}: path too long for the servers' sockets; use a shorter one"
        )
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
        if keep:
            record_kept(root, source, target)
            print_commands(root, source.imap_url(), target.imap_url())
        else:
            console.print(
                "the demo servers are gone now; 'skylift demo --keep' leaves them running "
                "and prints commands to try against them"
            )
        return EXIT_OK if ok else EXIT_ITEMS_FAILED
    finally:
        if not keep:
            source.cleanup()
            target.cleanup()


def _master_pid(server: DovecotServer) -> int:
    """Dovecot's own pid file: the master, whose exit takes its children with it."""
    return int((server.root / "run" / "master.pid").read_text().split()[0])


def record_kept(root: Path, source: DovecotServer, target: DovecotServer) -> None:
    servers = {
        "source": {"url": source.imap_url(), "pid": _master_pid(source)},
        "target": {"url": target.imap_url(), "pid": _master_pid(target)},
    }
    (root / SERVERS_FILE).write_text(json.dumps(servers, indent=1) + "\n")


def running_pids(root: Path) -> list[int]:
    """Pids of a kept demo's servers that are still alive."""
    try:
        servers = json.loads((root / SERVERS_FILE).read_text())
    except (OSError, ValueError):
        return []
    alive = []
    for server in servers.values():
        try:
            os.kill(int(server["pid"]), 0)
        except (OSError, KeyError, TypeError, ValueError):
            continue
        alive.append(int(server["pid"]))
    return alive


def stop_kept(root: Path) -> int:
    """Stop what ``demo --keep`` left in *root*: TERM, then KILL after five seconds."""
    pids = running_pids(root)
    if not pids:
        (root / SERVERS_FILE).unlink(missing_ok=True)
        raise ConfigError(f"no demo servers are running in {root}")
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while running_pids(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in running_pids(root):
        os.kill(pid, signal.SIGKILL)
    (root / SERVERS_FILE).unlink(missing_ok=True)
    console.print(f"stopped the demo servers in {root} (their data stays there)")
    return EXIT_OK


def print_commands(root: Path, source: str, target: str) -> None:
    """Ready-to-paste commands against the kept servers, in the order an admin runs them."""
    ends = f"--source {source} --target {target}"
    prog = sys.argv[0] if Path(sys.argv[0]).name == "skylift" else "skylift"
    users, state, report = root / "users.csv", root / "skylift.db", root / "report"
    lines = [
        "# the servers are still running; try:",
        f"{prog} assess --source {source} --users {users} --target-profile microsoft365 "
        f"--out {report}",
        f"{prog} plan --assessment {report}/assessment.json --window 'Sat 20:00-Mon 06:00' "
        f"--users {users} --out {root}/waves.csv",
        f"{prog} migrate {ends} --waves {root}/waves.csv --wave 1 --state {state}",
        f"{prog} migrate {ends} --users {users} --state {state} --dry-run",
        f"{prog} verify {ends} --users {users} --state {state} --deep",
        "# calendars, contacts and the directory: docs/calendars.md, docs/dirsync.md",
        f"{prog} demo --stop --workdir {root}",
    ]
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``demo``."""
    app.command()(demo)
