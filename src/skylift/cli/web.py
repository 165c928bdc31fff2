"""``skylift web``: the dashboard over a state store, and ``skylift web adduser`` for its accounts.

The dashboard listens on loopback unless told otherwise; anywhere else it wants a TLS
certificate (passwords and session cookies cross the network), or an explicit
``--allow-http`` for a TLS proxy in front of it. With ``--waves`` and both servers it can
start, pause, resume and cancel waves and retry mailboxes, through the runner
``skylift migrate`` uses (web/dashboard/control.py).
"""

from __future__ import annotations

import getpass
import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from skylift.cli.options import (
    DEFAULT_TIMEOUT,
    AllowPlaintextOpt,
    InsecureSourceOpt,
    InsecureTargetOpt,
    SourceCaOpt,
    StateOpt,
    TargetCaOpt,
)
from skylift.errors import EXIT_OK, ConfigError

MIN_PASSWORD = 10


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    ctx: typer.Context,
    state: StateOpt = "skylift.db",
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to listen on (loopback by default)")
    ] = "127.0.0.1:8080",
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate for HTTPS")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM key for HTTPS")] = None,
    allow_http: Annotated[
        bool,
        typer.Option(
            "--allow-http", help="Listen beyond loopback without TLS (behind a TLS proxy)"
        ),
    ] = False,
    waves: Annotated[
        Path | None,
        typer.Option("--waves", help="waves.csv from 'skylift plan': enables the buttons"),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Source server URL (with --waves)")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Target server URL (with --waves)")
    ] = None,
    source_ca: SourceCaOpt = None,
    target_ca: TargetCaOpt = None,
    insecure_source: InsecureSourceOpt = False,
    insecure_target: InsecureTargetOpt = False,
    allow_plaintext: AllowPlaintextOpt = False,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="Mailboxes at once when a wave runs")
    ] = 3,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML with [waves.N] start/end: the windows")
    ] = None,
    bwlimit: Annotated[
        str | None, typer.Option("--bwlimit", help="Bandwidth cap of the waves, e.g. 10M or 80Mbit")
    ] = None,
    assessment: Annotated[
        Path | None,
        typer.Option("--assessment", help="Folder of 'skylift assess --out': its report"),
    ] = None,
    setup_url: Annotated[
        str | None,
        typer.Option("--setup-url", help="Base URL of 'autoconfig serve' for setup links"),
    ] = None,
    access_log: Annotated[
        Path | None, typer.Option("--access-log", help="Write the request log here")
    ] = None,
) -> None:
    """Serve the dashboard: waves, mailboxes, problems, live progress, /api/ and /metrics."""
    if ctx.invoked_subcommand is not None:
        return
    from skylift.cli.clients import _listen

    host, port = _listen(listen)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    for given in (tls_cert, tls_key):
        if given is not None and not given.is_file():
            raise ConfigError(f"file not found: {given}")
    if not _loopback(host) and tls_cert is None and not allow_http:
        raise ConfigError(
            f"--listen {listen}: beyond loopback the dashboard needs --tls-cert and --tls-key "
            "(or --allow-http behind a TLS proxy)"
        )
    from skylift.state.web_access import WebAccess
    from skylift.web.autoconfig import serve as run
    from skylift.web.dashboard.app import create_app

    access = WebAccess(state)
    if not access.users():
        raise ConfigError(
            f"no dashboard account yet: skylift web adduser NAME --role admin --state {state}"
        )
    control = None
    if waves is not None:
        if not source or not target:
            raise ConfigError("--waves needs --source and --target (the servers of the move)")
        from skylift.cli.mail_sides import endpoint
        from skylift.web.dashboard.control import WaveControl, WavePlan

        src = endpoint(source, source_ca, insecure_source, allow_plaintext, DEFAULT_TIMEOUT)
        dst = endpoint(target, target_ca, insecure_target, allow_plaintext, DEFAULT_TIMEOUT)
        from skylift.engine.throttle import parse_rate

        try:
            rate = parse_rate(bwlimit) if bwlimit else None
        except ValueError as exc:
            raise ConfigError(f"--bwlimit: {exc}") from None
        plan = WavePlan.from_csv(waves, src, dst)
        if config is not None:
            from skylift.engine.clients.settings import load_config

            for wave, dates in load_config(config).waves.items():
                plan.windows[wave] = (
                    f"{dates.start:%a %d %b %H:%M} – {dates.end:%a %d %b %H:%M} UTC"
                )
        control = WaveControl(state, plan, access, parallel, rate)
    app = create_app(state, control=control, secure_cookies=tls_cert is not None,
                     assessment=assessment, setup_url=setup_url)  # fmt: skip
    scheme = "https" if tls_cert else "http"
    print(f"skylift web: the dashboard is on {scheme}://{host}:{port}/", flush=True)
    try:
        run(app, host, port, tls_cert=tls_cert, tls_key=tls_key, access_log=access_log)
    finally:
        if control is not None:
            control.wait()


def _password(file: Path | None) -> str:
    if file is not None:
        try:
            lines = file.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"--password-file {file}: {exc.strerror}") from None
        password = lines[0] if lines else ""
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password needs at least {MIN_PASSWORD} characters")
    return password


def adduser(
    account: Annotated[str, typer.Argument(metavar="NAME", show_default=False)],
    role: Annotated[
        str, typer.Option("--role", help="admin (may start and stop) or viewer")
    ] = "viewer",
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="First line is the password (else prompted)"),
    ] = None,
    state: StateOpt = "skylift.db",
) -> int:
    """Create a dashboard account (or set its password and role)."""
    from skylift.state.web_access import ROLES, WebAccess

    if role not in ROLES:
        raise ConfigError(f"--role {role}: one of {', '.join(ROLES)}")
    if not account or any(c.isspace() or c == ":" for c in account):
        raise ConfigError(f"{account!r}: a name without spaces or ':'")
    access = WebAccess(state)
    try:
        access.add_user(account, role, _password(password_file))
    finally:
        access.close()
    print(f"dashboard account {account} ({role}) saved in {state}")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``web`` and ``web adduser``."""
    group = typer.Typer(help="The dashboard: the whole move on one page, live.")
    group.callback(invoke_without_command=True)(serve)
    from skylift.cli.clients import _NoArgumentTypes  # NAME, not NAME <str>, in --help

    group.command("adduser", cls=_NoArgumentTypes)(adduser)
    app.add_typer(group, name="web")
