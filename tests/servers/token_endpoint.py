"""A loopback OAuth2 token endpoint over https that issues tokens the way Entra ID and Google do.

What it reproduces:

- **Entra ID, client-credentials grant** (for Exchange, or for Microsoft Graph with
  ``https://graph.microsoft.com/.default``: audience ``https://graph.microsoft.com`` and the
  app's ``graph_roles`` as ``roles``) (``POST /{tenant}/oauth2/v2.0/token``) with a client
  secret or a certificate assertion (RS256/x5t or PS256/x5t#S256, as msal signs them; audience
  must be the token endpoint), plus the OIDC discovery document msal asks for
  (``/{tenant}/v2.0/.well-known/openid-configuration``). Errors carry Entra's AADSTS codes and
  words: unknown tenant (AADSTS90002, also from discovery), unknown app (AADSTS700016), bad
  secret (AADSTS7000215), assertion out of its time range (AADSTS700024), scope not
  ``https://outlook.office365.com/.default`` (AADSTS70011), no admin consent (AADSTS65001).
  Tokens are RS256 JWTs shaped like Exchange's app-only tokens: ``aud``, ``iss``
  (``https://sts.windows.net/{tid}/``), ``tid``, ``appid``, ``roles`` (the app's granted
  application permissions: ``IMAP.AccessAsApp`` and ``POP.AccessAsApp`` unless a test sets
  others, e.g. ``SMTP.SendAsApp``), ``iat``/``nbf``/``exp``.
- **Google, JWT-bearer grant** (RFC 7523, ``POST /token``): the RS256 assertion is checked
  against the service account's public key (by ``kid``), ``iss`` = the account, ``aud`` = the
  token URI, ``scope`` authorised for domain-wide delegation, ``sub`` a user of the domain,
  ``iat``/``exp`` within an hour of the server's clock. Errors with Google's words
  (``unauthorized_client``, ``invalid_grant``).
- Short lifetimes (``lifetime`` seconds) so a run crosses an expiry, and a server clock
  offset (``clock_offset``) so a client with a skewed clock is refused.

What it cannot reproduce: Entra's and Google's real signing keys, token formats beyond the
claims above (Google's real access tokens are opaque ``ya29.`` strings; here they are JWTs so
Dovecot can validate them locally), conditional access, the token endpoint's own throttling budget (a test scripts the
answers it wants with ``throttle_next``: Entra's 429 + ``Retry-After``, Google's 403
``rateLimitExceeded``),
multi-tenant consent flows, and Exchange's FullAccess check (the Dovecot fixture in
``dovecot_oauth.py`` models that one). The claim ``skylift_fake_tenant`` (``any@<domain>``)
is not in real tokens: it lets Dovecot accept one app-only token for every mailbox of the
tenant's domain, which is what Exchange does with the ``tid``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
EXCHANGE_AUD = "https://outlook.office365.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_AUD = "https://graph.microsoft.com"
GOOGLE_SCOPE = "https://mail.google.com/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
KID = "skylift-test-1"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    *,
    ca: bool = False,
    hosts: tuple[str, ...] = (),
) -> x509.Certificate:
    import ipaddress

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        alt: list[x509.GeneralName] = []
        for h in hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def make_certificate(folder: Path, name: str = "app") -> tuple[Path, x509.Certificate]:
    """A self-signed app certificate with its private key in one PEM, as Entra apps use."""
    key = _key()
    cert = _cert(f"CN={name}", key)
    path = folder / f"{name}.pem"
    path.write_bytes(_pem_private(key) + cert.public_bytes(serialization.Encoding.PEM))
    return path, cert


@dataclass
class App:
    client_id: str
    secret: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    consented: bool = True
    roles: list[str] = field(default_factory=lambda: ["IMAP.AccessAsApp", "POP.AccessAsApp"])
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Microsoft Graph application permissions granted (the ``roles`` of a Graph token)
    graph_roles: set[str] = field(default_factory=set)


@dataclass
class Tenant:
    domain: str
    tid: str
    apps: dict[str, App] = field(default_factory=dict)


@dataclass
class ServiceAccount:
    email: str
    client_id: str
    domain: str
    public_pem: bytes
    key_id: str
    scopes: set[str]
    users: set[str]


def _swap(
    answer: tuple[int, dict[str, str], dict[str, Any]],
) -> tuple[int, dict[str, Any], dict[str, str]]:
    status, headers, body = answer
    return status, body, headers


class TokenEndpoint:
    """Start with :meth:`start`; ``ca_file`` is the CA to trust, ``url`` the base address."""

    def __init__(self, root: Path, *, lifetime: float = 5.0) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.lifetime = lifetime
        self.clock_offset = 0.0
        self.tenants: dict[str, Tenant] = {}
        self.service_accounts: dict[str, ServiceAccount] = {}
        self.issued: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.requests: list[str] = []
        #: scripted throttle answers for the next token POSTs: (status, headers, body), in order
        self.throttle_next: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.throttled_at: list[float] = []  # time.monotonic() of each throttled answer
        self.posts_at: list[float] = []
        self._signing_key = _key()
        ca_key = _key()
        ca = _cert("skylift test CA", ca_key, ca=True)
        server_key = _key()
        server_cert = _cert("127.0.0.1", server_key, (ca, ca_key), hosts=("127.0.0.1", "localhost"))
        self.ca_file = root / "token-ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (root / "token-server.pem").write_bytes(
            server_cert.public_bytes(serialization.Encoding.PEM) + _pem_private(server_key)
        )
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0

    # -- set-up -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def write_validation_key(self, key_dir: Path) -> None:
        """Put the signing key where Dovecot's ``local_validation_key_dict`` finds it."""
        for path in (
            key_dir / "shared" / "default" / "RS256" / KID,
            key_dir / "default" / "RS256" / KID,
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_pem_public(self._signing_key))

    def add_tenant(self, domain: str) -> Tenant:
        tenant = Tenant(domain=domain, tid=str(uuid.uuid4()))
        self.tenants[domain] = tenant
        return tenant

    def add_app(
        self,
        domain: str,
        *,
        secret: str | None = None,
        certificate: x509.Certificate | None = None,
        consented: bool = True,
    ) -> App:
        app = App(str(uuid.uuid4()), secret, [certificate] if certificate else [], consented)
        self.tenants[domain].apps[app.client_id] = app
        return app

    def add_service_account(
        self, domain: str, users: set[str], scopes: set[str] | None = None
    ) -> Path:
        """Register a service account with domain-wide delegation; return its key file."""
        key = _key()
        name = f"migrator-{len(self.service_accounts) + 1}"
        email = f"{name}@skylift-test.iam.gserviceaccount.com"
        key_id = hashlib.sha1(_pem_public(key)).hexdigest()
        account = ServiceAccount(
            email, str(10**20 + len(self.service_accounts)), domain, _pem_public(key), key_id,
            {GOOGLE_SCOPE} if scopes is None else scopes, users,
        )  # fmt: skip
        self.service_accounts[email] = account
        path = self.root / f"{name}.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "skylift-test",
                    "private_key_id": key_id,
                    "private_key": _pem_private(key).decode(),
                    "client_email": email,
                    "client_id": account.client_id,
                    "token_uri": f"{self.url}/token",
                }
            )
        )
        return path

    # -- tokens -------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(self.now())
        claims = {"iat": now, "nbf": now, "exp": math.ceil(self.now() + self.lifetime), **claims}
        self.issued.append(claims)
        token = jwt.encode(claims, _pem_private(self._signing_key), "RS256", headers={"kid": KID})
        self.tokens.append(token)
        return token

    def entra_token(self, tenant: Tenant, app: App, graph: bool = False) -> dict[str, Any]:
        if graph:
            token = self._sign(
                {
                    "aud": GRAPH_AUD,
                    "iss": f"https://sts.windows.net/{tenant.tid}/",
                    "tid": tenant.tid, "appid": app.client_id, "sub": app.object_id,
                    "oid": app.object_id, "roles": sorted(app.graph_roles),
                }
            )  # fmt: skip
            return {"token_type": "Bearer", "expires_in": int(self.lifetime), "access_token": token}
        token = self._sign(
            {
                "aud": EXCHANGE_AUD,
                "iss": f"https://sts.windows.net/{tenant.tid}/",
                "tid": tenant.tid,
                "appid": app.client_id,
                "sub": app.object_id,
                "oid": app.object_id,
                "roles": list(app.roles),
                "skylift_fake_tenant": f"any@{tenant.domain}",
            }
        )
        return {"token_type": "Bearer", "expires_in": int(self.lifetime), "access_token": token}

    # -- server -------------------------------------------------------------------------------
    def start(self) -> TokenEndpoint:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.root / "token-server.pem")
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                endpoint.requests.append(f"GET {self.path}")
                status, body = endpoint._discovery(urlsplit(self.path).path)
                self._send(status, body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                endpoint.requests.append(f"POST {self.path}")
                endpoint.posts_at.append(time.monotonic())
                if endpoint.throttle_next:
                    endpoint.throttled_at.append(time.monotonic())
                    self._send(*_swap(endpoint.throttle_next.pop(0)))
                    return
                status, body = endpoint._token(urlsplit(self.path).path, form)
                self._send(status, body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def _tenant(self, name: str) -> Tenant | None:
        return self.tenants.get(name) or next(
            (t for t in self.tenants.values() if t.tid == name), None
        )

    @staticmethod
    def _aad_error(code: str, status: int, error: str, text: str) -> tuple[int, dict[str, Any]]:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return status, {
            "error": error,
            "error_description": f"{code}: {text} Trace ID: {uuid.uuid4()} Correlation ID: "
            f"{uuid.uuid4()} Timestamp: {stamp}",
            "error_codes": [int(code.removeprefix("AADSTS"))],
        }

    def _discovery(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = self._tenant(parts[0])
            if tenant is None:
                return self._aad_error(
                    "AADSTS90002", 400, "invalid_tenant",
                    f"Tenant '{parts[0]}' not found. Check to make sure you have the correct "
                    "tenant ID and are signing into the correct cloud.",
                )  # fmt: skip
            base = f"{self.url}/{parts[0]}"
            return 200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{self.url}/{tenant.tid}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
            }
        return 404, {"error": "not_found"}

    def _token(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts == ["token"]:
            return self._google(form)
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self._entra(parts[0], form)
        return 404, {"error": "not_found"}

    def _entra(self, tenant_name: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        tenant = self._tenant(tenant_name)
        if tenant is None:
            return self._aad_error(
                "AADSTS90002", 400, "invalid_tenant", f"Tenant '{tenant_name}' not found."
            )
        if form.get("grant_type") != "client_credentials":
            return self._aad_error(
                "AADSTS70003", 400, "unsupported_grant_type", "The app requested an "
                "unsupported grant type.",
            )  # fmt: skip
        client_id = form.get("client_id", "")
        app = tenant.apps.get(client_id)
        if app is None:
            return self._aad_error(
                "AADSTS700016", 400, "unauthorized_client",
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.domain}'.",
            )  # fmt: skip
        if "client_assertion" in form:
            problem = self._check_assertion(app, form["client_assertion"], tenant_name)
            if problem:
                return problem
        elif not app.secret or form.get("client_secret") != app.secret:
            return self._aad_error(
                "AADSTS7000215", 401, "invalid_client",
                "Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added to "
                f"app '{client_id}'.",
            )  # fmt: skip
        scopes = form.get("scope", "").split()
        if EXCHANGE_SCOPE not in scopes and GRAPH_SCOPE not in scopes:
            return self._aad_error(
                "AADSTS70011", 400, "invalid_scope",
                f"The provided request must include a 'scope' input parameter. The provided "
                f"value for the input parameter 'scope' is not valid: {form.get('scope')}.",
            )  # fmt: skip
        if not app.consented:
            return self._aad_error(
                "AADSTS65001", 400, "invalid_grant",
                f"The user or administrator has not consented to use the application with ID "
                f"'{client_id}'. Send an interactive authorization request for this user and "
                "resource.",
            )  # fmt: skip
        return 200, self.entra_token(tenant, app, graph=GRAPH_SCOPE in scopes)

    def _check_assertion(
        self, app: App, assertion: str, tenant_name: str
    ) -> tuple[int, dict[str, Any]] | None:
        header = jwt.get_unverified_header(assertion)
        for cert in app.certificates:
            thumbs = {
                "x5t": base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"="),
                "x5t#S256": base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(
                    b"="
                ),
            }
            if any(header.get(k, "").encode().rstrip(b"=") == v for k, v in thumbs.items()):
                break
        else:
            return self._aad_error(
                "AADSTS700027", 401, "invalid_client",
                "The certificate with identifier used to sign the client assertion is not "
                "registered on application. [Reason - The key was not found.]",
            )  # fmt: skip
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=f"{self.url}/{tenant_name}/oauth2/v2.0/token",
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError as exc:
            return self._aad_error(
                "AADSTS700027", 401, "invalid_client", f"Client assertion failed: {exc}."
            )
        now = self.now()
        if claims.get("nbf", 0) > now + 300 or claims.get("exp", 0) < now - 300:
            return self._aad_error(
                "AADSTS700024", 400, "invalid_client",
                "Client assertion is not within its valid time range. Current time: "
                f"{dt.datetime.fromtimestamp(now, dt.UTC).isoformat()}, assertion valid from "
                f"{dt.datetime.fromtimestamp(claims.get('nbf', 0), dt.UTC).isoformat()}.",
            )  # fmt: skip
        return None

    def _google(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type",
            }
        assertion = form.get("assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        account = self.service_accounts.get(str(unverified.get("iss")))
        if account is None or header.get("kid") != account.key_id:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        try:
            claims = jwt.decode(
                assertion, account.public_pem, algorithms=["RS256"],
                # Google documents aud = its token URI; google-auth always sends that one.
                audience=[GOOGLE_TOKEN_URI, f"{self.url}/token"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )  # fmt: skip
        except jwt.InvalidAudienceError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: audience"}
        except jwt.InvalidTokenError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = self.now()
        iat, exp = float(claims.get("iat", 0)), float(claims.get("exp", 0))
        if not (iat - 300 <= now <= exp + 300) or exp - iat > 3600:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: Token must be a short-lived token (60 "
                "minutes) and in a reasonable timeframe. Check your iat and exp values in the "
                "JWT claim.",
            }
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes or not scopes <= account.scopes:
            return 401, {
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens using "
                "this method, or client not authorized for any of the scopes requested.",
            }
        sub = str(claims.get("sub", ""))
        if sub not in account.users:
            return 400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
        token = self._sign(
            {
                "iss": "https://accounts.google.com",
                "aud": account.client_id,
                "email": sub,
                "scope": " ".join(sorted(scopes)),
                "sub": str(abs(hash(sub))),
            }
        )
        return 200, {
            "access_token": token,
            "expires_in": int(self.lifetime),
            "token_type": "Bearer",
        }
