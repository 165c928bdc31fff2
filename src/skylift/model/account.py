"""Who a mailbox belongs to and how to log in, without ever holding a secret in plain view."""

from __future__ import annotations

from dataclasses import dataclass, field


class Secret:
    """A password or token that never prints itself.

    ``str(secret)`` and ``repr(secret)`` give ``'***'``; only :meth:`reveal` gives the value,
    so a secret cannot end up in a log line, a JSON report or the state store by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Login:
    """How to authenticate to one side for one mailbox.

    With *admin* set, skylift authenticates as the admin (SASL PLAIN, authentication
    identity) on behalf of *user* (authorization identity): Dovecot master users,
    Exchange/Microsoft 365 delegation.
    """

    user: str
    password: Secret | None = None
    admin: str | None = None
    admin_password: Secret | None = None

    def __repr__(self) -> str:
        via = f" via {self.admin}" if self.admin else ""
        return f"Login({self.user!r}{via})"


@dataclass(frozen=True)
class MailboxPair:
    """One row of the users CSV: a source mailbox and where it goes.

    *key* identifies the mailbox in the state store and reports (the target address).
    *extra* keeps the CSV's other columns (Department, Wave, …) for planning.
    """

    key: str
    source: Login
    target: Login
    extra: dict[str, str] = field(default_factory=dict, compare=False)
