"""The in-memory routing-attribute writer joins the routing conformance suite."""

from __future__ import annotations

import pytest

from skylift.connectors.directory.memory_routing import MemoryRoutingAttribute

from .routing import RoutingAttributeContract, RoutingCase


def _directory(attribute: str) -> MemoryRoutingAttribute:
    attr = MemoryRoutingAttribute(attribute)
    attr.add("plain@corp.example")
    attr.add("legacy@corp.example", ("inetOrgPerson", "inetLocalMailRecipient"),
             mailRoutingAddress="old@relay.corp.example")  # fmt: skip
    attr.add("twice@corp.example")
    attr.add("twice@corp.example")
    return attr


class TestMemoryRouting(RoutingAttributeContract):
    @pytest.fixture
    def routing_case(self) -> RoutingCase:
        shared = _directory("mailRoutingAddress")
        return RoutingCase(open=lambda: shared, open_attribute=_directory)
