"""vCards <-> People API ``Person`` resources (the fields Google's contacts hold).

Kept: FN/N, NICKNAME, EMAIL, TEL, ADR, ORG/TITLE, NOTE, URL, BDAY, and the vCard UID as
``clientData`` ``skylift-uid`` (Google makes its own resource names; the UID is how a rerun
finds the contact again). Not carried yet: PHOTO (a separate ``updateContactPhoto`` call),
custom X- properties; a contact loses them on the way and the report says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import vobject

UID_KEY = "skylift-uid"
PERSON_FIELDS = (
    "names,nicknames,emailAddresses,phoneNumbers,addresses,organizations,biographies,urls,"
    "birthdays,clientData,memberships,metadata"
)
UPDATE_FIELDS = (
    "names,nicknames,emailAddresses,phoneNumbers,addresses,organizations,biographies,urls,"
    "birthdays,clientData"
)
CARRIED = {"FN", "N", "NICKNAME", "EMAIL", "TEL", "ADR", "ORG", "TITLE", "NOTE", "URL", "BDAY",
           "UID", "VERSION", "PRODID", "REV"}  # fmt: skip


def _type(prop: Any) -> str:
    types = [
        t.lower() for t in prop.params.get("TYPE", []) if t.lower() not in ("internet", "pref")
    ]
    return types[0] if types else "other"


def _text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def to_person(raw: bytes) -> tuple[str, dict[str, Any], list[str]]:
    """(UID, Person body, properties not carried) for one vCard."""
    card = vobject.readOne(raw.decode("utf-8", "replace"), ignoreUnreadable=True)
    uid = str(card.uid.value) if hasattr(card, "uid") else ""
    person: dict[str, Any] = {"clientData": [{"key": UID_KEY, "value": uid}]}
    if hasattr(card, "n"):
        n = card.n.value
        name = {
            "givenName": _text(n.given), "familyName": _text(n.family),
            "middleName": _text(n.additional), "honorificPrefix": _text(n.prefix),
            "honorificSuffix": _text(n.suffix),
        }  # fmt: skip
        person["names"] = [{k: v for k, v in name.items() if v}]
    if hasattr(card, "fn"):  # the name as shown, kept beside the structured parts
        person.setdefault("names", [{}])[0]["unstructuredName"] = str(card.fn.value)
    lists = {
        "nickname": ("nicknames", lambda p: {"value": _text(p.value)}),
        "email": ("emailAddresses", lambda p: {"value": str(p.value), "type": _type(p)}),
        "tel": ("phoneNumbers", lambda p: {"value": str(p.value), "type": _type(p)}),
        "url": ("urls", lambda p: {"value": str(p.value)}),
        "note": ("biographies", lambda p: {"value": str(p.value), "contentType": "TEXT_PLAIN"}),
    }
    for key, (field, make) in lists.items():
        props = card.contents.get(key, [])
        if props:
            person[field] = [make(p) for p in props]
    addresses = []
    for prop in card.contents.get("adr", []):
        a = prop.value
        entry = {
            "streetAddress": _text(a.street), "city": _text(a.city), "region": _text(a.region),
            "postalCode": _text(a.code), "country": _text(a.country),
            "extendedAddress": _text(a.extended), "poBox": _text(a.box), "type": _type(prop),
        }  # fmt: skip
        addresses.append({k: v for k, v in entry.items() if v})
    if addresses:
        person["addresses"] = addresses
    if hasattr(card, "org") or hasattr(card, "title"):
        org: dict[str, Any] = {}
        if hasattr(card, "org"):
            parts = card.org.value if isinstance(card.org.value, list) else [card.org.value]
            org["name"] = str(parts[0])
            if len(parts) > 1 and parts[1]:
                org["department"] = str(parts[1])
        if hasattr(card, "title"):
            org["title"] = str(card.title.value)
        person["organizations"] = [org]
    if hasattr(card, "bday"):
        text = str(card.bday.value).replace("-", "")
        try:
            day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
            person["birthdays"] = [{"date": {"year": day.year, "month": day.month, "day": day.day}}]
        except ValueError:
            person["birthdays"] = [{"text": str(card.bday.value)}]
    dropped = sorted({k.upper() for k in card.contents} - {c for c in CARRIED} - {"X-SKYLIFT"})
    return uid, person, dropped


def uid_of(person: dict[str, Any]) -> str | None:
    for entry in person.get("clientData", []):
        if entry.get("key") == UID_KEY:
            return str(entry.get("value", ""))
    return None


def to_vcard(person: dict[str, Any]) -> bytes:
    """A vCard 3.0 from a Person as Google holds it."""
    card = vobject.vCard()
    card.add("uid").value = uid_of(person) or person["resourceName"]
    name = (person.get("names") or [{}])[0]
    n = card.add("n")
    n.value = vobject.vcard.Name(
        family=name.get("familyName", ""), given=name.get("givenName", ""),
        additional=name.get("middleName", ""), prefix=name.get("honorificPrefix", ""),
        suffix=name.get("honorificSuffix", ""),
    )  # fmt: skip
    full = name.get("unstructuredName") or " ".join(
        p for p in (name.get("honorificPrefix"), name.get("givenName"), name.get("middleName"),
                    name.get("familyName"), name.get("honorificSuffix")) if p
    )  # fmt: skip
    card.add("fn").value = full or (person.get("emailAddresses") or [{}])[0].get("value", "")
    for entry in person.get("nicknames", []):
        card.add("nickname").value = entry["value"]
    for key, field in (("email", "emailAddresses"), ("tel", "phoneNumbers")):
        for entry in person.get(field, []):
            prop = card.add(key)
            prop.value = entry["value"]
            if entry.get("type") and entry["type"] != "other":
                prop.type_param = entry["type"].upper()
    for entry in person.get("addresses", []):
        prop = card.add("adr")
        prop.value = vobject.vcard.Address(
            street=entry.get("streetAddress", ""), city=entry.get("city", ""),
            region=entry.get("region", ""), code=entry.get("postalCode", ""),
            country=entry.get("country", ""), box=entry.get("poBox", ""),
            extended=entry.get("extendedAddress", ""),
        )  # fmt: skip
    for entry in person.get("organizations", []):
        if entry.get("name"):
            card.add("org").value = [
                entry["name"],
                *([entry["department"]] if entry.get("department") else []),
            ]
        if entry.get("title"):
            card.add("title").value = entry["title"]
    for entry in person.get("biographies", []):
        card.add("note").value = entry["value"]
    for entry in person.get("urls", []):
        card.add("url").value = entry["value"]
    for entry in person.get("birthdays", []):
        date = entry.get("date")
        if date and date.get("year"):
            card.add("bday").value = f"{date['year']:04d}-{date['month']:02d}-{date['day']:02d}"
    return card.serialize().encode()  # type: ignore[no-any-return]
