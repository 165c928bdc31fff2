"""DNS answers for the autoconfig lookup: from a zone file (offline) or the system resolver.

dnspython reads RFC 1035 zone files ($ORIGIN, $TTL, relative names) and queries resolvers;
the lookup simulator only needs "these records for this name and type".
"""

from __future__ import annotations

from pathlib import Path

from skylift.errors import ConfigError


class ZoneResolver:
    """Answers from one zone file; names outside it have no records."""

    def __init__(self, path: Path, origin: str) -> None:
        import dns.exception
        import dns.zone

        try:
            self.zone = dns.zone.from_file(str(path), origin=origin, relativize=False)
        except OSError as exc:
            raise ConfigError(f"cannot read zone file {path}: {exc.strerror}") from None
        except (dns.exception.DNSException, ValueError) as exc:
            raise ConfigError(
                f"zone file {path.name} is not a valid zone for {origin}: {exc}"
            ) from None

    def __call__(self, name: str, rtype: str) -> list[str]:
        import dns.name
        import dns.rdatatype

        node = self.zone.get_node(dns.name.from_text(name))
        if node is None:
            return []
        found = node.get_rdataset(self.zone.rdclass, dns.rdatatype.from_text(rtype))
        return [r.to_text() for r in found] if found else []


class SystemResolver:
    """Answers from the machine's resolver (a live lookup)."""

    def __call__(self, name: str, rtype: str) -> list[str]:
        import dns.exception
        import dns.resolver

        try:
            return [r.to_text() for r in dns.resolver.resolve(name, rtype, lifetime=5)]
        except dns.exception.DNSException:
            return []
