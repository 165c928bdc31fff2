"""Check a request against the pinned slice of Google's discovery documents.

Google answers 400 ``badRequest``/``invalid`` to an unknown query parameter, a value of the
wrong type, or a body field it does not know; the fake does the same, so a connector that
sends something the published API does not define fails its test instead of losing data
later. The slice is ``tests/data/google/discovery-slice.json`` (see ``make_slice.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

SLICE = Path(__file__).resolve().parents[1] / "data" / "google" / "discovery-slice.json"


@cache
def load_slice() -> dict[str, Any]:
    return json.loads(SLICE.read_text())  # type: ignore[no-any-return]


class SchemaError(ValueError):
    """What Google would refuse with 400, in its own style of words."""


@dataclass(frozen=True)
class Route:
    api: str
    method_id: str
    method: dict[str, Any]
    path_params: dict[str, str]


def _pattern(path: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{\+?\w+\})", path):
        if part.startswith("{"):
            name = part.strip("{}+")
            out += f"(?P<{name}>[^/]+/[^/:]+)" if part.startswith("{+") else f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out + "$")


def route(http_method: str, url_path: str) -> Route | None:
    """The discovery method that *http_method* *url_path* calls, or None (Google: 404)."""
    apis = sorted(load_slice()["apis"].items(), key=lambda kv: -len(kv[1]["servicePath"]))
    for name, api in apis:
        prefix = "/" + api["servicePath"]
        if not url_path.startswith(prefix):
            continue
        rest = url_path[len(prefix) :]
        for method_id, method in api["methods"].items():
            if method["httpMethod"] != http_method:
                continue
            match = _pattern(method["path"]).match(rest)
            if match:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                return Route(name, method_id, method, params)
    return None


def _check_scalar(where: str, spec: dict[str, Any], value: str) -> None:
    kind = spec.get("type", "string")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        raise SchemaError(f"Invalid value for {where}: {value!r} (integer)")
    if kind == "boolean" and value not in ("true", "false"):
        raise SchemaError(f"Invalid value for {where}: {value!r} (boolean)")
    if "enum" in spec and value not in spec["enum"]:
        raise SchemaError(f"Invalid value for {where}: {value!r}")


def check_query(api: str, found: Route, query: dict[str, list[str]]) -> None:
    """Unknown, repeated-when-single and badly typed query parameters are refused."""
    params = dict(load_slice()["apis"][api]["parameters"])
    params.update(
        {k: v for k, v in found.method.get("parameters", {}).items() if v["location"] == "query"}
    )
    for name, values in query.items():
        spec = params.get(name)
        if spec is None:
            raise SchemaError(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter.'
            )
        if len(values) > 1 and not spec.get("repeated"):
            raise SchemaError(f"parameter {name} given {len(values)} times")
        for value in values:
            _check_scalar(name, spec, value)
    for name, spec in found.method.get("parameters", {}).items():
        if spec.get("required") and spec["location"] == "query" and name not in query:
            raise SchemaError(f"Required parameter: {name}")


def check_body(api: str, ref: str, body: Any, where: str = "") -> None:
    """*body* against schema *ref*: unknown names and wrong JSON types are refused."""
    schema = load_slice()["apis"][api]["schemas"][ref]
    _check(api, schema, body, where or ref)


def _check(api: str, schema: dict[str, Any], value: Any, where: str) -> None:
    if "$ref" in schema:
        check_body(api, schema["$ref"], value, where)
        return
    kind = schema.get("type")
    if kind == "any" or value is None:
        return
    if kind == "object":
        if not isinstance(value, dict):
            raise SchemaError(f"Invalid value at '{where}': expected an object")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                _check(api, props[name], item, f"{where}.{name}")
            elif extra is not None:
                _check(api, extra, item, f"{where}.{name}")
            else:
                raise SchemaError(
                    f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': "
                    "Cannot find field."
                )
    elif kind == "array":
        if not isinstance(value, list):
            raise SchemaError(f"Invalid value at '{where}': expected a list")
        for i, item in enumerate(value):
            _check(api, schema.get("items", {}), item, f"{where}[{i}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise SchemaError(
                f"Invalid value at '{where}' ({type(value).__name__}), expected a string"
            )
        fmt = schema.get("format")
        if fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
            raise SchemaError(f"Invalid value at '{where}': {value!r} ({fmt})")
        if fmt == "date" and not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            raise SchemaError(f"Invalid value at '{where}': {value!r} (date)")
        if fmt == "date-time" and not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", value
        ):
            raise SchemaError(f"Invalid value at '{where}': {value!r} (date-time)")
        if "enum" in schema and value not in schema["enum"]:
            raise SchemaError(f"Invalid value at '{where}': {value!r}")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise SchemaError(f"Invalid value at '{where}' ({value!r}), expected an integer")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise SchemaError(f"Invalid value at '{where}' ({value!r}), expected a boolean")
    elif kind == "number" and not isinstance(value, int | float):
        raise SchemaError(f"Invalid value at '{where}' ({value!r}), expected a number")
