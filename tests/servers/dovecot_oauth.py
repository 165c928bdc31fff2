"""A real Dovecot 2.3 that logs users in with OAuth2 bearer tokens, validated locally as JWTs.

Dovecot's ``oauth2`` passdb in ``introspection_mode = local`` checks the token's RS256
signature against the key at ``<keys>/shared/default/RS256/<kid>`` (written by
:class:`~tests.servers.token_endpoint.TokenEndpoint`), its ``iss`` and its expiry, and that
the user in the XOAUTH2 string matches ``username_attribute`` under ``username_format``:

- ``style="entra"``: ``username_attribute = skylift_fake_tenant``, ``username_format = %d``:
  one app-only token is good for every mailbox of the tenant's domain, as in Exchange; a
  second passdb (``fullaccess``, a passwd-file with ``nopassword``) plays the part of
  ``Add-MailboxPermission ... FullAccess``: a mailbox not listed there answers
  ``NO [AUTHENTICATIONFAILED]``, as Exchange answers ``NO AUTHENTICATE failed.``.
- ``style="google"``: ``username_attribute = email``: the token is for the one user it was
  minted for (domain-wide delegation with ``sub``).

The master user (SASL PLAIN) stays, for seeding and reading mailboxes in tests. Dovecot checks
a token only at login; :mod:`tests.servers.expiring_proxy` adds Exchange's end of session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skylift.demo.dovecot import DovecotServer


@dataclass
class OAuthDovecot(DovecotServer):
    issuer: str = ""
    style: str = "entra"
    full_access: set[str] = field(default_factory=set)

    @property
    def key_dir(self):  # type: ignore[no-untyped-def]
        return self.root / "oauth-keys"

    def grant(self, mailbox: str) -> None:
        """Give the app FullAccess on *mailbox* (takes effect at once)."""
        self.full_access.add(mailbox)
        if self._proc is not None:
            self._write_passwd()

    def _write_passwd(self) -> None:
        super()._write_passwd()
        lines = [f"{u}::::::nopassword=y" for u in sorted(self.full_access)]
        (self.root / "fullaccess").write_text("\n".join(lines) + "\n")

    def _config(self) -> str:
        self.key_dir.mkdir(parents=True, exist_ok=True)
        if self.style == "entra":
            who = "username_attribute = skylift_fake_tenant\nusername_format = %d\n"
        else:
            who = "username_attribute = email\nusername_format = %Lu\n"
        (self.root / "dovecot-oauth2.conf.ext").write_text(
            "introspection_mode = local\n"
            f"local_validation_key_dict = fs:posix:prefix={self.key_dir}/\n"
            f"issuers = {self.issuer}\n" + who
        )
        base = super()._config()
        base = base.replace(
            "auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2 oauthbearer"
        )
        # The plain passwd-file passdb (empty users) stays first; then the token, then access.
        oauth = (
            "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {self.root}/dovecot-oauth2.conf.ext\n"
            + ("  result_success = continue-ok\n" if self.style == "entra" else "")
            + "  result_failure = return-fail\n}\n"
        )
        if self.style == "entra":
            oauth += (
                "passdb {\n  driver = passwd-file\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = scheme=PLAIN username_format=%u {self.root}/fullaccess\n"
                "  result_failure = return-fail\n}\n"
            )
        # Master logins (seeding) need no passdb entry for the user: no ``pass = yes``.
        base = base.replace("  master = yes\n  pass = yes\n", "  master = yes\n")
        # No auth penalty (Dovecot's documented switch: the anvil-auth-penalty listener off),
        # so one refused mailbox does not slow every later login from 127.0.0.1 by up to 15 s.
        base = base.replace(
            "service anvil {\n",
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n",
        )
        base += "auth_failure_delay = 0\nauth_verbose = yes\n"
        marker = "userdb {"
        return base.replace(marker, oauth + marker, 1)
