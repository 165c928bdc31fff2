"""Config files an MTA reads while it runs: replaced whole, atomically, only when they change.

A reader (Postfix, a Sieve interpreter) sees the old file or the new one, never half of one:
the text goes to a temporary file in the same folder, then ``os.replace`` swaps it in.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_text(path: Path, text: str) -> bool:
    """Make *path* hold *text*; False (and nothing written) when it already does."""
    if path.exists() and path.read_text() == text:
        return False
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True
