"""Docs and ``--help`` stay in step: every visible option of every command is in its docs page.

A user reads docs/<domain>.md, not the source; an option that exists only in ``--help`` is one
nobody finds, and one that exists only in the docs is a lie (the second is caught by hand in
review; this test catches the first, which is the one that drifts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from skylift.cli import COMMANDS, build_app

ROOT = Path(__file__).resolve().parent.parent

# top-level command -> the pages that document it (the first is its home page)
PAGES: dict[str, tuple[str, ...]] = {
    "migrate": (
        "docs/migrate.md",
        "docs/sources.md",
        "docs/folders.md",
        "docs/gmail.md",
        "docs/scale-out.md",
    ),
    "verify": ("docs/migrate.md",),
    "demo": ("README.md", "docs/dashboard.md"),
    "assess": ("docs/assess.md",),
    "plan": ("docs/assess.md",),
    "dirsync": ("docs/dirsync.md",),
    "dirsync-journal": ("docs/dirsync.md",),
    "migrate-calendars": ("docs/calendars.md",),
    "migrate-contacts": ("docs/calendars.md",),
    "verify-calendars": ("docs/calendars.md",),
    "verify-contacts": ("docs/calendars.md",),
    "freebusy": ("docs/calendars.md",),
    "jobs": ("docs/concepts.md",),
    "worker": ("docs/scale-out.md",),
    "auth": ("docs/migrate.md",),
    "autoconfig": ("docs/clients.md",),
    "notify": ("docs/clients.md",),
    "support": ("docs/clients.md",),
    "cutover": ("docs/cutover.md",),
    "rollback": ("docs/cutover.md",),
    "route": ("docs/cutover.md",),
    "web": ("docs/dashboard.md",),
    "migrate-public-folders": ("docs/public-folders.md",),
    "migrate-contacts-im": ("docs/im.md",),
}


def _leaves(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


def _documented_options() -> list[tuple[str, str]]:
    root = typer.main.get_command(build_app(None))
    found = []
    for path, command in _leaves(root, ()):
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            found += [(" ".join(path), o) for o in param.opts if o.startswith("--")]
    return found


def test_every_command_has_a_docs_page() -> None:
    assert set(PAGES) == set(COMMANDS)
    for pages in PAGES.values():
        for page in pages:
            assert (ROOT / page).is_file(), page


@pytest.mark.parametrize("command,option", _documented_options())
def test_every_option_is_documented(command: str, option: str) -> None:
    pages = PAGES[command.split()[0]]
    text = "\n".join((ROOT / p).read_text(encoding="utf-8") for p in pages)
    assert re.search(re.escape(option) + r"(?![\w-])", text), (
        f"`skylift {command} {option}` is not mentioned in {' or '.join(pages)}"
    )
