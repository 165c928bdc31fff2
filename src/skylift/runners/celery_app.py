"""The Celery runner: every work unit a task on a broker, run by ``skylift worker`` processes.

Celery moves the work; PostgreSQL keeps the truth. A task is ``{"unit": id, "kind": ...,
"spec": ...}`` where the spec holds references only (file paths, env variable names,
profile names, options): each worker resolves them locally, so no password or token is ever
on the broker. A worker claims the unit's lease before it works (state/leases.py) and renews
it while it runs; a redelivered or doubled message finds the unit taken or finished and
does nothing. Tasks are acknowledged late (``acks_late``, ``reject_on_worker_lost``) with a
visibility timeout far longer than any task; a worker killed mid-mailbox is noticed sooner,
by its lease running out: any live worker queues the unit again and the ledger makes the
new attempt resume where the dead one stopped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy import Engine, create_engine

from skylift.engine.throttle import TokenBucket
from skylift.runners.limits import ConnectionLimit, SharedLimit
from skylift.state.db import utcnow
from skylift.state.leases import TERMINAL, Leases
from skylift.state.pauses import Pauses
from skylift.state.slots import SharedSlots
from skylift.state.store import StateStore
from skylift.state.work_units import WorkUnitRow, WorkUnits

log = logging.getLogger(__name__)

TASK = "skylift.unit"
#: how long the broker waits for an acknowledgement before it redelivers: longer than any task
VISIBILITY_TIMEOUT = 7 * 24 * 3600


@dataclass
class UnitContext:
    """What a handler gets beside its spec: the claimed unit and the worker's shared pieces."""

    unit_id: int
    key: str
    units: WorkUnits
    store: StateStore  # the worker's one connection pool to the shared state
    stop: threading.Event  # set when the lease is lost (cancelled, or given to another worker)
    limit: Callable[[int, str], ConnectionLimit]  # caps shared with every worker
    pauses: Pauses  # throttle pauses shared with every worker
    spawn: Callable[[str, dict[str, Any]], int]  # (key, spec) -> a new unit of the same run
    note: Callable[[str], None]  # a word on this unit once it has ended


class PausingBucket(TokenBucket):
    """``--bwlimit``'s bucket that also waits while any of *tenants* is paused by a throttle
    reply to any worker (state/pauses.py): checked before every batch, so sessions already
    open slow down too, not only new ones."""

    def __init__(self, rate: float | None, pauses: Pauses, tenants: list[str]) -> None:
        super().__init__(rate)
        self.pauses = pauses
        self.tenants = tenants

    def consume(self, nbytes: int) -> None:
        while (until := self.pauses.until(self.tenants)) is not None:
            time.sleep(min(1.0, max(0.05, (until - utcnow()).total_seconds())))
        super().consume(nbytes)


#: kind -> handler(spec, context); filled by ``skylift worker`` (the cli layer knows how to
#: rebuild a command from its spec, this layer does not)
Handler = Callable[[dict[str, Any], UnitContext], None]


def make_app(broker: str) -> Celery:
    """The Celery app for *broker* (redis://…, amqp://…), set for late acknowledgement."""
    app = Celery("skylift", broker=broker)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker takes the next mailbox only when it has room
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue="skylift",
    )
    return app


def send(app: Celery, payload: dict[str, Any]) -> None:
    app.send_task(TASK, args=[payload], queue="skylift")


def submit(
    app: Celery, units: WorkUnits, run: str, kind: str, specs: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """Queue one unit per key of *specs* in the state store and one task each on the broker."""
    ids = units.queue(run, kind, list(specs))
    payloads = {key: {"unit": ids[key], "kind": kind, "key": key, "spec": spec}
                for key, spec in specs.items()}  # fmt: skip
    units.set_specs({ids[key]: json.dumps(p) for key, p in payloads.items()})
    for payload in payloads.values():
        send(app, payload)
    return ids


def wait(units: WorkUnits, run: str, poll: float = 1.0) -> list[WorkUnitRow]:
    """Block until every unit of *run* has ended; its rows."""
    while True:
        rows = units.list(run=run)
        if rows and all(r.state in TERMINAL for r in rows):
            return rows
        time.sleep(poll)


class WorkerSide:
    """One ``skylift worker`` process: its state store, leases, shared caps and reaper."""

    def __init__(
        self,
        state: str,
        handlers: dict[str, Handler],
        *,
        name: str | None = None,
        concurrency: int = 2,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.store = StateStore(state)
        self.units = WorkUnits(self.store.engine)
        self.pauses = Pauses(self.store.engine)
        self.leases = Leases(self.units, self.name, lease_seconds)
        self.handlers = handlers
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        # one database session per held slot: its own pool, sized for every slot a unit takes
        self._slots_engine: Engine = create_engine(
            self.units.engine.url, pool_size=4 * concurrency + 4, max_overflow=8 * concurrency
        )
        self._stopped = threading.Event()
        self.app: Celery | None = None

    def limit(self, cap: int, name: str) -> ConnectionLimit:
        return SharedLimit(SharedSlots(self._slots_engine, name, cap), name)

    def run(self, payload: dict[str, Any]) -> str:
        """The task's body: claim, work with the lease renewed, or step aside."""
        unit_id, kind = int(payload["unit"]), str(payload["kind"])
        while (claim := self.leases.claim(unit_id)) == "busy":
            time.sleep(min(self.lease_seconds / 3, 2.0))  # its mailbox runs elsewhere: wait
        if claim == "gone":
            return "taken"  # finished, cancelled or held by a live worker
        stop = threading.Event()
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.lease_seconds / 3):
                try:
                    if not self.leases.renew(unit_id):
                        stop.set()  # cancelled or handed on: stop touching the mailbox
                        return
                except Exception:  # a database blip: try again at the next beat
                    log.warning("could not renew the lease of unit %s", unit_id, exc_info=True)

        beat = threading.Thread(target=renew, name=f"lease-{unit_id}", daemon=True)
        beat.start()
        try:
            handler = self.handlers.get(kind)
            if handler is None:
                raise RuntimeError(f"this worker cannot run {kind} units")
            ctx = UnitContext(
                unit_id, str(payload["key"]), self.units, self.store, stop, self.limit,
                self.pauses, lambda key, spec: self.spawn(unit_id, key, spec),
                lambda words: self.leases.note(unit_id, words),
            )  # fmt: skip
            handler(dict(payload["spec"]), ctx)
        except Exception as exc:  # the task broke, not one item: the unit fails with why
            log.warning("unit %s failed", unit_id, exc_info=True)
            self.leases.fail(unit_id, f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            done.set()
            beat.join()
        return "ran"

    def spawn(self, parent: int, key: str, spec: dict[str, Any]) -> int:
        """Queue *key* as a new unit of *parent*'s run (a folder of a big mailbox)."""
        if self.app is None:
            raise RuntimeError("spawn before serve")
        run, kind = self.leases.run_of(parent)
        return submit(self.app, self.units, run, kind, {key: spec})[key]

    def reap_forever(self, app: Celery) -> None:
        """Hand back units whose worker vanished, every half lease, until the worker stops."""
        while not self._stopped.wait(self.lease_seconds / 2):
            try:
                for handed in self.leases.expired(self.max_attempts):
                    if not handed.failed and handed.spec:
                        log.warning("unit %s: its worker vanished; queued again", handed.unit_id)
                        send(app, json.loads(handed.spec))
            except Exception:
                log.warning("could not look for vanished workers", exc_info=True)

    def serve(self, app: Celery, concurrency: int) -> None:
        """Run the Celery worker in this process until it is stopped (Ctrl-C, SIGTERM)."""
        self.app = app

        @app.task(name=TASK, acks_late=True, reject_on_worker_lost=True)
        def unit(payload: dict[str, Any]) -> str:
            return self.run(payload)

        reaper = threading.Thread(target=self.reap_forever, args=(app,), daemon=True)
        reaper.start()
        try:
            app.worker_main(
                argv=["worker", "--pool=threads", f"--concurrency={concurrency}",
                      f"--hostname=skylift{os.getpid()}@{socket.gethostname()}", "--queues=skylift", "--loglevel=WARNING",
                      "--without-gossip", "--without-mingle", "--without-heartbeat"]
            )  # fmt: skip
        finally:
            self._stopped.set()
            self._slots_engine.dispose()
            self.store.close()
