"""Connector registry: URL scheme -> "module:Class", imported on first use.

A new connector adds one line here; nothing else in skylift names a concrete connector.
"""

from __future__ import annotations

import importlib

from skylift.connectors.base import Endpoint, MailConnector
from skylift.errors import ConfigError

MAIL_CONNECTORS: dict[str, str] = {
    "imap": "skylift.connectors.imap:ImapConnector",
    "imaps": "skylift.connectors.imap:ImapConnector",
    "pop3": "skylift.connectors.pop3:Pop3Connector",
    "pop3s": "skylift.connectors.pop3:Pop3Connector",
    "mbox": "skylift.connectors.mbox:MboxConnector",
    "maildir": "skylift.connectors.maildir:MaildirConnector",
    "eml": "skylift.connectors.eml:EmlConnector",
    "pst": "skylift.connectors.pst:PstConnector",
    "ost": "skylift.connectors.pst:PstConnector",
}


def mail_connector(endpoint: Endpoint) -> MailConnector:
    """Return the connector for *endpoint*'s scheme; ConfigError for an unknown one."""
    target = MAIL_CONNECTORS.get(endpoint.scheme)
    if target is None:
        known = ", ".join(sorted(MAIL_CONNECTORS))
        raise ConfigError(f"unknown mail URL scheme {endpoint.scheme!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(endpoint)  # type: ignore[no-any-return]
