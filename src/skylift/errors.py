"""The error tree every layer raises; each error knows the CLI exit code it maps to.

Errors classify themselves where the knowledge is (restic's ``IsPermanentError``): a
connector knows whether a failure is worth a retry, the CLI only renders one line.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ITEMS_FAILED = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in skylift; the log file has the detail
EXIT_INTERRUPTED = 130


class SkyliftError(Exception):
    """Base of every error skylift reports to a user as one line."""

    exit_code = EXIT_USAGE


class ConfigError(SkyliftError):
    """Bad command line, CSV, URL or mapping: the user must change something."""

    exit_code = EXIT_USAGE


class ConnectError(SkyliftError):
    """A server could not be reached, refused TLS, or refused the login."""

    exit_code = EXIT_CONNECT


class AuthError(ConnectError):
    """The server refused the credentials."""


class TransientError(SkyliftError):
    """A failure worth retrying: dropped connection, timeout, throttling.

    *retry_after* is the server's own hint in seconds, when it gave one.
    """

    exit_code = EXIT_CONNECT

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenExpired(TransientError):
    """The server ended a session because its OAuth2 token expired (Exchange's
    ``BYE Session invalidated - AccessTokenExpired``): reconnect at once with a fresh token;
    this does not count as a failed attempt."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=0.0)


class ItemRejected(SkyliftError):
    """The target refused one item (too big, invalid); the run goes on.

    The message is the server's own words.
    """

    exit_code = EXIT_ITEMS_FAILED


class FolderNotFound(SkyliftError):
    """A folder named by the user or the ledger does not exist on the server."""

    exit_code = EXIT_ITEMS_FAILED


class FolderRefused(SkyliftError):
    """The target would not create a folder; the message is the server's own words.

    Only that folder fails: the rest of the mailbox goes on.
    """

    exit_code = EXIT_ITEMS_FAILED


class Interrupted(SkyliftError):
    """The run was asked to stop (Ctrl-C) and stopped at a batch boundary, ledger written."""

    exit_code = EXIT_INTERRUPTED


class ArchiveError(SkyliftError):
    """An archive file (PST, mbox, …) cannot be read: corrupt, encrypted, truncated."""

    exit_code = EXIT_ITEMS_FAILED
