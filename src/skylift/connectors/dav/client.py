"""CalDAV (RFC 4791) and CardDAV (RFC 6352) source and target over httpx and lxml.

Why not the ``caldav`` library: it speaks CalDAV only, so address books would need a second
client, and it hides the ETag preconditions (If-Match / If-None-Match) and 412 answers that
make reruns safe. Both protocols are the same WebDAV verbs with different XML names, so one
small client over httpx (HTTP, TLS, auth) and lxml (a real XML parser, namespaces) covers
principal and home-set discovery, MKCALENDAR / extended MKCOL (RFC 5689), multiget REPORTs,
conditional PUT/DELETE and the ctag / sync-token markers, with nothing hand-parsed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import quote, urljoin, urlsplit

import httpx
from lxml import etree

from skylift.connectors.dav.base import Changes, DavCapabilities, DavConnector, DavTarget
from skylift.connectors.dav.homes import DavCollections
from skylift.connectors.dav.transport import reason as _reason
from skylift.connectors.dav.transport import send
from skylift.connectors.dav.wire import (
    CR,
    CS,
    NSMAP,
    C,
    D,
    canonical_href,
    failed_precondition,
    first_href,
    parse_keeping_cr,
    prop_text,
    propfind_body,
    q,
    same_href,
    text_of,
)
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ConfigError, ConnectError, SkyliftError
from skylift.model.account import Login
from skylift.model.dav import (
    Collection,
    DavKind,
    Item,
    ItemRef,
    PutResult,
)

MULTIGET_BATCH = 50


def http_base(endpoint: Endpoint) -> str:
    """The http(s) URL behind a ``caldav+https://`` style endpoint, with the TLS rules."""
    _, _, transport = endpoint.scheme.partition("+")
    if transport not in ("http", "https"):
        raise ConfigError(f"unsupported DAV URL scheme {endpoint.scheme!r}")
    if transport == "http" and not (endpoint.is_loopback() or endpoint.allow_plaintext):
        raise ConfigError(
            f"{endpoint.display()} sends passwords in plain text; use +https or --allow-plaintext"
        )
    port = f":{endpoint.port}" if endpoint.port else ""
    return f"{transport}://{endpoint.host}{port}{endpoint.path or '/'}"


CAPABILITIES = DavCapabilities(sync_collection=True, writes=True, properties=True)


class DavHttpConnector(DavConnector):
    """Opens one user's calendars or address books on a CalDAV/CardDAV server."""

    capabilities = CAPABILITIES

    def __init__(self, endpoint: Endpoint, kind: DavKind) -> None:
        super().__init__(endpoint, kind)
        self.base_url = http_base(endpoint)

    def open_source(self, login: Login) -> DavAccount:
        return self.open(login)

    def open_target(self, login: Login) -> DavAccount:
        return self.open(login)

    def open(self, login: Login) -> DavAccount:
        """Log in (as the admin on behalf of the user when one is given) and find the home."""
        if login.admin:
            user, secret = login.admin, login.admin_password
        else:
            user, secret = login.user, login.password
        password = secret.reveal() if secret else ""
        verify: object = self.endpoint.ssl_context() if self.base_url.startswith("https") else True
        client = httpx.Client(
            auth=httpx.BasicAuth(user, password),
            verify=verify,  # type: ignore[arg-type]
            timeout=self.endpoint.timeout,
            follow_redirects=False,  # transport.py follows them, keeping the method
            headers={"User-Agent": "skylift"},
        )
        account = DavAccount(client, self.base_url, self.kind, login)
        try:
            account.discover()
        except BaseException:
            client.close()
            raise
        return account


class DavAccount(DavCollections, DavTarget):
    """One user's calendar home or address book home; a context manager."""

    capabilities = CAPABILITIES

    def __init__(self, client: httpx.Client, base_url: str, kind: DavKind, login: Login) -> None:
        self.client = client
        self.base_url = base_url
        self.kind = kind
        self.login = login
        self.home = ""

    # -- HTTP plumbing -------------------------------------------------------------------

    def _request(
        self,
        method: str,
        href: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = urljoin(self.base_url, href)
        hdrs = dict(headers or {})
        if body is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = "application/xml; charset=utf-8"
        return send(self.client, method, url, body, hdrs, self.login.admin or self.login.user)

    def _multistatus(
        self, response: httpx.Response, what: str, keep_cr: bool = False
    ) -> list[etree._Element]:
        if response.status_code != 207:
            raise SkyliftError(f"{what}: HTTP {response.status_code} {_reason(response)}")
        try:
            root = (
                parse_keeping_cr(response.content)
                if keep_cr
                else etree.fromstring(response.content)
            )
        except etree.XMLSyntaxError as exc:
            raise SkyliftError(f"{what}: the server sent broken XML ({exc})") from exc
        return list(root.iter(q(D, "response")))

    def _propfind(self, href: str, depth: str, *props: tuple[str, str]) -> list[etree._Element]:
        response = self._request("PROPFIND", href, propfind_body(*props), {"Depth": depth})
        if response.status_code == 404:
            raise SkyliftError(f"{href} does not exist on {urlsplit(self.base_url).netloc}")
        return self._multistatus(response, f"PROPFIND {href}")

    # -- discovery -----------------------------------------------------------------------

    def discover(self) -> None:
        """Find the principal (the proxied user's when logged in as admin) and the home set."""
        start = self.base_url
        if urlsplit(start).path in ("", "/"):
            well_known = "/.well-known/" + (
                "caldav" if self.kind is DavKind.CALENDAR else "carddav"
            )
            body = propfind_body((D, "current-user-principal"))
            probe = self._request("PROPFIND", well_known, body, {"Depth": "0"})
            if probe.status_code == 207:
                start = str(probe.url)
        response = self._request(
            "PROPFIND", start, propfind_body((D, "current-user-principal")), {"Depth": "0"}
        )
        if response.status_code != 207:
            raise ConnectError(
                f"no CalDAV/CardDAV service at {start} (PROPFIND answered HTTP "
                f"{response.status_code}); give the server's DAV URL"
            )
        principal = first_href(
            self._multistatus(response, f"PROPFIND {start}"), (D, "current-user-principal")
        )
        if not principal:
            raise ConnectError(f"{self.base_url} does not name a principal (not a DAV server?)")
        if self.login.admin:
            principal = self._proxied_principal(principal)
        home_prop = (
            (C, "calendar-home-set")
            if self.kind is DavKind.CALENDAR
            else (CR, "addressbook-home-set")
        )
        home = first_href(self._propfind(principal, "0", home_prop), home_prop)
        self.home = home or principal

    def _proxied_principal(self, admin_principal: str) -> str:
        admin = self.login.admin or ""
        for form in (quote(admin, safe=""), quote(admin), admin):
            if f"/{form}/" in admin_principal + "/":
                head, _, tail = (admin_principal.rstrip("/") + "/").rpartition(f"/{form}/")
                return f"{head}/{quote(self.login.user, safe='@')}/{tail}"
        raise ConfigError(
            f"cannot derive {self.login.user}'s principal from the admin's ({admin_principal})"
        )

    def marker(self, collection: Collection) -> str | None:
        """The collection's current sync-token or ctag (None when it offers neither)."""
        responses = self._propfind(collection.href, "0", (D, "sync-token"), (CS, "getctag"))
        if not responses:
            return None
        return (
            prop_text(responses[0], (D, "sync-token"))
            or prop_text(responses[0], (CS, "getctag"))
            or None
        )

    def changes_since(self, collection: Collection, sync_token: str) -> Changes | None:
        """Objects changed and hrefs removed since *sync_token* (RFC 6578 sync-collection).

        Returns (changed, removed, new token), or None when the server cannot answer from
        that token (no support, token expired): the caller then lists everything.
        """
        root = etree.Element(q(D, "sync-collection"), nsmap=NSMAP)
        etree.SubElement(root, q(D, "sync-token")).text = sync_token
        etree.SubElement(root, q(D, "sync-level")).text = "1"
        etree.SubElement(etree.SubElement(root, q(D, "prop")), q(D, "getetag"))
        body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        response = self._request("REPORT", collection.href, body, {"Depth": "0"})
        if response.status_code != 207:
            return None
        try:
            tree = etree.fromstring(response.content)
        except etree.XMLSyntaxError:
            return None
        changed: list[ItemRef] = []
        removed: list[str] = []
        for part in tree.iter(q(D, "response")):
            href = text_of(part, (D, "href"))
            if not href or same_href(href, collection.href):
                continue
            if "404" in text_of(part, (D, "status")):
                removed.append(canonical_href(href))
            else:
                changed.append(
                    ItemRef(canonical_href(href), prop_text(part, (D, "getetag")) or None)
                )
        token = tree.find(q(D, "sync-token"))
        if token is None or not token.text:
            return None
        return changed, removed, token.text.strip()

    # -- items ---------------------------------------------------------------------------

    def list_items(self, collection: Collection) -> list[ItemRef]:
        """Return every object in *collection* with its ETag, without content."""
        responses = self._propfind(
            collection.href, "1", (D, "getetag"), (D, "resourcetype"), (D, "getcontenttype")
        )
        refs = []
        for response in responses:
            href = text_of(response, (D, "href"))
            types = response.find(f".//{q(D, 'resourcetype')}")
            if same_href(href, collection.href) or (
                types is not None and types.find(q(D, "collection")) is not None
            ):
                continue
            etag = prop_text(response, (D, "getetag")) or None
            refs.append(ItemRef(href=canonical_href(href), etag=etag))
        return refs

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        """Yield the objects at *hrefs* (multiget REPORT); vanished ones are left out."""
        calendar = self.kind is DavKind.CALENDAR
        data = (C, "calendar-data") if calendar else (CR, "address-data")
        for start in range(0, len(hrefs), MULTIGET_BATCH):
            root = etree.Element(
                q(C, "calendar-multiget") if calendar else q(CR, "addressbook-multiget"),
                nsmap=NSMAP,
            )
            prop = etree.SubElement(root, q(D, "prop"))
            etree.SubElement(prop, q(D, "getetag"))
            etree.SubElement(prop, q(*data))
            for href in hrefs[start : start + MULTIGET_BATCH]:
                etree.SubElement(root, q(D, "href")).text = href
            body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
            response = self._request("REPORT", collection.href, body, {"Depth": "1"})
            for part in self._multistatus(response, f"REPORT {collection.href}", keep_cr=True):
                href = text_of(part, (D, "href"))
                element = part.find(f".//{q(*data)}")
                if element is None or element.text is None:
                    continue
                yield Item(
                    kind=self.kind,
                    href=canonical_href(href),
                    raw=element.text.encode("utf-8"),
                    etag=prop_text(part, (D, "getetag")) or None,
                )

    def url_of(self, href: str) -> str:
        """The absolute URL of *href* on this server (for people and reports)."""
        return urljoin(self.base_url, href)

    def item_href(self, collection: Collection, name: str) -> str:
        """Where an object called *name* lives in *collection* (canonical spelling)."""
        return canonical_href(collection.href.rstrip("/") + "/" + quote(name, safe=""))

    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        """Store *raw* as *name* in *collection*: create-only without *etag*, else If-Match.

        A 412 answer (someone else wrote first) comes back as ``conflict``; a refusal with
        the server's words as ``error``; the run goes on either way.
        """
        href = href or self.item_href(collection, name)
        headers = {"Content-Type": f"{self.kind.content_type}; charset=utf-8"}
        headers["If-Match" if etag else "If-None-Match"] = etag or "*"
        response = self._request("PUT", href, raw, headers)
        precondition = failed_precondition(response.content)
        if response.status_code == 412 and not precondition:
            # Another writer was first, or (Radicale) the object broke a size precondition.
            return PutResult(href=href, conflict=True, error=f"HTTP 412 {_reason(response)}")
        if precondition:  # Xandikos: 412 naming e.g. valid-calendar-data, a refusal
            return PutResult(href=href, error=f"HTTP {response.status_code} {precondition}")
        if response.status_code not in (200, 201, 204):
            return PutResult(href=href, error=f"HTTP {response.status_code} {_reason(response)}")
        new_etag = response.headers.get("ETag")
        if not new_etag:
            found = self._propfind(href, "0", (D, "getetag"))
            new_etag = prop_text(found[0], (D, "getetag")) if found else None
        return PutResult(href=href, etag=new_etag or None)

    def get(self, href: str) -> Item | None:
        """Return the object at *href*, or None when there is none."""
        response = self._request("GET", href)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SkyliftError(f"GET {href}: HTTP {response.status_code} {_reason(response)}")
        return Item(
            kind=self.kind, href=href, raw=response.content, etag=response.headers.get("ETag")
        )

    def delete(self, href: str, etag: str | None = None) -> str | None:
        """Delete the object at *href* (only if unchanged when *etag* is given).

        Returns None when done or already gone, else the reason it was refused.
        """
        headers = {"If-Match": etag} if etag else {}
        response = self._request("DELETE", href, headers=headers)
        if response.status_code in (200, 204, 404):
            return None
        if response.status_code == 412:
            return "changed on the target meanwhile; left in place"
        return f"HTTP {response.status_code} {_reason(response)}"

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DavAccount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
