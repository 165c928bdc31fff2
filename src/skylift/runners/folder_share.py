"""Idle workers help a running mailbox, one folder at a time, over their own connections.

With 5 mailboxes and 4 at a time, the fifth used to run alone at the end while three slots
waited: the run took as long as its largest mailbox. Now a worker with no mailbox left to
start takes folders of a mailbox still running (each folder is a task of its own, see
``MailboxMigration.prepare``), so the tail runs on every connection the run may use.

Safety: a folder is taken by exactly one thread at a time; a helper that fails gives its
folder back (the ledger lets whoever takes it next resume without duplicates); a mailbox
attempt does not end while a helper still works on one of its folders.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from skylift.engine.mail.sync import FolderTask, MailboxMigration


class FolderQueue:
    """The folders of one mailbox attempt that are not taken yet."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._todo: deque[FolderTask] = deque()
        self._busy = 0
        self._open = True
        self.by_helpers = 0  # folders finished by workers lent to this mailbox
        self._cond = threading.Condition()

    def put(self, tasks: list[FolderTask]) -> None:
        with self._cond:
            self._todo.extend(tasks)
            self._cond.notify_all()

    def waiting(self) -> int:
        with self._cond:
            return len(self._todo) if self._open else 0

    def take(self) -> FolderTask | None:
        with self._cond:
            if not self._open or not self._todo:
                return None
            self._busy += 1
            return self._todo.popleft()

    def done(self, task: FolderTask, *, give_back: bool = False, helped: bool = False) -> None:
        with self._cond:
            self._busy -= 1
            self.by_helpers += helped
            if give_back:
                self._todo.appendleft(task)
            self._cond.notify_all()

    def run_all(self, migration: MailboxMigration) -> None:
        """The mailbox's own worker: run folders until none is left or in a helper's hands."""
        while True:
            task = self.take()
            if task is not None:
                try:
                    migration.sync_task(task)
                finally:
                    self.done(task)
                continue
            with self._cond:
                if not self._todo and self._busy == 0:
                    return
                if not self._todo:
                    self._cond.wait(timeout=0.5)

    def close(self) -> None:
        """No more folders for helpers; wait until those they hold are finished."""
        with self._cond:
            self._open = False
            self._todo.clear()
            while self._busy:
                self._cond.wait(timeout=0.5)


class FolderShare:
    """The running mailboxes whose folders idle workers may take."""

    def __init__(self) -> None:
        self._queues: dict[str, FolderQueue] = {}
        self._lock = threading.Lock()

    def open(self, key: str) -> FolderQueue:
        queue = FolderQueue(key)
        with self._lock:
            self._queues[key] = queue
        return queue

    def close(self, queue: FolderQueue) -> None:
        queue.close()
        with self._lock:
            if self._queues.get(queue.key) is queue:
                del self._queues[queue.key]

    def busiest(self) -> FolderQueue | None:
        """The running mailbox with the most folders waiting, if any waits."""
        with self._lock:
            queues = list(self._queues.values())
        waiting = [(q.waiting(), q.key, q) for q in queues]
        waiting = [w for w in waiting if w[0] > 0]
        return max(waiting, key=lambda w: (w[0], w[1]))[2] if waiting else None


Opened = tuple[MailboxMigration, Callable[[], None]]  # the migration, and how to close it


def help_with(queue: FolderQueue, open_migration: Callable[[], Opened | None]) -> bool:
    """Take folders of *queue* over connections of our own until it has none waiting.

    *open_migration* returns None when no connection slot is free (``--max-connections``):
    then nobody waits for us and we do not help. Any failure — to connect, or inside a
    folder — gives the folder back and stops helping: the mailbox's own worker has the
    retries and reports the error. Returns whether any folder was taken.
    """
    try:
        opened = open_migration()
    except Exception:
        return False
    if opened is None:
        return False
    migration, close = opened
    took = False
    try:
        while (task := queue.take()) is not None:
            took = True
            try:
                migration.sync_task(task)
            except Exception:
                queue.done(task, give_back=True)
                return took
            queue.done(task, helped=True)
    finally:
        close()
    return took
