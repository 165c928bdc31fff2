"""Maildir, in both layouts Dovecot writes, joins the conformance suite."""

from pathlib import Path

import pytest

from .contract import ConformanceCase, MailSourceContract
from .mailbox import write_maildir
from .sources import open_url, tree_snapshot


@pytest.fixture(scope="module", params=["maildir++", "fs"])
def maildir_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_maildir(tmp_path_factory.mktemp("maildir"), layout=request.param)


class TestMaildir(MailSourceContract):
    @pytest.fixture
    def case(self, maildir_root: Path) -> ConformanceCase:
        return ConformanceCase(
            open_source=lambda: open_url(f"maildir://{maildir_root}"),
            snapshot=lambda: tree_snapshot(maildir_root),
        )
