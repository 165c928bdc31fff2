"""A per-user routing attribute on an LDAP directory: where a source routes mail by
directory, a cut-over sets it and a rollback puts back what was there.

Two attributes, one rule (set to the cloud routing address, restore exactly):

* ``mailRoutingAddress`` (OpenLDAP and friends; objectClass ``inetLocalMailRecipient``
  from misc.schema, draft-lachman-laser-ldap-mail-routing): the MTA delivers the mail to
  that address instead. The auxiliary class is added when the entry lacks it, and removed
  again on restore when skylift added it.
* ``targetAddress`` (Active Directory with the Exchange schema, as in an Exchange hybrid):
  ``SMTP:user@tenant.mail.onmicrosoft.com``. Plain AD and Samba AD ship without it (it is
  an Exchange schema attribute); the server then refuses the write and the user stays
  on-prem with that reason.

The entry is found by ``mail``, ``mailLocalAddress`` or ``userPrincipalName``. Connection,
TLS and bind are the directory connectors' (``open_ldap``).
"""

from __future__ import annotations

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE, Connection
from ldap3.utils.conv import escape_filter_chars

from skylift.connectors.directory.base import (
    RoutingValue,
    check_routing_attribute,
    routing_value_for,
)
from skylift.connectors.directory.ldap import describe, open_ldap
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ConfigError, ItemRejected
from skylift.model.account import Secret


class LdapRoutingAttribute:
    """Read, set and restore one routing attribute of the users below *base*."""

    def __init__(self, conn: Connection, base: str, attribute: str) -> None:
        self.object_class = check_routing_attribute(attribute)
        self.conn = conn
        self.base = base
        self.attribute = attribute

    def close(self) -> None:
        self.conn.unbind()

    def __enter__(self) -> LdapRoutingAttribute:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def value_for(self, address: str, routing_domain: str) -> str:
        """What the attribute says for a moved user: the cloud's routing address."""
        return routing_value_for(self.attribute, address, routing_domain)

    def _entry(self, address: str) -> tuple[str, dict[str, list[str]]]:
        a = escape_filter_chars(address)
        flt = f"(|(mail={a})(mailLocalAddress={a})(userPrincipalName={a}))"
        ok = self.conn.search(
            self.base, flt, SUBTREE, attributes=["objectClass", self.attribute], size_limit=2
        )
        entries = [e for e in self.conn.response or [] if e.get("type") == "searchResEntry"]
        if not ok and not entries and (self.conn.result or {}).get("result") not in (0, 32):
            raise ItemRejected(f"directory search for {address}: {describe(self.conn.result)}")
        if len(entries) != 1:
            why = "no entry" if not entries else "more than one entry"
            raise ItemRejected(f"directory: {why} below {self.base} has the address {address}")
        attrs = entries[0]["attributes"]
        return entries[0]["dn"], {k: _values(attrs.get(k)) for k in attrs}

    def read(self, address: str) -> RoutingValue:
        """The attribute of *address*'s entry now."""
        _, attrs = self._entry(address)
        classes = {c.lower() for c in attrs.get("objectClass", [])}
        had = not self.object_class or self.object_class.lower() in classes
        return RoutingValue(tuple(attrs.get(self.attribute, [])), had)

    def write(self, address: str, wanted: RoutingValue) -> bool:
        """Make *address*'s entry hold *wanted*; False when it already did."""
        dn, attrs = self._entry(address)
        now = tuple(attrs.get(self.attribute, []))
        classes = {c.lower() for c in attrs.get("objectClass", [])}
        has_class = not self.object_class or self.object_class.lower() in classes
        changes: dict[str, list[tuple[str, list[str]]]] = {}
        if wanted.values and not has_class:
            changes["objectClass"] = [(MODIFY_ADD, [self.object_class])]
        if tuple(sorted(now)) != tuple(sorted(wanted.values)):
            if wanted.values:
                changes[self.attribute] = [(MODIFY_REPLACE, list(wanted.values))]
            elif now:
                changes[self.attribute] = [(MODIFY_DELETE, [])]
        if not wanted.values and not wanted.had_class and has_class and self.object_class:
            changes["objectClass"] = [(MODIFY_DELETE, [self.object_class])]
        if not changes:
            return False
        if not self.conn.modify(dn, changes):
            raise ItemRejected(f"directory: {dn}: {self.attribute}: {describe(self.conn.result)}")
        return True


def _values(value: object) -> list[str]:
    """An attribute's values as a list (a server's schema may make it a single string)."""
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value.decode() if isinstance(value, bytes) else value]
    return [str(v) for v in value]  # type: ignore[attr-defined]


def open_routing_attribute(
    endpoint: Endpoint, bind_dn: str, password: Secret | None, base: str, attribute: str
) -> LdapRoutingAttribute:
    """Connect and bind (as the directory connectors do) and name the attribute to write."""
    if not base:
        raise ConfigError("--routing-ldap needs --routing-ldap-base (the DN the users are below)")
    return LdapRoutingAttribute(open_ldap(endpoint, bind_dn, password), base, attribute)
