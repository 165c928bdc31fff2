"""XMPP accounts through slixmpp: read a roster, set items, ask for and approve subscriptions.

slixmpp is asyncio-only; each account runs its client on an event loop in a thread of its
own, and the methods here wait for the answer, so the engine stays synchronous like every
other domain. Plain-text sign-in is allowed on loopback or with ``--allow-plaintext`` only;
otherwise STARTTLS with the endpoint's certificate rules is required.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

import slixmpp

from skylift.connectors.im.base import ImAccount, ImConnector, RosterItem
from skylift.errors import AuthError, ConfigError, ConnectError
from skylift.model.account import Login

SETTLE = 0.3  # seconds for the server to push roster changes after a presence stanza


def _settle(future: asyncio.Future[bool], outcome: bool | Exception) -> None:
    """Resolve *future* once: the first of session start, refused login or no connection."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class _Client(slixmpp.ClientXMPP):  # type: ignore[misc]
    def __init__(self, jid: str, password: str, tls: bool, ssl_context: Any) -> None:
        super().__init__(jid, password)
        self.enable_starttls = tls
        self.enable_direct_tls = False
        self.enable_plaintext = not tls
        if tls:
            self.ssl_context = ssl_context
        self.plugin["feature_mechanisms"].unencrypted_plain = not tls


class XmppAccount(ImAccount):
    def __init__(self, client: _Client, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self.client, self.loop, self.thread = client, loop, thread
        self.jid = client.boundjid.bare

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def roster(self) -> list[RosterItem]:
        async def read() -> list[RosterItem]:
            await self.client.get_roster()
            await asyncio.sleep(SETTLE)
            items = self.client.client_roster
            out = []
            for jid in items:
                item = items[jid]
                if item["subscription"] == "remove" or jid == self.jid:
                    continue
                out.append(
                    RosterItem(
                        jid,
                        item["name"] or "",
                        frozenset(item["groups"]),
                        bool(item["to"]),
                        bool(item["from"]),
                    )
                )
            return sorted(out, key=lambda i: i.jid)

        return self._run(read())  # type: ignore[no-any-return]

    def set_item(self, jid: str, name: str, groups: frozenset[str]) -> None:
        async def write() -> None:
            answer = self.client.update_roster(slixmpp.JID(jid), name=name, groups=sorted(groups))
            if answer is not None:
                await answer

        self._run(write())

    def subscribe(self, jid: str) -> None:
        async def send() -> None:
            self.client.send_presence_subscription(jid)
            await asyncio.sleep(SETTLE)

        self._run(send())

    def approve(self, jid: str) -> None:
        async def send() -> None:
            self.client.send_presence(pto=jid, ptype="subscribed")
            await asyncio.sleep(SETTLE)

        self._run(send())

    def close(self) -> None:
        async def leave() -> None:
            self.client.disconnect()
            done = getattr(self.client, "disconnected", None)
            if isinstance(done, asyncio.Future):
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(done), 2)
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self._run(leave(), timeout=10)
        finally:
            _stop(self.loop, self.thread)


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """End the account's event loop and its thread, and free the loop."""
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    if not thread.is_alive():
        loop.close()


class XmppConnector(ImConnector):
    """``xmpp://host:5222`` (plain text on loopback or with --allow-plaintext)."""

    def open(self, login: Login) -> XmppAccount:
        ep = self.endpoint
        if "@" not in login.user:
            raise ConfigError(f"an XMPP login is an address (user@domain), not {login.user!r}")
        tls = not (ep.is_loopback() or ep.allow_plaintext)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True, name="xmpp")
        thread.start()
        secret = login.password.reveal() if login.password else ""

        async def start() -> _Client:
            client = _Client(login.user, secret, tls, ep.ssl_context() if tls else None)
            ready = loop.create_future()
            refused = AuthError(f"{ep.display()} refused the login of {login.user}")
            client.add_event_handler("session_start", lambda _: _settle(ready, True))
            client.add_event_handler("failed_auth", lambda _: _settle(ready, refused))
            client.add_event_handler(
                "connection_failed",
                lambda e: _settle(ready, ConnectError(f"cannot reach {ep.display()}: {e}")),
            )
            client.connect(ep.host, ep.port or 5222)
            await asyncio.wait_for(ready, ep.connect_timeout)
            return client

        try:
            client = asyncio.run_coroutine_threadsafe(start(), loop).result(ep.connect_timeout + 5)
        except TimeoutError:
            _stop(loop, thread)
            raise ConnectError(
                f"no answer from {ep.display()} within {ep.connect_timeout:g} s"
            ) from None
        except BaseException:
            _stop(loop, thread)
            raise
        return XmppAccount(client, loop, thread)
