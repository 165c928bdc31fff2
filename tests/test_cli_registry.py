"""The command map that lets ``skylift`` import only what a command needs stays complete."""

from __future__ import annotations

import typer

from skylift.cli import COMMANDS, build_app


def _names(app: typer.Typer) -> set[str]:
    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


def test_every_registered_command_is_in_the_map_and_back() -> None:
    assert _names(build_app()) == set(COMMANDS)


def test_building_for_one_command_registers_its_module_only() -> None:
    names = _names(build_app(["migrate", "--help"]))
    assert "migrate" in names and "dirsync" not in names


def test_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    from tests.mailtools import run_skylift

    result = run_skylift("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"skylift {version('skylift')}"
