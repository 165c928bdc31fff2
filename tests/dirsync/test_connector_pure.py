"""Pure parts of the directory connectors: AD anchors, SCIM shapes, Retry-After, URL rules."""

from __future__ import annotations

import uuid

import pytest

from skylift.connectors.directory.ldap import PRESETS, LdapDirectorySource
from skylift.connectors.directory.scim import (
    retry_after,
    scim_base_url,
    user_from_scim,
    user_to_scim,
)
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ConfigError
from skylift.model.directory import User
from skylift.runners.retry import retry_wait


def test_ad_object_guid_becomes_the_canonical_uuid_string() -> None:
    guid = uuid.UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    source = LdapDirectorySource(None, "DC=x", PRESETS["ad"], set())  # type: ignore[arg-type]
    assert source.anchor_of({"objectGUID": [guid.bytes_le]}) == str(guid)


def test_scim_user_round_trips_and_tolerates_string_booleans() -> None:
    user = User("anchor", "jane@new.example", active=False, display_name="Jane", given_name="J",
                family_name="Doe", email="jane@new.example", other_emails=("j@new.example",),
                title="CTO", department="IT", phone="+1 555")  # fmt: skip
    body = user_to_scim(user) | {"id": "t1"}
    assert user_from_scim(body) == user
    assert user_from_scim(body | {"active": "False"}).active is False  # Entra-style string


def test_retry_after_uses_the_provider_hint_and_caps_it() -> None:
    # The connector reads the hint; the runner's one retry rule decides how long to wait.
    assert retry_after("3") == 3.0 and retry_wait(1, retry_after("3")) == 3.0
    assert retry_wait(1, retry_after("86400")) == 120.0  # capped
    assert retry_after(None) is None and retry_wait(4, None) == 4.0  # no hint: doubling
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past


def test_scim_urls_keep_the_path_and_refuse_remote_plaintext() -> None:
    assert (
        scim_base_url(Endpoint.parse("scim+https://dir.example/scim/v2/"))
        == "https://dir.example/scim/v2"
    )
    assert (
        scim_base_url(Endpoint.parse("scim+http://127.0.0.1:8080/v2")) == "http://127.0.0.1:8080/v2"
    )
    with pytest.raises(ConfigError, match="plaintext"):
        scim_base_url(Endpoint.parse("scim+http://dir.example/v2"))
    ok = Endpoint.parse("scim+http://dir.example/v2", allow_plaintext=True)
    assert scim_base_url(ok) == "http://dir.example/v2"
