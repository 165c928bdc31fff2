"""Connector registry: URL scheme -> "module:Class", imported on first use.

A new connector adds one line here; nothing else in skylift names a concrete connector.
"""

from __future__ import annotations

import importlib

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailConnector
from skylift.errors import ConfigError

MAIL_CONNECTORS: dict[str, str] = {
    "imap": "skylift.connectors.mail.imap.connector:ImapConnector",
    "imaps": "skylift.connectors.mail.imap.connector:ImapConnector",
    "pop3": "skylift.connectors.mail.pop3:Pop3Connector",
    "pop3s": "skylift.connectors.mail.pop3:Pop3Connector",
    "mbox": "skylift.connectors.mail.mbox.connector:MboxConnector",
    "maildir": "skylift.connectors.mail.maildir:MaildirConnector",
    "eml": "skylift.connectors.mail.eml:EmlConnector",
    "pst": "skylift.connectors.mail.pst.connector:PstConnector",
    "ost": "skylift.connectors.mail.pst.connector:PstConnector",
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
