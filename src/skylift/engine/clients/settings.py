"""The settings a mail client gets for one address, and the TOML file that overrides them.

A user lives on one *side* on a given day: ``onprem`` (not moved yet, or being moved) or
``cloud`` (cut over). The cloud side's servers come from the target profile's ``[clients]``
table; the on-prem side's, and any override, from ``--config``::

    [domains."new.example"]
    display_name = "New Example"
    [domains."new.example".imap]            # cloud side
    host = "imap.new.example"
    port = 993
    socket = "SSL"                          # or "STARTTLS"
    [domains."new.example".smtp]
    [domains."new.example".onprem.imap]     # where users not yet moved read their mail
    [domains."new.example".onprem.smtp]
    [waves.2]                               # wave dates, when there is no routing registry
    start = 2026-12-12T20:00:00Z
    end = 2026-12-14T06:00:00Z

Unknown addresses get the domain's default side, in the same shape as known ones, so the
answers never tell who has a mailbox here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skylift.engine.profiles import TargetProfile
from skylift.errors import ConfigError

SOCKETS = ("SSL", "STARTTLS")
SIDES = ("onprem", "cloud")
AUTH = ("password-cleartext", "OAuth2")


@dataclass(frozen=True)
class Server:
    """One server a client connects to: host, port, TLS mode and how it signs in."""

    kind: str  # "imap" or "smtp"
    host: str
    port: int
    socket: str  # "SSL" (TLS from the first byte) or "STARTTLS"
    authentication: str = "password-cleartext"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "socket": self.socket,
            "authentication": self.authentication,
        }


@dataclass(frozen=True)
class SideSettings:
    """Everything a client needs on one side of the move."""

    imap: Server
    smtp: Server
    activesync_host: str = ""  # an Exchange ActiveSync server (Microsoft 365), or none


@dataclass(frozen=True)
class UserSettings:
    """The answer for one address: its side today, why, and that side's servers."""

    address: str
    domain: str
    display_name: str
    side: str
    reason: str
    servers: SideSettings
    wave: str = ""

    @property
    def imap(self) -> Server:
        return self.servers.imap

    @property
    def smtp(self) -> Server:
        return self.servers.smtp

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "side": self.side,
            "reason": self.reason,
            "imap": self.imap.to_dict(),
            "smtp": self.smtp.to_dict(),
            "activesync": self.servers.activesync_host or None,
        }


@dataclass(frozen=True)
class WaveDates:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class DomainConfig:
    name: str
    display_name: str
    cloud: dict[str, dict[str, Any]] = field(default_factory=dict)
    onprem: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientConfig:
    """The ``--config`` file: per-domain server overrides and wave dates."""

    domains: dict[str, DomainConfig] = field(default_factory=dict)
    waves: dict[str, WaveDates] = field(default_factory=dict)
    origin: str = ""


def load_config(path: Path | None) -> ClientConfig:
    """Read and check the TOML file; a bad key or value is one ConfigError naming it."""
    if path is None:
        return ClientConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read --config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path.name} is not valid TOML: {exc}") from None
    return parse_config(data, path.name)


def parse_config(data: dict[str, Any], name: str = "config") -> ClientConfig:
    unknown = set(data) - {"domains", "waves"}
    if unknown:
        raise ConfigError(f"{name}: unknown table {sorted(unknown)[0]!r} (known: domains, waves)")
    domains: dict[str, DomainConfig] = {}
    for domain, raw in (data.get("domains") or {}).items():
        if not isinstance(raw, dict):
            raise ConfigError(f"{name}: domains.{domain} must be a table")
        extra = set(raw) - {"display_name", "imap", "smtp", "onprem"}
        if extra:
            raise ConfigError(f"{name}: domains.{domain}: unknown key {sorted(extra)[0]!r}")
        onprem = raw.get("onprem") or {}
        if set(onprem) - {"imap", "smtp"}:
            raise ConfigError(f"{name}: domains.{domain}.onprem takes only imap and smtp")
        cloud = {
            k: _server_table(raw[k], f"{name}: domains.{domain}.{k}")
            for k in ("imap", "smtp")
            if k in raw
        }
        prem = {
            k: _server_table(v, f"{name}: domains.{domain}.onprem.{k}") for k, v in onprem.items()
        }
        domains[domain.lower()] = DomainConfig(
            name=domain.lower(),
            display_name=str(raw.get("display_name") or domain),
            cloud=cloud,
            onprem=prem,
        )
    waves: dict[str, WaveDates] = {}
    for wave, raw in (data.get("waves") or {}).items():
        if not isinstance(raw, dict) or not {"start", "end"} <= set(raw):
            raise ConfigError(f"{name}: waves.{wave} needs start and end")
        start, end = (_when(raw[k], f"{name}: waves.{wave}.{k}") for k in ("start", "end"))
        if end <= start:
            raise ConfigError(f"{name}: waves.{wave} ends before it starts")
        waves[str(wave)] = WaveDates(start, end)
    return ClientConfig(domains=domains, waves=waves, origin=name)


def _when(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not a date and time") from None
    if not isinstance(value, datetime):
        raise ConfigError(f"{where} must be a date and time like 2026-12-12T20:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _server_table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table with host, port, socket")
    extra = set(raw) - {"host", "port", "socket", "authentication"}
    if extra:
        raise ConfigError(
            f"{where}: unknown key {sorted(extra)[0]!r} (known: host, port, socket, authentication)"
        )
    port = raw.get("port")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
    ):
        raise ConfigError(f"{where}.port must be a port number")
    if "socket" in raw and raw["socket"] not in SOCKETS:
        raise ConfigError(f'{where}.socket must be "SSL" or "STARTTLS", not {raw["socket"]!r}')
    if "authentication" in raw and raw["authentication"] not in AUTH:
        raise ConfigError(f"{where}.authentication must be one of {', '.join(AUTH)}")
    return dict(raw)


def _apply(server: Server, override: dict[str, Any]) -> Server:
    return replace(
        server,
        host=str(override.get("host", server.host)),
        port=int(override.get("port", server.port)),
        socket=str(override.get("socket", server.socket)),
        authentication=str(override.get("authentication", server.authentication)),
    )


def side_settings(
    profile: TargetProfile, config: ClientConfig, domain: str
) -> dict[str, SideSettings]:
    """Both sides' servers for *domain*: the profile's, then the config's overrides.

    A side without an IMAP or SMTP host is a ConfigError that says which table to add.
    """
    clients = profile.clients
    dom = config.domains.get(domain.lower()) or DomainConfig(domain.lower(), domain)
    cloud = SideSettings(
        imap=_apply(
            Server(
                "imap",
                clients.imap_host,
                clients.imap_port,
                clients.imap_socket,
                clients.authentication,
            ),
            dom.cloud.get("imap", {}),
        ),
        smtp=_apply(
            Server(
                "smtp",
                clients.smtp_host,
                clients.smtp_port,
                clients.smtp_socket,
                clients.authentication,
            ),
            dom.cloud.get("smtp", {}),
        ),
        activesync_host=clients.activesync_host,
    )
    onprem = SideSettings(
        imap=_apply(Server("imap", "", 993, "SSL"), dom.onprem.get("imap", {})),
        smtp=_apply(Server("smtp", "", 587, "STARTTLS"), dom.onprem.get("smtp", {})),
    )
    where = config.origin or "--config"
    for side, settings, table in (
        ("cloud", cloud, f'domains."{domain}"'),
        ("onprem", onprem, f'domains."{domain}".onprem'),
    ):
        for server in (settings.imap, settings.smtp):
            if not server.host:
                raise ConfigError(
                    f"no {server.kind.upper()} host for the {side} side of {domain}: add "
                    f"[{table}.{server.kind}] host = ... to {where}"
                    + (f" (target profile {profile.name} names none)" if side == "cloud" else "")
                )
    return {"cloud": cloud, "onprem": onprem}


def display_name(config: ClientConfig, domain: str) -> str:
    dom = config.domains.get(domain.lower())
    return dom.display_name if dom else domain


def split_address(address: str) -> tuple[str, str]:
    """(local part, domain) of an address, lower-cased domain; ConfigError if it is none."""
    local, sep, domain = address.strip().rpartition("@")
    if (
        not sep
        or not local
        or not domain
        or "." not in domain
        or any(c.isspace() for c in address.strip())
    ):
        raise ConfigError(f"{address!r} is not an e-mail address")
    return local, domain.lower()
