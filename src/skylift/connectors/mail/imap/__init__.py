"""IMAP: the session (``connector.py``), the two hot exchanges (``wire.py``), NAMESPACE (``namespace.py``)."""
