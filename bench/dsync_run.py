"""Dovecot's own dsync on the same corpus: the native-C limit of an IMAP-to-Dovecot move.

``doveadm backup -R -u USER imapc:`` run with the *target* Dovecot's config pulls one user's
mailbox from the source over IMAP (Dovecot's ``imapc`` storage) into the target's own storage
— what the Dovecot documentation recommends for migrating into Dovecot. It writes the target's
Maildirs directly, without the target's IMAP APPEND path, so it is a bound that skylift,
going through IMAP on both sides like any hosted target requires, can approach but not beat.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DOVEADM = shutil.which("doveadm") or (
    "/usr/bin/doveadm" if Path("/usr/bin/doveadm").exists() else None
)


def dsync_commands(
    target_conf: Path, users: list[str], src_port: int, password: str
) -> list[list[str]]:
    """One ``doveadm backup -R`` per user (source login USER, target mailbox USER@example.com)."""
    if DOVEADM is None:
        return []
    commands = []
    for user in users:
        commands.append(
            [
                DOVEADM,
                "-c",
                str(target_conf),
                "-o",
                "imapc_host=127.0.0.1",
                "-o",
                f"imapc_port={src_port}",
                "-o",
                f"imapc_user={user}",
                "-o",
                f"imapc_password={password}",
                "-o",
                "imapc_features=rfc822.size fetch-headers modseq",
                "-o",
                "mail_prefetch_count=20",
                "backup",
                "-R",
                "-u",
                f"{user}@example.com",
                "imapc:",
            ]  # fmt: skip
        )
    return commands
