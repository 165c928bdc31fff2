"""``skylift autoconfig serve|lookup``, ``skylift notify`` and ``skylift support report``.

Client setup after the data has moved: the service that hands every mail client the
servers of the side its user lives on today, a simulator of what each client would find,
the wave notices, and the help-desk report. See docs/clients.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from skylift.cli.common import print_json
from skylift.errors import EXIT_OK, ConfigError

StateOpt = Annotated[
    str | None, typer.Option("--state", help="State file or database URL (routing registry)")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML: per-domain servers and wave dates")
]
ProfileOpt = Annotated[
    str, typer.Option("--target-profile", help="Target profile name or .toml (cloud servers)")
]
WavesOpt = Annotated[
    Path | None, typer.Option("--waves", help="waves.csv of `skylift plan` (when no routing)")
]


def _directory(
    profile: str, config: Path | None, domain: str, state: str | None, waves: Path | None
) -> object:
    from skylift.engine.clients.settings import load_config
    from skylift.engine.profiles import load_profile
    from skylift.runners.clients import ClientDirectory

    if "@" in domain or "." not in domain:
        raise ConfigError(f"--domain {domain!r}: give a mail domain like new.example")
    return ClientDirectory(
        load_profile(profile), load_config(config), domain=domain, state=state, waves=waves
    )


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen {text!r}: give HOST:PORT, like 127.0.0.1:8443")
    return host.strip("[]") or "127.0.0.1", int(port)


def _serve_help() -> str:
    from skylift.web.autoconfig import PATHS

    lines = "\n\n".join(f"{path}   {what}" for path, what in PATHS.items())
    return (
        "Serve autoconfig, Autodiscover, Apple profiles and a setup page per user.\n\n"
        "Paths:\n\n" + lines
    )


def serve(
    domain: Annotated[str, typer.Option("--domain", help="The mail domain served")],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on")] = (
        "127.0.0.1:8443"
    ),
    state: StateOpt = None,
    config: ConfigOpt = None,
    target_profile: ProfileOpt = "generic-imap",
    waves: WavesOpt = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate for HTTPS")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM key for HTTPS")] = None,
    public_url: Annotated[
        str | None, typer.Option("--public-url", help="Base URL of links and QR codes")
    ] = None,
    sign_cert: Annotated[
        Path | None, typer.Option("--sign-cert", help="Sign profiles with this PEM certificate")
    ] = None,
    sign_key: Annotated[
        Path | None, typer.Option("--sign-key", help="PEM key of --sign-cert")
    ] = None,
    sign_chain: Annotated[
        Path | None, typer.Option("--sign-chain", help="Intermediate certificates (PEM)")
    ] = None,
    access_log: Annotated[
        Path | None, typer.Option("--access-log", help="Write the request log here")
    ] = None,
) -> int:
    host, port = _listen(listen)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    if (sign_cert is None) != (sign_key is None):
        raise ConfigError("--sign-cert and --sign-key go together")
    for given in (tls_cert, tls_key):
        if given is not None and not given.is_file():
            raise ConfigError(f"file not found: {given}")
    directory = _directory(target_profile, config, domain, state, waves)
    signer = None
    if sign_cert is not None and sign_key is not None:
        from skylift.connectors.clients.profile_signing import ProfileSigner

        signer = ProfileSigner(sign_cert, sign_key, sign_chain)
    from skylift.web.autoconfig import create_app
    from skylift.web.autoconfig import serve as run

    app = create_app(directory, public_url=public_url, signer=signer)
    scheme = "https" if tls_cert else "http"
    print(f"skylift autoconfig: serving {domain} on {scheme}://{host}:{port}/", flush=True)
    run(app, host, port, tls_cert=tls_cert, tls_key=tls_key, access_log=access_log)
    return EXIT_OK


def lookup(
    address: Annotated[str, typer.Argument(metavar="ADDRESS", show_default=False)],
    state: StateOpt = None,
    config: ConfigOpt = None,
    target_profile: ProfileOpt = "generic-imap",
    waves: WavesOpt = None,
    zone: Annotated[
        Path | None, typer.Option("--zone", help="Answer DNS from this zone file (offline)")
    ] = None,
    service_host: Annotated[
        str, typer.Option("--service-host", help="Host name where autoconfig serve runs")
    ] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout")] = False,
) -> int:
    """Show what Thunderbird, Outlook and iOS would get for ADDRESS, and why."""
    from skylift.engine.clients.lookup import simulate
    from skylift.engine.clients.settings import split_address

    _, domain = split_address(address)
    directory = _directory(target_profile, config, domain, state, waves)
    settings = directory.settings_for(address)  # type: ignore[attr-defined]
    if zone is not None:
        from skylift.connectors.clients.dns_zone import ZoneResolver

        resolver = ZoneResolver(zone, domain + ".")
    else:
        from skylift.connectors.clients.dns_zone import SystemResolver

        resolver = SystemResolver()  # type: ignore[assignment]
    report = simulate(
        settings,
        resolver,
        service_host=service_host,
        target_is_microsoft=bool(directory.profile.clients.activesync_host),  # type: ignore[attr-defined]
    )
    if json_out:
        print_json({"command": "autoconfig lookup", **report})
        return EXIT_OK
    s = report["settings"]
    print(f"{address}: {report['side']} ({report['reason']})")
    for kind in ("imap", "smtp"):
        print(
            f"  {kind.upper()}: {s[kind]['host']}:{s[kind]['port']} {s[kind]['socket']} "
            f"({s[kind]['authentication']})"
        )
    if s["activesync"]:
        print(f"  ActiveSync: {s['activesync']}")
    for client in report["clients"]:
        print(f"{client['client']}: {client['gets']}")
        if client["answered_by"]:
            print(f"  answered by {client['answered_by']}")
        for probe in client["probes"]:
            mark = "ok " if probe["reaches_service"] else "-- "
            print(
                f"  {mark}{probe['step']}: {probe['url']}"
                + (f" ({probe['note']})" if probe["note"] else "")
            )
        if client["note"]:
            print(f"  note: {client['note']}")
    if report["records_to_add"]:
        print("DNS records to add:")
        for r in report["records_to_add"]:
            print(f"  {r['name']} {r['type']} {r['value']}   ; {r['why']}")
    if report["tls_names"]:
        print("TLS certificate names: " + ", ".join(report["tls_names"]))
    return EXIT_OK


class _NoArgumentTypes(TyperCommand):
    """``ADDRESS`` in ``--help``, not ``ADDRESS <str>`` (the 80-column help rule)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            if not getattr(param, "opts", ["-"])[0].startswith("-"):
                param.display_type_rich = lambda ctx: None  # type: ignore[attr-defined]
        return params


def register(app: typer.Typer) -> None:
    """Add ``autoconfig serve|lookup``, ``notify`` and ``support report``."""
    group = typer.Typer(help="Hand mail clients their settings.", no_args_is_help=True)
    group.command("serve", help=_serve_help())(serve)
    group.command("lookup", cls=_NoArgumentTypes)(lookup)
    app.add_typer(group, name="autoconfig")
    from skylift.cli.notices import register as more

    more(app)
