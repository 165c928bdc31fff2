"""What Thunderbird, Outlook and iOS would end up with for one address, step by step.

Each client's documented probe order (docs/clients.md cites them: Mozilla's autoconfig page
and ``draft-ietf-mailmaint-autoconfig``; Microsoft's "Outlook 2016 implementation of
Autodiscover"; Apple's Mail account setup) walked over DNS answers given by a resolver (a
zone file offline): which URL answers first, the TLS name its certificate must carry, and
the DNS records the admin still has to add so that the probes reach this service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skylift.engine.clients.settings import UserSettings

Resolver = Callable[[str, str], list[str]]  # (name, type) -> answers, [] when there is none


@dataclass
class Probe:
    step: str
    url: str
    dns_name: str
    resolves: bool
    reaches_service: bool
    tls_name: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ClientOutcome:
    client: str
    probes: list[Probe] = field(default_factory=list)
    answered_by: str = ""
    gets: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "answered_by": self.answered_by or None,
            "gets": self.gets,
            "note": self.note,
            "probes": [p.to_dict() for p in self.probes],
        }


def _addresses(resolve: Resolver, name: str, depth: int = 0) -> set[str]:
    """A/AAAA of *name*, following CNAMEs (at most 8)."""
    found = set(resolve(name, "A")) | set(resolve(name, "AAAA"))
    if not found and depth < 8:
        for target in resolve(name, "CNAME"):
            found |= _addresses(resolve, target.rstrip("."), depth + 1)
    return found


def _probe(
    resolve: Resolver, service: set[str], step: str, url: str, host: str, tls: bool
) -> Probe:
    addrs = _addresses(resolve, host)
    reaches = bool(addrs) and (not service or bool(addrs & service))
    note = "" if addrs else f"{host} does not resolve"
    if addrs and not reaches:
        note = f"{host} resolves, but not to the autoconfig service"
    return Probe(step, url, host, bool(addrs), reaches, host if tls else "", note)


def simulate(
    settings: UserSettings,
    resolve: Resolver,
    *,
    service_host: str = "",
    target_is_microsoft: bool = False,
) -> dict[str, Any]:
    """The report for one address: each client's probes, outcome, and records to add."""
    domain, address = settings.domain, settings.address
    service = _addresses(resolve, service_host) if service_host else set()
    servers = (
        f"IMAP {settings.imap.host}:{settings.imap.port} {settings.imap.socket}, "
        f"SMTP {settings.smtp.host}:{settings.smtp.port} {settings.smtp.socket}"
    )
    clients: list[ClientOutcome] = []

    tb = ClientOutcome("thunderbird")
    for step, scheme, host, path in (
        ("autoconfig host (HTTPS)", "https", f"autoconfig.{domain}", "/mail/config-v1.1.xml"),
        (
            "well-known on the domain (HTTPS)",
            "https",
            domain,
            "/.well-known/autoconfig/mail/config-v1.1.xml",
        ),
        ("autoconfig host (HTTP)", "http", f"autoconfig.{domain}", "/mail/config-v1.1.xml"),
    ):
        url = f"{scheme}://{host}{path}?emailaddress={address}"
        tb.probes.append(_probe(resolve, service, step, url, host, scheme == "https"))
    tb.probes.append(
        Probe(
            "Thunderbird ISPDB",
            f"https://autoconfig.thunderbird.net/v1.1/{domain}",
            "autoconfig.thunderbird.net",
            True,
            False,
            note="Mozilla's database knows providers, not your domain",
        )
    )
    mx = [m.split()[-1].rstrip(".") for m in resolve(domain, "MX")]
    if mx:
        tb.probes.append(
            Probe(
                "ISPDB by MX",
                f"https://autoconfig.thunderbird.net/v1.1/{mx[0]}",
                mx[0],
                True,
                False,
                note=f"MX {mx[0]}: would give that provider's generic settings",
            )
        )
    tb.probes.append(
        Probe(
            "guess",
            f"imap.{domain}, smtp.{domain}, mail.{domain}",
            f"imap.{domain}",
            bool(_addresses(resolve, f"imap.{domain}")),
            False,
            note="last resort: guesses hosts and ports, asks the user to confirm",
        )
    )
    _finish(tb, servers)
    clients.append(tb)

    ol = ClientOutcome("outlook")
    if target_is_microsoft and settings.side == "cloud":
        ol.note = (
            "Outlook for Microsoft 365 asks Microsoft's own Autodiscover first and will "
            "find the cloud mailbox there; the steps below are for other Outlooks"
        )
    for step, scheme, host in (
        ("domain root (HTTPS POST)", "https", domain),
        ("autodiscover host (HTTPS POST)", "https", f"autodiscover.{domain}"),
        ("autodiscover host (HTTP GET, redirect only)", "http", f"autodiscover.{domain}"),
    ):
        url = f"{scheme}://{host}/autodiscover/autodiscover.xml"
        ol.probes.append(_probe(resolve, service, step, url, host, scheme == "https"))
    for srv in resolve(f"_autodiscover._tcp.{domain}", "SRV"):
        target = srv.split()[-1].rstrip(".")
        ol.probes.append(
            _probe(
                resolve,
                service,
                "SRV _autodiscover._tcp",
                f"https://{target}/autodiscover/autodiscover.xml",
                target,
                True,
            )
        )
    _finish(ol, servers)
    clients.append(ol)

    ios = ClientOutcome("ios")
    profile_host = service_host or f"autoconfig.{domain}"
    ios.probes.append(
        _probe(
            resolve,
            service,
            "configuration profile from the setup page",
            f"https://{profile_host}/mobileconfig?emailaddress={address}",
            profile_host,
            True,
        )
    )
    if settings.servers.activesync_host:
        for host in (domain, f"autodiscover.{domain}"):
            ios.probes.append(
                _probe(
                    resolve,
                    service,
                    "Exchange account: Autodiscover",
                    f"https://{host}/autodiscover/autodiscover.xml",
                    host,
                    True,
                )
            )
    ios.note = (
        "iOS Mail does not read Thunderbird autoconfig: an IMAP account comes from the "
        "profile (or typed by hand); an Exchange account uses Autodiscover"
    )
    _finish(
        ios,
        f"Exchange ActiveSync {settings.servers.activesync_host}"
        if settings.servers.activesync_host
        else servers,
    )
    clients.append(ios)

    records = _records_to_add(resolve, domain, service, service_host)
    tls_names = sorted(
        {p.tls_name for c in clients for p in c.probes if p.tls_name and p.reaches_service}
        | {r["name"].rstrip(".") for r in records if r["type"] == "CNAME"}
    )
    return {
        "address": address,
        "side": settings.side,
        "reason": settings.reason,
        "settings": settings.to_dict(),
        "clients": [c.to_dict() for c in clients],
        "records_to_add": records,
        "tls_names": tls_names,
    }


def _finish(outcome: ClientOutcome, servers: str) -> None:
    first = next((p for p in outcome.probes if p.reaches_service), None)
    if first is not None:
        outcome.answered_by = first.url
        outcome.gets = servers
    else:
        outcome.gets = "nothing from this service (falls back to guessing or manual setup)"


def _records_to_add(
    resolve: Resolver, domain: str, service: set[str], host: str
) -> list[dict[str, str]]:
    target = (host or "SERVICE-HOST") + "."
    wanted = []
    for name in (f"autoconfig.{domain}", f"autodiscover.{domain}"):
        addrs = _addresses(resolve, name)
        if not addrs or (service and not addrs & service):
            wanted.append(
                {
                    "name": name + ".",
                    "type": "CNAME",
                    "value": target,
                    "why": "so that clients' probes reach this service",
                }
            )
    if not resolve(f"_autodiscover._tcp.{domain}", "SRV"):
        wanted.append(
            {
                "name": f"_autodiscover._tcp.{domain}.",
                "type": "SRV",
                "value": f"0 0 443 {target}",
                "why": "Outlook's last DNS step",
            }
        )
    return wanted
