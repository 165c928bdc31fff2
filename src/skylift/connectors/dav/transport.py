"""One DAV request over httpx: redirects with the method kept, 401, and a bounded wait on 429.

Why not httpx's own redirect following: it replays a PROPFIND answered by 302 or 303 as a
GET without its body (what browsers do with a form), so ``.well-known/caldav`` discovery
lands on an HTML page. Here every redirect is followed with the same method, body and
headers (RFC 6764 discovery relies on that), at most ``MAX_REDIRECTS`` times, and only on
the same host: the login is never sent to another server, and http -> https is the only
scheme change taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from skylift.errors import AuthError, ConnectError, TransientError

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
RETRIES = 3  # a 429/503 with Retry-After is tried again at most this many times
MAX_WAIT = 60.0  # seconds: a longer Retry-After fails the request at once


def retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def send(
    client: httpx.Client,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    who: str,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Send one request; follow same-host redirects, wait out a short Retry-After."""
    attempts = 0
    hops = 0
    while True:
        try:
            response = client.request(method, url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{method} {url}: timed out") from exc
        except httpx.TransportError as exc:
            raise ConnectError(f"cannot reach {url}: {exc}") from exc
        if response.status_code in REDIRECTS and response.headers.get("Location"):
            hops += 1
            url = _next_url(url, response.headers["Location"], hops)
            continue
        if response.status_code == 401:
            raise AuthError(f"{urlsplit(url).netloc} refused the login of {who}")
        if response.status_code in (429, 503):
            wait = retry_after(response.headers.get("Retry-After", ""))
            if wait is not None and wait <= MAX_WAIT and attempts < RETRIES:
                attempts += 1
                sleep(wait)
                continue
            raise TransientError(f"{method} {url}: HTTP {response.status_code}", retry_after=wait)
        return response


def _next_url(url: str, location: str, hops: int) -> str:
    target = urljoin(url, location)
    old, new = urlsplit(url), urlsplit(target)
    if hops > MAX_REDIRECTS:
        raise ConnectError(f"{url}: more than {MAX_REDIRECTS} redirects")
    same_host = (old.hostname or "").lower() == (new.hostname or "").lower()
    scheme_ok = new.scheme == old.scheme or (old.scheme, new.scheme) == ("http", "https")
    if not (same_host and scheme_ok):
        raise ConnectError(
            f"{old.scheme}://{old.netloc}{old.path} redirects to {new.scheme}://{new.netloc}; "
            "give that server as the URL (skylift sends the login to one server only)"
        )
    return target


def reason(response: httpx.Response) -> str:
    """The status phrase and the start of the body, on one line, for a report."""
    text = " ".join(response.text.split())[:200] if response.content else ""
    return (response.reason_phrase + (f": {text}" if text else "")).strip()
