"""The dashboard's accounts and sessions in the state store keep nothing a thief could use.

A copy of the state file must open no session and reveal no password: only argon2id hashes
and SHA-256s of the session tokens are stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from skylift.state.web_access import SLOW_AFTER, TooManyTries, WebAccess


def _dump(path: Path) -> str:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        rows = [
            str(tuple(row))
            for table in ("web_users", "web_sessions")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ]
    engine.dispose()
    return "\n".join(rows)


def test_the_state_file_holds_no_password_and_no_session_token(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    access = WebAccess(state)
    access.add_user("alice", "admin", "correct horse battery")
    token = access.open_session("alice")
    assert access.session(token) is not None
    dump = _dump(state)
    assert "correct horse battery" not in dump and token not in dump
    assert "$argon2id$" in dump
    assert access.session(token + "x") is None
    access.close()


def test_a_new_password_ends_the_old_sessions(tmp_path: Path) -> None:
    access = WebAccess(tmp_path / "s.db")
    access.add_user("bob", "viewer", "first password 1")
    token = access.open_session("bob")
    access.add_user("bob", "admin", "second password 2")
    assert access.session(token) is None
    assert access.check_password("bob", "first password 1") is None
    found = access.check_password("bob", "second password 2")
    assert found is not None and found.admin
    access.close()


def test_a_right_password_resets_the_count_before_the_limit(tmp_path: Path) -> None:
    access = WebAccess(tmp_path / "s.db")
    access.add_user("eve", "viewer", "eve password 1")
    for _ in range(SLOW_AFTER - 1):
        assert access.check_password("eve", "wrong") is None
    assert access.check_password("eve", "eve password 1") is not None
    for _ in range(SLOW_AFTER):
        assert access.check_password("eve", "wrong") is None
    with pytest.raises(TooManyTries) as slowed:
        access.check_password("eve", "eve password 1")
    assert slowed.value.retry_after >= 1
    access.close()
