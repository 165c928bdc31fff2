"""The places admins route mail: Postfix maps (atomic, with reload), Sieve redirects, and the
SMTP/LMTP client that probes a path and checks a recipient."""
