"""POP3 against Dovecot's POP3 joins the conformance suite (INBOX only, no flags)."""

import pytest

from skylift.demo.dovecot import DovecotServer

from .conftest import PASSWORD, USER, flags_untouched
from .contract import ConformanceCase, MailSourceContract
from .sources import open_url


class TestPop3(MailSourceContract):
    @pytest.fixture
    def case(self, dovecot: DovecotServer) -> ConformanceCase:
        return ConformanceCase(
            open_source=lambda: open_url(dovecot.pop3_url(), USER, PASSWORD),
            folders=(("INBOX",),),
            keeps_flags=False,
            date_from_header=True,
            notes={"all": "POP3 has one folder, no flags and no delivery time"},
            snapshot=lambda: flags_untouched(dovecot),
        )
