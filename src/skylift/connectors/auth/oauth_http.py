"""The HTTP session the token clients use: the command line's CA wins over the environment.

A throttled answer becomes ``TransientError(retry_after=…)`` here, for both token clients.
Kept apart from ``oauth`` so that importing the token logic does not import requests; only
a run that really mints a token pays for it.
"""

from __future__ import annotations

import requests

from skylift.connectors.throttle_hints import http_retry_after, http_throttled
from skylift.errors import TransientError

HTTP_TIMEOUT = 30.0


class PinnedSession(requests.Session):
    """A requests session whose ``verify`` the environment cannot override.

    ``Session.merge_environment_settings`` replaces ``verify`` with ``REQUESTS_CA_BUNDLE`` /
    ``CURL_CA_BUNDLE`` when set; here the CA given on the command line always wins.
    """

    def __init__(self, ca_file: str | None) -> None:
        super().__init__()
        self.verify = ca_file or True

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged["verify"] = self.verify
        return merged

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        response = super().request(method, url, *args, **kwargs)
        if http_throttled(response.status_code, response.headers, response.content):
            # 429/503 + Retry-After (Entra, Graph), Google's 403 rateLimitExceeded: the runner
            # waits the hint and logs in again (runners/retry.py); msal and google-auth would
            # otherwise report it as a refusal.
            host = requests.utils.urlparse(url).netloc
            raise TransientError(
                f"the token endpoint {host} is throttling (HTTP {response.status_code})",
                retry_after=http_retry_after(response.headers),
            )
        return response
