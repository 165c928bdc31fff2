"""Run one unit of work again and again at an interval (``--every``), until told to stop.

A failed connection or a throttled server waits for the next round; configuration errors
and a tripped safety threshold end the loop, because a person must act. Any domain whose
command takes ``--every`` hands its one-run function here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from skylift.errors import ConnectError, TransientError

R = TypeVar("R")


def run_every(
    run: Callable[[], R],
    interval: timedelta,
    log: Callable[[str], None],
    report: Callable[[R], None],
    incomplete: Callable[[R], bool],
    stop: Callable[[], bool] = lambda: False,
    runs: int | None = None,
) -> int:
    """Call *run* every *interval* until *stop* (or *runs* rounds); return the worst exit
    code seen (0 all complete, 1 a round left items behind, 3 a round could not connect)."""
    count = 0
    worst = 0
    while not stop():
        try:
            result = run()
            report(result)
            worst = max(worst, 1 if incomplete(result) else 0)
        except (ConnectError, TransientError) as exc:
            log(f"run failed, retrying in {interval}: {exc}")
            worst = max(worst, exc.exit_code)
        count += 1
        if runs is not None and count >= runs:
            break
        deadline = time.monotonic() + interval.total_seconds()
        while time.monotonic() < deadline and not stop():
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.0)))
    return worst
