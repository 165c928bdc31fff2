"""The in-memory library passes the library contract (it is the reference)."""

from __future__ import annotations

from skylift.connectors.library.memory import MemoryLibrary
from tests.conformance.library import LibraryContract


class TestMemoryLibrary(LibraryContract):
    def library(self) -> MemoryLibrary:
        return MemoryLibrary()
