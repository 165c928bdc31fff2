"""Outlook PST/OST archives over libpff: folders, messages, non-mail items, embedded messages."""
