"""Collection properties: what MKCALENDAR/MKCOL carry, what the answer refused, PROPPATCH.

Why: a server may create the collection (201) and still refuse a property in the body of
its answer (RFC 5689 §5.2: one propstat per status; Xandikos refuses
``addressbook-description`` that way, and names its MKCALENDAR answer's root in a
misspelt namespace). Nothing here looks at the root element: every ``propstat`` counts.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from skylift.connectors.dav.base import description_name, text_properties
from skylift.connectors.dav.wire import CR, ICAL, NSMAP, C, D, q, text_of
from skylift.model.dav import Collection, DavKind

# The contract's local names of the text properties -> their XML names
QNAMES = {
    "displayname": (D, "displayname"),
    "calendar-color": (ICAL, "calendar-color"),
    "calendar-description": (C, "calendar-description"),
    "addressbook-description": (CR, "addressbook-description"),
}

# (namespace, name) -> a short name for reports
LABELS = {
    (D, "displayname"): "displayname",
    (ICAL, "calendar-color"): "calendar-color",
    (C, "calendar-description"): "calendar-description",
    (CR, "addressbook-description"): "addressbook-description",
    (C, "supported-calendar-component-set"): "supported-calendar-component-set",
    (D, "resourcetype"): "resourcetype",
}


def description_prop(kind: DavKind) -> tuple[str, str]:
    return QNAMES[description_name(kind)]


def qualified(values: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """Text properties by local name (the contract's spelling) -> by XML name."""
    return {QNAMES[name]: value for name, value in values.items()}


def text_props(spec: Collection) -> dict[tuple[str, str], str]:
    """The text properties of *spec* worth carrying over, by XML name."""
    return qualified(text_properties(spec))


def add_props(prop: etree._Element, values: dict[tuple[str, str], str]) -> None:
    for (ns, name), value in values.items():
        etree.SubElement(prop, q(ns, name)).text = value


def mkcol_body(spec: Collection, values: dict[tuple[str, str], str]) -> bytes:
    """MKCALENDAR (RFC 4791) or extended MKCOL (RFC 5689) carrying *values*."""
    calendar = spec.kind is DavKind.CALENDAR
    root = etree.Element(q(C, "mkcalendar") if calendar else q(D, "mkcol"), nsmap=NSMAP)
    prop = etree.SubElement(etree.SubElement(root, q(D, "set")), q(D, "prop"))
    if not calendar:
        rtype = etree.SubElement(prop, q(D, "resourcetype"))
        etree.SubElement(rtype, q(D, "collection"))
        etree.SubElement(rtype, q(CR, "addressbook"))
    add_props(prop, values)
    if calendar and spec.components:
        comps = etree.SubElement(prop, q(C, "supported-calendar-component-set"))
        for component in sorted(spec.components):
            etree.SubElement(comps, q(C, "comp"), name=component)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def proppatch_body(values: dict[tuple[str, str], str]) -> bytes:
    root = etree.Element(q(D, "propertyupdate"), nsmap=NSMAP)
    add_props(etree.SubElement(etree.SubElement(root, q(D, "set")), q(D, "prop")), values)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def refused(body: bytes) -> dict[tuple[str, str], str]:
    """Properties a MKCOL/MKCALENDAR/PROPPATCH answer gave a non-2xx status: name -> status.

    An empty or non-XML body refuses nothing (a plain 201 sets everything).
    """
    if not body.strip():
        return {}
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return {}
    out: dict[tuple[str, str], str] = {}
    for propstat in root.iter(q(D, "propstat")):
        status = text_of(propstat, (D, "status"))
        code = status.split(" ")[1] if len(status.split(" ")) > 1 else status
        if code.startswith("2"):
            continue
        prop = propstat.find(q(D, "prop"))
        for element in prop if prop is not None else []:
            qname = etree.QName(element)
            out[(qname.namespace or "", qname.localname)] = status.partition(" ")[2] or status
    return out


def label(name: tuple[str, str]) -> str:
    return LABELS.get(name, name[1])
