"""Make a vCard storable on a CardDAV server: UTF-8, version 3.0 or 4.0, with UID and FN.

CardDAV (RFC 6352) requires vCard 3.0; phones and Outlook still export 2.1, with
QUOTED-PRINTABLE values that soft-wrap over several lines, per-property CHARSET and bare
type parameters (``TEL;WORK;VOICE``). vobject cannot read those soft breaks, so this module
does the 2.1 -> 3.0 step on content lines: join, decode, rename parameters, re-escape. A
3.0/4.0 card is left byte for byte as it is unless it lacks a UID or FN.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import quopri
import re
from dataclasses import dataclass

from skylift.model.dav import decode_dav_text

NEW_PROPERTY = re.compile(r"^(?:[A-Za-z0-9-]+\.)?[A-Za-z][A-Za-z0-9-]*[;:]")
# Text properties where a 2.1 comma is a plain character (in 3.0 it must be escaped).
COMMA_IS_TEXT = frozenset({"FN", "N", "ORG", "TITLE", "ROLE", "NOTE", "LABEL", "ADR"})
PARAM_SPLIT = re.compile(r';(?=(?:[^"]*"[^"]*")*[^"]*$)')


@dataclass(frozen=True)
class ContentLine:
    group: str
    name: str
    params: list[tuple[str, str | None]]
    value: str

    def render(self) -> str:
        head = (self.group + "." if self.group else "") + self.name
        for key, value in self.params:
            head += f";{key}={value}" if value is not None else f";{key}"
        return f"{head}:{self.value}"


def logical_lines(text: str) -> list[str]:
    """Unfold a card: indented continuations, and QUOTED-PRINTABLE soft line breaks."""
    out: list[str] = []
    continue_qp = False
    # A bare CR inside a value (seen in Thunderbird exports) is a line break in the text.
    for line in text.replace("\r\n", "\n").rstrip("\r").replace("\r", "\\n").split("\n"):
        if continue_qp and out and line.strip() and not NEW_PROPERTY.match(line):
            out[-1] = out[-1][:-1] + line
        elif line[:1] in (" ", "\t") and out:
            out[-1] += line[1:]
        elif line.strip():
            out.append(line)
        else:
            continue
        head = out[-1].split(":", 1)[0].upper()
        continue_qp = "QUOTED-PRINTABLE" in head and out[-1].endswith("=")
    return out


def parse_line(line: str) -> ContentLine:
    head, _, value = line.partition(":")
    parts = PARAM_SPLIT.split(head)
    group, _, name = parts[0].rpartition(".")
    params: list[tuple[str, str | None]] = []
    for part in parts[1:]:
        key, eq, val = part.partition("=")
        params.append((key.strip().upper(), val if eq else None))
    return ContentLine(group, name.strip().upper(), params, value)


def card_version(text: str) -> str:
    match = re.search(r"^VERSION:\s*([0-9.]+)", text, re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else "3.0"


def convert_21_to_30(text: str) -> str:
    """Rewrite a vCard 2.1 as 3.0 with the same information."""
    out: list[str] = []
    for line in logical_lines(text):
        prop = parse_line(line)
        if prop.name in ("BEGIN", "END"):
            out.append(f"{prop.name}:{prop.value.strip()}")
            continue
        if prop.name == "VERSION":
            out.append("VERSION:3.0")
            continue
        value = prop.value
        charset = "utf-8"
        types: list[str] = []
        params: list[tuple[str, str | None]] = []
        for key, val in prop.params:
            if val is None and key in ("QUOTED-PRINTABLE", "BASE64"):
                key, val = "ENCODING", key
            if val is None:
                types.append(key)
            elif key == "TYPE":
                types.extend(v.upper() for v in val.split(","))
            elif key == "CHARSET":
                charset = val.strip('"')
            elif key == "ENCODING" and val.upper() == "QUOTED-PRINTABLE":
                decoded = quopri.decodestring(value.encode("latin-1", "replace"))
                value = _escape_text(decoded.decode(charset, errors="replace"), prop.name)
            elif key == "ENCODING" and val.upper() in ("BASE64", "B"):
                params.append(("ENCODING", "b"))
                value = "".join(value.split())
                try:
                    base64.b64decode(value, validate=True)
                except binascii.Error:
                    raise ValueError(f"{prop.name} is not valid base64 (truncated?)") from None
            elif key == "ENCODING":
                continue
            else:
                params.append((key, val))
        if prop.name in COMMA_IS_TEXT:
            value = re.sub(r"(?<!\\),", r"\\,", value)  # 2.1 has no escapes; 3.0 splits at ","
        if types:
            params.insert(0, ("TYPE", ",".join(dict.fromkeys(types))))
        out.append(fold(ContentLine(prop.group, prop.name, params, value.strip()).render()))
    return "\r\n".join(out) + "\r\n"


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line at *limit* octets without splitting a UTF-8 character."""
    if len(line.encode("utf-8")) <= limit:
        return line
    pieces: list[str] = []
    current = ""
    for char in line:
        width = limit if not pieces else limit - 1
        if len((current + char).encode("utf-8")) > width:
            pieces.append(current)
            current = ""
        current += char
    pieces.append(current)
    return "\r\n ".join(pieces)


# vCard 4.0 properties 3.0 lacks; kept as the X- names Apple and others read.
RENAMED_40 = {
    "KIND": "X-ADDRESSBOOKSERVER-KIND",
    "MEMBER": "X-ADDRESSBOOKSERVER-MEMBER",
    "GENDER": "X-GENDER",
    "ANNIVERSARY": "X-ANNIVERSARY",
    "RELATED": "X-RELATED",
    "LANG": "X-LANG",
    "CLIENTPIDMAP": "X-CLIENTPIDMAP",
}
DATA_URI = re.compile(
    r"^data:([\w.+-]+)/([\w.+-]+)(?:;[^,]*)?;base64,(.*)$", re.IGNORECASE | re.DOTALL
)


def convert_40_to_30(text: str) -> str:
    """Rewrite a vCard 4.0 as 3.0 for a server that takes only 3.0 (RFC 6350 appendix A).

    Inline ``data:`` photos become ``ENCODING=b;TYPE=…``, ``PREF=n`` becomes ``TYPE=PREF``,
    ``tel:`` URIs become numbers, and 4.0-only properties keep their value under X- names.
    """
    out: list[str] = []
    for line in logical_lines(text):
        prop = parse_line(line)
        if prop.name == "VERSION":
            out.append("VERSION:3.0")
            continue
        name = RENAMED_40.get(prop.name, prop.name)
        value = prop.value
        types: list[str] = []
        params: list[tuple[str, str | None]] = []
        for key, val in prop.params:
            if key == "PREF":
                types.append("PREF")
            elif key == "TYPE" and val is not None:
                types.extend(v.strip('"').upper() for v in val.split(","))
            elif key in ("VALUE", "MEDIATYPE", "PID", "ALTID", "CALSCALE"):
                continue
            else:
                params.append((key, val))
        data = DATA_URI.match(value)
        if data:
            params.append(("ENCODING", "b"))
            types.append(data.group(2).upper())
            value = data.group(3)
        elif prop.name == "TEL" and value.lower().startswith("tel:"):
            value = value[4:]
        if types:
            params.insert(0, ("TYPE", ",".join(dict.fromkeys(types))))
        out.append(fold(ContentLine(prop.group, name, params, value).render()))
    return "\r\n".join(out) + "\r\n"


def _escape_text(value: str, name: str) -> str:
    value = value.replace("\\", "\\\\") if name not in ("N", "ADR", "ORG") else value
    return value.replace("\r\n", "\n").replace("\n", "\\n")


def ensure_identity(text: str, fallback_uid: str) -> tuple[str, str]:
    """Add UID (stable: from the source bytes) and FN when missing; return (text, uid)."""
    lines = logical_lines(text)
    names = {parse_line(line).name: parse_line(line) for line in lines[1:-1]}
    uid = names["UID"].value.strip() if "UID" in names and names["UID"].value.strip() else ""
    additions: list[str] = []
    if not uid:
        uid = fallback_uid
        additions.append(f"UID:{uid}")
    if "FN" not in names or not names["FN"].value.strip():
        additions.append(f"FN:{_display_name(names)}")
    if "N" not in names and card_version(text) == "3.0":
        additions.append("N:;;;;")
    if not additions:
        return text, uid
    end = text.rstrip().rfind("\n") + 1
    return text[:end].replace("\nFN:\r\n", "\n").replace("\nFN:\n", "\n") + "\r\n".join(
        [*additions, text[end:].strip()]
    ) + "\r\n", uid


def _display_name(names: dict[str, ContentLine]) -> str:
    if "N" in names:
        parts = [p for p in names["N"].value.split(";") if p.strip()]
        if parts:
            ordered = parts[1:2] + parts[2:3] + parts[:1]
            return " ".join(ordered)
    for key in ("ORG", "EMAIL", "TEL", "NICKNAME"):
        if key in names and names[key].value.strip():
            return names[key].value.split(";")[0].strip()
    return "(no name)"


def prepare_vcard(raw: bytes, target_versions: frozenset[str]) -> tuple[bytes, str]:
    """Return the card as the target should store it, and its UID.

    *target_versions* are the vCard versions the target takes ("3.0", "4.0"). The UID of a
    card without one is derived from its bytes, so a rerun finds the same card again.
    """
    text = decode_dav_text(raw)
    if not re.search(r"^BEGIN:VCARD", text, re.IGNORECASE | re.MULTILINE):
        raise ValueError("not a vCard (no BEGIN:VCARD)")
    fallback = "skylift-" + hashlib.sha256(raw).hexdigest()[:32]
    version = card_version(text)
    if version not in target_versions:
        if version == "2.1":
            text = convert_21_to_30(text)
        elif version == "4.0" and "3.0" in target_versions:
            text = convert_40_to_30(text)
        else:
            raise ValueError(f"vCard {version} cannot be stored on this target")
    text, uid = ensure_identity(text, fallback)
    return text.encode("utf-8"), uid
