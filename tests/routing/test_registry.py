"""The routing registry keeps where each user's mail goes now and every change before."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from skylift.state.routing import RouteState, RoutingRegistry


def test_current_route_history_and_a_repeated_change_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with RoutingRegistry(db) as reg:
        assert reg.current("a@corp.example") is None
        reg.set(["a@corp.example", "b@corp.example"], "migrating", wave=2, run_id="r1", actor="op")
        reg.set(["a@corp.example"], RouteState.CLOUD, wave=2, run_id="r1", actor="op")
        again = reg.set(["a@corp.example"], RouteState.CLOUD, wave=2, run_id="r2", actor="op")
        assert again == []
    with RoutingRegistry(db) as reg:  # a new process sees the same
        now = reg.all_current()
        assert {u: r.state for u, r in now.items()} == {
            "a@corp.example": RouteState.CLOUD,
            "b@corp.example": RouteState.MIGRATING,
        }
        history = reg.history("a@corp.example")
        assert [h.state.value for h in history] == ["migrating", "cloud"]
        assert history[-1].since.tzinfo is UTC and history[-1].run_id == "r1"
