"""The users CSV: Microsoft's format as is, secrets by reference, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from skylift.engine.users import load_users
from skylift.errors import ConfigError


def test_microsoft_format_with_optional_columns_and_secret_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw.txt").write_text("from-file\n")
    monkeypatch.setenv("BOB_PW", "from-env")
    csv = tmp_path / "users.csv"
    csv.write_text(
        "\ufeffEmailAddress,UserName,Password,TargetUserName,TargetPassword,Department\n"
        "alice@new.example,alice,plain,,file:pw.txt,Sales\n"
        "bob@new.example,bob,env:BOB_PW,bob.admin@new.example,x,IT\n"
    )
    alice, bob = load_users(csv)
    assert alice.key == "alice@new.example" and alice.source.user == "alice"
    assert alice.source.password is not None and alice.source.password.reveal() == "plain"
    assert alice.target.password is not None and alice.target.password.reveal() == "from-file"
    assert alice.extra == {"Department": "Sales"}
    assert bob.source.password is not None and bob.source.password.reveal() == "from-env"
    assert bob.target.user == "bob.admin@new.example"
    assert "plain" not in repr(alice) and "from-env" not in str(bob)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("Mail,Login\nx,y\n", "header must contain EmailAddress"),
        ("EmailAddress,UserName,Password\n", "no users listed"),
        ("EmailAddress,UserName,Password\na@x,a,p\nA@x,b,q\n", "listed twice"),
        ("EmailAddress,UserName,Password\na@x,a,env:NOPE_NOT_SET\n", "NOPE_NOT_SET is not set"),
        ("EmailAddress,UserName,Password\na@x,a,\n", "no Password"),
        ("EmailAddress,UserName,Password\n,a,p\n", "EmailAddress is empty"),
    ],
)
def test_bad_users_csv_gives_a_clear_error_naming_the_line(
    tmp_path: Path, content: str, words: str
) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text(content)
    with pytest.raises(ConfigError, match=words):
        load_users(csv)


def test_admin_login_needs_no_user_password(tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text("EmailAddress,UserName,Password\na@x,a,\n")
    (pair,) = load_users(csv, source_admin="admin")
    assert pair.source.admin == "admin" and pair.source.password is None


def test_a_migration_needs_a_target_login_for_every_row(tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text("EmailAddress,UserName,Password\na@x,a,pw\n")
    with pytest.raises(ConfigError, match="no TargetPassword for a@x and no --target-admin"):
        load_users(csv, need_target=True)
    assert load_users(csv, need_target=True, target_admin="admin")[0].target.admin == "admin"
