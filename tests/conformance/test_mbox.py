"""mbox (Thunderbird tree) joins the conformance suite."""

from pathlib import Path

import pytest

from .contract import ConformanceCase, MailSourceContract
from .mailbox import write_mbox_tree
from .sources import open_url, tree_snapshot


@pytest.fixture(scope="module")
def mbox_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mbox_tree(tmp_path_factory.mktemp("mbox"))


class TestMbox(MailSourceContract):
    @pytest.fixture
    def case(self, mbox_root: Path) -> ConformanceCase:
        return ConformanceCase(
            open_source=lambda: open_url(f"mbox://{mbox_root}"),
            keeps_flags=False,
            notes={"flags": "status headers would change the bytes; tests/archives covers them"},
            snapshot=lambda: tree_snapshot(mbox_root),
        )
