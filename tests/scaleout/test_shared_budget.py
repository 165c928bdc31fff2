"""A daily upload budget holds across workers: several processes' connection pools spending
one account's budget at once on a real PostgreSQL never go past it together."""

from __future__ import annotations

import random
import threading

from skylift.state.budgets import ByteBudgets, utc_day

LIMIT = 2_000_000


def test_workers_spending_one_account_at_once_stay_within_its_budget(state_url: str) -> None:
    day = utc_day()
    reserved: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(seed: int) -> None:
        budgets = ByteBudgets(_engine(state_url))  # a worker's own pool, as on another machine
        rnd = random.Random(seed)
        start.wait()
        while True:
            sizes = [rnd.randint(1_000, 60_000) for _ in range(4)]
            count = budgets.reserve("imap-upload", "ann@new.example", day, LIMIT, sizes)
            if not count:
                return
            with lock:
                reserved.append(sum(sizes[:count]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    spent = ByteBudgets(_engine(state_url)).spent("imap-upload", "ann@new.example", day)
    assert spent == sum(reserved)  # every byte counted once
    assert LIMIT - 60_000 < spent <= LIMIT  # filled, and never past the budget


def _engine(url: str):  # type: ignore[no-untyped-def]
    from skylift.state.db import open_engine

    return open_engine(url)
