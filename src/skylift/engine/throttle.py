"""Bandwidth limit (``--bwlimit``) and retry backoff; shared by all worker threads."""

from __future__ import annotations

import re
import threading
import time

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(i?)([bB]?)(?:it)?(?:/s|ps)?\s*$")


def parse_rate(text: str) -> float:
    """Parse ``10M`` / ``500k`` / ``100Mbit`` into bytes per second.

    A trailing ``bit``/``b`` means bits; plain or ``B`` means bytes (rclone's convention).
    """
    m = _RATE.match(text)
    if not m:
        raise ValueError(f"not a rate: {text!r} (examples: 10M, 500k, 100Mbit)")
    number, unit, binary, bits = m.groups()
    base = 1024 if binary else 1000
    value = float(number) * {"": 1, "k": base, "m": base**2, "g": base**3}[unit.lower()]
    is_bits = bits == "b" or text.strip().lower().endswith("bit")
    return value / 8 if is_bits else value


class TokenBucket:
    """Blocks callers so that, together, they move at most *rate* bytes per second."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next_free = time.monotonic()

    def consume(self, nbytes: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_free)
            self._next_free = start + nbytes / self.rate
            wait = start - now
        if wait > 0:
            time.sleep(wait)


def backoff_seconds(attempt: int, hint: float | None, cap: float = 60.0) -> float:
    """Seconds to wait before retry *attempt* (1-based): the server's hint, else doubling."""
    if hint is not None:
        return min(max(hint, 0.05), cap * 5)
    return min(0.5 * 2 ** (attempt - 1), cap)
