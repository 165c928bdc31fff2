"""Cut the pinned slice of Google's discovery documents that skylift's Google connectors call.

The documents ship inside the PyPI package google-api-python-client (Apache-2.0), in
``googleapiclient/discovery_cache/documents/``. The slice keeps, per API, the methods in
``CALLS`` and every schema they reference (transitively), plus the package version and the
document's revision, so the loopback fake validates against exactly what was reviewed.

    .venv/bin/python tests/data/google/make_slice.py      # rewrite the slice after a bump

tests/connectors/google/test_drift.py fails when the installed package no longer matches.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SLICE = HERE / "discovery-slice.json"

#: discovery file -> the method ids skylift's Google connectors call
CALLS: dict[str, list[str]] = {
    "calendar.v3.json": [
        "calendar.calendarList.list",
        "calendar.calendarList.patch",
        "calendar.calendars.insert",
        "calendar.events.import",
        "calendar.events.list",
        "calendar.events.delete",
    ],
    "people.v1.json": [
        "people.contactGroups.list",
        "people.contactGroups.create",
        "people.people.connections.list",
        "people.people.createContact",
        "people.people.updateContact",
        "people.people.deleteContact",
    ],
    "admin.directory_v1.json": [
        f"directory.{resource}.{verb}"
        for resource, verbs in (
            ("users", ("list", "get", "insert", "patch", "delete")),
            ("groups", ("list", "get", "insert", "patch", "delete")),
            ("members", ("list", "insert", "delete")),
        )
        for verb in verbs
    ],
}


def _methods(resources: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for resource in resources.values():
        for method in resource.get("methods", {}).values():
            found[method["id"]] = method
        found.update(_methods(resource.get("resources", {})))
    return found


def _refs(node: Any, into: set[str]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            into.add(node["$ref"])
        for value in node.values():
            _refs(value, into)
    elif isinstance(node, list):
        for value in node:
            _refs(value, into)


def cut(documents: Path) -> dict[str, Any]:
    """The slice of every document in CALLS, from the package folder *documents*."""
    apis: dict[str, Any] = {}
    for name, ids in CALLS.items():
        doc = json.loads((documents / name).read_text())
        methods = _methods(doc["resources"])
        chosen = {i: methods[i] for i in ids}
        schemas: dict[str, Any] = {}
        todo: set[str] = set()
        _refs(chosen, todo)
        while todo:
            ref = todo.pop()
            if ref in schemas:
                continue
            schemas[ref] = doc["schemas"][ref]
            _refs(schemas[ref], todo)
        apis[doc["name"]] = {
            "file": f"googleapiclient/discovery_cache/documents/{name}",
            "revision": doc["revision"],
            "rootUrl": doc["rootUrl"],
            "servicePath": doc["servicePath"],
            "parameters": doc.get("parameters", {}),
            "methods": chosen,
            "schemas": dict(sorted(schemas.items())),
        }
    return apis


def installed_documents() -> tuple[str, Path]:
    import googleapiclient

    version = metadata.version("google-api-python-client")
    return version, Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


def main() -> int:
    version, documents = installed_documents()
    data = {"package": "google-api-python-client", "version": version, "licence": "Apache-2.0"}
    data["apis"] = cut(documents)
    SLICE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SLICE.name} from google-api-python-client {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
