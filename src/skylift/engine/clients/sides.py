"""Which side a user's clients should use today, and a sentence saying why.

The routing registry (``state/routing.py``: onprem, migrating, cloud) is the truth where it
exists. Without it the wave plan decides: before a wave's window the user is on-prem, during
it "migrating", after it in the cloud. A user being moved keeps the on-prem settings: their
mail is still delivered there until the cut-over flips routing, so switching clients early
would show an empty mailbox.
"""

from __future__ import annotations

from datetime import datetime

from skylift.engine.clients.settings import WaveDates

ROUTE_STATES = ("onprem", "migrating", "cloud")


def side_of_route(state: str, since: datetime | None, wave: str | None) -> tuple[str, str]:
    """(side, reason) from a routing record."""
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    in_wave = f" (wave {wave})" if wave else ""
    if state == "cloud":
        return "cloud", f"cut over{in_wave}{when}: routing state cloud"
    if state == "migrating":
        return "onprem", f"being moved{in_wave}{when}: on-prem servers until the cut-over"
    return "onprem", f"not moved yet{in_wave}: routing state onprem"


def side_of_wave(wave: str | None, dates: WaveDates | None, now: datetime) -> tuple[str, str, str]:
    """(side, reason, route state) from the wave plan and the wave's dates."""
    if not wave:
        return "onprem", "in no wave of the plan: on-prem servers", "onprem"
    if dates is None:
        return "onprem", f"wave {wave} has no dates in the config: on-prem servers", "onprem"
    if now >= dates.end:
        return "cloud", f"wave {wave} ended {dates.end:%Y-%m-%d %H:%M} UTC (wave plan)", "cloud"
    if now >= dates.start:
        return (
            "onprem",
            f"wave {wave} is running until {dates.end:%Y-%m-%d %H:%M} UTC (wave plan): "
            "on-prem servers until the cut-over",
            "migrating",
        )
    return "onprem", f"wave {wave} starts {dates.start:%Y-%m-%d %H:%M} UTC (wave plan)", "onprem"
