"""The ``.ics`` and ``.vcf`` file sources join the DAV conformance suite (source half only).

A collection is a folder of single-object files (the vdir layout of khal/vdirsyncer); each
case opens it through the registry by ``ics://`` / ``vcf://`` URL. Files are only read, so
the target half is skipped with ``capabilities.writes`` as the reason.
"""

from pathlib import Path

import pytest

from skylift.connectors import dav_source, dav_target
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ConfigError
from skylift.model.account import Login
from skylift.model.dav import DavKind

from .dav import COLLECTION, DavCase, DavContract, Seeded

SCHEME = {DavKind.CALENDAR: "ics", DavKind.ADDRESSBOOK: "vcf"}


def _case(kind: DavKind, root: Path) -> DavCase:
    url = f"{SCHEME[kind]}://{root}"

    def seed(objects: dict[str, bytes]) -> Seeded:
        folder = root / COLLECTION
        folder.mkdir(parents=True)
        for name, raw in objects.items():
            (folder / name).write_bytes(raw)
        return Seeded(
            lambda: dav_source(Endpoint.parse(url), kind, Login("ada")),
            lambda name, raw: (folder / name).write_bytes(raw),
        )

    return DavCase(kind, seed, notes={"writes": f"{SCHEME[kind]}:// files are read, never written"})


class TestIcsFiles(DavContract):
    @pytest.fixture
    def case(self, tmp_path: Path) -> DavCase:
        return _case(DavKind.CALENDAR, tmp_path / "calendars")


class TestVcfFiles(DavContract):
    @pytest.fixture
    def case(self, tmp_path: Path) -> DavCase:
        return _case(DavKind.ADDRESSBOOK, tmp_path / "contacts")


@pytest.mark.parametrize("kind", list(DavKind))
def test_a_file_url_is_refused_as_target_in_one_line(kind: DavKind, tmp_path: Path) -> None:
    endpoint = Endpoint.parse(f"{SCHEME[kind]}://{tmp_path}")
    with pytest.raises(ConfigError, match=r"is a source only; it cannot be written to"):
        dav_target(endpoint, kind, Login("ada"))
