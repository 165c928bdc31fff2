"""One user's session with a Google REST API: what Google says differently.

Google says "slow down" with ``403 rateLimitExceeded``/``userRateLimitExceeded`` or ``429``
(and 5xx when busy), and words a refusal as ``{"error": {"message", "errors": [{"reason"}]}}``.
The token, the one ``401`` renewal and the retry rule are ``connectors/bearer_http.py``'s
(tokens from the service account expire within the hour).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx

from skylift.connectors import bearer_http
from skylift.connectors.bearer_http import ATTEMPTS, BearerSession
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.throttle_hints import http_throttled
from skylift.errors import ConfigError

__all__ = ["ATTEMPTS", "GoogleApiError", "GoogleSession", "api_base", "seg"]
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
    return bearer_http.api_base(endpoint, "google", "www.googleapis.com")


class GoogleSession(BearerSession):
    """One user's session (the service account acting as *user*), with the side's CA."""

    name = "Google"
    backoff_cap = BACKOFF_CAP * 8

    def __init__(self, endpoint: Endpoint, user: str, sleep: Any = time.sleep) -> None:
        if endpoint.oauth is None:
            raise ConfigError(
                "Google's APIs need a service account: give --target-oauth-service-account KEY.json"
            )
        super().__init__(endpoint, user, api_base(endpoint), sleep)

    def throttled(self, response: httpx.Response) -> bool:
        status = response.status_code
        return http_throttled(status, response.headers, response.content) or status >= 500

    def refusal(self, status: int, raw: bytes) -> Exception:
        return _refusal(status, raw)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API call; the decoded JSON answer ({} for 204)."""
        response = self.request(method, path, params=params, body=body)
        return response.json() if response.content else {}  # type: ignore[no-any-return]

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
