"""Where the real-world archives live (tests/data), and a helper to open one by URL."""

from __future__ import annotations

import lzma
import shutil
from pathlib import Path

import pytest

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailSource
from skylift.model.account import Login

DATA = Path(__file__).resolve().parent.parent / "data"


def open_archive(scheme: str, root: Path, user: str = "", **options: str) -> MailSource:
    """Open *root* (or *user* inside it) the way ``skylift migrate --source`` does."""
    endpoint = Endpoint.parse(f"{scheme}://{root}", options=dict(options))
    return mail_connector(endpoint).open_source(Login(user))


@pytest.fixture(scope="session")
def ost_2013(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Outlook.com OST (4 KiB pages), stored xz-compressed, unpacked once."""
    packed = DATA / "pst" / "pst-extractor" / "pstextractortest@outlook.com.ost.xz"
    target = tmp_path_factory.mktemp("ost") / "pstextractortest@outlook.com.ost"
    with lzma.open(packed) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target
