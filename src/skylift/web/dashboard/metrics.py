"""``/metrics``: the overview in Prometheus' text exposition format (version 0.0.4).

Written by hand — a dozen lines of a stable, documented format — rather than through a
client library's global registry, because every scrape reads the state store afresh and the
dashboard keeps no counters of its own. The tests parse it with ``prometheus_client``.
"""

from __future__ import annotations

from typing import Any

from skylift.state.work_units import STATES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(view: dict[str, Any]) -> str:
    """The text of one scrape from :func:`snapshot.overview`'s dict."""
    totals = view["totals"]
    lines = [
        "# HELP skylift_messages_copied Messages in the ledger as copied to the target.",
        "# TYPE skylift_messages_copied gauge",
        f"skylift_messages_copied {totals['messages']}",
        "# HELP skylift_bytes_copied Bytes of the messages copied to the target.",
        "# TYPE skylift_bytes_copied gauge",
        f"skylift_bytes_copied {totals['bytes']}",
        "# HELP skylift_item_problems Items of each mailbox's latest run that did not arrive.",
        "# TYPE skylift_item_problems gauge",
    ]
    for kind in ("skipped", "rejected", "failed"):
        lines.append(f'skylift_item_problems{{kind="{kind}"}} {totals["problems"].get(kind, 0)}')
    lines += [
        "# HELP skylift_units Work units (the newest of each key) by kind and state.",
        "# TYPE skylift_units gauge",
    ]
    for kind, states in sorted(view["units_by_kind"].items()):
        for state in STATES:
            lines.append(
                f'skylift_units{{kind="{_label(kind)}",state="{state}"}} {states.get(state, 0)}'
            )
    lines += [
        "# HELP skylift_wave_progress_ratio Share of a wave's mailboxes that finished.",
        "# TYPE skylift_wave_progress_ratio gauge",
    ]
    for wave in view["waves"]:
        ratio = wave["finished"] / wave["mailboxes"] if wave["mailboxes"] else 1.0
        lines.append(f'skylift_wave_progress_ratio{{wave="{_label(wave["wave"])}"}} {ratio:g}')
    return "\n".join(lines) + "\n"
