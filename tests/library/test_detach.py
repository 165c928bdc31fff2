"""Taking attachments out of a message (engine/mail/detach.py), on real MIME built by email."""

from __future__ import annotations

import email
from email.message import EmailMessage

from skylift.engine.mail.detach import detach, header_of


def _message(*attachments: tuple[str, int], body: str = "See attached.\n") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@old.example", "Files"
    msg.set_content(body)
    for name, size in attachments:
        msg.add_attachment(b"z" * size, maintype="application", subtype="zip", filename=name)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_largest_attachments_go_first_and_only_as_many_as_needed() -> None:
    raw = _message(("small.zip", 10_000), ("huge.zip", 2_000_000), ("mid.zip", 300_000))
    result = detach(raw, 600_000, "f" * 64, lambda n: f"https://lib.example/{n}")
    assert result is not None and len(result.raw) <= 600_000
    assert [d.name for d in result.detached] == ["huge.zip"]
    assert result.detached[0].data == b"z" * 2_000_000
    kept = email.message_from_bytes(result.raw)
    names = [p.get_filename() for p in kept.walk() if p.get_filename()]
    assert names == ["small.zip", "mid.zip"]  # the ones that fit stay attached
    assert "https://lib.example/huge.zip" in result.raw.decode()
    assert header_of(result.raw) == ("f" * 64, len(raw))
    again = detach(raw, 600_000, "f" * 64, lambda n: f"https://lib.example/{n}")
    assert again is not None and again.raw == result.raw  # the same bytes on every run


def test_a_message_that_cannot_fit_is_left_alone() -> None:
    assert detach(_message(), 100, "f" * 64, str) is None  # no attachment to take out
    too_long = _message(("a.zip", 1000), body="x" * 50_000)
    assert detach(too_long, 10_000, "f" * 64, str) is None  # the body alone is over
