"""Where a connector connects: a parsed URL with its TLS, timeout and sign-in options.

Shared by every connector kind (mail, DAV, directory), so it lives beside the registry and
not in one kind's contract.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from skylift.errors import ConfigError

if TYPE_CHECKING:
    from skylift.connectors.auth.oauth import TokenProvider


@dataclass(frozen=True)
class Endpoint:
    """A parsed ``--source``/``--target`` URL plus its TLS and safety options."""

    scheme: str
    host: str = ""
    port: int | None = None
    path: str = ""
    ca_file: str | None = None
    insecure: bool = False
    allow_plaintext: bool = False
    timeout: float = 60.0  # seconds to wait for each answer once connected
    # Seconds to connect and get the greeting: short, so a wrong port, a TLS port spoken to
    # in plain text or a host that drops packets fails in seconds, not minutes per mailbox.
    connect_timeout: float = 15.0
    options: dict[str, str] = field(default_factory=dict)
    #: app-only OAuth2 for this side (``--*-oauth-*``): logins use SASL XOAUTH2 with its tokens
    oauth: TokenProvider | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, url: str, **kwargs: object) -> Endpoint:
        """Parse ``scheme://host:port/path``; a bad URL is a :class:`ConfigError`."""
        parts = urlsplit(url)
        if not parts.scheme:
            raise ConfigError(f"not a URL (expected e.g. imaps://host:993): {url!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"bad port in {url!r}") from exc
        return cls(
            scheme=parts.scheme.lower(),
            host=parts.hostname or "",
            port=port,
            path=unquote(parts.path),
            **({"options": dict(parse_qsl(parts.query))} | kwargs),  # type: ignore[arg-type]
        )

    def is_loopback(self) -> bool:
        return self.host == "localhost" or self.host.startswith("127.") or self.host == "::1"

    def ssl_context(self) -> ssl.SSLContext:
        """A context that verifies certificates unless the user said ``--insecure-*``."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def no_greeting(self, where: str) -> str:
        """Why a server said nothing in time, with the likely mistake when the port says so."""
        text = f"no answer from {where} within {self.connect_timeout:g} s"
        tls_ports, plain_ports = {993, 995, 636}, {143, 110, 389}
        if not self.scheme.endswith("s") and self.port in tls_ports:
            return text + f" (port {self.port} expects TLS: use {self.scheme}s://)"
        if self.scheme.endswith("s") and self.port in plain_ports:
            return text + f" (port {self.port} is plain: use {self.scheme[:-1]}://)"
        return text + " (wrong host or port, or a firewall dropping packets?)"

    def display(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host}{port}{self.path}"
