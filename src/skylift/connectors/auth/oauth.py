"""App-only OAuth2 tokens for IMAP and POP: Microsoft Entra client credentials, Google DWD.

Exchange Online and Gmail no longer take passwords over IMAP/POP; an admin moves hundreds of
mailboxes with one app registration. This module mints the tokens (msal for Entra's
client-credentials grant with scope ``https://outlook.office365.com/.default``; google-auth for
a service account impersonating each user with ``with_subject``), keeps them in memory per
tenant (Entra: one token serves every mailbox) or per user (Google), and mints a new one
shortly before expiry. A token is a :class:`~skylift.model.account.Secret` from the moment it
arrives: it never reaches a log line, an error text, a report or the state store.

Trust: the side's ``--*-ca`` file is the CA for its token endpoint too, and it wins over
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (requests would otherwise replace a session's own
``verify`` with them); proxies from the environment still apply.

Errors are one line that says what to fix (wrong tenant, no admin consent, bad secret,
certificate not registered, clock skew, DWD scope not authorised).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skylift.errors import AuthError, ConfigError, ConnectError
from skylift.model.account import Secret

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"
# Mint a new token when the cached one has less than this left (capped at a quarter of its
# lifetime, so short-lived tokens are still reused for a while).
REFRESH_MARGIN = 300.0


def pinned_session(ca_file: str | None) -> Any:
    """A requests session that trusts *ca_file* whatever the environment says (lazy import:
    requests costs 60 ms at start-up, paid only by runs that mint tokens)."""
    from skylift.connectors.auth.oauth_http import PinnedSession

    return PinnedSession(ca_file)


class PerMailboxAuthError(AuthError):
    """A token refusal that concerns one user only (Google: no such user); others go on."""


@dataclass
class _Cached:
    token: Secret
    expires_at: float  # time.time() seconds
    lifetime: float

    def fresh(self) -> bool:
        margin = min(REFRESH_MARGIN, self.lifetime / 4)
        return time.time() < self.expires_at - margin


def jwt_claims(token: Secret) -> dict[str, Any]:
    """The payload of a JWT access token, unverified; {} for an opaque token."""
    parts = token.reveal().split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _expiry(token: Secret, expires_in: float) -> tuple[float, float]:
    """(expires_at, lifetime): the token's own ``exp`` when readable, else *expires_in*."""
    now = time.time()
    exp = jwt_claims(token).get("exp")
    if isinstance(exp, int | float) and exp > 0:
        return float(exp), max(float(exp) - now, 0.0)
    return now + expires_in, expires_in


def _transport_error(side: str, url: str, exc: BaseException) -> ConnectError:
    import requests  # only where tokens are minted: `skylift migrate` with passwords skips it

    host = urlsplit(url).netloc or url
    if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return ConnectError(
            f"TLS certificate of the {side} token endpoint {host} not trusted; pass its CA "
            f"with --{side}-ca"
        )
    return ConnectError(f"cannot reach the {side} token endpoint {host}: {type(exc).__name__}")


class TokenProvider(ABC):
    """Hands out bearer tokens for one side's mailboxes, minting and caching them."""

    kind: str = ""
    #: the role (Entra) an IMAP/POP login needs
    side: str = "target"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    def token(self, user: str) -> Secret:
        """A token good for logging in as *user* for a while yet."""
        key = self._cache_key(user)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.fresh():
                return cached.token
            token, expires_in = self._mint(user)
            expires_at, lifetime = _expiry(token, expires_in)
            self._cache[key] = _Cached(token, expires_at, lifetime)
            return token

    def expiring(self, token: Secret, within: float = 5.0) -> bool:
        """True when *token* expires within *within* seconds (it may have expired in flight)."""
        with self._lock:
            for cached in self._cache.values():
                if cached.token == token:
                    return cached.expires_at - time.time() < within
        return False

    def invalidate(self) -> None:
        """Forget every cached token (a server said one expired before we thought)."""
        with self._lock:
            self._cache.clear()

    @abstractmethod
    def _cache_key(self, user: str) -> str: ...

    @abstractmethod
    def _mint(self, user: str) -> tuple[Secret, float]:
        """Ask the token endpoint; return the token and its lifetime in seconds."""

    @abstractmethod
    def tenant_key(self) -> str:
        """What the cloud counts this side's sessions against (one app in one tenant)."""

    @abstractmethod
    def describe(self) -> str:
        """Who logs in, for messages: 'Entra app <id> in <tenant>'."""

    def login_refused_hint(self, user: str, protocol: str = "IMAP") -> str:
        """What an admin runs when the mail server refuses the token for *user*."""
        return ""


# -- Microsoft Entra ID ------------------------------------------------------------------------

_AADSTS = re.compile(r"AADSTS(\d+)")
_CAS_SWITCH = {
    "IMAP": "-ImapEnabled $true",
    "POP": "-PopEnabled $true",
    "SMTP": "-SmtpClientAuthenticationDisabled $false",
}
#: Exchange Online application permissions, by what the token is for
MAIL_ROLES = ("IMAP.AccessAsApp", "POP.AccessAsApp")
SMTP_ROLES = ("SMTP.SendAsApp",)


class EntraTokens(TokenProvider):
    """Client-credentials tokens for Exchange Online, one per tenant and app."""

    kind = "microsoft"

    def __init__(
        self,
        side: str,
        tenant: str,
        client_id: str,
        *,
        secret: Secret | None = None,
        certificate: Path | None = None,
        authority: str = MICROSOFT_AUTHORITY,
        ca_file: str | None = None,
        scope: str = EXCHANGE_SCOPE,
        roles: tuple[str, ...] = (),
        any_role: tuple[str, ...] = MAIL_ROLES,
    ) -> None:
        """*scope*: Exchange's IMAP/POP by default, or Graph's; *roles*: the application
        permissions a Graph token must carry (all of them); *any_role*: those of which an
        Exchange token must carry one (IMAP/POP for mail, SMTP.SendAsApp for notices); both
        checked on each new token."""
        super().__init__()
        self.scope = scope
        self.roles = roles
        self.any_role = any_role
        if not tenant:
            raise ConfigError(f"--{side}-oauth-tenant is needed (e.g. contoso.onmicrosoft.com)")
        if not client_id:
            raise ConfigError(f"--{side}-oauth-client-id is needed (the app's Application ID)")
        if (secret is None) == (certificate is None):
            raise ConfigError(
                f"give the app's credential: SKYLIFT_{side.upper()}_OAUTH_CLIENT_SECRET, "
                f"--{side}-oauth-client-secret-file or --{side}-oauth-certificate (one of them)"
            )
        if not authority.startswith("https://"):
            raise ConfigError(f"--{side}-oauth-authority must be an https:// URL: {authority}")
        self.side = side
        self.tenant = tenant
        self.client_id = client_id
        self.authority = authority.rstrip("/")
        self._secret = secret
        self._certificate = certificate
        self._session = pinned_session(ca_file)
        self._app: Any = None

    def describe(self) -> str:
        return f"Entra app {self.client_id} in tenant {self.tenant}"

    def tenant_key(self) -> str:
        return f"entra:{self.authority}/{self.tenant.lower()}/{self.client_id}"

    def _cache_key(self, user: str) -> str:
        return "tenant"

    def _credential(self) -> Any:
        if self._secret is not None:
            return self._secret.reveal()
        assert self._certificate is not None
        try:
            pem = self._certificate.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read certificate {self._certificate}: {exc}") from None
        key = re.search(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", pem, re.S)  # fmt: skip
        cert = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)
        if key is None or cert is None:
            raise ConfigError(
                f"{self._certificate} must hold the app's private key and its certificate (PEM)"
            )
        return {"private_key": key.group(0), "public_certificate": cert.group(0)}

    def _application(self) -> Any:
        if self._app is None:
            import msal
            import requests

            custom = self.authority != MICROSOFT_AUTHORITY
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.client_id,
                    client_credential=self._credential(),
                    authority=f"{self.authority}/{self.tenant}",
                    http_client=self._session,
                    # A national cloud or a test authority: never ask Microsoft's public
                    # instance-discovery endpoint about it.
                    instance_discovery=False if custom else None,
                )
            except requests.exceptions.RequestException as exc:
                raise _transport_error(self.side, self.authority, exc) from None
            except ValueError as exc:
                # msal wraps the discovery answer (AADSTS90002 for an unknown tenant)
                cause = exc.__cause__ or exc.__context__
                raise self._refused(f"{exc} {cause or ''}") from None
        return self._app

    def _mint(self, user: str) -> tuple[Secret, float]:
        import requests

        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self.scope])
        except requests.exceptions.RequestException as exc:
            raise _transport_error(self.side, self.authority, exc) from None
        if "access_token" not in result:
            raise self._refused(f"{result.get('error', '')}: {result.get('error_description', '')}")
        token = Secret(result.pop("access_token"))
        app.remove_tokens_for_client()  # our cache is the one; msal's would hand it back
        roles = jwt_claims(token).get("roles")
        missing = [r for r in self.roles if not isinstance(roles, list) or r not in roles]
        if self.roles and missing:
            raise AuthError(
                f"{self.describe()}: the token has no {', '.join(missing)} role; in Entra admin "
                "center > App registrations > API permissions add Microsoft Graph > Application "
                f"permissions > {', '.join(missing)}, then Grant admin consent"
            )
        if self.roles or self.scope != EXCHANGE_SCOPE:
            return token, float(result.get("expires_in", 3600))
        if isinstance(roles, list) and not set(self.any_role) & set(roles):
            raise AuthError(
                f"{self.describe()}: the token has no {'/'.join(self.any_role)} role; in "
                "Entra admin center > App registrations > API permissions add Office 365 Exchange "
                f"Online > Application permissions > {self.any_role[0]}, then Grant admin consent"
            )
        return token, float(result.get("expires_in", 3600))

    def _refused(self, text: str) -> AuthError:
        """One line for an Entra refusal, with the admin's fix."""
        code = m.group(1) if (m := _AADSTS.search(text)) else ""
        who = self.describe()
        fixes = {
            "90002": f"tenant {self.tenant!r} not found: check --{self.side}-oauth-tenant "
            "(the tenant ID or a verified domain such as contoso.onmicrosoft.com)",
            "700016": f"app {self.client_id} is not registered in tenant {self.tenant}: check "
            f"--{self.side}-oauth-client-id (Application (client) ID) and the tenant",
            "7000215": f"{who}: client secret refused; use the secret's Value (not its ID) and "
            "check it has not expired (App registrations > Certificates & secrets)",
            "7000222": f"{who}: the client secret has expired; create a new one",
            "700027": f"{who}: the certificate is not registered on the app; upload its public "
            "part under App registrations > Certificates & secrets",
            "65001": f"{who}: no admin consent; in Entra admin center > App registrations > API "
            "permissions > Grant admin consent for the tenant (IMAP.AccessAsApp, POP.AccessAsApp)",
            "700024": f"{who}: the token endpoint says this machine's clock is wrong (client "
            "assertion outside its valid time range); sync the clock (timedatectl set-ntp true)",
            "70011": f"{who}: scope {self.scope} refused",
        }
        if code in fixes:
            return AuthError(fixes[code])
        if "invalid_tenant" in text or "OIDC Discovery failed" in text:
            return AuthError(fixes["90002"])
        if "Unable to get authority configuration" in text:
            return AuthError(
                f"{fixes['90002']}; or --{self.side}-oauth-authority {self.authority} is not an "
                "Entra authority"
            )
        first = text.split(" Trace ID:")[0].strip().splitlines()[0] if text.strip() else "refused"
        return AuthError(f"{who}: token request refused: {first[:300]}")

    def login_refused_hint(self, user: str, protocol: str = "IMAP") -> str:
        return (
            f"in Exchange Online PowerShell: New-ServicePrincipal -AppId {self.client_id} "
            "-ObjectId <Enterprise application object ID> (once), then Add-MailboxPermission "
            f"-Identity {user} -User <service principal ID> -AccessRights FullAccess; and "
            f"Set-CASMailbox -Identity {user} {_CAS_SWITCH.get(protocol, '-ImapEnabled $true')}"
        )


# -- Google Workspace --------------------------------------------------------------------------


class GoogleTokens(TokenProvider):
    """Service-account tokens with domain-wide delegation, one per impersonated user."""

    kind = "google"

    def __init__(
        self, side: str, key_file: Path, *, scope: str = GOOGLE_SCOPE, ca_file: str | None = None
    ) -> None:
        super().__init__()
        self.side = side
        self.scope = scope
        try:
            info = json.loads(key_file.read_text())
        except OSError as exc:
            raise ConfigError(
                f"cannot read service account key {key_file}: {exc.strerror}"
            ) from None
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(f"{key_file} is not a service account key (JSON)") from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConfigError(f"{key_file} is not a service account key (type service_account)")
        from google.oauth2 import service_account

        try:
            self._base = service_account.Credentials.from_service_account_info(info, scopes=[scope])
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{key_file}: bad service account key ({exc})") from None
        self.email = str(info.get("client_email", ""))
        self.client_id = str(info.get("client_id", ""))
        self.token_uri = str(info.get("token_uri", ""))
        self._session = pinned_session(ca_file)

    def describe(self) -> str:
        return f"service account {self.email}"

    def tenant_key(self) -> str:
        return f"google:{self.email}"

    def _cache_key(self, user: str) -> str:
        return user.lower()

    def _mint(self, user: str) -> tuple[Secret, float]:
        from google.auth import exceptions
        from google.auth.transport.requests import Request

        creds = self._base.with_subject(user)
        try:
            creds.refresh(Request(session=self._session))
        except exceptions.RefreshError as exc:
            raise self._refused(user, str(exc.args[0] if exc.args else exc)) from None
        except exceptions.TransportError as exc:
            raise _transport_error(self.side, self.token_uri, exc) from None
        token = Secret(creds.token or "")
        creds.token = None
        lifetime = 3600.0
        if creds.expiry is not None:
            lifetime = creds.expiry.timestamp() - time.time()
        return token, lifetime

    def _refused(self, user: str, text: str) -> AuthError:
        who = self.describe()
        if "unauthorized_client" in text:
            return AuthError(
                f"{who} is not allowed to impersonate users with scope {self.scope}: in the Admin "
                "console > Security > Access and data control > API controls > Domain-wide "
                f"delegation, add client ID {self.client_id} with scope {self.scope}"
            )
        if "reasonable timeframe" in text or ("iat" in text and "exp" in text):
            return AuthError(
                f"{who}: Google says this machine's clock is wrong (JWT iat/exp not in a "
                "reasonable timeframe); sync the clock (timedatectl set-ntp true)"
            )
        if "Invalid email or User ID" in text:
            return PerMailboxAuthError(
                f"{who} cannot impersonate {user}: no such user in the Google Workspace domain "
                "(or suspended); check the users CSV"
            )
        first = text.strip().splitlines()[0] if text.strip() else "refused"
        return AuthError(f"{who}: token request for {user} refused: {first[:300]}")

    def login_refused_hint(self, user: str, protocol: str = "IMAP") -> str:
        if protocol == "SMTP":
            return (
                f"check domain-wide delegation of client ID {self.client_id} with scope "
                f"{self.scope} (Admin console > Security > API controls)"
            )
        return (
            "Admin console > Apps > Google Workspace > Gmail > End user access > POP and IMAP "
            f"access: allow {protocol} for {user}'s organizational unit; and check domain-wide "
            f"delegation of client ID {self.client_id} with scope {self.scope}"
        )
