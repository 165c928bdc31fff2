"""skylift migrate from and into Cyrus IMAP, in Debian's layout and in upstream's.

Debian's Cyrus files a user's folders under ``INBOX.`` with separator ``.``, shows shared
folders at the top level and other users' under ``user.``; upstream's puts personal folders
at the top level with ``/`` and reserves ``Shared Folders`` and ``Other Users``. Every test
gets its own Cyrus user on the session's servers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skylift.demo.dovecot import DovecotServer
from tests.conftest import new_cyrus_user
from tests.mailtools import Item, connect, dump, message, run_skylift, seed, when
from tests.servers.cyrus import CyrusServer


def _users(path: Path, source: tuple[str, str], target: tuple[str, str]) -> Path:
    path.write_text(
        "EmailAddress,UserName,Password,TargetUserName,TargetPassword\n"
        f"alice@new.example,{source[0]},{source[1]},{target[0]},{target[1]}\n"
    )
    return path


def _migrate(source: str, target: str, users: Path, state: Path, *extra: str) -> Any:
    return run_skylift(
        "migrate", "--source", source, "--target", target, "--users", users,
        "--state", state, *extra,
    )  # fmt: skip


def _summary(result: Any) -> dict[str, Any]:
    assert result.returncode in (0, 1), result.stderr
    mailbox: dict[str, Any] = json.loads(result.stdout)["items"][0]
    return mailbox


def _create_special(server: CyrusServer, user: str, password: str, name: str, use: str) -> None:
    """CREATE with a special-use attribute (RFC 6154), as a mail client sets up Sent."""
    client = connect(server.port, user, password)
    try:
        typ, data = client._imap._simple_command("CREATE", f'"{name}"', f"(USE ({use}))")
        assert typ == "OK", data
    finally:
        client.logout()


def _folders(mailbox: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["source"]: f for f in mailbox["folders"]}


# -- Cyrus as the source ----------------------------------------------------------------


def test_debian_cyrus_source_lands_at_the_top_level_with_sent_on_the_targets_sent(
    cyrus_debian: CyrusServer, target_server: DovecotServer, tmp_path: Path
) -> None:
    user, password = new_cyrus_user(cyrus_debian)
    _create_special(cyrus_debian, user, password, "INBOX.Outgoing", "\\Sent")
    seed(cyrus_debian.port, user, password, {
        "INBOX": [Item(message(1), ("\\Seen",), when(0)), Item(message(2), (), when(1))],
        "INBOX/Outgoing": [Item(message(3), ("\\Seen",), when(2))],
        "INBOX/Work": [Item(message(4), ("$Label1",), when(3))],
        "INBOX/Work/2019": [Item(message(5), (), when(4))],
        "INBOX/Trash": [Item(message(6), ("\\Deleted",), when(5))],
    }, sep=".")  # fmt: skip
    users = _users(tmp_path / "u.csv", (user, password), ("alice@new.example", "alice-new-pw"))
    result = _migrate(cyrus_debian.imap_url(), target_server.imap_url(), users,
                      tmp_path / "s.db", "--json")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    alice = _summary(result)
    assert alice["copied"] == 6

    src = dump(cyrus_debian.port, user, password)
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]
    assert dst["Work"] == src["INBOX/Work"]
    assert dst["Work/2019"] == src["INBOX/Work/2019"]
    assert dst["Trash"] == src["INBOX/Trash"]
    assert dst["Sent"] == src["INBOX/Outgoing"]  # \Sent below the prefix counts
    assert not [name for name in dst if name.startswith("INBOX/")]
    folders = _folders(alice)
    assert folders["Outgoing"]["target"] == "Sent"
    assert "special folder (sent)" in folders["Outgoing"]["renamed_because"]
    assert any("'INBOX.'" in note for note in alice["notes"])
    verify = run_skylift(
        "verify", "--source", cyrus_debian.imap_url(), "--target", target_server.imap_url(),
        "--users", users, "--state", tmp_path / "s.db", "--deep",
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout


@pytest.mark.parametrize("layout", ["debian", "upstream"])
def test_shared_and_other_users_folders_on_the_source_are_reported_not_flattened(
    layout: str,
    cyrus_debian: CyrusServer,
    cyrus_upstream: CyrusServer,
    target_server: DovecotServer,
    tmp_path: Path,
) -> None:
    server = cyrus_debian if layout == "debian" else cyrus_upstream
    user, password = new_cyrus_user(server)
    colleague, colleague_pw = new_cyrus_user(server)
    seed(server.port, user, password, {"INBOX": [Item(message(1))]}, sep=server.separator)
    # A public folder the user may read, with mail in it.
    public = f"news{user}"
    admin = server.admin()
    admin.create_folder(public)
    admin.setacl(public, user, "lrs")
    admin.setacl(public, "cyradmin", "lrswipkxtecda")
    admin.append(public, message(2))
    admin.logout()
    # A colleague's folder shared with the user.
    prefix = "INBOX." if layout == "debian" else ""
    seed(server.port, colleague, colleague_pw, {f"={prefix}Project": [Item(message(3))]},
         sep=server.separator)  # fmt: skip
    client = connect(server.port, colleague, colleague_pw)
    client.setacl(f"{prefix}Project", user, "lrs")
    client.logout()

    users = _users(tmp_path / "u.csv", (user, password), ("alice@new.example", "alice-new-pw"))
    result = _migrate(server.imap_url(), target_server.imap_url(), users, tmp_path / "s.db",
                      "--json")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    alice = _summary(result)
    assert alice["copied"] == 1  # INBOX only
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert not [name for name in dst if public in name or "Project" in name]
    left_out = "\n".join(alice["left_out"])
    assert public in left_out and "shared (public) folder" in left_out
    assert f"{colleague}" in left_out and "another user's folder" in left_out

    text = _migrate(server.imap_url(), target_server.imap_url(), users, tmp_path / "s.db")
    assert text.returncode == 0
    assert f"left out '{'Shared Folders/' if layout == 'upstream' else ''}{public}'" in text.stdout


# -- Cyrus as the target ----------------------------------------------------------------


def _seed_dovecot(source: DovecotServer) -> dict[str, list[Item]]:
    folders = {
        "INBOX": [Item(message(1), ("\\Seen",), when(0))],
        "50% Off": [Item(message(2), (), when(1))],
        "Sent Items": [Item(message(3), ("\\Seen",), when(2))],
        "Trash": [Item(message(4), ("\\Seen", "\\Deleted"), when(3))],
        "Work": [Item(message(5), ("$Label1",), when(4))],
        "Work/2019": [Item(message(6), (), when(5))],
    }
    seed(source.imap_port, "alice", "alice-pw", folders, sep=".")
    return folders


def test_into_debian_cyrus_folders_go_under_inbox_and_a_refused_name_fails_only_its_folder(
    source_server: DovecotServer, cyrus_debian: CyrusServer, tmp_path: Path
) -> None:
    user, password = new_cyrus_user(cyrus_debian)
    _create_special(cyrus_debian, user, password, "INBOX.Sent", "\\Sent")
    _seed_dovecot(source_server)
    users = _users(tmp_path / "u.csv", ("alice", "alice-pw"), (user, password))
    state = tmp_path / "s.db"
    for _ in range(2):  # the refusal is reported on every run, the rest arrives once
        result = _migrate(source_server.imap_url(), cyrus_debian.imap_url(), users, state, "--json")
        assert result.returncode == 1
        alice = _summary(result)
        off = _folders(alice)["50% Off"]
        assert len(off["failed"]) == 1 and off["copied"] == 0
        reason = off["failed"][0]["reason"]
        assert "Invalid mailbox name" in reason  # the server's words
        assert "--map-folder '50% Off=50 Off'" in reason
        assert alice["failed"] == 1
    assert alice["already_there"] == 5

    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(cyrus_debian.port, user, password)
    assert dst["INBOX"] == src["INBOX"]
    assert dst["INBOX/Sent"] == src["Sent Items"]  # the target's \Sent below its prefix
    assert dst["INBOX/Trash"] == src["Trash"]
    assert dst["INBOX/Work"] == src["Work"] and dst["INBOX/Work/2019"] == src["Work/2019"]
    assert not [name for name in dst if "50" in name]

    text = _migrate(source_server.imap_url(), cyrus_debian.imap_url(), users, state)
    assert text.returncode == 1
    assert "failed folder '50% Off': the target refused to create 'INBOX.50% Off'" in text.stdout

    fixed = _migrate(source_server.imap_url(), cyrus_debian.imap_url(), users, state, "--json",
                     "--map-folder", "50% Off=50 Off")  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout
    assert _summary(fixed)["copied"] == 1
    assert dump(cyrus_debian.port, user, password)["INBOX/50 Off"] == src["50% Off"]
    verify = run_skylift(
        "verify", "--source", source_server.imap_url(), "--target", cyrus_debian.imap_url(),
        "--users", users, "--state", state, "--deep", "--map-folder", "50% Off=50 Off",
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout


def test_names_the_target_reserves_are_renamed_by_the_documented_rule(
    source_server: DovecotServer, cyrus_upstream: CyrusServer, tmp_path: Path
) -> None:
    user, password = new_cyrus_user(cyrus_upstream)
    seed(source_server.imap_port, "alice", "alice-pw", {
        "Shared Folders": [Item(message(1), (), when(0))],
        "Shared Folders/team": [Item(message(2), (), when(1))],
        "Other Users": [Item(message(3), (), when(2))],
    }, sep=".")  # fmt: skip
    users = _users(tmp_path / "u.csv", ("alice", "alice-pw"), (user, password))
    result = _migrate(source_server.imap_url(), cyrus_upstream.imap_url(), users,
                      tmp_path / "s.db", "--json")  # fmt: skip
    assert result.returncode == 0, result.stdout
    folders = _folders(_summary(result))
    assert folders["Shared Folders"]["target"] == "Shared Folders (2)"
    assert (
        "'Shared Folders' is reserved on the target" in folders["Shared Folders"]["renamed_because"]
    )
    assert folders["Shared Folders/team"]["target"] == "Shared Folders (2)/team"
    assert folders["Other Users"]["target"] == "Other Users (2)"
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(cyrus_upstream.port, user, password)
    assert dst["Shared Folders (2)"] == src["Shared Folders"]
    assert dst["Shared Folders (2)/team"] == src["Shared Folders/team"]
    assert dst["Other Users (2)"] == src["Other Users"]


@pytest.mark.parametrize("layout", ["debian", "upstream"])
def test_dry_run_applies_the_naming_rules_and_says_would_copy(
    layout: str,
    source_server: DovecotServer,
    cyrus_debian: CyrusServer,
    cyrus_upstream: CyrusServer,
    tmp_path: Path,
) -> None:
    server = cyrus_debian if layout == "debian" else cyrus_upstream
    user, password = new_cyrus_user(server)
    seed(source_server.imap_port, "alice", "alice-pw", {
        "INBOX": [Item(message(1))], "Shared Folders": [Item(message(2))],
        "Work/2019": [Item(message(3))],
    }, sep=".")  # fmt: skip
    users = _users(tmp_path / "u.csv", ("alice", "alice-pw"), (user, password))
    before = dump(server.port, user, password)
    dry = _migrate(source_server.imap_url(), server.imap_url(), users, tmp_path / "s.db",
                   "--dry-run")  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would copy 3" in dry.stderr and " copied" not in dry.stderr
    assert "would copy" in dry.stdout
    assert "would create folder 'Work/2019'" in dry.stdout
    shared = "Shared Folders (2)" if layout == "upstream" else "Shared Folders"
    assert f"would create folder '{shared}'" in dry.stdout
    if layout == "upstream":
        assert "folder 'Shared Folders' -> 'Shared Folders (2)' ('Shared Folders' is reserved" in (
            dry.stdout
        )
    assert dump(server.port, user, password) == before  # nothing changed
    real = _migrate(source_server.imap_url(), server.imap_url(), users, tmp_path / "s.db",
                    "--json")  # fmt: skip
    assert real.returncode == 0, real.stdout
    folder_names = {f["source"]: f["target"] for f in _summary(real)["folders"]}
    assert folder_names["Shared Folders"] == shared  # the dry run named it as the run does
    prefix = "INBOX/" if layout == "debian" else ""
    assert len(dump(server.port, user, password)[prefix + shared]) == 1
