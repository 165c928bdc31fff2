"""Apple configuration profiles (``.mobileconfig``) for iPhone, iPad and macOS Mail.

Payload keys follow Apple's Configuration Profile Reference: ``com.apple.mail.managed``
(IMAP/SMTP) on a side without ActiveSync, ``com.apple.eas.account`` (Exchange ActiveSync,
with ``OAuth`` sign-in, iOS 12 and later) where the user lives on Microsoft 365. UUIDs are
derived from the address and side, so downloading again replaces the installed profile
instead of adding a second account. No password is ever put in a profile.
"""

from __future__ import annotations

import plistlib
import uuid
from typing import Any

from skylift.engine.clients.settings import UserSettings

NAMESPACE = uuid.UUID("6f7d0b0e-6a47-4b8e-9a8e-5b1f3a2d9c11")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts))).upper()


def _identifier(domain: str) -> str:
    return ".".join(reversed(domain.split("."))) + ".skylift"


def mobileconfig(settings: UserSettings) -> bytes:
    """The XML plist of the profile (unsigned; see connectors/clients/profile_signing.py)."""
    ident = _identifier(settings.domain)
    address = settings.address
    payloads: list[dict[str, Any]] = []
    if settings.servers.activesync_host:
        payloads.append(
            {
                "PayloadType": "com.apple.eas.account",
                "PayloadVersion": 1,
                "PayloadIdentifier": f"{ident}.eas",
                "PayloadUUID": _uuid(address, settings.side, "eas"),
                "PayloadDisplayName": f"{settings.display_name} (Exchange)",
                "EmailAddress": address,
                "UserName": address,
                "Host": settings.servers.activesync_host,
                "SSL": True,
                "OAuth": True,
            }
        )
    else:
        imap, smtp = settings.imap, settings.smtp
        payloads.append(
            {
                "PayloadType": "com.apple.mail.managed",
                "PayloadVersion": 1,
                "PayloadIdentifier": f"{ident}.mail",
                "PayloadUUID": _uuid(address, settings.side, "mail"),
                "PayloadDisplayName": f"{settings.display_name} mail",
                "EmailAccountDescription": settings.display_name,
                "EmailAccountType": "EmailTypeIMAP",
                "EmailAddress": address,
                "IncomingMailServerAuthentication": "EmailAuthPassword",
                "IncomingMailServerHostName": imap.host,
                "IncomingMailServerPortNumber": imap.port,
                "IncomingMailServerUseSSL": True,
                "IncomingMailServerUsername": address,
                "OutgoingMailServerAuthentication": "EmailAuthPassword",
                "OutgoingMailServerHostName": smtp.host,
                "OutgoingMailServerPortNumber": smtp.port,
                "OutgoingMailServerUseSSL": True,
                "OutgoingMailServerUsername": address,
                "OutgoingPasswordSameAsIncomingPassword": True,
            }
        )
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": ident,
        "PayloadUUID": _uuid(address, settings.side),
        "PayloadDisplayName": f"{settings.display_name} e-mail",
        "PayloadDescription": f"Sets up {address} ({settings.side} servers)",
        "PayloadOrganization": settings.display_name,
        "PayloadRemovalDisallowed": False,
        "PayloadContent": payloads,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)
