"""The collections of a DAV home: list them, create them with their properties, repair those.

A mixin of :class:`~skylift.connectors.dav.client.DavAccount`, apart so that module reads as the
object protocol. Creation reads the body of a 201 answer, because a server may create the
collection and still refuse one of its properties there (see ``props.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote

import httpx
from lxml import etree

from skylift.connectors.dav.props import (
    description_prop,
    mkcol_body,
    proppatch_body,
    qualified,
    refused,
    text_props,
)
from skylift.connectors.dav.transport import reason as _reason
from skylift.connectors.dav.wire import (
    CR,
    CS,
    ICAL,
    C,
    D,
    canonical_href,
    prop_text,
    q,
    same_href,
    text_of,
    to_int,
)
from skylift.errors import SkyliftError
from skylift.model.dav import CALENDAR_COMPONENTS, Collection, DavKind


class DavCollections:
    """Collection listing and creation over the account's requests."""

    home: str
    kind: DavKind

    def _request(
        self,
        method: str,
        href: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raise NotImplementedError

    def _propfind(self, href: str, depth: str, *props: tuple[str, str]) -> list[etree._Element]:
        raise NotImplementedError

    def collections(self) -> list[Collection]:
        """Return every calendar (or address book) in the home set."""
        responses = self._propfind(
            self.home,
            "1",
            (D, "resourcetype"),
            (D, "displayname"),
            (ICAL, "calendar-color"),
            (C, "calendar-description"),
            (CR, "addressbook-description"),
            (C, "supported-calendar-component-set"),
            (D, "sync-token"),
            (CS, "getctag"),
            (CR, "supported-address-data"),
            (C, "max-resource-size"),
            (CR, "max-resource-size"),
        )
        wanted = q(C, "calendar") if self.kind is DavKind.CALENDAR else q(CR, "addressbook")
        found = []
        for response in responses:
            href = text_of(response, (D, "href"))
            types = response.find(f".//{q(D, 'resourcetype')}")
            if types is None or types.find(wanted) is None or same_href(href, self.home):
                continue
            comps = response.find(f".//{q(C, 'supported-calendar-component-set')}")
            components = frozenset(
                c.get("name", "").upper() for c in (comps if comps is not None else [])
            )
            if self.kind is DavKind.CALENDAR and not components:
                components = CALENDAR_COMPONENTS
            found.append(
                Collection(
                    kind=self.kind,
                    name=unquote(href.rstrip("/").rpartition("/")[2]),
                    display_name=prop_text(response, (D, "displayname")),
                    color=prop_text(response, (ICAL, "calendar-color")),
                    description=prop_text(response, description_prop(self.kind)),
                    components=components,
                    href=canonical_href(href.rstrip("/") + "/"),
                    sync_token=prop_text(response, (D, "sync-token")) or None,
                    ctag=prop_text(response, (CS, "getctag")) or None,
                    data_versions=frozenset(
                        t.get("version", "3.0")
                        for t in response.iter(q(CR, "address-data-type"))
                        if t.get("content-type", "text/vcard").lower() == "text/vcard"
                    ),
                    max_resource_size=to_int(
                        prop_text(response, (C, "max-resource-size"))
                        or prop_text(response, (CR, "max-resource-size"))
                    ),
                )
            )
        return found

    def create_collection(self, spec: Collection) -> Collection:
        """Create a collection like *spec* in the home; an existing one is returned as it is."""
        return self.make_collection(spec)[0]

    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        """Create a collection like *spec* (MKCALENDAR or extended MKCOL).

        Properties the answer refuses are set again with PROPPATCH. Returns the collection,
        a line per property that still failed, and a line per property set that way. An
        existing collection of that name is returned as it is.
        """
        href = canonical_href(self.home.rstrip("/") + "/" + quote(spec.name, safe="") + "/")
        for existing in self.collections():
            if same_href(existing.href, href):
                return existing, [], []
        calendar = self.kind is DavKind.CALENDAR
        values = text_props(spec)
        body = mkcol_body(spec, values)
        response = self._request("MKCALENDAR" if calendar else "MKCOL", href, body)
        if response.status_code not in (200, 201):
            raise SkyliftError(
                f"cannot create {spec.kind} {spec.name!r}: HTTP {response.status_code} "
                f"{_reason(response)}"
            )
        problems = []
        refusals = refused(response.content)
        retry = {name: value for name, value in values.items() if name in refusals}
        for name, status in refusals.items():
            if name not in retry:
                problems.append(f"the target refused {name[1]} when creating it ({status})")
        still = self._proppatch(href, retry, "refused when creating it, then ")
        problems += still
        notes = [
            f"{name[1]} refused when creating it; set by PROPPATCH"
            for name in retry
            if not any(f"property {name[1]} " in line for line in still)
        ]
        for created in self.collections():
            if same_href(created.href, href):
                return created, problems, notes
        return Collection(kind=self.kind, name=spec.name, href=href), problems, notes

    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        """Set text properties named by their local name (the contract's spelling)."""
        return self._proppatch(href, qualified(values), why)

    def _proppatch(self, href: str, values: dict[tuple[str, str], str], why: str) -> list[str]:
        """PROPPATCH each of *values* on *href*, one at a time; a line per property refused.

        One at a time because a PROPPATCH is all or nothing (RFC 4918 §9.2): one refused
        property would take the others down with it.
        """
        problems = []
        for name, value in values.items():
            response = self._request("PROPPATCH", href, proppatch_body({name: value}))
            if response.status_code == 207:
                still = refused(response.content)
                if name not in still:
                    continue
                reason = still[name]
            elif response.status_code in (200, 204):
                continue
            else:
                reason = f"HTTP {response.status_code} {_reason(response)}"
            problems.append(f"property {name[1]} not set ({why}refused by PROPPATCH: {reason})")
        return problems
