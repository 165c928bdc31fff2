"""WebDAV/CalDAV/CardDAV XML: namespaces, request bodies, reading multistatus answers.

Kept apart from the HTTP client in ``dav.py`` so that module reads as the protocol steps.
lxml parses; nothing here looks at XML as text.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from lxml import etree

D, C, CR = "DAV:", "urn:ietf:params:xml:ns:caldav", "urn:ietf:params:xml:ns:carddav"
CS, ICAL = "http://calendarserver.org/ns/", "http://apple.com/ns/ical/"
NSMAP = {"D": D, "C": C, "CR": CR, "CS": CS, "ICAL": ICAL}


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def propfind_body(*props: tuple[str, str]) -> bytes:
    root = etree.Element(q(D, "propfind"), nsmap=NSMAP)
    prop = etree.SubElement(root, q(D, "prop"))
    for ns, name in props:
        etree.SubElement(prop, q(ns, name))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def canonical_href(href: str) -> str:
    """One spelling per path, whatever the server's percent-encoding: the ledger's key."""
    return quote(unquote(urlsplit(href).path), safe="/")


def same_href(a: str, b: str) -> bool:
    """Compare two hrefs the way servers mean them (percent-encoding and trailing slash)."""
    return unquote(urlsplit(a).path).rstrip("/") == unquote(urlsplit(b).path).rstrip("/")


def to_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def text_of(element: etree._Element, name: tuple[str, str]) -> str:
    found = element.find(q(*name))
    return (found.text or "").strip() if found is not None else ""


def prop_text(response: etree._Element, name: tuple[str, str]) -> str:
    """The text of property *name* if the server gave it with status 200."""
    for propstat in response.iter(q(D, "propstat")):
        status = text_of(propstat, (D, "status"))
        if " 200 " not in status + " ":
            continue
        found = propstat.find(f"{q(D, 'prop')}/{q(*name)}")
        if found is not None:
            return (found.text or "").strip()
    return ""


def first_href(responses: list[etree._Element], name: tuple[str, str]) -> str:
    for response in responses:
        for propstat in response.iter(q(D, "propstat")):
            found = propstat.find(f"{q(D, 'prop')}/{q(*name)}/{q(D, 'href')}")
            if found is not None and found.text:
                return found.text.strip()
    return ""


def parse_keeping_cr(content: bytes) -> etree._Element:
    """Parse a multistatus keeping the carriage returns inside calendar or address data.

    An XML parser turns every CR LF into LF (XML 1.0 §2.11), so object bytes read from a
    multiget would lose their CRs; escaped as ``&#13;`` they survive. Falls back to a plain
    parse when the escaped text is not well-formed (a CR inside a tag) or not UTF-8.
    """
    if b"\r" not in content:
        return etree.fromstring(content)
    body = content
    if body.startswith(b"<?xml"):
        declaration, _, body = body.partition(b"?>")
        if b"encoding" in declaration and not re.search(
            rb"encoding\s*=\s*[\"']utf-?8[\"']", declaration, re.IGNORECASE
        ):
            return etree.fromstring(content)
    try:
        return etree.fromstring(body.strip().replace(b"\r", b"&#13;"))
    except etree.XMLSyntaxError:
        return etree.fromstring(content)


def failed_precondition(body: bytes) -> str:
    """The CalDAV/CardDAV precondition a DAV:error body names (with its description), or ""."""
    if b"error" not in body:
        return ""
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return ""
    if root.tag != q(D, "error"):
        return ""
    names = [etree.QName(e).localname for e in root if etree.QName(e).namespace in (C, CR)]
    if not names:
        return ""
    description = text_of(root, (D, "responsedescription"))
    return ", ".join(names) + (f": {description}" if description else "")
