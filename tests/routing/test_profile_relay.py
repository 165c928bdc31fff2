"""The cloud relay and its certificate name come from the target profile's [routing] table,
and the command line overrides them (no servers needed: the maps are text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skylift.cli import build_app
from skylift.cli.common import run_cli


def _export(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    out = tmp_path / "maps"
    argv = [
        "route", "export", "--format", "postfix", "--out", str(out), "--state",
        str(tmp_path / "state.db"), "--users", str(tmp_path / "users.csv"), *extra,
    ]  # fmt: skip
    code = run_cli(build_app(argv), argv)
    err = capsys.readouterr().err
    if code != 0:
        return code, err
    return code, (out / "skylift_tls_policy").read_text().splitlines()[-1]


def _users(tmp_path: Path, *addresses: str) -> None:
    rows = "".join(f"{a},{a},pw\n" for a in addresses)
    (tmp_path / "users.csv").write_text("EmailAddress,UserName,Password\n" + rows)


def test_microsoft365_relays_to_the_tenants_mx_host_with_its_certificate_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _users(tmp_path, "ann@contoso.com", "bob@contoso.com")
    code, policy = _export(tmp_path, capsys, "--target-profile", "microsoft365")
    assert code == 0, policy
    assert (
        policy
        == "[contoso-com.mail.protection.outlook.com]:25\tsecure match=.mail.protection.outlook.com"
    )


def test_google_workspace_relays_to_its_mx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _users(tmp_path, "ann@corp.example")
    code, policy = _export(tmp_path, capsys, "--target-profile", "google-workspace")
    assert code == 0, policy
    assert policy == "[aspmx.l.google.com]:25\tsecure match=aspmx.l.google.com"


def test_the_command_line_overrides_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _users(tmp_path, "ann@contoso.com")
    relay = ["--cloud-relay", "smtp://edge.contoso.com:2525"]
    code, policy = _export(tmp_path, capsys, "--target-profile", "microsoft365", *relay)
    assert (code, policy) == (0, "[edge.contoso.com]:2525\tsecure match=edge.contoso.com")
    name = ["--cloud-tls-name", "mx.contoso.com", "--cloud-tls-level", "verify"]
    code, policy = _export(tmp_path, capsys, "--target-profile", "microsoft365", *name)
    assert (code, policy) == (
        0, "[contoso-com.mail.protection.outlook.com]:25\tverify match=mx.contoso.com"
    )  # fmt: skip


def test_a_profile_that_cannot_name_the_relay_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _users(tmp_path, "ann@contoso.com", "bob@fabrikam.com")
    code, err = _export(tmp_path, capsys, "--target-profile", "microsoft365")
    assert code == 2
    assert err.strip().splitlines() == [
        "skylift: error: the profile's cloud relay depends on the mail domain and the users "
        "have contoso.com, fabrikam.com: give --cloud-relay"
    ]
    code, err = _export(tmp_path, capsys, "--target-profile", "generic-imap")
    assert code == 2 and "names no cloud relay ([routing]): give --cloud-relay" in err
    bad = tmp_path / "mine.toml"
    bad.write_text('name = "mine"\n[routing]\ncloud_relai = "smtp://x.example"\n')
    code, err = _export(tmp_path, capsys, "--target-profile", str(bad))
    assert code == 2 and "unknown routing key 'cloud_relai'" in err
