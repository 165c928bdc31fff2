"""One user's session with a Google REST API: bearer token per user, pacing, Google's errors.

Google says "slow down" with ``403 rateLimitExceeded``/``userRateLimitExceeded`` or ``429``
(and 5xx when busy). A throttled call waits the server's ``Retry-After`` when given, else
1, 2, 4 s, and tries again up to ``ATTEMPTS`` times; then it raises
:class:`~skylift.errors.TransientError` with the hint, so the shared retry of
``runners/retry.py`` runs the account again later and the ledger resumes it. A ``401`` mints
a fresh token once (tokens from the service account expire within the hour).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.throttle_hints import http_retry_after, http_throttled
from skylift.errors import AuthError, ConfigError, ConnectError, TransientError

ATTEMPTS = 4
BACKOFF_CAP = 8.0
GOOGLE_API = "https://www.googleapis.com"


class GoogleApiError(Exception):
    """Google refused one call (4xx other than throttling): its status and words."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.reason = reason


def api_base(endpoint: Endpoint) -> str:
    """``google+https://host[:port]`` -> ``https://host[:port]``; loopback may be plain http."""
    plain = endpoint.scheme == "google+http"
    if plain and not endpoint.is_loopback() and not endpoint.allow_plaintext:
        raise ConfigError("google+http:// is for a loopback test API only; use google+https://")
    port = f":{endpoint.port}" if endpoint.port else ""
    return f"{'http' if plain else 'https'}://{endpoint.host or 'www.googleapis.com'}{port}"


class GoogleSession:
    """httpx client for *user*, with the side's token provider and CA."""

    def __init__(self, endpoint: Endpoint, user: str, sleep: Any = time.sleep) -> None:
        if endpoint.oauth is None:
            raise ConfigError(
                "Google's APIs need a service account: give --target-oauth-service-account KEY.json"
            )
        self.endpoint = endpoint
        self.user = user
        self.base = api_base(endpoint)
        self._sleep = sleep
        verify: Any = False if endpoint.insecure else (endpoint.ssl_context())
        self._http = httpx.Client(
            base_url=self.base,
            verify=verify,
            timeout=httpx.Timeout(endpoint.timeout, connect=endpoint.connect_timeout),
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API call; the decoded JSON answer ({} for 204)."""
        assert self.endpoint.oauth is not None
        renewed = False
        for attempt in range(ATTEMPTS):
            token = self.endpoint.oauth.token(self.user).reveal()
            try:
                response = self._http.request(
                    method, path, params=params, json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
            except httpx.TimeoutException as exc:
                raise TransientError(f"{method} {path}: timed out") from exc
            except httpx.TransportError as exc:
                raise ConnectError(f"cannot reach {self.base}: {type(exc).__name__}") from exc
            status = response.status_code
            if status == 401 and not renewed:
                self.endpoint.oauth.invalidate()
                renewed = True
                continue
            throttled = http_throttled(status, response.headers, response.content)
            if throttled or status >= 500:
                wait = http_retry_after(response.headers)
                if attempt + 1 == ATTEMPTS:
                    raise TransientError(
                        f"Google throttled {method} {path.split('?')[0]}: HTTP {status}",
                        retry_after=wait,
                    )
                self._sleep(min(wait if wait is not None else 2.0**attempt, BACKOFF_CAP * 8))
                continue
            if status == 401:
                raise AuthError(f"Google refused the token for {self.user} (HTTP 401)")
            if status >= 400:
                raise _refusal(status, response.content)
            return response.json() if response.content else {}
        raise TransientError(f"{method} {path}: no answer after {ATTEMPTS} tries")

    def pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every ``items`` entry over all pages (``nextPageToken``)."""
        items: list[dict[str, Any]] = []
        query = dict(params)
        while True:
            answer = self.call("GET", path, params=query)
            items.extend(answer.get("items", []))
            token = answer.get("nextPageToken")
            if not token:
                return items
            query["pageToken"] = token


def _refusal(status: int, raw: bytes) -> GoogleApiError:
    try:
        error = json.loads(raw).get("error", {})
        reasons = [e.get("reason", "") for e in error.get("errors", [])]
        return GoogleApiError(
            status, str(error.get("message", ""))[:300], reasons[0] if reasons else ""
        )
    except (ValueError, AttributeError):
        return GoogleApiError(status, raw.decode("utf-8", "replace")[:300])


def seg(value: str) -> str:
    """*value* as one path segment."""
    return quote(value, safe="@")
