"""Connector registry: URL scheme -> "module:Class", imported on first use.

A new connector adds one line here; nothing else in skylift names a concrete connector.
"""

from __future__ import annotations

import importlib
from typing import Any

from skylift.connectors.dav.base import DavConnector, DavSource, DavTarget
from skylift.connectors.directory.base import (
    DirectoryConnector,
    DirectorySource,
    DirectoryTarget,
    SourceSettings,
    TargetSettings,
)
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.im.base import ImAccount, ImConnector
from skylift.connectors.library.base import LibraryConnector, LibraryTarget
from skylift.connectors.mail.base import MailConnector
from skylift.errors import ConfigError
from skylift.model.account import Login, Secret
from skylift.model.dav import DavKind

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


def _load(table: dict[str, str], endpoint: Endpoint, what: str) -> Any:
    """The class *table* names for *endpoint*'s scheme, imported now; ConfigError if unknown."""
    target = table.get(endpoint.scheme)
    if target is None:
        known = ", ".join(sorted(table))
        raise ConfigError(f"unknown {what} URL scheme {endpoint.scheme!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def mail_connector(endpoint: Endpoint) -> MailConnector:
    """Return the connector for *endpoint*'s scheme; ConfigError for an unknown one."""
    return _load(MAIL_CONNECTORS, endpoint, "mail")(endpoint)  # type: ignore[no-any-return]


DAV_CONNECTORS: dict[str, str] = {
    "caldav+https": "skylift.connectors.dav.client:DavHttpConnector",
    "caldav+http": "skylift.connectors.dav.client:DavHttpConnector",
    "carddav+https": "skylift.connectors.dav.client:DavHttpConnector",
    "carddav+http": "skylift.connectors.dav.client:DavHttpConnector",
    "ics": "skylift.connectors.dav.ics_files:IcsFileConnector",
    "vcf": "skylift.connectors.dav.vcf_files:VcfFileConnector",
    "google+https": "skylift.connectors.dav.google.calendar:GoogleCalendarConnector",
    "google+http": "skylift.connectors.dav.google.calendar:GoogleCalendarConnector",
    "graph+https": "skylift.connectors.dav.graph.calendar:GraphCalendarConnector",
    "graph+http": "skylift.connectors.dav.graph.calendar:GraphCalendarConnector",
}


def dav_connector(endpoint: Endpoint, kind: DavKind) -> DavConnector:
    """Return the calendar/contacts connector for *endpoint*'s scheme; ConfigError if unknown."""
    cls = _load(DAV_CONNECTORS, endpoint, "calendar/contacts")
    return cls(endpoint, kind)  # type: ignore[no-any-return]


def dav_source(endpoint: Endpoint, kind: DavKind, login: Login) -> DavSource:
    """Open *login*'s calendars or address books behind *endpoint* for reading."""
    return dav_connector(endpoint, kind).open_source(login)


def dav_target(endpoint: Endpoint, kind: DavKind, login: Login) -> DavTarget:
    """Open *login*'s calendars or address books behind *endpoint* for writing."""
    connector = dav_connector(endpoint, kind)
    if not connector.capabilities.writes:
        raise ConfigError(f"{endpoint.scheme}:// is a source only; it cannot be written to")
    return connector.open_target(login)


LIBRARY_CONNECTORS: dict[str, str] = {
    "webdav+https": "skylift.connectors.library.webdav:WebDavLibraryConnector",
    "webdav+http": "skylift.connectors.library.webdav:WebDavLibraryConnector",
    "folder": "skylift.connectors.library.files:FolderLibraryConnector",
    "memory-library": "skylift.connectors.library.memory:MemoryLibraryConnector",
}


def library_connector(endpoint: Endpoint) -> LibraryConnector:
    """The document library connector for *endpoint*'s scheme; ConfigError if unknown."""
    return _load(LIBRARY_CONNECTORS, endpoint, "document library")(endpoint)  # type: ignore[no-any-return]


def library_target(endpoint: Endpoint, login: Login) -> LibraryTarget:
    """Open the document library at *endpoint* for writing."""
    return library_connector(endpoint).open(login)


IM_CONNECTORS: dict[str, str] = {
    "xmpp": "skylift.connectors.im.xmpp:XmppConnector",
}


def im_account(endpoint: Endpoint, login: Login) -> ImAccount:
    """Sign in to one instant-messaging account at *endpoint*."""
    connector: ImConnector = _load(IM_CONNECTORS, endpoint, "instant messaging")(endpoint)
    return connector.open(login)


DIRECTORY_CONNECTORS: dict[str, str] = {
    "ldap": "skylift.connectors.directory.ldap:LdapDirectoryConnector",
    "ldaps": "skylift.connectors.directory.ldap:LdapDirectoryConnector",
    "scim+http": "skylift.connectors.directory.scim:ScimDirectoryConnector",
    "scim+https": "skylift.connectors.directory.scim:ScimDirectoryConnector",
    "memory": "skylift.connectors.directory.memory:MemoryDirectoryConnector",
    "google-directory+https": "skylift.connectors.directory.google:GoogleDirectoryConnector",
    "google-directory+http": "skylift.connectors.directory.google:GoogleDirectoryConnector",
    "graph-directory+https": "skylift.connectors.directory.graph:GraphDirectoryConnector",
    "graph-directory+http": "skylift.connectors.directory.graph:GraphDirectoryConnector",
}


def directory_connector(endpoint: Endpoint) -> DirectoryConnector:
    """The directory connector for *endpoint*'s scheme; ConfigError for an unknown one."""
    return _load(DIRECTORY_CONNECTORS, endpoint, "directory")(endpoint)  # type: ignore[no-any-return]


def directory_source(endpoint: Endpoint, settings: SourceSettings) -> DirectorySource:
    """Open the source directory at *endpoint* (connect and bind)."""
    return directory_connector(endpoint).open_source(settings)


def directory_target(endpoint: Endpoint, settings: TargetSettings) -> DirectoryTarget:
    """Open the target directory at *endpoint* (connect, bind or discover)."""
    return directory_connector(endpoint).open_target(settings)


def directory_routing(
    endpoint: Endpoint, bind_dn: str, password: Secret | None, base: str, attribute: str
) -> Any:
    """The routing attribute writer of an LDAP directory (``mailRoutingAddress``, AD's
    ``targetAddress``) for a cut-over (``ldap://`` or ``ldaps://`` only)."""
    if endpoint.scheme not in ("ldap", "ldaps"):
        raise ConfigError(f"--routing-ldap {endpoint.display()}: use ldap:// or ldaps://")
    module = importlib.import_module("skylift.connectors.directory.ldap_routing")
    return module.open_routing_attribute(endpoint, bind_dn, password, base, attribute)
