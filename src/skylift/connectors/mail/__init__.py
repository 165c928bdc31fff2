"""Mail connectors: IMAP, POP3 and the archive formats, behind one contract (``base.py``)."""
