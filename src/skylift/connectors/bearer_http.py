"""A session with a cloud's REST API over httpx: a bearer token per user, pacing, one retry rule.

Google's APIs and Microsoft Graph ask the same of a client: send the app-only token, mint a
fresh one once on ``401``, and when throttled (``429``, 5xx, Google's ``403
rateLimitExceeded``) wait the server's ``Retry-After`` (else 1, 2, 4 s) and try again up to
``ATTEMPTS`` times; then raise :class:`~skylift.errors.TransientError` with the hint, so the
shared retry of ``runners/retry.py`` runs the account again later and the ledger resumes
it. Each API's session (``dav/google/api.py``, ``dav/graph/api.py``) says only what differs:
its name, what counts as throttled, how it words a refusal, and an optional gate (Graph's 4
concurrent requests per mailbox).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.throttle_hints import http_retry_after
from skylift.errors import AuthError, ConfigError, ConnectError, TransientError

ATTEMPTS = 4


def api_base(endpoint: Endpoint, family: str, default_host: str) -> str:
    """``<family>+https://host[:port]`` -> ``https://host[:port]``; loopback may be plain."""
    plain = endpoint.scheme == f"{family}+http"
    if plain and not endpoint.is_loopback() and not endpoint.allow_plaintext:
        raise ConfigError(
            f"{family}+http:// is for a loopback test API only; use {family}+https://"
        )
    port = f":{endpoint.port}" if endpoint.port else ""
    return f"{'http' if plain else 'https'}://{endpoint.host or default_host}{port}"


class BearerSession:
    """httpx client for *user* at *base*, with the side's token provider and CA."""

    name = "the API"  # how errors name the cloud ("Google", "Graph")
    backoff_cap = 60.0  # seconds: the longest wait between two tries of one call

    def __init__(self, endpoint: Endpoint, user: str, base: str, sleep: Any = time.sleep) -> None:
        self.endpoint = endpoint
        self.user = user
        self.base = base
        self._sleep = sleep
        self._gate: Any = contextlib.nullcontext()
        verify: Any = False if endpoint.insecure else endpoint.ssl_context()
        self._http = httpx.Client(
            base_url=base,
            verify=verify,
            timeout=httpx.Timeout(endpoint.timeout, connect=endpoint.connect_timeout),
        )

    def close(self) -> None:
        self._http.close()

    # -- what each API says differently -----------------------------------------------------

    def throttled(self, response: httpx.Response) -> bool:
        return response.status_code == 429 or response.status_code >= 500

    def refusal(self, status: int, raw: bytes) -> Exception:
        return ConnectError(f"{self.name} refused: HTTP {status}")

    # -- the one loop -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        content: tuple[bytes, str] | None = None,
    ) -> httpx.Response:
        """One call with the token, retried as the module says; the answer (status < 400),
        else the API's refusal. *content*: (bytes, media type) sent as they are."""
        assert self.endpoint.oauth is not None
        renewed = False
        for attempt in range(ATTEMPTS):
            headers = {"Authorization": f"Bearer {self.endpoint.oauth.token(self.user).reveal()}"}
            if content is not None:
                headers["Content-Type"] = content[1]
            try:
                with self._gate:
                    response = self._http.request(
                        method, url, params=params, json=body, headers=headers,
                        content=content[0] if content is not None else None,
                    )  # fmt: skip
            except httpx.TimeoutException as exc:
                raise TransientError(f"{method} {url}: timed out") from exc
            except httpx.TransportError as exc:
                raise ConnectError(f"cannot reach {self.base}: {type(exc).__name__}") from exc
            status = response.status_code
            if status == 401 and not renewed:
                self.endpoint.oauth.invalidate()
                renewed = True
                continue
            if self.throttled(response):
                wait = http_retry_after(response.headers)
                if attempt + 1 == ATTEMPTS:
                    raise TransientError(
                        f"{self.name} throttled {method} {url.split('?')[0]}: HTTP {status}",
                        retry_after=wait,
                    )
                self._sleep(min(wait if wait is not None else 2.0**attempt, self.backoff_cap))
                continue
            if status == 401:
                raise AuthError(f"{self.name} refused the token for {self.user} (HTTP 401)")
            if status >= 400:
                raise self.refusal(status, response.content)
            return response
        raise TransientError(f"{method} {url}: no answer after {ATTEMPTS} tries")
