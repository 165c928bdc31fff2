"""Retry for every domain, in one place: a TransientError waits the server's hint.

Two grains: :func:`with_retries` reruns a whole unit (a mailbox: reconnect, and the ledger
resumes it; an expired token reconnects at once); :func:`call_with_retry` repeats one call
(a directory write, a DAV request) that a connector refused with a TransientError —
connectors never sleep themselves.

The hint is ``TransientError.retry_after`` — a 429/503's ``Retry-After``, Exchange's
"Suggested Backoff Time", Google's rateLimitExceeded — else doubling backoff with a cap
(:func:`skylift.engine.throttle.backoff_seconds`). Errors that no retry can help (a refused
login, a malformed file) are returned at once, with their exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from skylift.engine.throttle import backoff_seconds
from skylift.errors import (
    EXIT_CONNECT,
    EXIT_ITEMS_FAILED,
    SkyliftError,
    TokenExpired,
    TransientError,
)

T = TypeVar("T")

MAX_ATTEMPTS = 7  # the first try and six retries
MAX_WAIT = 120.0  # seconds: a Retry-After of a day is not waited for


def retry_wait(attempt: int, hint: float | None) -> float:
    """Seconds to wait before retry *attempt* (1-based): the hint, capped, else doubling."""
    return min(backoff_seconds(attempt, hint, cap=MAX_WAIT), MAX_WAIT)


def call_with_retry(
    work: Callable[[], T],
    what: str,
    *,
    attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _m: None,
) -> T:
    """``work()``, retried on TransientError; the last failure is raised as it came."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except TransientError as exc:
            if attempt >= attempts:
                raise
            wait = retry_wait(attempt, exc.retry_after)
            log(f"{what}: {exc}; retry {attempt} in {wait:.1f}s")
            sleep(wait)
    raise AssertionError("unreachable")


# Sessions ended by an expired OAuth2 token, per unit, before we call it a loop.
MAX_TOKEN_RENEWALS = 1000


@dataclass
class Outcome:
    """How one unit's attempts ended: *error* is None on success."""

    attempts: int = 0
    token_renewals: int = 0
    error: str | None = None
    error_code: int = 0
    error_kind: str = ""
    waited: float = 0.0  # seconds slept between attempts


def with_retries(
    work: Callable[[], None],
    *,
    retries: int,
    cap_seconds: float,
    renew_tokens: Callable[[], None] = lambda: None,
    on_attempt: Callable[[int], None] = lambda _n: None,
    sleep: Callable[[float], None] = time.sleep,
    on_throttle: Callable[[float], None] = lambda _s: None,
) -> Outcome:
    """Call *work* until it returns, at most ``retries + 1`` times for transient errors.

    *on_throttle* hears each wait a server asked for (scale-out: every worker slows down).
    """
    out = Outcome()
    last: TransientError | None = None
    attempt = 1
    while attempt <= retries + 1:
        out.attempts = attempt
        on_attempt(attempt)
        try:
            work()
            out.error = None
            return out
        except TokenExpired as exc:
            # Exchange ends sessions when their token expires; that is no failure: reconnect
            # at once with a fresh token, and the ledger resumes the unit.
            last = exc
            out.token_renewals += 1
            renew_tokens()
            if out.token_renewals > MAX_TOKEN_RENEWALS:
                break
            continue
        except TransientError as exc:
            last = exc
            attempt += 1
            if attempt <= retries + 1:
                wait = backoff_seconds(attempt - 1, exc.retry_after, cap_seconds)
                out.waited += wait
                if exc.retry_after is not None:
                    on_throttle(wait)
                sleep(wait)
        except SkyliftError as exc:  # login refused, bad archive, …: no retry helps
            out.error, out.error_code, out.error_kind = str(exc), exc.exit_code, type(exc).__name__
            return out
        except Exception as exc:  # one unit's bug must not stop the run
            out.error = f"unexpected error ({type(exc).__name__}): {exc}"
            out.error_code = EXIT_ITEMS_FAILED
            return out
    out.error = f"gave up after {out.attempts} attempts: {last}"
    out.error_code = EXIT_CONNECT
    return out
