"""A tree of .eml files joins the conformance suite."""

from pathlib import Path

import pytest

from .contract import ConformanceCase, MailSourceContract
from .mailbox import write_eml_tree
from .sources import open_url, tree_snapshot


@pytest.fixture(scope="module")
def eml_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_eml_tree(tmp_path_factory.mktemp("eml"))


class TestEml(MailSourceContract):
    @pytest.fixture
    def case(self, eml_root: Path) -> ConformanceCase:
        return ConformanceCase(
            open_source=lambda: open_url(f"eml://{eml_root}"),
            keeps_flags=False,
            date_from_header=True,
            notes={"flags, dates": ".eml files keep neither flags nor a delivery time"},
            snapshot=lambda: tree_snapshot(eml_root),
        )
