"""A user's daily upload budget: how many bytes a mailbox may still send to the target today.

Gmail allows 500 MB of IMAP upload per user per day (the google-workspace profile's
``ingest_bytes_per_day``, or ``--daily-budget``); going over suspends the account for up to
a day. So skylift never sends more than the budget: before each batch it takes what still
fits, copies that, and stops the mailbox cleanly (every copied message in the ledger) with
"budget spent, resumes after <next 00:00 UTC>". The bytes spent are kept per account and UTC
day in the state store (``state/budgets.py``), so a second run the same day knows what the
first one sent, and a run the next day goes on where the last one stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from skylift.errors import SkyliftError
from skylift.model.mail import Message
from skylift.model.units import human_bytes
from skylift.state.budgets import ByteBudgets, utc_day
from skylift.state.db import utcnow

SCOPE = "imap-upload"


class BudgetSpent(SkyliftError):
    """A mailbox stopped because its daily upload budget is spent; the next day resumes it."""

    exit_code = 1

    def __init__(self, message: str, resumes_after: datetime) -> None:
        super().__init__(message)
        self.resumes_after = resumes_after


def next_day_start(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)


class DailyBudget:
    """One account's upload budget for today; shared by the threads working on its mailbox,
    and through the state store by every worker working on its folders."""

    def __init__(
        self,
        ledger: ByteBudgets,
        account: str,
        limit: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ledger = ledger
        self.account = account
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()

    def take(self, messages: Sequence[Message]) -> list[Message]:
        """The leading messages that still fit today's budget, spent at once (before the
        upload: a run killed after it never sends more than the budget). Raises BudgetSpent
        when not even the first fits."""
        with self._lock:
            day = utc_day(self.clock())
            sizes = [len(m.raw) for m in messages]
            count = self.ledger.reserve(SCOPE, self.account, day, self.limit, sizes)
            if not count and messages:
                raise self.spent(day)
            return list(messages[:count])

    def exhausted(self) -> BudgetSpent:
        """The stop for a mailbox whose budget ran out within a batch."""
        return self.spent(utc_day(self.clock()))

    def spent(self, day: date) -> BudgetSpent:
        after = next_day_start(day)
        return BudgetSpent(
            f"daily upload budget of {human_bytes(self.limit)} for {self.account} spent; "
            f"resumes after {after:%Y-%m-%d %H:%M} UTC (run the same command again then)",
            after,
        )
