"""The in-memory reference of the routing-attribute contract (``base.RoutingAttribute``).

Entries are address -> attributes, as an LDAP entry holds them; ``refuse`` names an
attribute the "schema" lacks, so a write is refused the way Samba AD refuses
``targetAddress`` without the Exchange schema. The conformance suite runs against this and
against real OpenLDAP, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skylift.connectors.directory.base import (
    RoutingValue,
    check_routing_attribute,
    routing_value_for,
)
from skylift.errors import ItemRejected


@dataclass
class MemoryRoutingAttribute:
    attribute: str
    entries: list[dict[str, list[str]]] = field(default_factory=list)
    refuse: bool = False  # the schema has no such attribute: every write is refused
    writes: int = 0  # modifications made (a rerun makes none)

    def __post_init__(self) -> None:
        self.object_class = check_routing_attribute(self.attribute)

    def add(
        self, address: str, classes: tuple[str, ...] = ("inetOrgPerson",), **attrs: str
    ) -> None:
        """An entry with *address* as ``mail`` (tests and the demo seed it this way)."""
        entry = {"mail": [address], "objectClass": list(classes)}
        entry |= {k: [v] for k, v in attrs.items()}
        self.entries.append(entry)

    def _entry(self, address: str) -> dict[str, list[str]]:
        found = [
            e for e in self.entries
            if any(address.lower() == v.lower() for k in ("mail", "mailLocalAddress",
                   "userPrincipalName") for v in e.get(k, []))
        ]  # fmt: skip
        if len(found) != 1:
            why = "no entry" if not found else "more than one entry"
            raise ItemRejected(f"directory: {why} has the address {address}")
        return found[0]

    def value_for(self, address: str, routing_domain: str) -> str:
        return routing_value_for(self.attribute, address, routing_domain)

    def _has_class(self, entry: dict[str, list[str]]) -> bool:
        classes = {c.lower() for c in entry.get("objectClass", [])}
        return not self.object_class or self.object_class.lower() in classes

    def read(self, address: str) -> RoutingValue:
        entry = self._entry(address)
        return RoutingValue(tuple(entry.get(self.attribute, [])), self._has_class(entry))

    def write(self, address: str, wanted: RoutingValue) -> bool:
        entry = self._entry(address)
        now = entry.get(self.attribute, [])
        has_class = self._has_class(entry)
        add_class = bool(wanted.values) and not has_class
        drop_class = not wanted.values and not wanted.had_class and has_class and self.object_class
        if sorted(now) == sorted(wanted.values) and not add_class and not drop_class:
            return False
        if self.refuse:
            raise ItemRejected(f"directory: {address}: {self.attribute}: no such attribute")
        if add_class:
            entry["objectClass"].append(self.object_class)
        if wanted.values:
            entry[self.attribute] = list(wanted.values)
        else:
            entry.pop(self.attribute, None)
        if drop_class:
            entry["objectClass"] = [
                c for c in entry["objectClass"] if c.lower() != self.object_class.lower()
            ]
        self.writes += 1
        return True

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryRoutingAttribute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
