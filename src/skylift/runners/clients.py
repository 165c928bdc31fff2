"""Where each user lives today, for the autoconfig service, the lookup, notices and support.

Reads the routing registry of the cut-over (``state/routing.py``) when the state store has
one, and the wave plan (waves.csv with dates from ``--config``) otherwise, on every call: a
wave that flips while the service runs changes the next answer, no restart needed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skylift.engine.clients.settings import (
    ClientConfig,
    SideSettings,
    UserSettings,
    display_name,
    side_settings,
    split_address,
)
from skylift.engine.clients.sides import side_of_route, side_of_wave
from skylift.engine.profiles import TargetProfile
from skylift.errors import ConfigError


def read_waves(path: Path | None) -> dict[str, str]:
    """Address (lower case) -> wave number from waves.csv (``EmailAddress``, ``Wave``)."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read waves CSV {path}: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in reader.fieldnames or []]
    if "EmailAddress" not in fields:
        raise ConfigError(f"{path.name}: not a users/waves CSV (no EmailAddress column)")
    waves: dict[str, str] = {}
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if clean.get("EmailAddress"):
            waves[clean["EmailAddress"].lower()] = clean.get("Wave", "")
    return waves


def _open_routing(state: str | None) -> Any:
    """The routing registry of *state*, or None (no state given, or no routing module yet)."""
    if not state:
        return None
    try:
        from skylift.state.routing import RoutingRegistry  # the cut-over's registry
    except ImportError:
        return None
    return RoutingRegistry(state)


@dataclass
class Placement:
    """Where a user is today: the route state, the side their clients use, and why."""

    user: str
    state: str
    side: str
    reason: str
    wave: str


class ClientDirectory:
    """Answers "which servers for this address, today?" for every surface."""

    def __init__(
        self,
        profile: TargetProfile,
        config: ClientConfig,
        *,
        domain: str,
        state: str | None = None,
        waves: Path | None = None,
        default_side: str = "onprem",
    ) -> None:
        self.profile, self.config, self.domain = profile, config, domain.lower()
        self.waves = read_waves(waves)
        self.routing = _open_routing(state)
        self.default_side = default_side
        self._sides: dict[str, dict[str, SideSettings]] = {}
        self.sides(self.domain)  # a missing host is an error at start, not at first request

    def sides(self, domain: str) -> dict[str, SideSettings]:
        if domain not in self._sides:
            self._sides[domain] = side_settings(self.profile, self.config, domain)
        return self._sides[domain]

    def served(self, domain: str) -> bool:
        return domain == self.domain or domain in self.config.domains

    def users(self) -> list[str]:
        """Every user the wave plan or the routing registry knows, sorted."""
        found = set(self.waves)
        if self.routing is not None:
            found |= {user.lower() for user in self.routing.all_current()}
        return sorted(found)

    def placement(self, address: str, now: datetime | None = None) -> Placement:
        user = address.strip().lower()
        now = now or datetime.now(UTC)
        record = self.routing.current(user) if self.routing is not None else None
        if record is not None:
            state = str(getattr(record.state, "value", record.state))
            side, reason = side_of_route(state, record.since, record.wave)
            return Placement(user, state, side, reason, str(record.wave or ""))
        if user in self.waves:
            wave = self.waves[user]
            side, reason, state = side_of_wave(wave, self.config.waves.get(wave), now)
            return Placement(user, state, side, reason, wave)
        return Placement(user, "", self.default_side, "not in the plan: default side", "")

    def settings_for(self, address: str, now: datetime | None = None) -> UserSettings:
        """The answer for *address*; an unknown one gets the default side, same shape.

        A domain this service does not serve is answered with the main domain's servers,
        so the answer's shape never tells which domains or users exist.
        """
        _, domain = split_address(address)
        sides = self.sides(domain if self.served(domain) else self.domain)
        where = self.placement(address, now)
        return UserSettings(
            address=address.strip(),
            domain=domain if self.served(domain) else self.domain,
            display_name=display_name(self.config, domain if self.served(domain) else self.domain),
            side=where.side,
            reason=where.reason,
            servers=sides[where.side],
            wave=where.wave,
        )
