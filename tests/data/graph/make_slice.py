"""Cut the pinned slice of Microsoft Graph's published CSDL that skylift's Graph connectors use.

The CSDL is ``clean_v10_metadata/cleanMetadata.xml`` of the GitHub repository
microsoftgraph/msgraph-metadata (MIT). The slice keeps, from the ``microsoft.graph``
namespace, the entity, complex and enum types in ``TYPES`` and every type their structural
properties reach (transitively), each with its base type, its properties (name, type,
nullable) and its navigation property names; plus the entity sets skylift enters by and
the bound actions it calls (``ACTIONS``: ``createUploadSession`` on an item's attachments). The
JSON ``$batch`` envelope is OData's (not in the CSDL); its limit of 20 requests is
Microsoft's documented one and is written into the slice as such.

    python tests/data/graph/make_slice.py CSDL.xml [COMMIT]   # rewrite the slice after a bump

tests/cloud/graph/test_drift.py fails when an endpoint skylift calls leaves the slice.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SLICE = HERE / "csdl-slice.json"
NS = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
GRAPH = "microsoft.graph"
REPOSITORY = "microsoftgraph/msgraph-metadata"
PATH = "clean_v10_metadata/cleanMetadata.xml"

#: the types skylift reads or writes; what their properties reach comes along
TYPES = [
    "event", "calendar", "attendee", "dateTimeTimeZone", "patternedRecurrence",
    "recurrencePattern", "recurrenceRange", "fileAttachment", "attachment",
    "contact", "contactFolder", "profilePhoto", "singleValueLegacyExtendedProperty",
    "user", "group", "directoryObject", "passwordProfile", "attachmentItem", "uploadSession",
]  # fmt: skip
#: Microsoft To Do, where a calendar's tasks go (connectors/dav/graph/todo.py)
TYPES += ["todo", "todoTaskList", "todoTask", "linkedResource"]
#: bound actions skylift calls (name -> the binding it is called on)
ACTIONS = {"createUploadSession": "Collection(graph.attachment)"}
#: entity sets the directory connector enters by (users, groups, directoryObjects refs)
ENTITY_SETS = ["users", "groups", "directoryObjects"]
BATCH = {
    "max_requests": 20,
    "source": "Microsoft Graph: Combine multiple HTTP requests using JSON batching "
    "(JSON batch requests are currently limited to 20 individual requests)",
}


def _short(type_name: str) -> str:
    inner = type_name.removeprefix("Collection(").removesuffix(")")
    return inner.replace("graph.", f"{GRAPH}.")


def cut(csdl: Path) -> dict[str, Any]:
    """The slice of *csdl* (the cleanMetadata.xml file)."""
    root = ET.parse(csdl).getroot()
    schema = next(s for s in root.iter(f"{{{NS['edm']}}}Schema") if s.get("Namespace") == GRAPH)
    nodes: dict[str, ET.Element] = {}
    for node in schema:
        tag = node.tag.split("}")[1]
        if tag in ("EntityType", "ComplexType", "EnumType") and node.get("Name"):
            nodes[node.get("Name", "")] = node
    types: dict[str, Any] = {}
    todo = list(TYPES)
    while todo:
        name = todo.pop()
        if name in types or name not in nodes:
            continue
        node = nodes[name]
        tag = node.tag.split("}")[1]
        if tag == "EnumType":
            members = [m.get("Name") for m in node.findall("edm:Member", NS)]
            types[name] = {"kind": "enum", "members": members}
            continue
        entry: dict[str, Any] = {"kind": "entity" if tag == "EntityType" else "complex"}
        if node.get("BaseType"):
            entry["base"] = node.get("BaseType", "").removeprefix("graph.")
            todo.append(entry["base"])
        if node.get("Abstract") == "true":
            entry["abstract"] = True
        if node.get("OpenType") == "true":
            entry["open"] = True
        props = {}
        for prop in node.findall("edm:Property", NS):
            kind = prop.get("Type", "")
            props[prop.get("Name")] = {
                "type": kind.replace("graph.", ""),
                **({"nullable": False} if prop.get("Nullable") == "false" else {}),
            }
            short = _short(kind)
            if short.startswith(f"{GRAPH}."):
                todo.append(short.removeprefix(f"{GRAPH}."))
        entry["properties"] = dict(sorted(props.items()))
        navs = {
            nav.get("Name"): nav.get("Type", "").replace("graph.", "")
            for nav in node.findall("edm:NavigationProperty", NS)
        }
        if navs:
            entry["navigation"] = dict(sorted(navs.items()))
        types[name] = entry
    actions = {}
    for node in schema.findall("edm:Action", NS):
        params = node.findall("edm:Parameter", NS)
        name = node.get("Name", "")
        if name not in ACTIONS or not params or params[0].get("Type") != ACTIONS[name]:
            continue
        actions[name] = {
            "binding": ACTIONS[name].replace("graph.", ""),
            "parameters": {
                p.get("Name"): {
                    "type": p.get("Type", "").replace("graph.", ""),
                    **({"nullable": False} if p.get("Nullable") == "false" else {}),
                }
                for p in params[1:]
            },
            "returns": node.find("edm:ReturnType", NS).get("Type", "").replace("graph.", ""),  # type: ignore[union-attr]
        }
    container = next(schema.iter(f"{{{NS['edm']}}}EntityContainer"))
    sets = {
        s.get("Name"): s.get("EntityType", "").removeprefix(f"{GRAPH}.")
        for s in container.findall("edm:EntitySet", NS)
        if s.get("Name") in ENTITY_SETS
    }
    return {"types": dict(sorted(types.items())), "entity_sets": sets, "actions": actions}


def main(argv: list[str]) -> int:
    if not argv or not Path(argv[0]).is_file():
        print("usage: make_slice.py PATH/TO/cleanMetadata.xml [COMMIT]", file=sys.stderr)
        return 2
    data: dict[str, Any] = {
        "repository": REPOSITORY,
        "path": PATH,
        "commit": argv[1] if len(argv) > 1 else "",
        "licence": "MIT",
        "batch": BATCH,
    }
    data.update(cut(Path(argv[0])))
    SLICE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SLICE.name}: {len(data['types'])} types")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
