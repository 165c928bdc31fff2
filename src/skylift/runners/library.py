"""Open a mail source and a document library through the registry, and copy public folders.

One unit of work: the public namespace is one tree seen the same by every user, so one
login reads it all. The state store is the only memory (``state/library_ledger.py``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from skylift.connectors import library_target, mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.engine.library.sync import FolderReport, copy_public_folders
from skylift.errors import ConfigError
from skylift.model.account import Login
from skylift.state.library_ledger import LibraryLedger

LIBRARY_SCHEMES = ("webdav+https", "webdav+http", "folder")


@dataclass(frozen=True)
class LibraryRun:
    """Both sides of one ``migrate-public-folders`` run, not yet opened."""

    source: Endpoint
    target: Endpoint
    source_login: Login
    target_login: Login
    state: str
    dry_run: bool = False
    include_other_users: bool = False


def migrate_public_folders(
    run: LibraryRun, stop: threading.Event | None = None
) -> list[FolderReport]:
    """Copy the source's public folders into the library; one report per folder."""
    if run.target.scheme not in LIBRARY_SCHEMES:
        raise ConfigError(
            f"--target must be {' or '.join(s + '://' for s in LIBRARY_SCHEMES)} "
            f"(got {run.target.scheme}://)"
        )
    kinds = ("shared", "other") if run.include_other_users else ("shared",)
    ledger = LibraryLedger(run.state)
    source_key = f"{run.source.display()}"
    try:
        # a dry run signs in to the library too (a wrong password shows now), writes nothing
        with (
            mail_connector(run.source).open_source(run.source_login) as source,
            library_target(run.target, run.target_login) as library,
        ):
            return copy_public_folders(
                source, library, ledger, source_key, dry_run=run.dry_run, kinds=kinds,
                stop=(stop.is_set if stop else lambda: False),
            )  # fmt: skip
    finally:
        ledger.close()
