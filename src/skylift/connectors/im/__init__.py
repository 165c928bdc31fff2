"""Instant-messaging accounts (XMPP): contact lists (rosters) to read and write."""
