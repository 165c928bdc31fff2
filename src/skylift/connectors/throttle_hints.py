"""How the clouds say "slow down", read into one number: seconds to wait (or None).

Connectors never sleep; they turn these answers into ``TransientError(retry_after=…)`` and
the one retry rule (``runners/retry.py``) waits. The answers, with their sources
(``docs/migrate.md`` "Retries and throttling" cites them):

- Exchange Online IMAP: ``NO``/``BAD Request is throttled. Suggested Backoff Time: N
  milliseconds``, often followed by ``* BYE`` (imapsync #198, #272; imap_tools #135).
- Gmail IMAP: ``NO [OVERQUOTA] Account exceeded command or bandwidth limits`` and, once the
  daily sync limit is reached, ``* BYE Session expired, please login again`` (Google support
  answer 1071518 as quoted by imapsync FAQ.Gmail); no wait is given, so doubling backoff.
  ``OK … [THROTTLED]`` is a success Gmail already slowed down: nothing to do.
- HTTP (token endpoints, Graph, Google APIs): ``429``/``503`` with ``Retry-After`` (seconds
  or an HTTP date; Graph's throttling guidance), and Google's ``403`` whose error reason is
  ``rateLimitExceeded`` or ``userRateLimitExceeded`` (Gmail API quota page).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping

_BACKOFF_MS = re.compile(r"Suggested Backoff Time:\s*(\d+)\s*milliseconds?", re.I)
_IMAP_THROTTLE = re.compile(
    r"\[UNAVAILABLE\]|throttl|try again later|server busy|\[OVERQUOTA\] Account exceeded "
    r"command or bandwidth|bandwidth limits|Session expired, please login again",
    re.I,
)
_GOOGLE_RATE = ("rateLimitExceeded", "userRateLimitExceeded")


def imap_backoff(text: str) -> float | None:
    """Exchange's Suggested Backoff Time in *text*, in seconds; None when there is none."""
    m = _BACKOFF_MS.search(text)
    return int(m.group(1)) / 1000 if m else None


def imap_throttled(text: str) -> bool:
    """True when an IMAP answer (NO, BAD or BYE text) asks us to slow down."""
    return bool(_IMAP_THROTTLE.search(text) or _BACKOFF_MS.search(text))


def retry_after_header(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def http_throttled(status: int, headers: Mapping[str, str], body: bytes | str) -> bool:
    """True for 429, 503 with Retry-After, and Google's 403 rate-limit errors."""
    if status == 429 or (status == 503 and retry_after_header(_get(headers, "retry-after"))):
        return True
    if status != 403:
        return False
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return any(r in text for r in _GOOGLE_RATE)
    error = data.get("error") if isinstance(data, dict) else None
    reasons = [e.get("reason") for e in (error or {}).get("errors", []) if isinstance(e, dict)]
    if isinstance(error, dict) and isinstance(error.get("status"), str):
        reasons.append(error["status"])
    return any(r in _GOOGLE_RATE for r in reasons) or any(r in text for r in _GOOGLE_RATE)


def _get(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def http_retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's wait for a throttled HTTP answer (None: use doubling backoff)."""
    return retry_after_header(_get(headers, "retry-after"))
