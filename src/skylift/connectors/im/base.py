"""The contract of an instant-messaging account: its contact list (roster), read and written.

A roster item is a contact's address with a display name, groups and the presence
subscription state (RFC 6121 section 2: none, to, from, both). A client cannot set the
subscription directly; it asks for one (``subscribe``) and approves one (``approve``), as
every XMPP server requires.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skylift.model.account import Login

if TYPE_CHECKING:
    from skylift.connectors.endpoint import Endpoint


@dataclass(frozen=True)
class RosterItem:
    """One contact of a roster. *to*: the owner sees the contact's presence; *from*: the
    contact sees the owner's."""

    jid: str
    name: str = ""
    groups: frozenset[str] = frozenset()
    to: bool = False
    from_: bool = False

    @property
    def subscription(self) -> str:
        return {(True, True): "both", (True, False): "to", (False, True): "from"}.get(
            (self.to, self.from_), "none"
        )


class ImAccount(ABC):
    """One signed-in IM account; a context manager."""

    jid: str

    @abstractmethod
    def roster(self) -> list[RosterItem]:
        """The account's contacts as the server holds them now."""

    @abstractmethod
    def set_item(self, jid: str, name: str, groups: frozenset[str]) -> None:
        """Add the contact or change its name and groups (the subscription is unchanged)."""

    @abstractmethod
    def subscribe(self, jid: str) -> None:
        """Ask *jid* to share its presence with this account."""

    @abstractmethod
    def approve(self, jid: str) -> None:
        """Let *jid* see this account's presence (answer or pre-approve its request)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Sign out."""

    def __enter__(self) -> ImAccount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImConnector(ABC):
    """Opens IM accounts on the server an :class:`Endpoint` names."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @abstractmethod
    def open(self, login: Login) -> ImAccount:
        """Sign in as *login* (its user is the account's address); AuthError if refused."""
