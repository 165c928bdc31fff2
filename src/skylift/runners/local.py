"""The local runner: every domain's work units on one pool of threads, ``--parallel`` at once.

Threads, not asyncio: imapclient, ldap3, poplib and mailbox are synchronous, and a unit's work
is a chain of round trips. Each unit gets its own connections, so a slow or failing server
only holds up its own units. A worker with nothing left to start calls the run's ``idle``
hook, so the run's tail can use every slot (mail lends idle workers to a big mailbox).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from skylift.runners.base import RunControl, WorkUnit


class LocalRunner:
    """:class:`skylift.runners.base.Runner` on threads of this process."""

    def run(
        self,
        units: Sequence[WorkUnit],
        work: Callable[[WorkUnit], None],
        *,
        parallel: int,
        control: RunControl,
    ) -> None:
        todo = iter(units)
        lock = threading.Lock()
        changed = threading.Condition(lock)
        unfinished = [len(units)]

        def worker() -> None:
            while True:
                with lock:
                    unit = next(todo, None)
                if unit is not None:
                    try:
                        work(unit)
                    finally:
                        with changed:
                            unfinished[0] -= 1
                            changed.notify_all()  # a waiting worker may be done now
                    continue
                with lock:
                    if control.stop.is_set() or unfinished[0] == 0 or control.idle is None:
                        return
                if not control.idle():
                    with changed:
                        if unfinished[0]:
                            changed.wait(timeout=0.2)

        workers = max(1, parallel)  # extra workers lend themselves through control.idle
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(worker) for _ in range(workers)]:
                future.result()


def run_units(
    units: Sequence[WorkUnit],
    work: Callable[[WorkUnit], None],
    *,
    parallel: int,
    control: RunControl | None = None,
) -> None:
    """Run *units* on the local runner (the default for every command)."""
    LocalRunner().run(units, work, parallel=parallel, control=control or RunControl())
