"""The run's log: ``--log-file`` (rotated, safe to keep), and how loud the terminal is.

The terminal gets one line per problem; the log file gets the detail behind it (the
traceback of an unexpected error, every retry), so an admin can send it with a bug report.
Whatever reaches the file passes :class:`RedactingFilter` first: a password in a URL, a
bearer token, a SASL blob or a ``password=`` pair is replaced by ``***`` before it is
written, so the file never holds a secret even when a library logs one.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from skylift.errors import ConfigError

LOG = logging.getLogger("skylift")
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

SECRETS = (
    re.compile(r"(?P<keep>://[^/:@\s]*:)[^@/\s]+(?=@)"),  # password in a URL's userinfo
    re.compile(r"(?P<keep>\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"(?P<keep>\bauth=bearer\s*)[^\s\x01]+", re.IGNORECASE),
    re.compile(r"(?P<keep>\bAUTHENTICATE\s+[A-Z0-9-]+\s+)\S+", re.IGNORECASE),
    re.compile(
        r"(?P<keep>\b(?:password|passwd|pass|secret|token|client_secret|assertion)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+",
        re.IGNORECASE,
    ),
)


def redact(text: str) -> str:
    """*text* with every secret-looking value replaced by ``***``."""
    for pattern in SECRETS:
        text = pattern.sub(lambda m: m.group("keep") + "***", text)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record once, redacted, so no handler sees the original arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_VERBOSITY = 0


def verbosity() -> int:
    """-1 with -q, 0 by default, 1 with -v, 2 with -vv."""
    return _VERBOSITY


def configure(verbosity: int, log_file: Path | None) -> None:
    """Terminal at WARNING (``-q``: ERROR, ``-v``: INFO, ``-vv``: DEBUG); file at DEBUG.

    The file is rotated at 10 MiB with five old copies, so ``--log-file`` can stay in a
    cron line for weeks.
    """
    global _VERBOSITY
    _VERBOSITY = verbosity
    LOG.setLevel(logging.DEBUG)
    for handler in list(LOG.handlers):
        LOG.removeHandler(handler)
        handler.close()
    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    terminal = logging.StreamHandler()
    terminal.setLevel(levels.get(verbosity, logging.DEBUG))
    terminal.setFormatter(logging.Formatter("skylift: %(message)s"))
    terminal.addFilter(RedactingFilter())
    LOG.addHandler(terminal)
    LOG.propagate = False
    if log_file is not None:
        if not log_file.parent.is_dir():
            raise ConfigError(f"--log-file {log_file}: folder {log_file.parent} does not exist")
        try:
            handler = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            raise ConfigError(f"--log-file {log_file}: {exc.strerror}") from None
        log_file.chmod(0o600)
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RedactingFilter())
        LOG.addHandler(handler)
