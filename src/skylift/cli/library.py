"""``skylift migrate-public-folders``: a public IMAP namespace into a WebDAV document library.

Same TLS rules, ``--state``, ``--dry-run``, ``--json`` and exit codes as mail: 0 all copied,
1 some messages or folders did not arrive, 2 usage/configuration, 3 could not connect or
log in. Passwords come from ``$SKYLIFT_SOURCE_PASSWORD`` and ``$SKYLIFT_TARGET_PASSWORD``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated

import typer

from skylift.cli.common import envelope, print_json
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.options import (
    DEFAULT_TIMEOUT,
    AllowPlaintextOpt,
    DryRunOpt,
    InsecureSourceOpt,
    InsecureTargetOpt,
    JsonOpt,
    SourceCaOpt,
    StateOpt,
    TargetCaOpt,
    TimeoutOpt,
)
from skylift.connectors.endpoint import Endpoint
from skylift.errors import EXIT_INTERRUPTED, EXIT_ITEMS_FAILED, EXIT_OK, ConfigError
from skylift.model.account import Login, Secret
from skylift.runners.library import LibraryRun, migrate_public_folders

SourceOpt = Annotated[str, typer.Option("--source", help="imaps://host:993 with public folders")]
TargetOpt = Annotated[
    str, typer.Option("--target", help="webdav+https://host/path of the document library")
]
SourceUserOpt = Annotated[
    str, typer.Option("--source-user", help="Login that sees the public folders")
]
TargetUserOpt = Annotated[
    str | None, typer.Option("--target-user", help="Login of the library (none: anonymous)")
]
OtherUsersOpt = Annotated[
    bool,
    typer.Option("--include-other-users", help="Also copy other users' shared folders"),
]


def _secret(name: str) -> Secret | None:
    value = os.environ.get(name)
    return Secret(value) if value else None


def register(app: typer.Typer) -> None:
    @app.command("migrate-public-folders")
    def migrate_public_folders_cmd(
        source: SourceOpt,
        target: TargetOpt,
        source_user: SourceUserOpt,
        target_user: TargetUserOpt = None,
        state: StateOpt = "skylift.db",
        dry_run: DryRunOpt = False,
        json_out: JsonOpt = False,
        include_other_users: OtherUsersOpt = False,
        allow_plaintext: AllowPlaintextOpt = False,
        source_ca: SourceCaOpt = None,
        target_ca: TargetCaOpt = None,
        insecure_source: InsecureSourceOpt = False,
        insecure_target: InsecureTargetOpt = False,
        timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    ) -> int:
        """Copy public folders into a document library as .eml files with index pages."""
        if not source_user:
            raise ConfigError("--source-user must name a login")
        common: dict[str, object] = {"allow_plaintext": allow_plaintext, "timeout": timeout}
        run = LibraryRun(
            source=_endpoint(source, source_ca, insecure_source, common),
            target=_endpoint(target, target_ca, insecure_target, common),
            source_login=Login(source_user, _secret("SKYLIFT_SOURCE_PASSWORD")),
            target_login=Login(target_user or "", _secret("SKYLIFT_TARGET_PASSWORD")),
            state=state,
            dry_run=dry_run,
            include_other_users=include_other_users,
        )
        stop = threading.Event()
        with graceful_stop(stop):
            reports = migrate_public_folders(run, stop)
        totals = {
            "folders": len(reports),
            "copied": sum(r.copied for r in reports),
            "already_there": sum(r.already for r in reports),
            "to_copy": sum(r.to_copy for r in reports),
            "failed": sum(len(r.failed) for r in reports),
            "renamed": sum(r.renamed for r in reports),
        }
        if json_out:
            print_json(envelope("migrate-public-folders", totals, [r.as_dict() for r in reports]))
        else:
            for r in reports:
                shown = r.source + (f" -> {r.target}" if r.renamed else "")
                what = f"{r.to_copy} to copy" if dry_run else f"{r.copied} copied"
                print(f"{shown}: {what}, {r.already} already there, {len(r.failed)} failed")
                for line in r.failed:
                    print(f"  failed: {line}")
            print(
                f"{totals['folders']} folders: {totals['copied']} copied, "
                f"{totals['already_there']} already there, {totals['failed']} failed"
            )
        if stop.is_set():
            print_resume_hint()
            return EXIT_INTERRUPTED
        return EXIT_ITEMS_FAILED if totals["failed"] else EXIT_OK


def _endpoint(url: str, ca: Path | None, insecure: bool, common: dict[str, object]) -> Endpoint:
    return Endpoint.parse(url, ca_file=str(ca) if ca else None, insecure=insecure, **common)
