"""The first hour of a new admin: a wrong port fails in seconds and once, addresses are whole."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.connectors.endpoint import Endpoint
from skylift.demo.dovecot import DovecotServer
from tests.mailtools import run_skylift, write_users


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts and never says a word: a TLS port spoken to in plain text, or a
    proxy that drops the connection on the floor."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_server_fails_in_seconds_and_the_run_stops_saying_so_once(
    silent_port: int, target_server: DovecotServer, tmp_path: Path
) -> None:
    rows = [(f"u{n}@new.example", f"u{n}", "pw", "pw2") for n in range(6)]
    users = write_users(
        tmp_path / "users.csv", rows, "EmailAddress,UserName,Password,TargetPassword"
    )
    started = time.monotonic()
    result = run_skylift(
        "migrate", "--source", f"imap://127.0.0.1:{silent_port}", "--target",
        target_server.imap_url(), "--users", users, "--state", tmp_path / "s.db",
        "--parallel", "1", "--connect-timeout", "1",
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert took < 15  # three 1 s timeouts, then the other mailboxes are not tried
    wanted = f"no answer from 127.0.0.1:{silent_port} within 1 s"
    summary = result.stdout
    assert summary.count(wanted) == 2  # once for the three that failed, once in "not started"
    assert "3 mailboxes (u0@new.example, u1@new.example, u2@new.example)" in summary
    assert "3 mailboxes (u3@new.example, u4@new.example, u5@new.example): not started" in summary
    jobs = json.loads(run_skylift("jobs", "--state", tmp_path / "s.db", "--json").stdout)
    assert [u["state"] for u in jobs["items"]] == ["failed"] * 3 + ["queued"] * 3  # not tried


def test_a_tls_port_spoken_to_in_plain_text_says_which_scheme_to_use() -> None:
    hint = Endpoint.parse("imap://mail.example:993").no_greeting("mail.example:993")
    assert hint.endswith("(port 993 expects TLS: use imaps://)")
    hint = Endpoint.parse("pop3s://mail.example:110").no_greeting("mail.example:110")
    assert hint.endswith("(port 110 is plain: use pop3://)")


def test_addresses_are_never_cut_in_the_summary_at_80_columns(
    source_server: DovecotServer, tmp_path: Path
) -> None:
    long = "firstname.middlename.lastname@subsidiary.example.com"
    target = DovecotServer(tmp_path / "t", users={long: "pw"}, separator="/").start()
    try:
        users = write_users(
            tmp_path / "users.csv", [(long, "alice", "alice-pw", "pw")],
            "EmailAddress,UserName,Password,TargetPassword",
        )  # fmt: skip
        result = run_skylift(
            "migrate", "--source", source_server.imap_url(), "--target", target.imap_url(),
            "--users", users, "--state", tmp_path / "s.db", env={"COLUMNS": "80"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert long in result.stdout
    finally:
        target.cleanup()


def test_folder_rename_notices_only_when_the_folder_is_made_or_with_v(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    from tests.mailtools import Item, message, seed

    seed(source_server.imap_port, "alice", "alice-pw",
         {"INBOX": [Item(message(1))], "Sent Items": [Item(message(2))]}, ".")  # fmt: skip
    notice = "alice@new.example: folder 'Sent Items' -> 'Sent'"
    args = ("migrate", "--source", source_server.imap_url(), "--target",
            target_server.imap_url(), "--users", users_csv, "--state", tmp_path / "s.db")  # fmt: skip
    first = run_skylift(*args)
    assert first.returncode == 0, first.stderr
    assert notice in first.stdout
    again = run_skylift(*args)
    assert again.returncode == 0 and notice not in again.stdout  # nothing changed: no notice
    verbose = run_skylift("-v", *args)
    assert verbose.returncode == 0 and notice in verbose.stdout


CA_COMMANDS = [
    ["migrate", "--source", "imaps://127.0.0.1:1", "--target", "imaps://127.0.0.1:1"],
    ["verify", "--source", "imaps://127.0.0.1:1", "--target", "imaps://127.0.0.1:1"],
    ["migrate-calendars", "--source", "caldav+https://127.0.0.1:1", "--target",
     "caldav+https://127.0.0.1:1", "--user", "a@new.example"],
    ["dirsync", "--source", "ldaps://127.0.0.1:1", "--base", "dc=x", "--target",
     "scim+https://127.0.0.1:1/scim"],
]  # fmt: skip


@pytest.mark.parametrize("command", CA_COMMANDS)
def test_a_ca_file_that_holds_no_certificate_is_refused_before_any_connection(
    command: list[str], tmp_path: Path
) -> None:
    users = write_users(
        tmp_path / "users.csv", [("a@new.example", "a", "pw", "pw2")],
        "EmailAddress,UserName,Password,TargetPassword",
    )  # fmt: skip
    not_a_ca = tmp_path / "ca.pem"
    not_a_ca.write_text("this is the key file, not the CA\n")
    extra = ["--users", str(users)] if command[0] in ("migrate", "verify") else []
    for option in ("--source-ca", "--target-ca"):
        result = run_skylift(*command, *extra, option, not_a_ca)
        # 2, not 3: nothing was dialled (every port here refuses connections)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.strip() == "" or len(result.stderr.strip().splitlines()) == 1
        assert f"{not_a_ca} is not a CA file" in result.stderr, result.stderr
        missing = run_skylift(*command, *extra, option, tmp_path / "typo.pem")
        assert missing.returncode == 2 and "CA file not found" in missing.stderr


def test_a_peer_that_answers_ldap_with_garbage_is_one_line(tmp_path: Path) -> None:
    """Something that is not an LDAP server on the port (a web server, a TLS port): ldap3
    would raise from deep inside its decoder."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                while conn.recv(4096):  # to StartTLS, bind or search: bytes that are not LDAP
                    conn.sendall(b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00")
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    mapping = tmp_path / "m.toml"
    mapping.write_text("[users]\n")
    try:
        result = run_skylift(
            "dirsync", "--source", f"ldap://127.0.0.1:{server.getsockname()[1]}",
            "--base", "dc=old,dc=example", "--bind", "cn=admin,dc=old,dc=example",
            "--target", "scim+http://127.0.0.1:1/scim", "--mapping", mapping,
            "--state", tmp_path / "s.db", "--timeout", "5",
        )  # fmt: skip
    finally:
        stop.set()
        thread.join()
        server.close()
    assert result.returncode in (2, 3), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
