"""A bad ``--state`` is one line and exit 2, before any mailbox is touched, and says no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mailtools import run_skylift, write_users

ENDPOINTS = ("--source", "imap://127.0.0.1:9", "--target", "imap://127.0.0.1:9")


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return write_users(
        tmp_path / "users.csv",
        [("jane@new.example", "jane", "pw1", "pw2")],
        "EmailAddress,UserName,Password,TargetPassword",
    )


@pytest.mark.parametrize("command", ["migrate", "verify"])
def test_a_file_that_is_not_a_database_is_one_line(
    tmp_path: Path, users: Path, command: str
) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are my notes, not a database\n" * 10)
    result = run_skylift(command, *ENDPOINTS, "--users", users, "--state", junk)
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.strip()
        == f"skylift: error: cannot use state store {junk}: file is not a database"
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert junk.read_bytes() == b"these are my notes, not a database\n" * 10  # left as it was


def test_verify_refuses_a_state_file_that_does_not_exist(tmp_path: Path, users: Path) -> None:
    typo = tmp_path / "skylfit.db"
    result = run_skylift("verify", *ENDPOINTS, "--users", users, "--state", typo)
    assert result.returncode == 2
    assert "state file does not exist" in result.stderr and str(typo) in result.stderr
    assert not typo.exists()  # not silently created


def test_a_database_url_is_printed_without_its_password(users: Path) -> None:
    url = "postgresql+psycopg://skylift:s3cret-Pw@127.0.0.1:9/skylift"
    result = run_skylift("migrate", *ENDPOINTS, "--users", users, "--state", url)
    assert result.returncode == 2
    assert "s3cret-Pw" not in result.stdout + result.stderr
    assert "skylift:***@127.0.0.1:9/skylift" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
