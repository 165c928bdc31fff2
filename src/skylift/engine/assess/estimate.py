"""How many hours a mailbox needs: the slowest of the known bounds wins, and is named.

Bounds: the link (``--bandwidth``, shared by the mailboxes moving at once), a measured
download from the source (``--probe``), and the target's documented ingest throttle.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from skylift.engine.profiles import TargetProfile
from skylift.errors import ConfigError

DEFAULT_BYTES_PER_SECOND = 340 * 1024  # imapsync FAQ.Massive: typical single-sync rate
DEFAULT_CONCURRENCY = 10


@dataclass(frozen=True)
class RateBounds:
    """What is known about speed: the link, a measured download, the target's throttle.

    *bandwidth* is bytes/s for the whole link, shared by *concurrency* mailboxes at once;
    *probe* is bytes/s measured for one mailbox stream from the source.
    """

    bandwidth: float | None = None
    probe: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    throttle_bytes_per_day: int | None = None
    throttle_bytes_per_hour: int | None = None
    throttle_items_per_hour: int | None = None

    @classmethod
    def build(
        cls,
        profile: TargetProfile,
        *,
        bandwidth: float | None = None,
        probe: float | None = None,
        concurrency: int | None = None,
    ) -> RateBounds:
        return cls(
            bandwidth=bandwidth,
            probe=probe,
            concurrency=max(
                1,
                concurrency or profile.value("concurrent_mailboxes") or DEFAULT_CONCURRENCY,
            ),
            throttle_bytes_per_day=profile.value("ingest_bytes_per_day"),
            throttle_bytes_per_hour=profile.value("ingest_bytes_per_hour"),
            throttle_items_per_hour=profile.value("ingest_items_per_hour"),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Estimate:
    """Hours one mailbox needs, the bound that decided it, and every bound's hours.

    *days* is how many UTC days ``migrate`` needs under the per-user daily budget (the same
    ``ingest_bytes_per_day`` that ``migrate`` enforces, ``engine/mail/budget.py``): each day
    sends at most the budget, so a 2 GiB mailbox on Gmail's 500 MB needs 5 days.
    """

    hours: float
    bound: str
    bounds: dict[str, float] = field(default_factory=dict)
    days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "hours": round(self.hours, 3),
            "bound": self.bound,
            "bounds": {k: round(v, 3) for k, v in self.bounds.items()},
        }
        if self.days is not None:
            data["days_at_daily_budget"] = self.days
        return data


def days_at_budget(total_bytes: int, daily: int | None) -> int | None:
    """UTC days a mailbox of *total_bytes* needs when each day may send *daily* bytes."""
    if not daily:
        return None
    return max(1, math.ceil(total_bytes / daily))


def estimate_mailbox(total_bytes: int, items: int, rates: RateBounds) -> Estimate:
    """Hours to move *total_bytes* in *items* messages; the slowest bound wins."""
    bounds: dict[str, float] = {}
    if rates.bandwidth:
        bounds["bandwidth"] = total_bytes / (rates.bandwidth / rates.concurrency) / 3600
    if rates.probe:
        bounds["probe"] = total_bytes / rates.probe / 3600
    if rates.throttle_bytes_per_day:
        bounds["target-daily-limit"] = total_bytes / rates.throttle_bytes_per_day * 24
    if rates.throttle_bytes_per_hour:
        bounds["target-hourly-bytes"] = total_bytes / rates.throttle_bytes_per_hour
    if rates.throttle_items_per_hour:
        bounds["target-items-per-hour"] = items / rates.throttle_items_per_hour
    if not bounds:
        bounds["default-rate"] = total_bytes / DEFAULT_BYTES_PER_SECOND / 3600
    bound = max(sorted(bounds), key=lambda name: bounds[name])
    days = days_at_budget(total_bytes, rates.throttle_bytes_per_day)
    return Estimate(hours=bounds[bound], bound=bound, bounds=bounds, days=days)


def estimate_total(
    user_hours: list[float], total_bytes: int, rates: RateBounds
) -> tuple[float, str]:
    """Hours for everyone with *concurrency* mailboxes at a time, and what bound it."""
    candidates = {
        "mailboxes-in-parallel": sum(user_hours) / rates.concurrency,
        "largest-mailbox": max(user_hours, default=0.0),
    }
    if rates.bandwidth:
        candidates["bandwidth"] = total_bytes / rates.bandwidth / 3600
    bound = max(sorted(candidates), key=lambda name: candidates[name])
    return candidates[bound], bound


_RATE = re.compile(
    r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)(bit|bps|b/s|b|byte|bytes)?(/s|ps)?\s*$",
    re.IGNORECASE,
)


def parse_bandwidth(text: str) -> float:
    """Parse "100Mbit", "1Gbps", "50MB/s", "20MiB/s" into bytes per second.

    Bits are written "bit"/"bps"/lower-case "b"; bytes "B"/"byte" or nothing ("10M" is
    10 MB/s, as for ``migrate --bwlimit``).
    """
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f"bandwidth {text!r} not understood (examples: 100Mbit, 1Gbps, 50MB/s)")
    number, prefix, binary, unit, _per = match.groups()
    base = 1024 if binary else 1000
    scale = base ** "kmgt".index(prefix.lower()) * base if prefix else 1
    is_bytes = not unit or unit.lower() in {"byte", "bytes"} or unit in {"B", "B/s"}
    value = float(number) * scale
    if value <= 0:
        raise ConfigError(f"bandwidth {text!r} must be more than zero")
    return value if is_bytes else value / 8
