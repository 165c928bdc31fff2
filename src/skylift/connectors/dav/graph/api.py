"""One mailbox's session with Microsoft Graph: app-only token, 4 requests at once, pacing.

Graph throttles with ``429`` (and ``503``/``504`` when busy) and a ``Retry-After`` in
seconds; Exchange's calendar and contacts resources also allow only 4 concurrent requests per
mailbox (Microsoft: Graph throttling limits, Outlook service limits), so every session for one
mailbox shares a semaphore of 4. A throttled call waits ``Retry-After`` when given, else
1, 2, 4 s, up to ``ATTEMPTS`` times; then :class:`~skylift.errors.TransientError` with the
hint, and the shared retry of ``runners/retry.py`` runs the account again (the ledger
resumes it). A ``401`` mints a fresh token once. That loop is ``connectors/bearer_http.py``'s;
here are Graph's own parts: the mailbox gate, ``$batch``, upload sessions, and paging by
``@odata.nextLink``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx

from skylift.connectors import bearer_http
from skylift.connectors.bearer_http import ATTEMPTS, BearerSession
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.throttle_hints import http_retry_after
from skylift.errors import ConfigError, TransientError

MAILBOX_CONCURRENCY = 4  # Outlook resources: 4 concurrent requests per app and mailbox
VERSION = "/v1.0"
UPLOAD_CHUNK = 10 * 327680  # 3.2 MB: a multiple of 320 KiB under Graph's 4 MB per request
BATCH_LIMIT = 20  # Graph: "JSON batch requests are currently limited to 20 individual requests"
_GATES: dict[str, threading.BoundedSemaphore] = {}
_GATES_LOCK = threading.Lock()


class GraphError(Exception):
    """Graph refused one call (4xx other than throttling): its status, code and words."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


def api_base(endpoint: Endpoint) -> str:
    """``graph+https://host[:port]`` -> ``https://host[:port]``; loopback may be plain http."""
    return bearer_http.api_base(endpoint, "graph", "graph.microsoft.com")


def _gate(key: str) -> threading.BoundedSemaphore:
    with _GATES_LOCK:
        return _GATES.setdefault(key, threading.BoundedSemaphore(MAILBOX_CONCURRENCY))


class GraphSession(BearerSession):
    """httpx client for one mailbox (*user*), with the side's Entra token provider and CA."""

    name = "Graph"

    def __init__(self, endpoint: Endpoint, user: str, sleep: Any = time.sleep) -> None:
        if endpoint.oauth is None:
            raise ConfigError(
                "Microsoft Graph needs an Entra app: give --target-oauth-tenant, "
                "--target-oauth-client-id and its secret or certificate"
            )
        super().__init__(endpoint, user, api_base(endpoint), sleep)
        # one mailbox's resources, or (no user: the directory) the tenant's
        self.mailbox = f"{VERSION}/users/{quote(user, safe='@')}" if user else VERSION
        self._gate = _gate(f"{self.base}|{user.lower()}")

    def refusal(self, status: int, raw: bytes) -> Exception:
        return _refusal(status, raw)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        content: tuple[bytes, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """One API call (*path* below the mailbox, or a full nextLink); JSON answer, {} for 204.

        *content*: (bytes, media type) sent as they are (a photo); *raw*: the answer's bytes."""
        url = path if path.startswith("http") else self.mailbox + path
        response = self.request(method, url, params=params, body=body, content=content)
        if raw:
            return response.content
        return response.json() if response.content else {}

    def batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run *requests* (``method``, ``url`` below /v1.0, optional ``body``) through
        ``POST /$batch``, at most ``BATCH_LIMIT`` a time; each answer in order. An inner 429
        or 5xx is sent again after its ``Retry-After`` (else 1, 2, 4 s), then it is a
        TransientError like any throttled call."""
        answers: dict[int, dict[str, Any]] = {}
        todo = list(enumerate(requests))
        for attempt in range(ATTEMPTS):
            again: list[tuple[int, dict[str, Any]]] = []
            wait = 0.0
            for start in range(0, len(todo), BATCH_LIMIT):
                chunk = todo[start : start + BATCH_LIMIT]
                envelope = {"requests": [
                    {"id": str(i), "method": r["method"], "url": r["url"],
                     **({"body": r["body"], "headers": {"Content-Type": "application/json"}}
                        if "body" in r else {})}
                    for i, r in chunk
                ]}  # fmt: skip
                reply = self.call("POST", "/$batch", body=envelope)
                for answer in reply.get("responses", []):
                    index = int(answer["id"])
                    status = int(answer.get("status", 0))
                    if status == 429 or status >= 500:
                        again.append((index, requests[index]))
                        hint = http_retry_after(answer.get("headers") or {})
                        wait = max(wait, hint if hint is not None else 2.0**attempt)
                    else:
                        answers[index] = answer
            if not again:
                return [answers[i] for i in range(len(requests))]
            if attempt + 1 == ATTEMPTS:
                raise TransientError(
                    f"Graph throttled {len(again)} batched requests", retry_after=wait
                )
            self._sleep(min(wait, 60.0))
            todo = sorted(again, key=lambda pair: pair[0])
        raise TransientError("batched requests: no answer")

    def upload(self, url: str, data: bytes) -> None:
        """Send *data* to an upload session's pre-authenticated *url* in ``UPLOAD_CHUNK``
        pieces with ``Content-Range`` and no Authorization header (Graph refuses one there)."""
        for start in range(0, len(data), UPLOAD_CHUNK):
            piece = data[start : start + UPLOAD_CHUNK]
            headers = {"Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(data)}"}
            for attempt in range(ATTEMPTS):
                try:
                    with self._gate:
                        response = self._http.put(url, content=piece, headers=headers)
                except httpx.TransportError as exc:
                    raise TransientError(f"upload to {self.base}: {type(exc).__name__}") from exc
                if response.status_code in (429, 503, 504) or response.status_code >= 500:
                    if attempt + 1 == ATTEMPTS:
                        raise TransientError(
                            f"Graph throttled an upload: HTTP {response.status_code}"
                        )
                    wait = http_retry_after(response.headers)
                    self._sleep(min(wait if wait is not None else 2.0**attempt, 60.0))
                    continue
                if response.status_code >= 400:
                    raise _refusal(response.status_code, response.content)
                break

    def pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every ``value`` entry over all pages (``@odata.nextLink``)."""
        items: list[dict[str, Any]] = []
        answer = self.call("GET", path, params=params)
        while True:
            items.extend(answer.get("value", []))
            link = answer.get("@odata.nextLink")
            if not link:
                return items
            answer = self.call("GET", link)


def _refusal(status: int, raw: bytes) -> GraphError:
    try:
        error = json.loads(raw).get("error", {})
        return GraphError(status, str(error.get("code", "")), str(error.get("message", ""))[:300])
    except (ValueError, AttributeError):
        return GraphError(status, "", raw.decode("utf-8", "replace")[:300])
