"""Target profiles: what a destination refuses or slows down, each limit with its source.

A profile is a TOML data file (``profiles/<name>.toml``); an admin can pass their own with
``--target-profile path.toml``. Every limit is a table ``{value, source, url, note}`` so a
report can say *why* a folder is a blocker and where that rule is written down.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skylift.errors import ConfigError

PROFILE_DIR = Path(__file__).parent / "profiles"

# Known limit names and the type of their value.
LIMIT_TYPES: dict[str, type | tuple[type, ...]] = {
    "max_item_bytes": int,
    "max_items_per_mailbox": int,
    "max_items_per_folder": int,
    "max_folders_per_mailbox": int,
    "max_subfolders_per_folder": int,
    "max_folder_depth": int,
    "max_folder_name_chars": int,
    "max_folder_path_chars": int,
    "forbidden_chars": str,
    "reserved_names": list,
    "case_insensitive_names": bool,
    "mailbox_quota_bytes": int,
    "public_folders": bool,
    "ingest_bytes_per_day": int,
    "ingest_bytes_per_hour": int,
    "ingest_items_per_hour": int,
    "connections_per_mailbox": int,
    "concurrent_mailboxes": int,
}


@dataclass(frozen=True)
class Limit:
    """One rule of a target with where it is documented.

    *configurable_to* is how far an admin can raise it (Microsoft's 35 MB -> 150 MB);
    *severity* says whether crossing it blocks the item ("blocker") or needs a look.
    """

    name: str
    value: Any
    source: str = ""
    url: str = ""
    note: str = ""
    configurable_to: Any = None
    severity: str = "blocker"
    remedy: str = ""

    def cite(self) -> str:
        return f"{self.source} <{self.url}>" if self.url else self.source

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value, "source": self.source, "url": self.url}
        for key in ("note", "configurable_to", "remedy"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        data["severity"] = self.severity
        return data


MAIL_AUTH = ("password", "oauth2-microsoft", "oauth2-google")


@dataclass(frozen=True)
class MailAccess:
    """How ``migrate``/``verify`` reach this kind of server (the profile's ``[mail]`` table).

    *imap*/*pop3* are default URLs (``--source``/``--target`` override them); *auth* is
    "password" or an app-only OAuth2 flavour; *parallel*/*max_connections* are the defaults of
    ``--parallel``/``--max-connections``; *tenant_connections* caps the sessions of every
    mailbox of one tenant together (``runners/limits.py``).
    """

    imap: str = ""
    pop3: str = ""
    auth: str = "password"
    sasl: str = ""
    oauth_scope: str = ""
    parallel: int | None = None
    max_connections: int | None = None
    #: IMAP/POP sessions at once per tenant (Entra app or Google service account), all
    #: mailboxes of a run together; None: no cap beyond --max-connections
    tenant_connections: int | None = None
    source: str = ""
    url: str = ""


@dataclass(frozen=True)
class ClientAccess:
    """What a user's mail client is told to use on this target (the profile's ``[clients]``).

    Read by ``skylift autoconfig``: IMAP and SMTP host, port and socket ("SSL" or "STARTTLS"),
    the sign-in ("password-cleartext" or "OAuth2") and, for Exchange Online, the ActiveSync
    host. Empty for a target whose servers only the admin knows (``--config`` gives them).
    """

    imap_host: str = ""
    imap_port: int = 993
    imap_socket: str = "SSL"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_socket: str = "STARTTLS"
    authentication: str = "password-cleartext"
    activesync_host: str = ""
    source: str = ""
    url: str = ""


@dataclass(frozen=True)
class RoutingAccess:
    """Where an on-prem MTA hands this cloud the mail of moved users (the profile's
    ``[routing]``), read by ``cutover``, ``rollback`` and ``route export`` when no
    ``--cloud-relay`` / ``--cloud-tls-name`` is given.

    *cloud_relay* may hold ``{domain_key}``: the users' mail domain with each "." as "-",
    the way Exchange Online names a tenant's MX host (contoso.com ->
    contoso-com.mail.protection.outlook.com).
    """

    cloud_relay: str = ""
    cloud_tls_name: str = ""
    source: str = ""
    url: str = ""

    def relay_for(self, domains: set[str]) -> str:
        """The relay URL for users of *domains*; ConfigError when it cannot be named."""
        if "{domain_key}" not in self.cloud_relay:
            return self.cloud_relay
        if len(domains) != 1:
            listed = ", ".join(sorted(domains)) or "none"
            raise ConfigError(
                f"the profile's cloud relay depends on the mail domain and the users have "
                f"{listed}: give --cloud-relay"
            )
        return self.cloud_relay.replace("{domain_key}", next(iter(domains)).replace(".", "-"))


@dataclass(frozen=True)
class TargetProfile:
    """A named set of limits for one kind of target, and how to reach it."""

    name: str
    title: str
    limits: dict[str, Limit] = field(default_factory=dict)
    origin: str = ""
    mail: MailAccess = field(default_factory=MailAccess)
    clients: ClientAccess = field(default_factory=ClientAccess)
    routing: RoutingAccess = field(default_factory=RoutingAccess)
    #: [dav]: where calendars/contacts go (``calendars`` URL, ``calendar_scope``), as text
    dav: dict[str, str] = field(default_factory=dict)
    #: [directory]: where dirsync writes (``target`` URL, ``scope``), as text
    directory: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Limit | None:
        return self.limits.get(name)

    def value(self, name: str) -> Any:
        limit = self.limits.get(name)
        return None if limit is None else limit.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "limits": {name: limit.to_dict() for name, limit in self.limits.items()},
        }


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with skylift."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str) -> TargetProfile:
    """Load a built-in profile by name, or a user's profile file by path.

    A bad file is a ConfigError naming the file and the offending key.
    """
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"target profile file not found: {name_or_path}")
        return parse_profile(path, builtin=False)
    builtin = PROFILE_DIR / f"{name_or_path}.toml"
    if not builtin.is_file():
        known = ", ".join(builtin_profiles())
        raise ConfigError(
            f"unknown target profile {name_or_path!r} (built-in: {known}; or a path to a .toml)"
        )
    return parse_profile(builtin, builtin=True)


def parse_profile(path: Path, *, builtin: bool) -> TargetProfile:
    """Parse and check one profile file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read target profile {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"target profile {path.name} is not valid TOML: {exc}") from None
    name = str(data.get("name") or path.stem)
    raw_limits = data.get("limits", {})
    if not isinstance(raw_limits, dict):
        raise ConfigError(f"{path.name}: [limits] must be a table")
    limits: dict[str, Limit] = {}
    for key, raw in raw_limits.items():
        if key not in LIMIT_TYPES:
            known = ", ".join(sorted(LIMIT_TYPES))
            raise ConfigError(f"{path.name}: unknown limit {key!r} (known: {known})")
        if not isinstance(raw, dict) or "value" not in raw:
            raise ConfigError(f"{path.name}: limits.{key} needs a table with 'value'")
        value = raw["value"]
        expected = LIMIT_TYPES[key]
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{path.name}: limits.{key}.value must be a whole number")
        if not isinstance(value, expected):
            raise ConfigError(f"{path.name}: limits.{key}.value has the wrong type")
        if builtin and not raw.get("source"):
            raise ConfigError(f"{path.name}: limits.{key} has no source")
        severity = str(raw.get("severity", "blocker"))
        if severity not in {"blocker", "warning", "info"}:
            raise ConfigError(f"{path.name}: limits.{key}.severity must be blocker/warning/info")
        limits[key] = Limit(
            name=key,
            value=value,
            source=str(raw.get("source") or f"your profile {path.name}"),
            url=str(raw.get("url", "")),
            note=str(raw.get("note", "")),
            configurable_to=raw.get("configurable_to"),
            severity=severity,
            remedy=str(raw.get("remedy", "")),
        )
    return TargetProfile(
        name=name,
        title=str(data.get("title", name)),
        limits=limits,
        origin=str(path),
        mail=_mail_access(path, data.get("mail", {})),
        clients=_client_access(path, data.get("clients", {})),
        routing=_routing_access(path, data.get("routing", {})),
        dav={str(k): str(v) for k, v in dict(data.get("dav", {})).items()},
        directory={str(k): str(v) for k, v in dict(data.get("directory", {})).items()},
    )


def _routing_access(path: Path, raw: Any) -> RoutingAccess:
    """Check and read the ``[routing]`` table: known keys, all text."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: [routing] must be a table")
    fields = RoutingAccess.__dataclass_fields__
    for key, value in raw.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{path.name}: unknown routing key {key!r} (known: {known})")
        if not isinstance(value, str):
            raise ConfigError(f"{path.name}: routing.{key} must be text")
    return RoutingAccess(**raw)


def _client_access(path: Path, raw: Any) -> ClientAccess:
    """Check and read the ``[clients]`` table: known keys, ports as numbers, text otherwise."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: [clients] must be a table")
    fields = ClientAccess.__dataclass_fields__
    for key, value in raw.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{path.name}: unknown clients key {key!r} (known: {known})")
        if key.endswith("_port"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise ConfigError(f"{path.name}: clients.{key} must be a port number")
        elif not isinstance(value, str):
            raise ConfigError(f"{path.name}: clients.{key} must be text")
    return ClientAccess(**raw)


def _mail_access(path: Path, raw: Any) -> MailAccess:
    """Check and read the ``[mail]`` table; unknown keys are refused, as for limits."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: [mail] must be a table")
    known = {f for f in MailAccess.__dataclass_fields__}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(
                f"{path.name}: unknown mail key {key!r} (known: {', '.join(sorted(known))})"
            )
        if key in ("parallel", "max_connections", "tenant_connections"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{path.name}: mail.{key} must be a whole number >= 1")
        elif not isinstance(value, str):
            raise ConfigError(f"{path.name}: mail.{key} must be text")
    if raw.get("auth", "password") not in MAIL_AUTH:
        raise ConfigError(f"{path.name}: mail.auth must be one of {', '.join(MAIL_AUTH)}")
    return MailAccess(**raw)
