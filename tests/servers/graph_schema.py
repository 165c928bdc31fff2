"""Check a Graph request against the pinned slice of Microsoft Graph's published CSDL.

Graph answers 400 ``BadRequest``/``RequestBroker--ParseUri`` to a path segment it does not
know, an unknown property in a body or ``$select``, or a value of the wrong type; the fake
does the same, so a connector that sends what the published schema does not define fails its
test instead of losing data later. The slice is ``tests/data/graph/csdl-slice.json`` (see
``make_slice.py``). Paths are resolved from an entity set through navigation properties, as
OData addresses them: ``/users/{id}/calendars/{id}/events/{id}/instances``.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SLICE = Path(__file__).resolve().parents[1] / "data" / "graph" / "csdl-slice.json"
#: OData system query options Graph takes on a collection or entity (v1.0)
SYSTEM_OPTIONS = {"$select", "$top", "$filter", "$expand", "$skip", "$count", "$orderby",
                  "$skiptoken", "$deltatoken"}  # fmt: skip
#: function-style parameters of navigations that the CSDL does not carry (Graph docs)
NAV_PARAMETERS = {"instances": {"startDateTime", "endDateTime"}}


class SchemaError(ValueError):
    """What Graph would refuse with 400, in its own style of words."""


@cache
def load_slice() -> dict[str, Any]:
    return json.loads(SLICE.read_text())  # type: ignore[no-any-return]


def types() -> dict[str, Any]:
    return load_slice()["types"]  # type: ignore[no-any-return]


def properties(name: str) -> dict[str, Any]:
    """Every structural property of type *name*, its base types' included."""
    out: dict[str, Any] = {}
    while name:
        entry = types()[name]
        out.update(entry.get("properties", {}))
        name = entry.get("base", "")
    return out


def navigation(name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    while name:
        entry = types()[name]
        out.update(entry.get("navigation", {}))
        name = entry.get("base", "")
    return out


def resolve(path: str) -> tuple[str, bool, list[str]]:
    """(type, is a collection, the segments) that */v1.0/...* *path* addresses.

    Raises SchemaError for a segment the schema does not define.
    """
    parts = [p for p in path.split("/") if p][1:]  # drop "v1.0"
    if not parts:
        raise SchemaError("Resource not found for the segment ''.")
    if parts == ["$batch"]:
        return "$batch", False, parts
    sets = load_slice()["entity_sets"]
    if parts[0] not in sets:
        raise SchemaError(f"Resource not found for the segment '{parts[0]}'.")
    kind, many = sets[parts[0]], True
    for part in parts[1:]:
        if part == "$ref":  # a reference to (or into) a collection of directory objects
            return "$ref", False, parts
        action = load_slice().get("actions", {}).get(part)
        if action is not None and many and action["binding"] == f"Collection({kind})":
            return f"action:{part}", False, parts
        if many:  # a key into the collection
            kind, many = kind, False
            continue
        if part == "$value" and kind == "profilePhoto":
            return kind, False, parts
        navs = navigation(kind)
        if part not in navs:
            raise SchemaError(f"Resource not found for the segment '{part}'.")
        target = navs[part]
        many = target.startswith("Collection(")
        kind = target.removeprefix("Collection(").removesuffix(")")
        if kind not in types():
            raise SchemaError(f"segment '{part}' leads to {kind}, outside the pinned slice")
    return kind, many, parts


def check_query(kind: str, last_segment: str, query: dict[str, list[str]]) -> None:
    """Unknown options, and ``$select`` names the type does not have, are refused."""
    if kind.startswith("action:") or kind in ("$ref", "$batch"):
        if query:
            raise SchemaError(f"Query options are not allowed on {last_segment}.")
        return
    allowed = SYSTEM_OPTIONS | NAV_PARAMETERS.get(last_segment, set())
    for name, values in query.items():
        if name not in allowed:
            raise SchemaError(f"Query option '{name}' is not allowed.")
        if len(values) > 1:
            raise SchemaError(f"Query option '{name}' was specified more than once.")
        value = values[0]
        if name == "$top" and not re.fullmatch(r"\d+", value):
            raise SchemaError(f"Invalid value '{value}' for $top.")
        if name == "$select":
            known = properties(kind)
            for field in value.split(","):
                if field.strip() not in known and field.strip() != "id":
                    raise SchemaError(
                        f"Could not find a property named '{field}' on type 'microsoft.graph.{kind}'."
                    )
        if name in ("startDateTime", "endDateTime") and not _DATETIME.fullmatch(value):
            raise SchemaError(f"Invalid value '{value}' for {name}.")
    for name in NAV_PARAMETERS.get(last_segment, set()):
        if name not in query:
            raise SchemaError(f"This request requires a time window specified by {name}.")


_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_EDM = {
    "Edm.String": str, "Edm.Boolean": bool, "Edm.Int32": int, "Edm.Int64": int,
    "Edm.Double": (int, float), "Edm.Guid": str, "Edm.Binary": str,
    "Edm.DateTimeOffset": str, "Edm.Date": str, "Edm.TimeOfDay": str, "Edm.Duration": str,
    "Edm.Stream": str,
}  # fmt: skip


def check_body(kind: str, body: Any, where: str = "") -> None:
    """*body* against type *kind*: unknown names and wrong JSON types are refused."""
    where = where or kind
    if kind.startswith("action:"):  # a bound action: its parameters are the body
        params = load_slice()["actions"][kind.removeprefix("action:")]["parameters"]
        for name, value in (body or {}).items():
            if name not in params:
                raise SchemaError(f"The parameter '{name}' in the request payload is not valid.")
            _check_value(params[name]["type"], value, f"{where}.{name}", params[name])
        for name, spec in params.items():
            if spec.get("nullable") is False and name not in (body or {}):
                raise SchemaError(f"The parameter '{name}' is missing.")
        return
    if kind == "$ref":  # OData: a reference body is exactly {"@odata.id": URL}
        if not isinstance(body, dict) or set(body) != {"@odata.id"}:
            raise SchemaError("A reference body takes '@odata.id' only.")
        return
    if not isinstance(body, dict):
        raise SchemaError(f"Invalid value at '{where}': an object of type {kind} expected")
    declared = body.get("@odata.type")
    if isinstance(declared, str):
        sub = declared.removeprefix("#").removeprefix("microsoft.graph.")
        if sub not in types() or not _derives(sub, kind):
            raise SchemaError(f"'{declared}' is not a type derived from '{kind}'.")
        kind = sub
    known = properties(kind)
    navs = navigation(kind) if types()[kind]["kind"] == "entity" else {}
    for name, value in body.items():
        if name.startswith("@odata.") or name.endswith("@odata.bind"):
            continue
        if name in known:
            _check_value(known[name]["type"], value, f"{where}.{name}", known[name])
        elif name in navs:  # deep insert (attachments, extended properties)
            target = navs[name].removeprefix("Collection(").removesuffix(")")
            if target not in types():
                raise SchemaError(f"'{name}' leads to {target}, outside the pinned slice")
            if not isinstance(value, list):
                raise SchemaError(f"Invalid value at '{where}.{name}': a collection expected")
            for i, item in enumerate(value):
                check_body(target, item, f"{where}.{name}[{i}]")
        else:
            raise SchemaError(
                f"The property '{name}' does not exist on type 'microsoft.graph.{kind}'. "
                "Make sure to only use property names that are defined by the type."
            )


def _derives(sub: str, base: str) -> bool:
    while sub:
        if sub == base:
            return True
        sub = types()[sub].get("base", "")
    return False


def _check_value(kind: str, value: Any, where: str, spec: dict[str, Any]) -> None:
    if value is None:
        if spec.get("nullable") is False:
            raise SchemaError(f"Cannot convert a null to '{kind}' at '{where}' (not nullable).")
        return
    if kind.startswith("Collection("):
        if not isinstance(value, list):
            raise SchemaError(f"Invalid value at '{where}': a collection expected")
        inner = kind.removeprefix("Collection(").removesuffix(")")
        for i, item in enumerate(value):
            _check_value(inner, item, f"{where}[{i}]", {})
        return
    if kind in _EDM:
        expected = _EDM[kind]
        if (isinstance(value, bool) and kind != "Edm.Boolean") or not isinstance(value, expected):
            raise SchemaError(f"Cannot convert the literal '{value}' to '{kind}' at '{where}'.")
        if kind == "Edm.Date" and not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            raise SchemaError(f"Cannot convert the literal '{value}' to Edm.Date at '{where}'.")
        if kind == "Edm.DateTimeOffset" and not _DATETIME.fullmatch(value):
            raise SchemaError(f"Cannot convert '{value}' to Edm.DateTimeOffset at '{where}'.")
        if kind == "Edm.Binary":
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                raise SchemaError(f"'{where}' is not base64") from None
        return
    entry = types().get(kind)
    if entry is None:
        raise SchemaError(f"type {kind} at '{where}' is outside the pinned slice")
    if entry["kind"] == "enum":
        if not isinstance(value, str) or value not in entry["members"]:
            raise SchemaError(
                f"Requested value '{value}' was not found in enum 'microsoft.graph.{kind}' "
                f"at '{where}'."
            )
        return
    check_body(kind, value, where)
