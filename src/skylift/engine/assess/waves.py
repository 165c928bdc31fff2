"""Split users into cut-over waves that each fit a time window; deterministic for one input.

Users who depend on each other (shared folders, one ``--group-by`` group where it fits)
form one unit; units are placed biggest first into the least-loaded wave, which spreads
the big mailboxes. A wave's duration is the makespan of its mailboxes over *lanes*
parallel migrations. A mailbox too big for any window is flagged with the hours it needs
and a pre-stage suggestion (copy ahead, delta pass at cut-over) instead of sinking a wave.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field

from skylift.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_POINT = re.compile(r"^\s*(?:([a-z]{3})[a-z]*\s+)?(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


def parse_window(text: str) -> float:
    """Hours in a window like "Sat 20:00-Mon 06:00", "22:00-06:00" or "30h"."""
    plain = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?\s*h(ours?)?", plain):
        hours = float(re.match(r"[\d.]+", plain).group())  # type: ignore[union-attr]
        if hours <= 0:
            raise ConfigError("window must be longer than zero hours")
        return hours
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ConfigError(
            f"window {text!r} not understood "
            "(examples: 'Sat 20:00-Mon 06:00', '22:00-06:00', '30h')"
        )
    start = _minute_of_week(start_text, text)
    end = _minute_of_week(end_text, text)
    start_day, end_day = start[1], end[1]
    if (start_day is None) != (end_day is None):
        raise ConfigError(f"window {text!r}: give a day on both ends or on neither")
    span = 7 * 24 * 60 if start_day is not None else 24 * 60
    minutes = (end[0] - start[0]) % span
    if minutes == 0:
        minutes = span
    return minutes / 60


def _minute_of_week(point: str, whole: str) -> tuple[int, int | None]:
    match = _POINT.match(point)
    if not match:
        raise ConfigError(f"window {whole!r}: cannot read {point.strip()!r} (like 'Sat 20:00')")
    day_text, hour, minute = match.groups()
    if int(hour) > 24 or int(minute) > 59:
        raise ConfigError(f"window {whole!r}: {point.strip()!r} is not a time of day")
    day: int | None = None
    if day_text:
        if day_text.lower() not in DAYS:
            raise ConfigError(f"window {whole!r}: unknown day {day_text!r}")
        day = DAYS.index(day_text.lower())
    return (day or 0) * 24 * 60 + int(hour) * 60 + int(minute), day


@dataclass(frozen=True)
class PlanUser:
    """One mailbox as the planner sees it.

    *hours* is the time its migration needs; *rate_source* says where that came from
    ("measured" from a pilot, or the assessment's bound). *shares_with* holds user keys.
    """

    key: str
    hours: float
    bytes: int = 0
    group: str = ""
    first: bool = False
    shares_with: tuple[str, ...] = ()
    rate_source: str = "assessment"


@dataclass
class Wave:
    number: int
    lanes: list[float]
    users: list[str] = field(default_factory=list)
    bytes: int = 0
    prestage: list[str] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return max(self.lanes, default=0.0)

    def hours_with(self, unit: list[PlanUser]) -> float:
        lanes = list(self.lanes)
        heapq.heapify(lanes)
        for user in sorted(unit, key=lambda u: (-u.hours, u.key)):
            heapq.heappush(lanes, heapq.heappop(lanes) + user.hours)
        return max(lanes)

    def add(self, unit: list[PlanUser], oversize: set[str]) -> None:
        heapq.heapify(self.lanes)
        for user in sorted(unit, key=lambda u: (-u.hours, u.key)):
            self.users.append(user.key)
            self.bytes += user.bytes
            if user.key in oversize:
                self.prestage.append(user.key)
                continue
            heapq.heappush(self.lanes, heapq.heappop(self.lanes) + user.hours)


@dataclass(frozen=True)
class Oversize:
    key: str
    hours: float
    wave: int

    def advice(self, window_hours: float) -> str:
        ahead = self.hours - window_hours
        return (
            f"{self.key} needs {self.hours:.1f} h, more than the {window_hours:.1f} h window: "
            f"pre-stage it (start the copy at least {ahead:.1f} h before wave {self.wave}, "
            "then run a delta pass at cut-over)"
        )


@dataclass
class Plan:
    waves: list[Wave]
    window_hours: float
    capacity_hours: float
    lanes: int
    oversize: list[Oversize] = field(default_factory=list)
    overrun: list[int] = field(default_factory=list)
    split_groups: list[str] = field(default_factory=list)
    rate_sources: dict[str, int] = field(default_factory=dict)
    requested_waves: int | None = None
    fewer_waves_reason: str = ""

    def wave_of(self) -> dict[str, int]:
        return self.wave_of_waves(self.waves)

    @staticmethod
    def wave_of_waves(waves: list[Wave]) -> dict[str, int]:
        return {key: wave.number for wave in waves for key in wave.users}


def plan_waves(
    users: list[PlanUser],
    *,
    window_hours: float,
    waves: int | None = None,
    max_hours: float | None = None,
    lanes: int = 10,
) -> Plan:
    """Assign every user a wave.

    With *waves* the number of waves is fixed (a wave that cannot fit is reported in
    ``overrun``); otherwise as many waves as needed are opened, each at most *max_hours*
    (default: the window) long.
    """
    if waves is not None and waves < 1:
        raise ConfigError("--waves must be at least 1")
    if lanes < 1:
        raise ConfigError("--parallel must be at least 1")
    capacity = min(window_hours, max_hours) if max_hours else window_hours
    if capacity <= 0:
        raise ConfigError("--max-hours must be more than zero")
    by_key = {u.key: u for u in users}
    oversize_keys = {u.key for u in users if u.hours > capacity}
    units, split_groups = _units(users, by_key, capacity, lanes, oversize_keys)
    plan = Plan(waves=[], window_hours=window_hours, capacity_hours=capacity, lanes=lanes)
    plan.split_groups = split_groups
    for user in users:
        plan.rate_sources[user.rate_source] = plan.rate_sources.get(user.rate_source, 0) + 1

    def new_wave() -> Wave:
        wave = Wave(number=len(plan.waves) + 1, lanes=[0.0] * lanes)
        plan.waves.append(wave)
        return wave

    for _ in range(waves or 1):
        new_wave()
    for unit in units:
        candidates = plan.waves[:1] if any(u.first for u in unit) else plan.waves
        fits = [w for w in candidates if w.hours_with(_load(unit, oversize_keys)) <= capacity]
        if fits:
            target = min(fits, key=lambda w: (w.hours, len(w.users), w.number))
        elif waves is None and not any(u.first for u in unit):
            target = new_wave()
        else:
            target = min(candidates, key=lambda w: (w.hours, len(w.users), w.number))
        target.add(unit, oversize_keys)
    for wave in plan.waves:
        if wave.hours > capacity + 1e-9:
            plan.overrun.append(wave.number)
    where = plan.wave_of()
    plan.oversize = [Oversize(key, by_key[key].hours, where[key]) for key in sorted(oversize_keys)]
    kept = [w for w in plan.waves if w.users] or plan.waves[:1]
    if waves is not None and len(kept) < waves:
        plan.fewer_waves_reason = f"asked for {waves} waves, made {len(kept)}: " + (
            f"only {len(units)} group(s) of users can move apart"
            " (users who share folders, or one --group-by group, move together)"
            if len(units) < waves
            else "the rest would have been empty"
        )
        for number, wave in enumerate(kept, start=1):  # no gaps in the numbering
            wave.number = number
        plan.overrun = [w.number for w in kept if w.hours > capacity + 1e-9]
        where = plan.wave_of_waves(kept)
        plan.oversize = [Oversize(o.key, o.hours, where[o.key]) for o in plan.oversize]
    plan.requested_waves = waves
    plan.waves = kept
    return plan


def _load(unit: list[PlanUser], oversize: set[str]) -> list[PlanUser]:
    return [u for u in unit if u.key not in oversize]


def _units(
    users: list[PlanUser],
    by_key: dict[str, PlanUser],
    capacity: float,
    lanes: int,
    oversize: set[str],
) -> tuple[list[list[PlanUser]], list[str]]:
    """Users that must move together: shared-folder components, merged per group if it fits."""
    parent = {u.key: u.key for u in users}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for user in users:
        for other in user.shares_with:
            if other in by_key:
                a, b = find(user.key), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    components: dict[str, list[PlanUser]] = {}
    for user in users:
        components.setdefault(find(user.key), []).append(user)
    # Merge the components of one group when the whole group fits one wave.
    by_group: dict[str, list[list[PlanUser]]] = {}
    loose: list[list[PlanUser]] = []
    for comp in components.values():
        groups = {u.group for u in comp if u.group}
        if len(groups) == 1:
            by_group.setdefault(groups.pop(), []).append(comp)
        else:
            loose.append(comp)
    units = list(loose)
    split: list[str] = []
    for group, comps in sorted(by_group.items()):
        merged = [u for comp in comps for u in comp]
        probe = Wave(number=0, lanes=[0.0] * lanes)
        if probe.hours_with(_load(merged, oversize)) <= capacity:
            units.append(merged)
        else:
            units.extend(comps)
            split.append(group)

    def order(unit: list[PlanUser]) -> tuple[int, float, str]:
        first = 0 if any(u.first for u in unit) else 1
        return first, -sum(u.hours for u in unit), min(u.key for u in unit)

    return sorted(units, key=order), split
