"""The LMTP-taking Dovecot of the routing tests: it lives in skylift.demo.lmtp_dovecot, so
``skylift demo`` delivers mail the same way the tests do."""

from skylift.demo.lmtp_dovecot import LmtpDovecot

__all__ = ["LmtpDovecot"]
