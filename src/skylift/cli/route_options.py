"""The options and helpers ``cutover``, ``rollback`` and ``route`` share: waves and users, the
cloud relay, where routes are written (Postfix, Sieve, a directory attribute) and the
calendars/contacts of the deltas; kept apart so ``cli/route.py`` holds only the commands."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

from skylift.cli.mail_sides import load_pairs
from skylift.cli.options import checked_ca
from skylift.errors import ConfigError
from skylift.model.account import MailboxPair

WaveOpt = Annotated[int, typer.Option("--wave", help="The wave number (from waves.csv)")]
WavesOpt = Annotated[
    Path | None, typer.Option("--waves", help="waves.csv from 'skylift plan' (a Wave column)")
]
UsersOpt = Annotated[
    Path | None,
    typer.Option("--users", help="Users CSV with the logins (else waves.csv's own columns)"),
]
SourceOpt = Annotated[str | None, typer.Option("--source", help="The on-prem mail server URL")]
TargetOpt = Annotated[str | None, typer.Option("--target", help="The cloud mail server URL")]
MtaOpt = Annotated[str, typer.Option("--mta", help="Where routes are written: postfix or sieve")]
PostfixDirOpt = Annotated[
    Path | None, typer.Option("--postfix-config-dir", help="The on-prem Postfix's config dir")
]
PostfixCmdOpt = Annotated[
    Path | None,
    typer.Option("--postfix-command-dir", help="Folder with postfix/postmap (default: PATH)"),
]
RelayOpt = Annotated[
    str | None,
    typer.Option(
        "--cloud-relay", help="Next hop for moved users: smtp://host[:port], lmtp://host:port"
    ),
]
TlsNameOpt = Annotated[
    str | None,
    typer.Option(
        "--cloud-tls-name", help="Name the relay's certificate must carry (default: its host)"
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--target-profile",
        help="Target profile (name or .toml) whose [routing] names the cloud relay",
    ),
]
TlsLevelOpt = Annotated[
    str, typer.Option("--cloud-tls-level", help="Postfix TLS policy to the relay: secure or verify")
]
SieveDirOpt = Annotated[
    Path | None, typer.Option("--sieve-dir", help="Folder for per-user Sieve redirects")
]
RoutingDomainOpt = Annotated[
    str | None,
    typer.Option("--routing-domain", help="Cloud routing domain for Sieve redirects"),
]
RoutingLdapOpt = Annotated[
    str | None,
    typer.Option(
        "--routing-ldap",
        help="Directory whose routing attribute moves with the wave: ldap://… or ldaps://…",
    ),
]
RoutingBaseOpt = Annotated[str, typer.Option("--routing-ldap-base", help="DN the users are below")]
RoutingBindOpt = Annotated[
    str,
    typer.Option(
        "--routing-ldap-bind", help="Bind DN for --routing-ldap (password: SKYLIFT_LDAP_PASSWORD)"
    ),
]
RoutingCaOpt = Annotated[
    Path | None,
    typer.Option(
        "--routing-ldap-ca", help="CA file to trust for --routing-ldap", callback=checked_ca
    ),
]
RoutingAttrOpt = Annotated[
    str,
    typer.Option("--routing-attribute", help="mailRoutingAddress or targetAddress (AD)"),
]
DavOpt = Annotated[str | None, typer.Option(help="CalDAV/CardDAV server for the deltas")]
AdminOpt = Annotated[str | None, typer.Option(help="Proxy login")]
CaOpt = Annotated[Path | None, typer.Option(help="CA file", callback=checked_ca)]
FlagOpt = Annotated[bool, typer.Option(help="Skip TLS checks")]
PlainOpt = Annotated[bool, typer.Option(help="Allow passwords without TLS")]
ParallelOpt = Annotated[int, typer.Option("--parallel", min=1, help="Mailboxes at once")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing")
]


def wave_pairs(
    waves: Path | None,
    users: Path | None,
    wave: int,
    source_admin: str | None,
    target_admin: str | None,
) -> tuple[list[MailboxPair], list[str]]:
    """(the wave's mailbox pairs, every user's address) from waves.csv and the users CSV."""
    if waves is None:
        raise ConfigError("--waves FILE is needed: the wave's users come from 'skylift plan'")
    in_wave = load_pairs(None, None, waves, str(wave), source_admin, target_admin)
    everyone = [p.key for p in load_pairs(waves, None, None, None, source_admin, target_admin)]
    if users is None:
        return in_wave, everyone
    logins = {
        p.key.lower(): p for p in load_pairs(users, None, None, None, source_admin, target_admin)
    }
    missing = [p.key for p in in_wave if p.key.lower() not in logins]
    if missing:
        raise ConfigError(f"{users}: no row for {', '.join(missing)} of wave {wave}")
    pairs = [
        MailboxPair(p.key, logins[p.key.lower()].source, logins[p.key.lower()].target, p.extra)
        for p in in_wave
    ]
    return pairs, sorted({*everyone, *(p.key for p in logins.values())})


def addresses(users: Path) -> list[str]:
    """The EmailAddress column of a users CSV (no logins needed to list or export routes)."""
    try:
        rows = list(csv.DictReader(users.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise ConfigError(f"cannot read users CSV {users}: {exc.strerror}") from None
    if not rows or "EmailAddress" not in rows[0]:
        raise ConfigError(f"{users}: no EmailAddress column (Microsoft's users CSV format)")
    return [r["EmailAddress"].strip() for r in rows if (r.get("EmailAddress") or "").strip()]


def cloud_relay_of(
    cloud_relay: str | None,
    cloud_tls_name: str | None,
    cloud_tls_level: str,
    profile: str | None,
    users: list[str],
):  # type: ignore[no-untyped-def]
    """The relay from the options, else from the target profile's ``[routing]``.

    An option always wins over the profile: ``--cloud-tls-name`` alone overrides only the
    name; ``--cloud-relay`` alone takes the relay's own host as the name, not the profile's
    (the profile's name belongs to the profile's host).
    """
    from skylift.engine.profiles import load_profile
    from skylift.engine.routing.plan import CloudRelay

    if cloud_relay is None and profile is not None:
        routing = load_profile(profile).routing
        if not routing.cloud_relay:
            raise ConfigError(
                f"--target-profile {profile} names no cloud relay ([routing]): give --cloud-relay"
            )
        domains = {u.rpartition("@")[2].lower() for u in users if "@" in u}
        cloud_relay = routing.relay_for(domains)
        cloud_tls_name = cloud_tls_name or routing.cloud_tls_name or None
    if cloud_relay is None:
        raise ConfigError(
            "--cloud-relay is needed: smtp://host[:port] or lmtp://host:port "
            "(or --target-profile with a [routing] table)"
        )
    return CloudRelay.parse(cloud_relay, cloud_tls_name, cloud_tls_level)


def routing_of(
    mta: str,
    postfix_config_dir: Path | None,
    postfix_command_dir: Path | None,
    relay,  # type: ignore[no-untyped-def]
    sieve_dir: Path | None,
    routing_domain: str | None,
):  # type: ignore[no-untyped-def]
    from skylift.connectors.mta.postfix import PostfixConfig
    from skylift.runners.cutover import Routing

    if mta == "postfix":
        if postfix_config_dir is None:
            raise ConfigError("--mta postfix needs --postfix-config-dir (e.g. /etc/postfix)")
        return Routing(relay, postfix=PostfixConfig(postfix_config_dir, postfix_command_dir))
    if mta == "sieve":
        if sieve_dir is None or not routing_domain:
            raise ConfigError("--mta sieve needs --sieve-dir and --routing-domain")
        return Routing(relay, sieve_dir=sieve_dir, routing_domain=routing_domain)
    raise ConfigError(f"--mta {mta}: use postfix or sieve")


def directory_routing_of(
    url: str,
    base: str,
    bind_dn: str,
    attribute: str,
    routing_domain: str | None,
    ca: Path | None,
    allow_plaintext: bool,
    timeout: float,
):  # type: ignore[no-untyped-def]
    """The routing attribute to move with the wave (checked before anything changes)."""
    import os

    from skylift.connectors.endpoint import Endpoint
    from skylift.model.account import Secret
    from skylift.runners.cutover_directory import DirectoryRouting

    if attribute not in ("mailRoutingAddress", "targetAddress"):
        raise ConfigError(
            f"--routing-attribute {attribute}: use mailRoutingAddress or targetAddress"
        )
    if not base:
        raise ConfigError("--routing-ldap needs --routing-ldap-base (the DN the users are below)")
    domain = (routing_domain or "").strip().lower().lstrip("@")
    if not domain or "." not in domain:
        raise ConfigError(
            "--routing-ldap needs --routing-domain (the cloud's routing domain, e.g. "
            "contoso.mail.onmicrosoft.com)"
        )
    if ca is not None and not ca.is_file():
        raise ConfigError(f"CA file not found: {ca}")
    endpoint = Endpoint.parse(
        url, ca_file=str(ca) if ca else None, allow_plaintext=allow_plaintext, timeout=timeout,
    )  # fmt: skip
    if endpoint.scheme not in ("ldap", "ldaps"):
        raise ConfigError(f"--routing-ldap {url}: use ldap:// or ldaps://")
    password = os.environ.get("SKYLIFT_LDAP_PASSWORD")
    return DirectoryRouting(
        endpoint, base, attribute, domain, bind_dn, Secret(password) if password else None
    )


def dav_deltas(
    calendars_source: str | None,
    calendars_target: str | None,
    contacts_source: str | None,
    contacts_target: str | None,
    allow_plaintext: bool,
    source_ca: Path | None,
    target_ca: Path | None,
    insecure_source: bool,
    insecure_target: bool,
) -> list[Any]:
    """The calendars/contacts to carry in the deltas: each kind needs both of its URLs."""
    from skylift.model.dav import DavKind
    from skylift.runners.cutover_dav import DavDelta
    from skylift.runners.davsync import SideSpec

    deltas = []
    for kind, flag, src, dst in (
        (DavKind.CALENDAR, "calendars", calendars_source, calendars_target),
        (DavKind.ADDRESSBOOK, "contacts", contacts_source, contacts_target),
    ):
        if src is None and dst is None:
            continue
        if src is None or dst is None:
            raise ConfigError(f"--{flag}-source and --{flag}-target go together")
        for ca in (source_ca, target_ca):
            if ca is not None and not ca.is_file():
                raise ConfigError(f"CA file not found: {ca}")
        delta = DavDelta(
            kind,
            SideSpec(src, allow_plaintext, insecure_source, str(source_ca) if source_ca else None),
            SideSpec(dst, allow_plaintext, insecure_target, str(target_ca) if target_ca else None),
        )
        delta.check()
        deltas.append(delta)
    return deltas
