"""Ctrl-C as an admin expects it: the first stops cleanly, the second stops now.

The first SIGINT sets the run's stop event: every mailbox finishes the batch it is copying,
records it in the ledger and stops, so the summary is printed and a rerun resumes with
nothing duplicated. The second ends the process at once (exit 130); that is as safe as a
``kill -9``, which the ledger already survives (pending rows are settled on the next run).
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from skylift.errors import EXIT_INTERRUPTED


@contextmanager
def graceful_stop(stop: threading.Event) -> Iterator[threading.Event]:
    """Install the two-step Ctrl-C handler for the duration of a run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            sys.stderr.write("\nskylift: aborted; rerun the same command to resume\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        sys.stderr.write("\nskylift: stopping after the current batch; Ctrl-C again to abort\n")
        sys.stderr.flush()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def print_resume_hint(what: str = "what was copied is recorded") -> None:
    """After a clean stop: say what is safe and the exact command that resumes the run."""
    print(
        f"skylift: interrupted; {what}. Resume with the same command:\n"
        f"  skylift {' '.join(shlex.quote(a) for a in sys.argv[1:])}",
        file=sys.stderr,
    )
