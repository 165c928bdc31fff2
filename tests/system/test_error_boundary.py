"""No traceback ever: an unexpected error is one line and exit 70, its detail in the log file;
``--log-file`` holds the run's story without a single secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from skylift.cli.common import run_cli
from skylift.cli.logs import redact
from tests.mailtools import run_skylift, write_users


def test_a_bug_is_one_line_and_exit_70_with_the_traceback_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYLIFT_DEBUG", raising=False)
    from skylift.cli import build_app

    app = build_app(["demo"])

    @app.command("crash")
    def crash() -> None:
        {}["missing-key"]  # a bug, as a KeyError from deep inside would be

    log = tmp_path / "run.log"
    code = run_cli(app, ["--log-file", str(log), "crash"])
    err = capsys.readouterr().err
    assert code == 70
    assert err.strip().splitlines() == [
        "skylift: error: internal error (KeyError: 'missing-key'); the --log-file for the "
        "details, and please report it"
    ]
    assert "Traceback" not in err
    text = log.read_text()
    assert "Traceback" in text and "missing-key" in text
    assert log.stat().st_mode & 0o077 == 0


def test_the_log_file_keeps_the_error_and_no_password(tmp_path: Path) -> None:
    users = write_users(
        tmp_path / "users.csv",
        [("jane@new.example", "jane", "pw-one", "pw-two")],
        "EmailAddress,UserName,Password,TargetPassword",
    )
    log = tmp_path / "skylift.log"
    url = "postgresql+psycopg://skylift:Db-Secret-9@127.0.0.1:9/skylift"
    result = run_skylift(
        "--log-file", log, "migrate", "--source", "imap://127.0.0.1:9", "--target",
        "imap://127.0.0.1:9", "--users", users, "--state", url,
    )  # fmt: skip
    assert result.returncode == 2
    text = log.read_text()
    assert "error (exit 2): cannot use state store" in text
    assert "Db-Secret-9" not in text and "pw-one" not in text and "pw-two" not in text
    assert "skylift:***@127.0.0.1" in text


def test_log_file_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    result = run_skylift("--log-file", tmp_path / "nope" / "x.log", "--version")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"skylift: error: --log-file {tmp_path / 'nope' / 'x.log'}: "
        f"folder {tmp_path / 'nope'} does not exist"
    )


@pytest.mark.parametrize(
    "text,secret",
    [
        ("imaps://jane:hunter2@mail.example:993", "hunter2"),
        ("Authorization: Bearer eyJhbGciOi.abc-def_123", "eyJhbGciOi"),
        ("user=jane@x\x01auth=Bearer tok.en-123\x01\x01", "tok.en-123"),
        ("A01 AUTHENTICATE XOAUTH2 dXNlcj1qYW5lAWF1dGg9", "dXNlcj1qYW5lAWF1dGg9"),
        ("client_secret=s3cr3t&grant_type=client_credentials", "s3cr3t"),
        ('{"password": "pa55"}', "pa55"),
    ],
)
def test_redaction_removes_every_kind_of_secret(text: str, secret: str) -> None:
    assert secret not in redact(text) and "***" in redact(text)


def test_verbose_and_quiet_are_accepted_before_the_command() -> None:
    for flag in ("-v", "-vv", "-q"):
        result = run_skylift(flag, "--version")
        assert result.returncode == 0 and result.stdout.startswith("skylift ")
