"""Commands of this area register here (placeholder until the area lands)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to *app*."""
