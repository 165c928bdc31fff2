"""``migrate --detach-over SIZE --library URL``: the options and the library they open.

Kept apart from ``cli/mail.py`` so the mail command's module stays one idea: these options
only say where oversize attachments go (docs/oversize.md).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from skylift.connectors import library_target
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.library.base import LibraryTarget
from skylift.errors import ConfigError
from skylift.model.account import Login, Secret

DetachOverOpt = Annotated[
    str | None,
    typer.Option(
        "--detach-over",
        help="Messages over SIZE (e.g. 35M, the target's limit) go with their large "
        "attachments moved to --library",
    ),
]
LibraryOpt = Annotated[
    str | None,
    typer.Option("--library", help="webdav+https://host/path: where detached attachments go"),
]
LibraryUserOpt = Annotated[
    str | None,
    typer.Option("--library-user", help="Login of --library (password: $SKYLIFT_LIBRARY_PASSWORD)"),
]


def open_library(
    detach_over: int | None,
    url: str | None,
    user: str | None,
    allow_plaintext: bool,
    timeout: float,
) -> LibraryTarget | None:
    """The library --detach-over writes to, signed in now; None without --detach-over."""
    if detach_over is None:
        if url:
            raise ConfigError("--library is only used with --detach-over SIZE")
        return None
    if not url:
        raise ConfigError("--detach-over needs --library URL (where the attachments go)")
    endpoint = Endpoint.parse(url, allow_plaintext=allow_plaintext, timeout=timeout)
    password = os.environ.get("SKYLIFT_LIBRARY_PASSWORD")
    return library_target(endpoint, Login(user or "", Secret(password) if password else None))
