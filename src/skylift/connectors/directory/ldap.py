"""LDAP as a directory source (AD, OpenLDAP) over ldap3, and the connection rules both sides share.

``ldaps://`` verifies the certificate; ``ldap://`` upgrades with StartTLS when the server
offers it. A plaintext bind goes only to 127.0.0.0/8 unless the user allows it. Large
directories are read with the paged-results control. Passwords are never read: the search
asks only for the attributes the mapping needs.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ldap3 import (
    BASE,
    NONE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars

from skylift.connectors.directory.base import (
    DirectoryCapabilities,
    DirectoryConnector,
    DirectorySource,
    DirectoryTarget,
    SourceSettings,
    TargetSettings,
)
from skylift.connectors.endpoint import Endpoint
from skylift.errors import AuthError, ConfigError, ConnectError, TransientError
from skylift.model.account import Secret
from skylift.model.directory import ObjectKind, SourceEntry


@dataclass(frozen=True)
class LdapPreset:
    """How one kind of server names things: object filters, anchor and change counter.

    OpenLDAP's change counter is entryCSN (the syncrepl change sequence number: like
    modifyTimestamp, but with microseconds, so a delta does not re-read a whole second).
    *member_range*: AD hands out at most MaxValRange (1,500) values of ``member`` per
    response, so members are asked for in windows of that size (``member;range=0-1499``)
    and ldap3's auto-range follows the windows until ``range=…-*``.
    """

    name: str
    user_filter: str
    group_filter: str
    anchor: str
    anchor_is_guid: bool
    change_attr: str
    member_range: int = 0
    server_mark: bool = False  # the rootDSE reports highestCommittedUSN


PRESETS = {
    "openldap": LdapPreset(
        "openldap",
        "(objectClass=inetOrgPerson)",
        "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
        "entryUUID",
        False,
        "entryCSN",
    ),
    "ad": LdapPreset(
        "ad",
        "(&(objectCategory=person)(objectClass=user))",
        "(objectClass=group)",
        "objectGUID",
        True,
        "uSNChanged",
        member_range=1500,
        server_mark=True,
    ),
}


def open_ldap(endpoint: Endpoint, bind_dn: str, password: Secret | None) -> Connection:
    """Connect, secure the channel and bind; each failure is one clear ConnectError/AuthError."""
    if endpoint.scheme not in ("ldap", "ldaps"):
        raise ConfigError(f"not an LDAP URL: {endpoint.display()}")
    tls = Tls(
        validate=ssl.CERT_NONE if endpoint.insecure else ssl.CERT_REQUIRED,
        ca_certs_file=endpoint.ca_file,
        version=ssl.PROTOCOL_TLS_CLIENT,
    )
    use_ssl = endpoint.scheme == "ldaps"
    server = Server(
        endpoint.host,
        port=endpoint.port or (636 if use_ssl else 389),
        use_ssl=use_ssl,
        tls=tls,
        get_info=NONE,
        connect_timeout=max(int(endpoint.timeout), 1),
    )
    conn = Connection(
        server,
        user=bind_dn or None,
        password=password.reveal() if password else None,
        raise_exceptions=False,
        receive_timeout=max(int(endpoint.timeout), 1),
        read_only=False,
        auto_range=True,  # AD's ranged attributes (member;range=…) are read to the end
    )
    where = endpoint.display()
    try:
        conn.open()
        if not use_ssl:
            _start_tls(conn, endpoint)
        if not conn.bind():
            result = conn.result or {}
            if result.get("result") == 49:
                raise AuthError(
                    f"{where} refused the bind for {bind_dn or 'anonymous'}: invalid credentials"
                )
            raise ConnectError(f"{where} refused the bind: {describe(result)}")
    except ldap_exc.LDAPSocketOpenError as exc:
        raise ConnectError(f"cannot reach {where}: {first_line(exc)}") from exc
    except (ldap_exc.LDAPSSLConfigurationError, ldap_exc.LDAPStartTLSError, ssl.SSLError) as exc:
        raise ConnectError(f"TLS with {where} failed: {first_line(exc)}") from exc
    except ldap_exc.LDAPException as exc:
        raise ConnectError(f"{where}: {first_line(exc)}") from exc
    return conn


def _start_tls(conn: Connection, endpoint: Endpoint) -> None:
    try:
        if conn.start_tls():
            return
    except ldap_exc.LDAPStartTLSError as exc:
        code = (conn.result or {}).get("result")
        # 2 protocolError / 52 unavailable: the server does not offer StartTLS at all.
        if code not in (2, 52) and "protocolError" not in str(exc):
            raise ConnectError(
                f"StartTLS with {endpoint.display()} failed: {first_line(exc)}"
            ) from exc
    if not (endpoint.is_loopback() or endpoint.allow_plaintext):
        raise ConnectError(
            f"{endpoint.display()} does not offer StartTLS; use ldaps:// or pass "
            "--allow-plaintext to send the bind password unencrypted"
        )


def describe(result: dict[str, object]) -> str:
    return f"{result.get('description')} {result.get('message') or ''}".strip()


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.hex()


class LdapDirectorySource:
    """Reads users and groups below *base*, whole or changed since a high-water mark."""

    def __init__(
        self,
        conn: Connection,
        base: str,
        preset: LdapPreset,
        attributes: set[str],
        ldap_filter: str = "",
        page_size: int = 1000,
    ) -> None:
        self.conn = conn
        self.base = base
        self.preset = preset
        self.ldap_filter = ldap_filter
        self.page_size = page_size
        member = f"member;range=0-{preset.member_range - 1}" if preset.member_range else "member"
        wanted = {a.lower() for a in attributes} | {member, "uniquemember", "objectclass"}
        self.attributes = sorted(wanted | {preset.anchor.lower(), preset.change_attr.lower()})
        self.high_water = ""
        self.capabilities = DirectoryCapabilities(delta=True, server_mark=preset.server_mark)

    def _filter(self, kind: ObjectKind, extra: str = "") -> str:
        base = self.preset.user_filter if kind == "user" else self.preset.group_filter
        return f"(&{base}{extra})" if extra else base

    def _search(
        self, flt: str, attributes: list[str]
    ) -> Iterator[tuple[str, dict[str, list[bytes]]]]:
        try:
            for item in self.conn.extend.standard.paged_search(
                self.base,
                flt,
                SUBTREE,
                attributes=attributes,
                paged_size=self.page_size,
                generator=True,
            ):
                if item.get("type") == "searchResEntry":
                    yield item["dn"], item["raw_attributes"]
        except ldap_exc.LDAPOperationResult as exc:
            raise self._error(exc) from exc
        except ldap_exc.LDAPInvalidFilterError as exc:
            raise ConfigError(
                f"bad LDAP filter {self.ldap_filter or flt!r}: {first_line(exc)}"
            ) from exc
        except ldap_exc.LDAPException as exc:
            raise TransientError(f"LDAP search failed: {first_line(exc)}") from exc
        result = self.conn.result or {}
        code = result.get("result", 0)
        if code == 32:
            raise ConfigError(f"base DN {self.base!r} does not exist on the source")
        if code not in (0, None):
            raise ConfigError(f"LDAP search {flt} failed: {describe(result)}")

    def _error(self, exc: ldap_exc.LDAPOperationResult) -> Exception:
        if exc.result == 87:
            return ConfigError(f"bad LDAP filter: {exc.message or exc.description}")
        if exc.result == 32:
            return ConfigError(f"base DN {self.base!r} does not exist on the source")
        return ConfigError(f"LDAP search failed: {exc.description} {exc.message or ''}".strip())

    def anchor_of(self, raw: dict[str, list[bytes]]) -> str:
        values = raw.get(self.preset.anchor) or []  # ldap3 gives a case-insensitive dict
        if not values:
            return ""
        if self.preset.anchor_is_guid and len(values[0]) == 16:
            return str(uuid.UUID(bytes_le=values[0]))
        return decode(values[0])

    def read_entries(self, kind: ObjectKind, since: str | None = None) -> Iterator[SourceEntry]:
        """Every entry of *kind*, or only those changed after *since*; tracks high_water."""
        # Strictly after the mark: CSNs and USNs are unique per change, so nothing is lost.
        extra = f"(!({self.preset.change_attr}<={escape_filter_chars(since)}))" if since else ""
        filtered = self.filtered_anchors(kind)
        change_attr = self.preset.change_attr.lower()
        for dn, raw in self._search(self._filter(kind, extra), self.attributes):
            anchor = self.anchor_of(raw)
            if not anchor:
                continue
            attrs = {
                k.lower(): tuple(decode(v) for v in vals)
                for k, vals in raw.items()
                if vals and ";range=" not in k  # auto-range merged the windows into "member"
            }
            attrs.pop(self.preset.anchor.lower(), None)
            mark = attrs.get(change_attr, ("",))[0]
            if _later(mark, self.high_water):
                self.high_water = mark
            in_filter = filtered is None or anchor in filtered
            yield SourceEntry(dn, anchor, kind, attrs, in_filter)

    def list_dns(self, kind: ObjectKind) -> Iterator[str]:
        """The DN of every entry of *kind*, no attributes ("1.1"): spots deletions in a delta."""
        for dn, _raw in self._search(self._filter(kind), ["1.1"]):
            yield dn

    def filtered_anchors(self, kind: ObjectKind) -> set[str] | None:
        """Anchors matching the user's filter (None: no filter, everything matches)."""
        if not self.ldap_filter or kind != "user":
            return None
        flt = self.ldap_filter if self.ldap_filter.startswith("(") else f"({self.ldap_filter})"
        return {
            a
            for _, raw in self._search(self._filter(kind, flt), [self.preset.anchor])
            if (a := self.anchor_of(raw))
        }

    def server_high_water(self) -> str:
        """AD: the rootDSE's highestCommittedUSN before reading; OpenLDAP: empty (seen max)."""
        if not self.preset.server_mark:
            return ""
        self.conn.search("", "(objectClass=*)", BASE, attributes=["highestCommittedUSN"])
        for item in self.conn.response or []:
            values = item.get("raw_attributes", {}).get("highestCommittedUSN")
            if values:
                return decode(values[0])
        return ""

    def close(self) -> None:
        self.conn.unbind()


def _later(a: str, b: str) -> bool:
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return a > b


class LdapDirectoryConnector(DirectoryConnector):
    """``ldap://`` and ``ldaps://``: a source (OpenLDAP, AD) or an LDAP target."""

    def open_source(self, settings: SourceSettings) -> DirectorySource:
        preset = PRESETS.get(settings.preset)
        if preset is None:
            known = ", ".join(PRESETS)
            raise ConfigError(f"unknown preset {settings.preset!r} (known: {known})")
        conn = open_ldap(self.endpoint, settings.bind_dn, settings.password)
        return LdapDirectorySource(
            conn, settings.base, preset, set(settings.attributes), settings.ldap_filter
        )

    def open_target(self, settings: TargetSettings) -> DirectoryTarget:
        from skylift.connectors.directory.ldap_target import LdapDirectoryTarget

        if not settings.base:
            raise ConfigError("an LDAP target needs --target-base (the DN to write below)")
        conn = open_ldap(self.endpoint, settings.bind_dn, settings.password)
        return LdapDirectoryTarget(conn, settings.base)
