"""Retry a throttled or dropped call after the server's own hint, in one place.

A connector never sleeps: on 429/503 (SCIM), a dropped LDAP search and the like it raises
:class:`~skylift.errors.TransientError`, with ``retry_after`` when the server said how long
to wait. :func:`call_with_retry` waits that long (or backs off by doubling when there was no
hint; :func:`skylift.engine.throttle.backoff_seconds`), never longer than :data:`MAX_WAIT`,
at most :data:`MAX_ATTEMPTS` times. :class:`RetryingDirectoryTarget` wraps a directory
target with it, restic's ``retry`` backend style, so the engine sees a target that simply
answers late.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from skylift.connectors.directory.base import DirectoryCapabilities, DirectoryTarget
from skylift.engine.throttle import backoff_seconds
from skylift.errors import TransientError
from skylift.model.directory import DirectoryObject, Group, ObjectKind, User

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


class RetryingDirectoryTarget:
    """A :class:`DirectoryTarget` whose every call is retried by :func:`call_with_retry`.

    A listing is read whole inside the retry, so a throttled page restarts the listing
    rather than handing the engine half of it twice.
    """

    def __init__(self, inner: DirectoryTarget, log: Callable[[str], None] = lambda _m: None):
        self.inner = inner
        self.name = inner.name
        self.capabilities: DirectoryCapabilities = inner.capabilities
        self.log = log

    def _call(self, work: Callable[[], T], what: str) -> T:
        return call_with_retry(work, f"{self.name} {what}", log=self.log)

    def list_users(self) -> Iterator[User]:
        return iter(self._call(lambda: list(self.inner.list_users()), "listing users"))

    def list_groups(self) -> Iterator[Group]:
        return iter(self._call(lambda: list(self.inner.list_groups()), "listing groups"))

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None:
        return self._call(lambda: self.inner.get(kind, target_id), f"reading {kind}")

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        return self._call(lambda: self.inner.find_matches(obj), "searching")

    def create_user(self, user: User) -> str:
        return self._call(lambda: self.inner.create_user(user), "creating a user")

    def update_user(self, target_id: str, changes: dict[str, object]) -> None:
        self._call(lambda: self.inner.update_user(target_id, changes), "updating a user")

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str:
        return self._call(lambda: self.inner.create_group(group, member_ids), "creating a group")

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None:
        self._call(
            lambda: self.inner.update_group(target_id, changes, add_ids, remove_ids),
            "updating a group",
        )

    def delete(self, kind: ObjectKind, target_id: str) -> None:
        self._call(lambda: self.inner.delete(kind, target_id), f"deleting a {kind}")

    def close(self) -> None:
        self.inner.close()
