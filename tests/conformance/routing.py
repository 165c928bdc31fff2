"""The routing-attribute contract (``connectors/directory/base.py: RoutingAttribute``): what a
cut-over's directory writer must do, run against every writer (the in-memory reference and
real OpenLDAP). A case brings a writer for ``mailRoutingAddress`` whose directory holds:
``plain@corp.example`` (no routing yet), ``legacy@corp.example`` (already routed to
``old@relay.corp.example``, class present) and two entries sharing ``twice@corp.example``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from skylift.connectors.directory.base import RoutingAttribute, RoutingValue
from skylift.errors import ConfigError, ItemRejected

DOMAIN = "corp.mail.onmicrosoft.test"


@dataclass
class RoutingCase:
    open: Callable[[], RoutingAttribute]
    open_attribute: Callable[[str], RoutingAttribute]  # the same directory, another attribute


class RoutingAttributeContract:
    @pytest.fixture
    def routing_case(self) -> RoutingCase:
        raise NotImplementedError

    def test_a_user_never_routed_reads_empty_without_the_class(
        self, routing_case: RoutingCase
    ) -> None:
        with routing_case.open() as attr:
            assert attr.read("plain@corp.example") == RoutingValue((), had_class=False)

    def test_cut_over_then_restore_gives_back_the_entry_exactly(
        self, routing_case: RoutingCase
    ) -> None:
        with routing_case.open() as attr:
            before = attr.read("plain@corp.example")
            moved = RoutingValue((attr.value_for("plain@corp.example", DOMAIN),))
            assert attr.write("plain@corp.example", moved) is True
            assert attr.read("plain@corp.example") == RoutingValue((f"plain@{DOMAIN}",), True)
            assert attr.write("plain@corp.example", moved) is False  # a rerun changes nothing
            assert attr.write("plain@corp.example", before) is True
            assert attr.read("plain@corp.example") == before  # value and class both gone
            assert attr.write("plain@corp.example", before) is False

    def test_a_legacy_route_comes_back_as_it_was(self, routing_case: RoutingCase) -> None:
        with routing_case.open() as attr:
            before = attr.read("legacy@corp.example")
            assert before == RoutingValue(("old@relay.corp.example",), had_class=True)
            attr.write("legacy@corp.example", RoutingValue((f"legacy@{DOMAIN}",)))
            attr.write("legacy@corp.example", before)
            assert attr.read("legacy@corp.example") == before

    def test_an_address_matches_exactly_one_entry_or_is_refused(
        self, routing_case: RoutingCase
    ) -> None:
        with routing_case.open() as attr:
            with pytest.raises(ItemRejected, match="no entry"):
                attr.read("nobody@corp.example")
            with pytest.raises(ItemRejected, match="more than one entry"):
                attr.write("twice@corp.example", RoutingValue(("x@y.test",)))

    def test_exchange_target_address_is_smtp_prefixed_and_unknown_names_refused(
        self, routing_case: RoutingCase
    ) -> None:
        with routing_case.open_attribute("targetAddress") as attr:
            assert attr.value_for("ann@corp.example", DOMAIN) == f"SMTP:ann@{DOMAIN}"
        with pytest.raises(ConfigError, match="use mailRoutingAddress or targetAddress"):
            routing_case.open_attribute("mailHost")
