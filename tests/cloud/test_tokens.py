"""Token minting and caching against the loopback token endpoint, in process (no mail server)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.connectors.auth.oauth import EntraTokens, GoogleTokens, jwt_claims
from skylift.engine.profiles import load_profile, parse_profile
from skylift.errors import AuthError, ConfigError
from skylift.model.account import Secret
from tests.servers.token_endpoint import TokenEndpoint, make_certificate

USERS = {"ann@old.example", "ben@old.example"}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenEndpoint]:
    tokens = TokenEndpoint(tmp_path_factory.mktemp("tokens"), lifetime=60).start()
    tokens.add_tenant("new.example")
    yield tokens
    tokens.stop()


def _entra(endpoint: TokenEndpoint, secret: str = "s3") -> EntraTokens:
    app = endpoint.add_app("new.example", secret="s3")
    return EntraTokens(
        "target", "new.example", app.client_id, secret=Secret(secret),
        authority=endpoint.url, ca_file=str(endpoint.ca_file),
    )  # fmt: skip


def test_one_entra_token_serves_every_mailbox_of_the_tenant(
    endpoint: TokenEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CA bundle and a dead proxy in the environment: the --*-ca file must win, and msal
    # must not ask Microsoft's instance discovery (it would go through the dead proxy).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    provider = _entra(endpoint)
    before = len(endpoint.requests)
    first = provider.token("ann@new.example")
    assert provider.token("ben@new.example") is first
    posts = [r for r in endpoint.requests[before:] if r.startswith("POST")]
    assert posts == ["POST /new.example/oauth2/v2.0/token"]
    assert "GET /new.example/v2.0/.well-known/openid-configuration" in endpoint.requests
    claims = jwt_claims(first)
    assert claims["roles"] == ["IMAP.AccessAsApp", "POP.AccessAsApp"]
    assert claims["aud"] == "https://outlook.office365.com"
    assert "s3" not in repr(provider.__dict__) and first.reveal() not in repr(first)


def test_tokens_are_minted_again_before_they_expire(endpoint: TokenEndpoint) -> None:
    endpoint.lifetime = 2
    try:
        provider = _entra(endpoint)
        first = provider.token("ann@new.example")
        assert provider.token("ann@new.example") is first  # fresh: reused
        # In the last quarter of its life: a new one, before the server would refuse it.
        time.sleep(max(jwt_claims(first)["exp"] - time.time() - 0.4, 0))
        second = provider.token("ann@new.example")
        assert second != first
        assert jwt_claims(second)["exp"] > time.time() + 1
    finally:
        endpoint.lifetime = 60


def test_google_tokens_are_per_impersonated_user(endpoint: TokenEndpoint) -> None:
    key = endpoint.add_service_account("old.example", USERS)
    provider = GoogleTokens("source", key, ca_file=str(endpoint.ca_file))
    ann, ben = provider.token("ann@old.example"), provider.token("ben@old.example")
    assert ann != ben and provider.token("ann@old.example") is ann
    assert jwt_claims(ann)["email"] == "ann@old.example"
    with pytest.raises(AuthError, match=r"cannot impersonate zoe@old\.example"):
        provider.token("zoe@old.example")


def test_refusals_never_carry_the_secret(endpoint: TokenEndpoint) -> None:
    provider = _entra(endpoint, secret="wrong-secret-value-42")
    with pytest.raises(AuthError) as info:
        provider.token("ann@new.example")
    assert "wrong-secret-value-42" not in str(info.value)
    assert "client secret refused" in str(info.value)


def test_credentials_must_be_given_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="one of them"):
        EntraTokens("target", "t", "c")
    with pytest.raises(ConfigError, match="https://"):
        EntraTokens("target", "t", "c", secret=Secret("x"), authority="http://plain")
    bad = tmp_path / "key.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="not a service account key"):
        GoogleTokens("source", bad)


def test_profiles_say_how_to_reach_the_clouds(tmp_path: Path) -> None:
    m365 = load_profile("microsoft365").mail
    assert (m365.imap, m365.auth, m365.sasl) == (
        "imaps://outlook.office365.com:993", "oauth2-microsoft", "XOAUTH2",
    )  # fmt: skip
    assert load_profile("google-workspace").mail.auth == "oauth2-google"
    assert load_profile("generic-imap").mail.auth == "password"
    own = tmp_path / "own.toml"
    own.write_text('name = "own"\n[mail]\nimap = "imaps://mail.example:993"\nhost = "x"\n')
    with pytest.raises(ConfigError, match="unknown mail key 'host'"):
        parse_profile(own, builtin=False)
    own.write_text('name = "own"\n[mail]\nauth = "kerberos"\n')
    with pytest.raises(ConfigError, match=r"mail\.auth must be one of"):
        parse_profile(own, builtin=False)


def test_certificate_assertions_and_a_skewed_clock(endpoint: TokenEndpoint, tmp_path: Path) -> None:
    pem, cert = make_certificate(tmp_path)
    app = endpoint.add_app("new.example", certificate=cert)

    def provider(path: Path) -> EntraTokens:
        return EntraTokens(
            "target", "new.example", app.client_id, certificate=path,
            authority=endpoint.url, ca_file=str(endpoint.ca_file),
        )  # fmt: skip

    assert jwt_claims(provider(pem).token("ann@new.example"))["appid"] == app.client_id
    other, _ = make_certificate(tmp_path, "other")
    with pytest.raises(AuthError, match="certificate is not registered on the app"):
        provider(other).token("ann@new.example")
    endpoint.clock_offset = 3 * 3600
    try:
        with pytest.raises(AuthError, match="clock is wrong"):
            provider(pem).token("ann@new.example")
    finally:
        endpoint.clock_offset = 0
    key_only = tmp_path / "key-only.pem"
    key_only.write_text(pem.read_text().split("-----BEGIN CERTIFICATE-----")[0])
    with pytest.raises(ConfigError, match="private key and its certificate"):
        provider(key_only).token("ann@new.example")
