"""What every document library target must do (memory is the reference, WebDAV the real one).

A subclass provides ``library()``: a fresh, empty library opened for writing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skylift.connectors.library.base import LibraryFile, LibraryTarget

ODD = "Sales: EMEA 50% #1 (ä)"  # characters every library takes once names are mapped


class LibraryContract:
    def library(self) -> LibraryTarget:
        raise NotImplementedError

    def test_files_come_back_byte_for_byte(self) -> None:
        lib = self.library()
        data = b"From: a@b\r\nSubject: x\r\n\r\nbody\r\n" + bytes(range(256)) * 100
        lib.ensure_folder(("Team", "2024"))
        lib.put(("Team", "2024"), "m 1.eml", data)
        assert lib.get(("Team", "2024"), "m 1.eml") == data
        assert lib.list(("Team", "2024")) == [LibraryFile("m 1.eml", len(data))]

    def test_put_replaces_and_never_adds(self) -> None:
        lib = self.library()
        lib.ensure_folder(("A",))
        lib.put(("A",), "x.eml", b"one")
        lib.put(("A",), "x.eml", b"two!")
        assert lib.list(("A",)) == [LibraryFile("x.eml", 4)]
        assert lib.get(("A",), "x.eml") == b"two!"

    def test_folders_are_idempotent_and_listing_skips_subfolders(self) -> None:
        lib = self.library()
        lib.ensure_folder((ODD, "child"))
        lib.ensure_folder((ODD, "child"))
        lib.put((ODD,), "f.html", b"<p>")
        assert [f.name for f in lib.list((ODD,))] == ["f.html"]
        assert lib.list(("missing",)) == []
        assert lib.get(("missing",), "f") is None

    def test_file_times_only_where_declared(self) -> None:
        lib = self.library()
        when = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
        lib.ensure_folder(("T",))
        lib.put(("T",), "d.eml", b"x", when)
        if not lib.capabilities.file_times:
            pytest.skip("capabilities.file_times is False: the date goes into the name")
        assert lib.mtime(("T",), "d.eml") == when
