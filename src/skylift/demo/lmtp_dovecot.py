"""A Dovecot that also takes mail by LMTP on a TCP port (an MTA's final hop).

The plain DovecotServer only speaks IMAP and POP3; this adds ``lmtp`` to ``protocols`` and an
``inet_listener`` on 127.0.0.1, leaving every other setting as it is. The demo's on-prem
Postfix delivers to one, the routing tests' Postfixes to two. *lmtp_local_part* makes LMTP
deliver ``alice@new.example`` to the login ``alice`` (an on-prem server whose logins have
no domain, as the demo's old server).
"""

from __future__ import annotations

from dataclasses import dataclass

from skylift.demo.dovecot import DovecotServer, free_port


@dataclass
class LmtpDovecot(DovecotServer):
    lmtp_port: int = 0
    lmtp_local_part: bool = False

    def _config(self) -> str:
        text = super()._config()
        text = text.replace("protocols = imap pop3\n", "protocols = imap pop3 lmtp\n")
        text = text.replace(
            "service lmtp {\n  unix_listener lmtp {\n    mode = 0600\n  }\n}",
            "service lmtp {\n  unix_listener lmtp {\n    mode = 0600\n  }\n"
            f"  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {self.lmtp_port}\n  }}\n}}",
        )
        if self.lmtp_local_part:
            text += "protocol lmtp {\n  auth_username_format = %Ln\n}\n"
        return text

    def _pick_ports(self) -> None:
        super()._pick_ports()
        taken = {self.imap_port, self.pop3_port, self.imaps_port}
        while not self.lmtp_port or self.lmtp_port in taken:
            self.lmtp_port = free_port()

    def lmtp_url(self) -> str:
        return f"lmtp://127.0.0.1:{self.lmtp_port}"
