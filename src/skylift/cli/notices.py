"""``skylift notify`` and ``skylift support report``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``notify`` and ``support report``."""
