"""Each client's answer, built from one :class:`UserSettings`.

- Thunderbird autoconfig ``config-v1.1.xml`` (Mozilla's ConfigFileFormat wiki page, the
  format of the ISPDB at thunderbird/autoconfig; ``%EMAILADDRESS%`` as the user name, as the
  ISPDB and automx2 write it).
- Outlook Autodiscover POX (the ``outlook/responseschema/2006a`` response of [MS-OXDSCLI]:
  ``Encryption`` overrides ``SSL``, ``TLS`` meaning STARTTLS), and the MobileSync response
  ([MS-ASCMD] 6.4) for ActiveSync clients; the JSON v2 answer (``autodiscover.json``) that
  Outlook and Outlook mobile ask first, which only says where the XML is or where ActiveSync is.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from skylift.engine.clients.settings import Server, UserSettings

NS_AUTODISCOVER = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
NS_OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
NS_MOBILESYNC = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
EAS_PATH = "/Microsoft-Server-ActiveSync"


def _xml(root: Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8")


def thunderbird_xml(settings: UserSettings) -> bytes:
    """The ``clientConfig`` document Thunderbird (and K-9/Thunderbird for Android) reads."""
    root = Element("clientConfig", version="1.1")
    provider = SubElement(root, "emailProvider", id=settings.domain)
    SubElement(provider, "domain").text = settings.domain
    SubElement(provider, "displayName").text = settings.display_name
    SubElement(provider, "displayShortName").text = settings.display_name.split(" ")[0]
    for tag, server in (("incomingServer", settings.imap), ("outgoingServer", settings.smtp)):
        element = SubElement(provider, tag, type=server.kind)
        SubElement(element, "hostname").text = server.host
        SubElement(element, "port").text = str(server.port)
        SubElement(element, "socketType").text = server.socket
        SubElement(element, "authentication").text = server.authentication
        SubElement(element, "username").text = "%EMAILADDRESS%"
    return _xml(root)


def _pox_protocol(parent: Element, server: Server, login: str) -> None:
    element = SubElement(parent, "Protocol")
    SubElement(element, "Type").text = server.kind.upper()
    SubElement(element, "Server").text = server.host
    SubElement(element, "Port").text = str(server.port)
    SubElement(element, "DomainRequired").text = "off"
    SubElement(element, "LoginName").text = login
    SubElement(element, "SPA").text = "off"
    SubElement(element, "SSL").text = "on"
    SubElement(element, "Encryption").text = "SSL" if server.socket == "SSL" else "TLS"
    SubElement(element, "AuthRequired").text = "on"
    if server.kind == "smtp":
        SubElement(element, "UsePOPAuth").text = "on"
        SubElement(element, "SMTPLast").text = "off"


def autodiscover_pox(settings: UserSettings, schema: str = NS_OUTLOOK) -> bytes:
    """The POX answer: IMAP and SMTP for Outlook, or the ActiveSync URL for MobileSync.

    A MobileSync request on a side without ActiveSync gets the schema's Error element, the
    same for every address on that side.
    """
    root = Element("Autodiscover", xmlns=NS_AUTODISCOVER)
    if schema == NS_MOBILESYNC:
        response = SubElement(root, "Response", xmlns=NS_MOBILESYNC)
        SubElement(response, "Culture").text = "en:us"
        user = SubElement(response, "User")
        SubElement(user, "DisplayName").text = settings.address
        SubElement(user, "EMailAddress").text = settings.address
        action = SubElement(response, "Action")
        if settings.servers.activesync_host:
            server = SubElement(SubElement(action, "Settings"), "Server")
            SubElement(server, "Type").text = "MobileSync"
            url = f"https://{settings.servers.activesync_host}{EAS_PATH}"
            SubElement(server, "Url").text = url
            SubElement(server, "Name").text = url
        else:
            error = SubElement(action, "Error")
            SubElement(error, "Status").text = "1"
            SubElement(error, "Message").text = "No ActiveSync server for this address; use IMAP"
            SubElement(error, "DebugData").text = "skylift"
        return _xml(root)
    response = SubElement(root, "Response", xmlns=NS_OUTLOOK)
    user = SubElement(response, "User")
    SubElement(user, "DisplayName").text = settings.address
    account = SubElement(response, "Account")
    SubElement(account, "AccountType").text = "email"
    SubElement(account, "Action").text = "settings"
    _pox_protocol(account, settings.imap, settings.address)
    _pox_protocol(account, settings.smtp, settings.address)
    return _xml(root)


def autodiscover_json(
    settings: UserSettings, protocol: str, base_url: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the v2 endpoint, in the shape Exchange Online answers."""
    wanted = protocol.lower()
    if wanted == "autodiscoverv1":
        return 200, {
            "Protocol": "AutodiscoverV1",
            "Url": f"{base_url}/autodiscover/autodiscover.xml",
        }
    if wanted == "activesync" and settings.servers.activesync_host:
        url = f"https://{settings.servers.activesync_host}{EAS_PATH}"
        return 200, {"Protocol": "ActiveSync", "Url": url}
    return 400, {
        "ErrorCode": "ProtocolNotSupported",
        "ErrorMessage": f"The given protocol value '{protocol}' is invalid. "
        "Supported values are 'AutodiscoverV1' and, where ActiveSync is offered, 'ActiveSync'",
    }


def requested_schema(body: bytes) -> tuple[str, str]:
    """(address, AcceptableResponseSchema) of a POX request; ("", outlook) if unreadable.

    Parsed with the standard library's expat, which does not expand external entities.
    """
    from xml.etree.ElementTree import ParseError, fromstring

    try:
        root = fromstring(body[:65536])
    except ParseError:
        return "", NS_OUTLOOK
    address, schema = "", NS_OUTLOOK
    for element in root.iter():
        name = element.tag.rpartition("}")[2]
        if name == "EMailAddress" and element.text:
            address = element.text.strip()
        elif name == "AcceptableResponseSchema" and element.text:
            schema = element.text.strip()
    return address, schema
