"""The options every command shares, defined once so one word means one thing everywhere.

A command imports the ones it takes; the words and defaults here are the vocabulary the docs
use (docs/concepts.md, "One vocabulary"). Domain-specific options (``--source`` help texts,
mail's ``--map-folder``) stay in their command's module.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Annotated

import typer

from skylift.errors import ConfigError
from skylift.model.account import Secret

#: seconds to wait for each server answer, in every domain
DEFAULT_TIMEOUT = 120.0
#: units (mailboxes, accounts) at once, in every domain
DEFAULT_PARALLEL = 4

StateOpt = Annotated[str, typer.Option("--state", help="State file or database URL")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout")]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", "--preview", help="Plan and show what would change; change nothing"),
]
ParallelOpt = Annotated[
    int, typer.Option("--parallel", min=1, help="Units (mailboxes, accounts) at once")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds per server answer")]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option("--connect-timeout", help="Seconds to connect and get the server's greeting"),
]
UsersOpt = Annotated[
    Path | None,
    typer.Option("--users", help="CSV: EmailAddress,UserName,Password[,TargetUserName,…]"),
]


def checked_ca(path: Path | None) -> Path | None:
    """A CA file is read before the first connection: a typo or a file with no certificate
    is one line at once, not a TLS failure per mailbox later."""
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"CA file not found: {path}")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise ConfigError(f"{path} is not a CA file (no PEM certificate in it): {exc}") from None
    return path


SourceCaOpt = Annotated[
    Path | None, typer.Option("--source-ca", help="CA file for the source", callback=checked_ca)
]
TargetCaOpt = Annotated[
    Path | None, typer.Option("--target-ca", help="CA file for the target", callback=checked_ca)
]
InsecureSourceOpt = Annotated[
    bool, typer.Option("--insecure-source", help="Skip TLS certificate checks (source)")
]
InsecureTargetOpt = Annotated[
    bool, typer.Option("--insecure-target", help="Skip TLS certificate checks (target)")
]
AllowPlaintextOpt = Annotated[
    bool, typer.Option("--allow-plaintext", help="Allow passwords without TLS to a remote host")
]
SourceAdminPasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--source-admin-password-file",
        help="File holding the --source-admin password (else $SKYLIFT_SOURCE_ADMIN_PASSWORD)",
    ),
]
TargetAdminPasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--target-admin-password-file",
        help="File holding the --target-admin password (else $SKYLIFT_TARGET_ADMIN_PASSWORD)",
    ),
]
SourceApiBaseOpt = Annotated[
    str | None,
    typer.Option(
        "--source-api-base",
        help="Root of the source cloud's API (national clouds, tests); trusts --source-ca",
    ),
]
TargetApiBaseOpt = Annotated[
    str | None,
    typer.Option(
        "--target-api-base",
        help="Root of the target cloud's API (national clouds, tests); trusts --target-ca",
    ),
]


def read_secret(env_name: str, file: Path | None, what: str) -> Secret | None:
    """The secret from *file* when given, else from the environment variable, else None;
    the one rule for every ``--*-password-file`` / ``--*-token-file``."""
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not text"
            raise ConfigError(f"cannot read the {what} file {file}: {why}") from None
        if not value:
            raise ConfigError(f"the {what} file {file} is empty")
        return Secret(value)
    value = os.environ.get(env_name, "")
    return Secret(value) if value else None


# -- scale-out (docs/scale-out.md): where the work runs --
RUNNERS = ("local", "celery")


def checked_runner(value: str) -> str:
    if value not in RUNNERS:
        raise ConfigError(f"--runner {value}: not one of {', '.join(RUNNERS)}")
    return value


RunnerOpt = Annotated[
    str,
    typer.Option(
        "--runner",
        help="local: threads of this process; celery: 'skylift worker' processes via --broker",
        callback=checked_runner,
    ),
]
BrokerOpt = Annotated[
    str | None,
    typer.Option(
        "--broker", help="Celery broker URL for --runner celery, e.g. redis://host:6379/0"
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option("--wait", help="--runner celery: wait for every unit to end and summarize"),
]
