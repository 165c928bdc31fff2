"""PST joins the source suite for everything that does not need the logical mailbox.

Opt-out, with its reason: no tool writes PST files, so the logical mailbox cannot be put into
one; what a PST holds is checked against Debian's readpst instead (tests/archives/test_pst.py,
every folder's message count, on real files from several clients). The structural half of the
contract — parents first, listing agrees with fetch, stable uids, clean errors, read-only —
runs here on a real Outlook file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .contract import ConformanceCase, MailSourceContract
from .sources import open_url, tree_snapshot

PST = Path(__file__).parent.parent / "data" / "pst" / "pst-extractor" / "enron.pst"
NO_LOGICAL_MAILBOX = (
    "no tool writes PST, so the logical mailbox cannot be loaded into one; "
    "content is checked against readpst in tests/archives/test_pst.py"
)


class TestPst(MailSourceContract):
    @pytest.fixture
    def case(self, tmp_path: Path) -> ConformanceCase:
        copy = tmp_path / "enron.pst"
        shutil.copy(PST, copy)
        return ConformanceCase(
            open_source=lambda: open_url(f"pst://{copy}"),
            exact_list_sizes=False,  # PST lists an estimate; the MIME is rebuilt on fetch
            snapshot=lambda: tree_snapshot(tmp_path),
        )

    def test_same_folders_hold_mail(self, case: ConformanceCase) -> None:  # type: ignore[override]
        pytest.skip(NO_LOGICAL_MAILBOX)

    def test_same_bytes_in_every_folder(self, case: ConformanceCase) -> None:  # type: ignore[override]
        pytest.skip(NO_LOGICAL_MAILBOX)

    def test_same_flags(self, case: ConformanceCase) -> None:  # type: ignore[override]
        pytest.skip(NO_LOGICAL_MAILBOX)

    def test_same_dates(self, case: ConformanceCase) -> None:  # type: ignore[override]
        pytest.skip(NO_LOGICAL_MAILBOX)
