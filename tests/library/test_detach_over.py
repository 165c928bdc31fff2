"""``migrate --detach-over``: a 60 MB message into a real Dovecot that takes at most 35 MB.

The message arrives with a link part instead of its large attachment; the library (a real
wsgidav) holds the attachment and the original ``.eml``, both byte-identical; ``verify
--deep`` pairs the two and reports no difference; a rerun copies nothing.
"""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, raw_bodies, run_skylift, seed, when
from tests.servers.webdav import WebDavServer

ATTACHMENT = bytes(range(256)) * (44 * 1024 * 1024 // 256)  # 44 MiB: ~60 MB base64


@pytest.fixture
def small_target(tmp_path: Path) -> Iterator[DovecotServer]:
    with DovecotServer(
        tmp_path / "target", {"alice@new.example": "alice-new-pw"}, separator="/",
        quota_max_mail_size="35M",
    ) as server:  # fmt: skip
        yield server


@pytest.fixture
def library(tmp_path: Path) -> Iterator[WebDavServer]:
    with WebDavServer(tmp_path / "library") as server:
        yield server


def _big_message() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@old.example", "alice@old.example", "Plans"
    msg["Message-ID"] = "<big@old.example>"
    msg.set_content("The plans are attached.\n")
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="pdf", filename="plans.pdf")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_60mb_message_arrives_with_a_link_and_the_library_holds_the_rest(
    source_server: DovecotServer, small_target: DovecotServer, library: WebDavServer,
    users_csv: Path, tmp_path: Path,
) -> None:  # fmt: skip
    raw = _big_message()
    assert len(raw) > 60_000_000
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": [Item(raw, date=when(1))]}, ".")
    (tmp_path / "one.csv").write_text(users_csv.read_text().splitlines()[0] + "\n"
                                      + users_csv.read_text().splitlines()[1] + "\n")  # fmt: skip
    args = [
        "--source", source_server.imap_url(), "--target", small_target.imap_url(),
        "--users", tmp_path / "one.csv", "--state", tmp_path / "s.db", "--json",
    ]  # fmt: skip
    env = {"SKYLIFT_LIBRARY_PASSWORD": library.password}
    lib = ["--detach-over", "35M", "--library", library.url("/"), "--library-user", library.user]
    without = run_skylift("migrate", *args[:-3], "--state", tmp_path / "plain.db", "--json")
    assert without.returncode == 1  # without the option it is skipped, as before

    first = run_skylift("migrate", *args, *lib, env=env)
    assert first.returncode == 0, first.stderr + first.stdout
    folders = json.loads(first.stdout)["items"][0]["folders"]
    assert sum(f["detached"] for f in folders) == 1

    (arrived,) = raw_bodies(small_target.imap_port, "alice@new.example", "alice-new-pw", "INBOX")
    assert len(arrived) < 35 * 1024 * 1024
    text = email.message_from_bytes(arrived)
    assert text["Subject"] == "Plans" and text["X-Skylift-Detached"]
    link_part = [p for p in text.walk() if "plans.pdf" in str(p.get_payload(decode=True) or "")]
    assert link_part and library.url("/").replace("webdav+", "") in str(
        link_part[0].get_payload(decode=True).decode()
    )
    (stored,) = [p for p in library.root.rglob("original.eml")]
    assert stored.read_bytes() == raw  # the original, byte for byte
    assert (stored.parent / "plans.pdf").read_bytes() == ATTACHMENT

    verify = run_skylift(
        "verify", *args[:-1], "--deep", "--json",
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout
    assert json.loads(verify.stdout)["items"][0]["detached"] == 1

    again = run_skylift("migrate", *args, *lib, env=env)
    assert again.returncode == 0
    assert sum(f["copied"] for f in json.loads(again.stdout)["items"][0]["folders"]) == 0


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--library", "webdav+http://127.0.0.1:9/"], "--library is only used with --detach-over"),
        (["--detach-over", "35M"], "--detach-over needs --library URL"),
    ],
)
def test_half_of_the_option_pair_is_one_line(extra: list[str], words: str, tmp_path: Path) -> None:
    result = run_skylift(
        "migrate", "--source", "imap://127.0.0.1:9", "--target", "imap://127.0.0.1:9",
        "--user", "a@new.example", "--state", tmp_path / "s.db", *extra,
    )  # fmt: skip
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
