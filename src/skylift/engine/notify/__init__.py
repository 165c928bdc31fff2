"""Wave notices: Jinja2 templates for T-7, T-1, done and action needed, one per language.

Templates live in ``templates/<notice>.<language>.j2``: the first line is ``Subject: …``,
then a blank line, then the body. A user's language is the ``Language`` column of the users
CSV when a template exists in it, English otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from skylift.errors import ConfigError

TEMPLATES = Path(__file__).parent / "templates"
NOTICES = ("t-7", "t-1", "done", "action-needed")
DEFAULT_LANGUAGE = "en"


def languages(notice: str, folder: Path = TEMPLATES) -> list[str]:
    """The languages *notice* has a template in."""
    return sorted(p.name.split(".")[1] for p in folder.glob(f"{notice}.*.j2"))


@dataclass(frozen=True)
class Notice:
    """One message to one user, ready to write to a folder or hand to SMTP."""

    user: str
    notice: str
    wave: str
    language: str
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


def render(
    notice: str,
    language: str,
    context: dict[str, Any],
    *,
    sender: str,
    to: str,
    now: datetime,
    folder: Path = TEMPLATES,
) -> EmailMessage:
    """The message for one user; a template that uses an unknown name is a ConfigError."""
    if notice not in NOTICES:
        raise ConfigError(f"--template {notice}: not one of {', '.join(NOTICES)}")
    have = languages(notice, folder)
    lang = language if language in have else DEFAULT_LANGUAGE
    env = Environment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, keep_trailing_newline=True
    )
    try:
        text = env.get_template(f"{notice}.{lang}.j2").render(**context)
    except TemplateError as exc:
        raise ConfigError(f"template {notice}.{lang}.j2: {exc}") from None
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject:"):
        raise ConfigError(f"template {notice}.{lang}.j2 must start with a 'Subject:' line")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = head.removeprefix("Subject:").strip()
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Skylift-Notice"] = f"{notice}; wave={context.get('wave', '')}"
    message.set_content(body)
    message["Content-Language"] = lang  # after set_content, which drops Content-* headers
    return message
