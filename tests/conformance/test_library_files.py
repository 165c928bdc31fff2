"""A local folder (``folder:///path``) passes the library contract, file times included."""

from __future__ import annotations

from pathlib import Path

import pytest

from skylift.connectors import library_target
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.library.base import LibraryTarget
from skylift.model.account import Login
from tests.conformance.library import LibraryContract


class TestFolderLibrary(LibraryContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self.root = tmp_path

    def library(self) -> LibraryTarget:
        return library_target(
            Endpoint.parse(self.root.as_uri().replace("file:", "folder:")), Login("")
        )
