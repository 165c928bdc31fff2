"""One vocabulary: the same words and formats mean the same thing in every command."""

from __future__ import annotations

from datetime import timedelta

import pytest

from skylift.cli.common import parse_duration
from skylift.errors import ConfigError
from tests.mailtools import run_skylift


@pytest.mark.parametrize(
    "text,expected",
    [("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)),
     ("30d", timedelta(days=30)), ("30", timedelta(minutes=30)), (" 5 m ", timedelta(minutes=5))],
)  # fmt: skip
def test_one_duration_format(text: str, expected: timedelta) -> None:
    assert parse_duration(text, "--every") == expected


@pytest.mark.parametrize("text", ["soon", "30x", "-5m", "1.5h", ""])
def test_a_bad_duration_names_the_option_and_the_format(text: str) -> None:
    with pytest.raises(ConfigError, match="--every takes a duration like 45s, 30m, 2h or 30d"):
        parse_duration(text, "--every")


def test_dirsync_takes_dry_run_and_refuses_it_with_apply() -> None:
    result = run_skylift(
        "dirsync", "--source", "ldap://127.0.0.1:9", "--base", "dc=x", "--target",
        "scim+http://127.0.0.1:9/scim/v2", "--dry-run", "--apply",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "skylift: error: --dry-run and --apply contradict each other: give one"
    )


def test_freebusy_every_takes_a_duration() -> None:
    result = run_skylift(
        "freebusy", "publish", "--source", "caldav+http://127.0.0.1:9/", "--target",
        "caldav+http://127.0.0.1:9/", "--user", "jane@x", "--every", "often",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--every takes a duration like 45s, 30m, 2h or 30d, not 'often'" in result.stderr
