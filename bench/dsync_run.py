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
        options = {
            "imapc_host": "127.0.0.1",
            "imapc_port": str(src_port),
            "imapc_user": user,
            "imapc_password": password,
            "imapc_features": "rfc822.size fetch-headers modseq",
            "mail_prefetch_count": "20",
        }
        command = [DOVEADM, "-c", str(target_conf)]
        for key, value in options.items():
            command += ["-o", f"{key}={value}"]
        commands.append([*command, "backup", "-R", "-u", f"{user}@example.com", "imapc:"])
    return commands
