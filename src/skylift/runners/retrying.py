"""Connector wrappers that retry every call (restic's ``retry`` backend style).

The engine sees a target that simply answers late; the rule of how long to wait is
:func:`skylift.runners.retry.call_with_retry`'s, the same for every domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from skylift.connectors.directory.base import DirectoryCapabilities, DirectoryTarget
from skylift.model.directory import DirectoryObject, Group, ObjectKind, User
from skylift.runners.retry import call_with_retry

T = TypeVar("T")


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
