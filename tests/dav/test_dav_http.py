"""The request rules of the DAV client that need no server: where a redirect may lead and
how long a Retry-After asks to wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from skylift.connectors.dav.transport import _next_url, retry_after
from skylift.errors import ConnectError


def test_a_redirect_keeps_to_the_same_host_so_the_login_goes_nowhere_else() -> None:
    assert (
        _next_url("http://dav.example/.well-known/caldav", "/dav/", 1) == "http://dav.example/dav/"
    )
    assert _next_url("http://dav.example/a", "https://dav.example/b", 1) == "https://dav.example/b"
    with pytest.raises(ConnectError, match="give that server as the URL"):
        _next_url("https://dav.example/", "https://elsewhere.example/dav/", 1)
    with pytest.raises(ConnectError, match="redirects to http://"):
        _next_url("https://dav.example/", "http://dav.example/dav/", 1)  # no downgrade
    with pytest.raises(ConnectError, match="more than 5 redirects"):
        _next_url("http://dav.example/a", "/a", 6)


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    assert retry_after("7") == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = retry_after(later)
    assert wait is not None and 25 <= wait <= 31
    assert retry_after("soon") is None
