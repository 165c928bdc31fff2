"""Who is asking: the session cookie (or HTTP Basic for scripts and Prometheus) and the CSRF check.

Pages without a session redirect to the login form; ``/api/``, ``/events`` and ``/metrics``
answer 401 with a Basic challenge, so ``curl -u`` and a Prometheus ``basic_auth`` block
work. State-changing requests are forms only: they need the session cookie *and* the
form's CSRF token (derived from the session), so another site's form cannot click for an
admin; Basic credentials never change anything.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from skylift.state.web_access import Account, TooManyTries, WebAccess

COOKIE = "skylift_session"
LOGIN_COOKIE = "skylift_login_csrf"


@dataclass(frozen=True)
class Caller:
    account: Account
    token: str | None  # the session token; None for Basic credentials

    @property
    def csrf(self) -> str:
        return WebAccess.csrf_token(self.token) if self.token else ""


class Refused(Exception):
    """Answer *response* instead of the page (401, 403, 429 or the login redirect)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return name, password


def unauthorized(text: str = "log in first") -> Response:
    return JSONResponse(
        {"error": text}, status_code=401, headers={"WWW-Authenticate": 'Basic realm="skylift"'}
    )


def too_many(exc: TooManyTries) -> Response:
    return JSONResponse(
        {"error": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)}
    )


def caller(request: Request, access: WebAccess, *, page: bool) -> Caller:
    """The account behind *request*, or Refused (a redirect for pages, else 401/429)."""
    token = request.cookies.get(COOKIE)
    account = access.session(token)
    if account is not None:
        return Caller(account, token)
    if not page and (basic := _basic(request)) is not None:
        try:
            found = access.check_password(*basic)
        except TooManyTries as exc:
            raise Refused(too_many(exc)) from None
        if found is not None:
            return Caller(found, None)
        raise Refused(unauthorized("wrong name or password"))
    if page:
        raise Refused(RedirectResponse(f"/login?next={request.url.path}", status_code=303))
    raise Refused(unauthorized())


async def form(request: Request) -> dict[str, str]:
    """The urlencoded form of a POST (first value of each field)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def admin_form(who: Caller, fields: dict[str, str]) -> None:
    """An action may go on: a session (not Basic), its CSRF token, the admin role."""
    if who.token is None or not hmac.compare_digest(fields.get("csrf", ""), who.csrf):
        raise Refused(JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403))
    if not who.account.admin:
        raise Refused(JSONResponse({"error": "viewers cannot change anything"}, status_code=403))
