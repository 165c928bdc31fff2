"""IMAP against Dovecot joins the conformance suite."""

import pytest

from skylift.demo.dovecot import DovecotServer

from .conftest import PASSWORD, USER, flags_untouched
from .contract import ConformanceCase, MailSourceContract
from .sources import open_url


class TestImap(MailSourceContract):
    @pytest.fixture
    def case(self, dovecot: DovecotServer) -> ConformanceCase:
        return ConformanceCase(
            open_source=lambda: open_url(dovecot.imap_url(), USER, PASSWORD, allow_plaintext=True),
            snapshot=lambda: flags_untouched(dovecot),
        )
