"""``migrate --detach-over --runner celery``: an oversize message copied by a worker process.

Real Redis and PostgreSQL, real Dovecot on both sides (the target takes at most 1 MB), a real
wsgidav library. The worker reads the library's password from its own environment: the queue
and the state store never hold it. A second submission copies and uploads nothing.
"""

from __future__ import annotations

import email
import json
import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, raw_bodies, run_skylift, seed, when, write_users
from tests.scaleout.conftest import Workers
from tests.scaleout.test_workers import units
from tests.servers.webdav import WebDavServer

ATTACHMENT = bytes(range(256)) * (2 * 1024 * 1024 // 256)  # 2 MiB: ~2.7 MB base64


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[tuple[DovecotServer, DovecotServer, WebDavServer]]:
    source = DovecotServer(tmp_path / "src", {"alice": "alice-pw"}, separator=".").start()
    target = DovecotServer(
        tmp_path / "dst", {"alice@new.example": "alice-new-pw"}, separator="/",
        quota_max_mail_size="1M",
    ).start()  # fmt: skip
    library = WebDavServer(tmp_path / "library").start()
    yield source, target, library
    library.stop()
    source.cleanup()
    target.cleanup()


def _oversize() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@old.example", "alice@old.example", "Drawings"
    msg["Message-ID"] = "<drawings@old.example>"
    msg.set_content("The drawings are attached.\n")
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="pdf", filename="plan.pdf")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_a_worker_detaches_the_oversize_message_and_no_library_password_is_queued(
    sides: tuple[DovecotServer, DovecotServer, WebDavServer], workers: Workers,
    state_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    source, target, library = sides
    raw = _oversize()
    small = b"From: b@old.example\r\nSubject: small\r\n\r\nhello\r\n"
    seed(source.imap_port, "alice", "alice-pw",
         {"INBOX": [Item(raw, date=when(1)), Item(small, date=when(2))]}, ".")  # fmt: skip
    users = write_users(tmp_path / "users.csv",
                        [("alice@new.example", "alice", "alice-pw", "alice-new-pw")],
                        "EmailAddress,UserName,Password,TargetPassword")  # fmt: skip
    env = dict(os.environ) | {"SKYLIFT_LIBRARY_PASSWORD": library.password}
    workers.start("w1", env=env)
    args = ["migrate", "--source", source.imap_url(), "--target", target.imap_url(),
            "--users", users, "--state", state_url, "--runner", "celery", "--broker",
            workers.broker, "--detach-over", "1M", "--library", library.url("/"),
            "--library-user", library.user, "--wait", "--json"]  # fmt: skip

    first = run_skylift(*args, env={"SKYLIFT_LIBRARY_PASSWORD": library.password})
    assert first.returncode == 0, first.stderr + first.stdout
    arrived = raw_bodies(target.imap_port, "alice@new.example", "alice-new-pw", "INBOX")
    assert len(arrived) == 2 and small in arrived
    (detached,) = [m for m in arrived if m != small]
    assert email.message_from_bytes(detached)["X-Skylift-Detached"]
    (stored,) = library.root.rglob("original.eml")
    assert stored.read_bytes() == raw
    assert (stored.parent / "plan.pdf").read_bytes() == ATTACHMENT

    again = run_skylift(*args, env={"SKYLIFT_LIBRARY_PASSWORD": library.password})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["totals"]["copied"] == 0
    assert len(raw_bodies(target.imap_port, "alice@new.example", "alice-new-pw", "INBOX")) == 2
    assert library.password not in json.dumps([str(r["spec"]) for r in units(state_url)])


def test_a_library_url_with_a_password_is_refused_before_anything_is_queued(
    workers: Workers, state_url: str, tmp_path: Path
) -> None:
    result = run_skylift(
        "migrate", "--source", "imap://127.0.0.1:9", "--target", "imap://127.0.0.1:9",
        "--user", "a@new.example", "--state", state_url, "--runner", "celery",
        "--broker", workers.broker, "--detach-over", "1M",
        "--library", "webdav+https://lib:secret-pw@127.0.0.1:9/",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--library: no password in the URL" in result.stderr
    assert "secret-pw" not in result.stderr + result.stdout
    engine = sqlalchemy.create_engine(state_url)
    try:  # nothing was written to the state store, not even its tables
        assert not sqlalchemy.inspect(engine).has_table("work_units")
    finally:
        engine.dispose()
