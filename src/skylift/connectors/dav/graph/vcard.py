"""vCards <-> Graph ``contact`` resources (the fields an Outlook contact holds), and photos.

Kept: FN as ``displayName``, N as given/middle/surname, NICKNAME, EMAIL (Graph keeps 3 at
most: the rest are reported), TEL (work -> ``businessPhones``, home -> ``homePhones``, cell ->
``mobilePhone``), ADR (work/home/other address), ORG/TITLE, NOTE as ``personalNotes``, BDAY,
CATEGORIES, and PHOTO (inline base64 or a ``data:`` URI) through ``/photo/$value``. The vCard
UID rides in a single-value extended property, as for events. Not carried: URLs beyond one
business home page, custom X- properties; the report names what was left out.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import vobject

from skylift.connectors.dav.graph.events import UID_PROPERTY

MAX_EMAILS = 3  # an Outlook contact has three e-mail slots
CARRIED = {"FN", "N", "NICKNAME", "EMAIL", "TEL", "ADR", "ORG", "TITLE", "NOTE", "BDAY", "UID",
           "VERSION", "PRODID", "REV", "PHOTO", "CATEGORIES", "URL"}  # fmt: skip
ADDRESS = {"work": "businessAddress", "home": "homeAddress"}


def _types(prop: Any) -> set[str]:
    return {t.lower() for t in prop.params.get("TYPE", [])}


def _text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def _photo(card: Any) -> tuple[bytes, str] | None:
    prop = getattr(card, "photo", None)
    if prop is None:
        return None
    value = prop.value
    if isinstance(value, bytes):
        kind = next(iter(_types(prop)), "jpeg")
        return value, f"image/{kind.removeprefix('image/')}"
    text = str(value)
    if text.startswith("data:") and ";base64," in text:
        head, data = text.split(",", 1)
        return base64.b64decode(data), head.removeprefix("data:").split(";")[0]
    return None  # a link to elsewhere: not fetched


def to_contact(raw: bytes) -> tuple[str, dict[str, Any], tuple[bytes, str] | None, list[str]]:
    """(UID, the contact body, the photo and its type, what was not carried) for one vCard."""
    card = vobject.readOne(raw.decode("utf-8", "replace"))
    uid = str(card.uid.value)
    body: dict[str, Any] = {"singleValueExtendedProperties": [{"id": UID_PROPERTY, "value": uid}]}
    if hasattr(card, "fn"):
        body["displayName"] = str(card.fn.value)
    if hasattr(card, "n"):
        name = card.n.value
        body["givenName"] = _text(name.given) or None
        body["surname"] = _text(name.family) or None
        if _text(name.additional):
            body["middleName"] = _text(name.additional)
    if hasattr(card, "nickname"):
        body["nickName"] = _text(card.nickname.value)
    emails = [str(p.value) for p in card.contents.get("email", [])]
    body["emailAddresses"] = [{"address": a, "name": body.get("displayName", a)}
                              for a in emails[:MAX_EMAILS]]  # fmt: skip
    business, home, mobile = [], [], None
    for tel in card.contents.get("tel", []):
        kinds, number = _types(tel), str(tel.value).removeprefix("tel:")
        if "cell" in kinds and mobile is None:
            mobile = number
        elif "home" in kinds:
            home.append(number)
        else:
            business.append(number)
    body.update(businessPhones=business, homePhones=home)
    if mobile:
        body["mobilePhone"] = mobile
    for adr in card.contents.get("adr", []):
        kinds = _types(adr)
        slot = next((ADDRESS[k] for k in ("work", "home") if k in kinds), "otherAddress")
        if slot in body:
            continue
        value = adr.value
        body[slot] = {
            "street": _text(value.street), "city": _text(value.city), "state": _text(value.region),
            "postalCode": _text(value.code), "countryOrRegion": _text(value.country),
        }  # fmt: skip
    if hasattr(card, "org"):
        org = card.org.value
        body["companyName"] = org[0] if isinstance(org, list) and org else _text(org)
        if isinstance(org, list) and len(org) > 1:
            body["department"] = org[1]
    if hasattr(card, "title"):
        body["jobTitle"] = str(card.title.value)
    if hasattr(card, "note"):
        body["personalNotes"] = str(card.note.value)
    if hasattr(card, "url"):
        body["businessHomePage"] = str(card.url.value)
    if hasattr(card, "bday"):
        day = str(card.bday.value).replace("-", "")[:8]
        if len(day) == 8 and day.isdigit():
            body["birthday"] = f"{day[:4]}-{day[4:6]}-{day[6:8]}T11:59:00Z"
    if hasattr(card, "categories"):
        body["categories"] = [str(c) for c in card.categories.value]
    left = sorted({p.name for p in card.getChildren()} - CARRIED)
    if len(emails) > MAX_EMAILS:
        left.append(f"{len(emails) - MAX_EMAILS} e-mail address(es) beyond {MAX_EMAILS}")
    return uid, body, _photo(card), left


def to_vcard(uid: str, contact: dict[str, Any], photo: bytes | None = None) -> bytes:
    """A vCard 3.0 from a Graph contact (and its photo)."""
    card = vobject.vCard()
    card.add("uid").value = uid
    card.add("fn").value = contact.get("displayName") or ""
    card.add("n").value = vobject.vcard.Name(
        family=contact.get("surname") or "", given=contact.get("givenName") or "",
        additional=contact.get("middleName") or "",
    )  # fmt: skip
    if contact.get("nickName"):
        card.add("nickname").value = contact["nickName"]
    for email in contact.get("emailAddresses") or []:
        card.add("email").value = email.get("address", "")
    for key, kind in (("businessPhones", "WORK"), ("homePhones", "HOME")):
        for number in contact.get(key) or []:
            tel = card.add("tel")
            tel.value, tel.type_param = number, kind
    if contact.get("mobilePhone"):
        tel = card.add("tel")
        tel.value, tel.type_param = contact["mobilePhone"], "CELL"
    for key, kind in (("businessAddress", "WORK"), ("homeAddress", "HOME"), ("otherAddress", "")):
        value = contact.get(key) or {}
        if any(value.values()):
            adr = card.add("adr")
            adr.value = vobject.vcard.Address(
                street=value.get("street") or "", city=value.get("city") or "",
                region=value.get("state") or "", code=value.get("postalCode") or "",
                country=value.get("countryOrRegion") or "",
            )  # fmt: skip
            if kind:
                adr.type_param = kind
    if contact.get("companyName"):
        card.add("org").value = [
            contact["companyName"],
            *([contact["department"]] if contact.get("department") else []),
        ]
    if contact.get("jobTitle"):
        card.add("title").value = contact["jobTitle"]
    if contact.get("personalNotes"):
        card.add("note").value = contact["personalNotes"]
    if contact.get("businessHomePage"):
        card.add("url").value = contact["businessHomePage"]
    if contact.get("birthday"):
        card.add("bday").value = (
            dt.datetime.fromisoformat(contact["birthday"].replace("Z", "+00:00")).date().isoformat()
        )
    if contact.get("categories"):
        card.add("categories").value = contact["categories"]
    if photo:
        prop = card.add("photo")
        prop.value, prop.encoding_param, prop.type_param = photo, "b", "JPEG"
    return card.serialize().encode()  # type: ignore[no-any-return]
