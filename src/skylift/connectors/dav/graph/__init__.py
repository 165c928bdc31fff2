"""Microsoft Graph as a DAV-kind target (Exchange Online has no CalDAV or CardDAV)."""
