"""The command map that lets ``skylift`` import only what a command needs stays complete."""

from __future__ import annotations

import re

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


def _leaf_commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(build_app())
    found: list[tuple[str, ...]] = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        found += [(name, sub) for sub in subs] if subs else [(name,)]
    return found


def test_help_is_readable_at_80_columns() -> None:
    """Every option's full name on its line, values as FILE/TEXT/N, no Python type names."""
    import os
    import subprocess
    import sys

    root = typer.main.get_command(build_app())
    for path in _leaf_commands():
        command = root
        for part in path:
            command = command.commands[part]  # type: ignore[attr-defined]
        result = subprocess.run(
            [sys.executable, "-m", "skylift", *path, "--help"],
            capture_output=True,
            text=True,
            env=os.environ | {"COLUMNS": "80", "TERM": "dumb"},
        )
        assert result.returncode == 0, result.stderr
        text = result.stdout
        assert "<list[" not in text and "<str>" not in text and "<path>" not in text, path
        assert all(len(line) <= 80 for line in text.splitlines()), path
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and not getattr(param, "hidden", False):
                    assert getattr(param, "help", None), (path, option, "has no help text")
                    assert re.search(rf"\s{re.escape(option)}[\s,=]", text), (path, option)
