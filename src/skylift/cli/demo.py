"""``skylift demo``: two real local Dovecot servers, a sample organization, a full migration.

Shows a new user the whole loop — migrate, verify, rerun (nothing copied) — on their own
machine in under a minute, with the same code paths a real migration takes. An on-prem
Postfix (unpacked privately, never installed) takes the organization's mail and delivers it to
the old server by LMTP, the new one taking moved users' mail by LMTP as the "cloud": on the
kept demo ``cutover`` and ``rollback`` really move where mail lands. With ``--keep`` the
servers stay up and the user gets commands to paste; ``--stop`` ends them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
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
from skylift.demo.lmtp_dovecot import LmtpDovecot
from skylift.demo.onprem_mta import master_pid, start_onprem_mta
from skylift.demo.organization import (
    PEOPLE,
    demo_messages,
    fill_mailbox,
    public_folder_messages,
)
from skylift.demo.postfix import PostfixServer
from skylift.engine.mail.sync import MigrateOptions
from skylift.engine.users import load_users
from skylift.errors import EXIT_ITEMS_FAILED, EXIT_OK, ConfigError
from skylift.model.account import Login, Secret
from skylift.runners.library import LibraryRun, migrate_public_folders
from skylift.runners.mail import RunSettings, migrate_all, verify_all
from skylift.state.store import StateStore

console = Console(stderr=True)
KEPT_DIR = Path("skylift-demo")
SERVERS_FILE = "demo-servers.json"
ENV_FILE = "demo.env"
DOMAIN = "new.example"


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
    mta: Annotated[
        bool,
        typer.Option("--mta/--no-mta", help="Start the on-prem Postfix that routes the mail"),
    ] = True,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            help="Migrate now; --no-migrate (with --keep) leaves two waves for 'skylift web'",
        ),
    ] = True,
) -> int:
    """Start two local Dovecot servers, fill one with a sample organization, migrate, verify."""
    if stop:
        return stop_kept(workdir or KEPT_DIR)
    if not migrate and not keep:
        raise ConfigError("--no-migrate leaves the waves for later: give --keep too")
    if keep:
        workdir = workdir or KEPT_DIR
        if running_pids(workdir):
            raise ConfigError(
                f"a demo is already running in {workdir}; stop it first: "
                f"skylift demo --stop --workdir {workdir}"
            )
    # Absolute: Dovecot and Postfix are given paths under it and run from elsewhere.
    root = (workdir or Path(tempfile.mkdtemp(prefix="skylift-demo-"))).absolute()
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
    # The old server's logins have no domain: LMTP delivers alice@new.example to "alice".
    source = LmtpDovecot(
        root / "old-mail-server", users=users, separator=".", lmtp_local_part=True,
        public_namespace="Public",
    )  # fmt: skip
    target = LmtpDovecot(
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
        source.cleanup()
        raise ConfigError(f"cannot start the demo servers: {exc}") from None
    postfix: PostfixServer | None = None
    try:
        console.print(
            f"source (on-prem style, '.' separator): {source.imap_url()}\n"
            f"target (hosted style, '/' separator, special folders): {target.imap_url()}"
        )

        for name, password in users.items():
            fill_mailbox(source.imap_port, name, password, demo_messages(name, messages), ".")
        first, first_pw = next(iter(users.items()))
        fill_mailbox(source.imap_port, first, first_pw, public_folder_messages(), ".")
        csv = root / "users.csv"
        csv.write_text(
            "EmailAddress,UserName,Password,TargetPassword\n"
            + "".join(f"{n}@new.example,{n},{p},{n}-new-pw\n" for n, p in users.items())
        )
        console.print(f"filled {len(users)} mailboxes; users file: {csv}")
        if mta:
            postfix = start_mta(source, target, root / "skylift.db")
        if not migrate:
            write_waves(root)
            record_kept(root, source, target, postfix)
            print_lines(dashboard_commands(root, source, target))
            return EXIT_OK
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
        library = root / "document-library"
        library.mkdir(exist_ok=True)
        public = migrate_public_folders(
            LibraryRun(
                src, Endpoint.parse(library.as_uri().replace("file:", "folder:")),
                Login(first, Secret(first_pw)), Login(""), str(root / "skylift.db"),
            )
        )  # fmt: skip
        console.print(
            f"public folders: {sum(r.copied + r.already for r in public)} messages in "
            f"{len(public)} folders -> {library} (.eml files, index.html per folder)"
        )
        ok = run.ok and all(r.ok for r in reports) and rerun.totals()["copied"] == 0
        ok = ok and not any(r.failed for r in public)
        console.print(
            "[green]demo finished: every message arrived byte for byte[/green]"
            if ok
            else "[red]demo finished with differences (see above)[/red]"
        )
        if keep:
            record_kept(root, source, target, postfix)
            print_commands(root, source, target, postfix)
        else:
            console.print(
                "the demo servers are gone now; 'skylift demo --keep' leaves them running "
                "and prints commands to try against them"
            )
        return EXIT_OK if ok else EXIT_ITEMS_FAILED
    finally:
        if not keep:
            if postfix is not None:
                postfix.stop()
            source.cleanup()
            target.cleanup()


def write_waves(root: Path) -> Path:
    """waves.csv as 'skylift plan' writes it: the first three people in wave 1, the rest 2."""
    lines = (root / "users.csv").read_text().splitlines()
    rows = [f"{line},{1 if i < 3 else 2},3" for i, line in enumerate(lines[1:])]
    waves = root / "waves.csv"
    waves.write_text("\n".join([lines[0] + ",Wave,Parallel", *rows]) + "\n")
    return waves


def dashboard_commands(root: Path, source: LmtpDovecot, target: LmtpDovecot) -> list[str]:
    """What to paste to watch the demo's waves migrate on the dashboard (docs/dashboard.md)."""
    prog = sys.argv[0] if Path(sys.argv[0]).name == "skylift" else "skylift"
    state = root / "skylift.db"
    return [
        "# nothing is migrated yet; watch it happen on the dashboard (docs/dashboard.md):",
        f"{prog} web adduser admin --role admin --state {state}",
        f"{prog} web adduser manager --role viewer --state {state}",
        f"{prog} web --state {state} --waves {root / 'waves.csv'} "
        f"--source {source.imap_url()} --target {target.imap_url()}",
        "# open http://127.0.0.1:8080/, log in as admin, press Start on wave 1",
        f"{prog} demo --stop --workdir {root}",
    ]


def _master_pid(server: DovecotServer) -> int:
    """Dovecot's own pid file: the master, whose exit takes its children with it."""
    return int((server.root / "run" / "master.pid").read_text().split()[0])


def record_kept(
    root: Path, source: LmtpDovecot, target: LmtpDovecot, postfix: PostfixServer | None
) -> None:
    """Write what ``--stop`` ends (demo-servers.json) and, for a shell, demo.env."""
    servers: dict[str, dict[str, object]] = {
        "source": {"url": source.imap_url(), "pid": _master_pid(source)},
        "target": {"url": target.imap_url(), "pid": _master_pid(target)},
    }
    env = {
        "DEMO_SOURCE": source.imap_url(),
        "DEMO_SOURCE_PORT": str(source.imap_port),
        "DEMO_TARGET": target.imap_url(),
    }
    if postfix is not None:
        servers["mta"] = {
            "url": f"smtp://127.0.0.1:{postfix.smtp_port}",
            "pid": master_pid(postfix),
            "config_dir": str(postfix.config_dir),
        }
        env |= {
            "DEMO_MTA": f"smtp://127.0.0.1:{postfix.smtp_port}",
            "DEMO_MTA_PORT": str(postfix.smtp_port),
            "DEMO_RELAY": target.lmtp_url(),
            "DEMO_POSTFIX_DIR": str(postfix.config_dir),
            "DEMO_POSTFIX_BIN": str(postfix.command_directory),
        }
    (root / SERVERS_FILE).write_text(json.dumps(servers, indent=1) + "\n")
    lines = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    (root / ENV_FILE).write_text(
        "# the kept demo's servers, for a shell: . skylift-demo/demo.env (docs/clients.md)\n"
        + "\n".join(lines)
        + "\n"
    )


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


def _remove_mta_folder(root: Path) -> None:
    """The stopped Postfix's queue and config (a folder of its own under the temp folder)."""
    try:
        mta = json.loads((root / SERVERS_FILE).read_text()).get("mta") or {}
    except (OSError, ValueError):
        return
    folder = Path(str(mta.get("config_dir", ""))).parent
    if folder.name.startswith("skylift-postfix-"):
        shutil.rmtree(folder, ignore_errors=True)


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
    for pid in pids:
        # Each master runs in a session of its own: take its children (Postfix's daemons,
        # Dovecot's imap and auth processes) with it.
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    _remove_mta_folder(root)
    (root / SERVERS_FILE).unlink(missing_ok=True)
    console.print(f"stopped the demo servers in {root} (their data stays there)")
    return EXIT_OK


def start_mta(source: LmtpDovecot, target: LmtpDovecot, state: Path) -> PostfixServer | None:
    """The on-prem Postfix with skylift's maps in place; None (said in one line) without it."""
    from skylift.connectors.mta.postfix import write_map_files
    from skylift.engine.routing.plan import CloudRelay, postfix_maps
    from skylift.state.routing import RoutingRegistry

    try:
        postfix = start_onprem_mta(DOMAIN, source.lmtp_port)
    except RuntimeError as exc:
        console.print(
            f"no on-prem Postfix ({exc}): the demo goes on without mail routing",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        return None
    relay = CloudRelay.parse(target.lmtp_url())
    with RoutingRegistry(state) as registry:
        routes = registry.all_current()
    everyone = [f"{name}@{DOMAIN}" for name, _ in PEOPLE]
    maps = postfix_maps(routes, relay, everyone)
    write_map_files(postfix.config_dir, maps, postfix.command_directory)
    postfix.reload()
    console.print(
        f"on-prem MTA (Postfix): smtp://127.0.0.1:{postfix.smtp_port}, delivers to the source by "
        f"LMTP; moved users' mail goes to the target's {target.lmtp_url()} (the cloud relay)",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    return postfix


def print_commands(
    root: Path, source: LmtpDovecot, target: LmtpDovecot, postfix: PostfixServer | None
) -> None:
    """Ready-to-paste commands against the kept servers, in the order an admin runs them."""
    print_lines(walkthrough(root, source, target, postfix))


def print_lines(lines: list[str]) -> None:
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def walkthrough(
    root: Path, source: LmtpDovecot, target: LmtpDovecot, postfix: PostfixServer | None
) -> list[str]:
    """The commands of docs/cutover.md's timeline on the kept demo (comments start with #)."""
    src, dst = source.imap_url(), target.imap_url()
    ends = f"--source {src} --target {dst}"
    prog = sys.argv[0] if Path(sys.argv[0]).name == "skylift" else "skylift"
    users, state, report = root / "users.csv", root / "skylift.db", root / "report"
    waves = root / "waves.csv"
    lines = [
        "# the servers are still running; try (docs/cutover.md has the timeline):",
        "# T-7: assess, plan the waves, pre-stage wave 1 while its users keep working",
        f"{prog} assess --source {src} --users {users} --target-profile microsoft365 "
        f"--out {report}",
        f"{prog} plan --assessment {report}/assessment.json --window 'Sat 20:00-Mon 06:00' "
        f"--users {users} --out {waves}",
        f"{prog} migrate {ends} --waves {waves} --wave 1 --state {state}",
    ]
    if postfix is None:
        lines += [
            f"{prog} migrate {ends} --users {users} --state {state} --dry-run",
            f"{prog} verify {ends} --users {users} --state {state} --deep",
        ]
    else:
        wave = f"--wave 1 --waves {waves} --users {users} {ends} --state {state}"
        probe = f"{prog} route probe --smtp smtp://127.0.0.1:{postfix.smtp_port} {wave} --wait 15"
        route = (
            f"{wave} --mta postfix --postfix-config-dir {postfix.config_dir} "
            f"--postfix-command-dir {postfix.command_directory} "
            f"--cloud-relay {target.lmtp_url()}"
        )
        lines += [
            "# T-1: the delta (only what is new), then a probe through the on-prem Postfix:",
            "#      wave 1's mail lands on the source",
            f"{prog} migrate {ends} --waves {waves} --wave 1 --state {state}",
            probe,
            "# T-0: cut wave 1 over",
            f"{prog} cutover {route}",
            "# T+1: verify, see the registry; the probe's mail now lands on the target",
            f"{prog} verify {ends} --users {users} --state {state}",
            f"{prog} route status --state {state} --users {users}",
            probe,
            "# roll the wave back (mail lands on the source again, the cloud's copied home),",
            "# then cut it over again",
            f"{prog} rollback {route}",
            probe,
            f"{prog} cutover {route}",
            probe,
        ]
    lines += [
        f"# the servers' addresses for a shell: . {root / ENV_FILE}",
        "# mail clients, phones and notices on this demo: docs/clients.md",
        "# calendars, contacts and the directory: docs/calendars.md, docs/dirsync.md",
        f"{prog} demo --stop --workdir {root}",
    ]
    return lines


def register(app: typer.Typer) -> None:
    """Add ``demo``."""
    app.command()(demo)
