"""A TCP relay in front of a real IMAP server that throttles commands the way the clouds do.

What it reproduces, per *style* (each answer as the sources quote it):

- ``exchange-no``: Exchange Online's tagged ``NO [UNAVAILABLE] Request is throttled.
  Suggested Backoff Time: N milliseconds`` followed by ``* BYE`` and a dropped connection
  (imapsync issues #198 and #272, imap_tools #135).
- ``exchange-bad``: the same words on a tagged ``BAD`` (imapsync #272 shows both), then BYE.
- ``exchange-bye``: only ``* BYE Request is throttled. Suggested Backoff Time: N
  milliseconds``, the session cut before the tagged answer.
- ``gmail-overquota``: Gmail's ``NO [OVERQUOTA] Account exceeded command or bandwidth
  limits. (Failure)`` with no wait given; the session stays open.
- ``gmail-bye``: Gmail's ``* BYE Session expired, please login again`` once the sync limit is
  reached (Google support answer 1071518, as imapsync FAQ.Gmail quotes it), then closed.

The commands it throttles (*command*, APPEND by default; FETCH to throttle a source, which
the session-keeping ``gmail-overquota`` needs: it cannot skip an APPEND's literals) are
chosen by their order, counted over all sessions; a throttled command never reaches the
server. It logs when each such command arrived (``appends``), so a test checks from the log
that the client waited as long as it was told.

What it cannot reproduce: the clouds' own budgets (when throttling starts, how long it
lasts), Exchange's per-app MailboxConcurrency counting, and Gmail's slow-down of accepted
commands (``OK … [THROTTLED]``), which carries no instruction.
"""

from __future__ import annotations

import re
import socket
import time

from tests.servers.relay import Relay

STYLES = ("exchange-no", "exchange-bad", "exchange-bye", "gmail-overquota", "gmail-bye")


class ThrottleProxy(Relay):
    def __init__(
        self,
        upstream_port: int,
        *,
        throttle: set[int],
        backoff_ms: int = 0,
        style: str = "exchange-no",
        command: str = "APPEND",
    ) -> None:
        assert style in STYLES, style
        self.throttle = throttle
        self.backoff_ms = backoff_ms
        self.style = style
        self._pattern = re.compile(rb"^(\S+) (?:UID )?" + command.encode() + rb" ", re.I)
        self.appends: list[tuple[float, bool]] = []  # (when, throttled) per matching command
        super().__init__(upstream_port)

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        state: dict[str, bool] = {"cut": False}
        self.spawn(self._from_client, client, upstream, state)
        self.spawn(self.pump_from_server, upstream, client, state)

    def waits_after_throttle(self) -> list[float]:
        """Seconds between each throttled command and the next matching one (the proxy's log)."""
        seen = self.appends
        return [seen[i + 1][0] - at for i, (at, hit) in enumerate(seen[:-1]) if hit]

    def _throttled(self, data: bytes) -> bytes | None:
        """The tag of a command to throttle when *data* starts a matching command, else None."""
        m = self._pattern.match(data)
        if not m:
            return None
        with self._lock:
            number = len(self.appends) + 1
            hit = number in self.throttle
            self.appends.append((time.monotonic(), hit))
        return m.group(1) if hit else None

    def _reply(self, tag: bytes) -> tuple[bytes, bool]:
        """(what the cloud answers, whether it then closes the session)."""
        hint = b"Request is throttled. Suggested Backoff Time: %d milliseconds" % self.backoff_ms
        if self.style == "exchange-no":
            return tag + b" NO [UNAVAILABLE] " + hint + b"\r\n* BYE Connection closed. 14\r\n", True
        if self.style == "exchange-bad":
            return tag + b" BAD " + hint + b"\r\n* BYE Connection closed. 14\r\n", True
        if self.style == "exchange-bye":
            return b"* BYE " + hint + b"\r\n", True
        if self.style == "gmail-overquota":
            return (
                tag
                + b" NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)\r\n",
                False,
            )
        return b"* BYE Session expired, please login again.\r\n", True

    def _from_client(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        at_line_start = True
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                tag = self._throttled(data) if at_line_start else None
                if tag is not None:
                    reply, closes = self._reply(tag)
                    if closes:
                        state["cut"] = True
                        self.shut(dst)
                        self.answer_and_close(src, reply)
                        break
                    assert b"{" not in data, (
                        "a session-keeping style needs a command with no literal"
                    )
                    src.sendall(reply)
                    at_line_start = True
                    continue
                at_line_start = data.endswith(b"\r\n")
                dst.sendall(data)
        except OSError:
            pass
        self.shut(src, dst)
