"""mbsync (Debian ``isync``) on the same corpus, for comparison: one process per user.

imapsync is not packaged in Debian here, so the issue's quoted imapsync figures serve as
its reference instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MBSYNC = shutil.which("mbsync")

_CONFIG = """\
IMAPAccount far
Host 127.0.0.1
Port {src_port}
User {src_user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore far
Account far

IMAPAccount near
Host 127.0.0.1
Port {dst_port}
User {dst_user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore near
Account near

Channel move
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull
CopyArrivalDate yes
SyncState {state}/
"""


def mbsync_commands(
    workdir: Path, users: list[str], src_port: int, dst_port: int, password: str
) -> list[list[str]]:
    """One ``mbsync -a`` command per user, each with its own config and state folder."""
    if MBSYNC is None:
        return []
    commands = []
    for user in users:
        state = workdir / "mbsync" / user
        state.mkdir(parents=True, exist_ok=True)
        conf = state / "mbsyncrc"
        conf.write_text(
            _CONFIG.format(
                src_port=src_port,
                dst_port=dst_port,
                src_user=user,
                dst_user=f"{user}@example.com",
                password=password,
                state=state,
            )
        )
        conf.chmod(0o600)
        commands.append([MBSYNC, "-q", "-c", str(conf), "-a"])
    return commands
