"""Drift: the pinned discovery slice still describes every Google call skylift makes.

Fails when (a) a call the connector declares (``CALLS``) is missing from the slice or has
another HTTP method or path there, or (b) the installed google-api-python-client (the dev
extra pins it) cuts a different slice, i.e. Google changed a method or schema skylift uses:
rerun ``tests/data/google/make_slice.py``, review the diff, and bump the pin together.
"""

from __future__ import annotations

import json

import pytest

from skylift.connectors.dav.google.calendar import CALLS as CALENDAR_CALLS
from skylift.connectors.dav.google.contacts import CALLS as CONTACTS_CALLS
from skylift.connectors.directory.google import CALLS as DIRECTORY_CALLS
from tests.data.google.make_slice import CALLS as SLICED
from tests.data.google.make_slice import SLICE, cut, installed_documents

CALLS = CALENDAR_CALLS + CONTACTS_CALLS + DIRECTORY_CALLS


def test_every_call_skylift_makes_is_in_the_pinned_slice() -> None:
    apis = json.loads(SLICE.read_text())["apis"]
    for method_id, verb, path in CALLS:
        api = apis["admin" if method_id.startswith("directory.") else method_id.split(".")[0]]
        assert method_id in api["methods"], f"{method_id} is not in the pinned slice"
        method = api["methods"][method_id]
        assert (method["httpMethod"], method["path"]) == (verb, path), method_id
    assert {c[0] for c in CALLS} <= {m for ids in SLICED.values() for m in ids}


def test_the_installed_discovery_documents_match_the_pinned_slice() -> None:
    pytest.importorskip("googleapiclient")
    version, documents = installed_documents()
    pinned = json.loads(SLICE.read_text())
    fresh = cut(documents)
    for name, api in pinned["apis"].items():
        for method_id in api["methods"]:
            assert fresh[name]["methods"][method_id] == api["methods"][method_id], (
                f"{method_id} changed in google-api-python-client {version} "
                f"(pinned {pinned['version']}): rerun make_slice.py and review"
            )
        assert fresh[name]["schemas"] == api["schemas"], (
            f"{name} schemas changed in {version} (pinned {pinned['version']}, revision "
            f"{api['revision']} -> {fresh[name]['revision']})"
        )
