"""What the MTA's maps say for a registry state: one pure function per format.

Postfix routes a shared domain per recipient with ``transport_maps`` (one line per moved
address: ``user@corp.example smtp:[cloud-mx]:25``), validates recipients of a relay domain
with ``relay_recipient_maps``, and enforces TLS to a next hop with ``smtp_tls_policy_maps``
(``secure`` or ``verify`` with ``match=`` the name the hop's certificate must carry; ``encrypt``
would accept a man in the middle). Sources: postconf(5) ``transport_maps``,
``relay_recipient_maps``, ``smtp_tls_policy_maps``; postfix.org/TLS_README.html; transport(5).

Users who are ``onprem`` or ``migrating`` get no transport line: their mail keeps the
source's own route, so a wave is flipped by one map change and rolled back by another.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from skylift.errors import ConfigError
from skylift.state.routing import RouteRecord, RouteState

TLS_LEVELS = ("secure", "verify")
MAP_NAMES = {
    "transport": "skylift_transport",
    "relay_recipients": "skylift_relay_recipients",
    "tls_policy": "skylift_tls_policy",
}
_HOST = re.compile(r"^[A-Za-z0-9_.*-]+$")


@dataclass(frozen=True)
class CloudRelay:
    """The next hop for moved users: ``smtp://host[:port]`` or ``lmtp://host:port``."""

    scheme: str
    host: str
    port: int
    tls_name: str
    tls_level: str = "secure"

    @classmethod
    def parse(cls, url: str, tls_name: str | None = None, tls_level: str = "secure") -> CloudRelay:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "lmtp"):
            raise ConfigError(f"--cloud-relay {url!r}: use smtp://host[:port] or lmtp://host:port")
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"--cloud-relay {url!r}: bad port") from None
        host = parts.hostname or ""
        if not host or not _HOST.match(host):
            raise ConfigError(f"--cloud-relay {url!r}: no host name")
        if scheme == "lmtp" and port is None:
            raise ConfigError(
                f"--cloud-relay {url!r}: LMTP has no default port; say lmtp://host:port"
            )
        if tls_level not in TLS_LEVELS:
            raise ConfigError(f"--cloud-tls-level must be one of {', '.join(TLS_LEVELS)}")
        name = tls_name or host
        if not _HOST.match(name):
            raise ConfigError(f"--cloud-tls-name {name!r} is not a host name")
        return cls(scheme, host, port or 25, name, tls_level)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def postfix_nexthop(self) -> str:
        """The transport(5) value: brackets turn off MX lookups for the relay's name."""
        if self.scheme == "lmtp":
            return f"lmtp:inet:{self.host}:{self.port}"
        return f"smtp:[{self.host}]:{self.port}"

    @property
    def tls_policy_key(self) -> str:
        """The smtp_tls_policy_maps key Postfix looks up for that next hop."""
        return f"[{self.host}]:{self.port}"

    def tls_policy_value(self) -> str:
        # A leading "*." matches any one label in Postfix's match list as ".domain" does.
        name = self.tls_name
        if name.startswith("*."):
            name = name[1:]
        return f"{self.tls_level} match={name}"


def _check_address(user: str) -> str:
    if "@" not in user or any(ch.isspace() for ch in user):
        raise ConfigError(f"not a mail address for a routing map: {user!r}")
    return user.lower()


def postfix_maps(
    routes: dict[str, RouteRecord],
    relay: CloudRelay,
    known: Iterable[str] = (),
) -> dict[str, str]:
    """File name -> content of the three Postfix maps for *routes*.

    *known* adds users the registry has not routed yet (the whole users CSV), so the relay
    accepts mail for every mailbox, moved or not.
    """
    users = sorted({_check_address(u) for u in [*routes, *known]})
    cloud = sorted(_check_address(u) for u, r in routes.items() if r.state == RouteState.CLOUD)
    head = "# written by skylift from the routing registry; edit the registry, not this file\n"
    transport = head + "".join(f"{u}\t{relay.postfix_nexthop}\n" for u in cloud)
    recipients = head + "".join(f"{u}\tOK\n" for u in users)
    policy = head
    if relay.scheme == "smtp":
        policy += f"{relay.tls_policy_key}\t{relay.tls_policy_value()}\n"
    return {
        MAP_NAMES["transport"]: transport,
        MAP_NAMES["relay_recipients"]: recipients,
        MAP_NAMES["tls_policy"]: policy,
    }


def sieve_redirects(routes: dict[str, RouteRecord], routing_domain: str) -> dict[str, str]:
    """User -> a Sieve script that redirects their mail to the cloud (RFC 5228 ``redirect``).

    For a source that cannot route by transport: the script runs at final delivery on the
    source and forwards to ``local@routing_domain`` (the cloud tenant's routing address, as
    Exchange's ``targetAddress`` does). Redirecting to the user's own address would loop.
    """
    domain = routing_domain.strip().lower().lstrip("@")
    if not domain or not _HOST.match(domain):
        raise ConfigError(
            "--routing-domain: give the cloud's routing domain, e.g. contoso.mail.onmicrosoft.com"
        )
    scripts = {}
    for user, record in sorted(routes.items()):
        if record.state != RouteState.CLOUD:
            continue
        local, _, own = _check_address(user).partition("@")
        if own == domain:
            raise ConfigError(
                f"--routing-domain {domain} is {user}'s own domain: the redirect would loop"
            )
        scripts[user] = (
            "# written by skylift: this mailbox moved to the cloud\n"
            'require ["copy"];\n'
            f'redirect "{local}@{domain}";\n'
        )
    return scripts


def registry_csv(routes: dict[str, RouteRecord]) -> str:
    """The registry as CSV (user, state, since, wave, run_id, actor, reason)."""
    out = io.StringIO()
    fields = ["user", "state", "since", "wave", "run_id", "actor", "reason"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for record in sorted(routes.values(), key=lambda r: r.user):
        writer.writerow(record.to_dict())
    return out.getvalue()


def loop_reasons(
    relay: CloudRelay, own_listeners: set[tuple[str, int]], own_names: set[str]
) -> list[str]:
    """Why sending moved users' mail to *relay* would come back to the MTA itself."""
    reasons = []
    host = relay.host.lower()
    if (host, relay.port) in own_listeners or (
        host in ("127.0.0.1", "localhost") and ("0.0.0.0", relay.port) in own_listeners
    ):
        reasons.append(
            f"--cloud-relay {relay.url} is this MTA's own listener: moved users' mail would loop"
        )
    if host in {n.lower() for n in own_names}:
        reasons.append(f"--cloud-relay {relay.url} names this MTA (myhostname): mail would loop")
    return reasons
