"""The runner interface: a work unit, whatever its domain, and how a runner executes units.

A domain turns its input (users CSV, accounts, a directory pair, an assessment) into work
units and hands the runner a function that does one unit. The local runner
(:mod:`skylift.runners.local`) runs them on threads; a distributed runner implements the same
:class:`Runner` protocol with no change to the engine or to the domains' runner modules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class WorkUnit:
    """One unit: *kind* (one of ``state.work_units.KINDS``) and *key* say what (a mailbox, an account, a directory pair); *index*
    is its place in the domain's own list; *unit_id* its row in ``work_units`` (None when the
    run records none, e.g. a dry run)."""

    kind: str
    key: str
    index: int
    unit_id: int | None = None


@dataclass
class RunControl:
    """What every unit of a run shares: the Ctrl-C flag and a hook for idle workers.

    *idle* is called by a worker with nothing left to start while other units still run;
    it returns True if it found work to do (mail lends the slot to a big mailbox's folders).
    """

    stop: threading.Event = field(default_factory=threading.Event)
    idle: Callable[[], bool] | None = None


class Runner(Protocol):
    """Executes *units* by calling *work* on each, at most *parallel* at once.

    *work* must not raise for a unit's own failure (it records it); an exception out of
    *work* is a bug and ends the run. Units not started when ``control.stop`` is set are
    still passed to *work*, which reports them as not started.
    """

    def run(
        self,
        units: Sequence[WorkUnit],
        work: Callable[[WorkUnit], None],
        *,
        parallel: int,
        control: RunControl,
    ) -> None: ...
