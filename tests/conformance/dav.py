"""The conformance suite every calendar/contacts connector joins.

A connector's test module subclasses :class:`DavContract` and provides one fixture, ``case``,
returning a :class:`DavCase`: how to make a source holding one collection of given objects
(and change one of them later), and how to open a fresh, empty target account. A source-only
connector (files) gives no target; its target tests are skipped with the capability as the
reason. Each test checks something a user would see: the same bytes after a copy, an ETag
that changes on update, a delete that removes, a too-big object refused in words, a sync
token that gives only the changes, a migration that a rerun leaves alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skylift.connectors.dav.base import DavSource, DavTarget
from skylift.engine.dav.plan import Action
from skylift.engine.dav.sync import RunOptions, migrate_account
from skylift.model.dav import Collection, DavKind
from skylift.state.dav_ledger import DavLedger

COLLECTION = "conformance"


def calendar_object(uid: str, summary: str = "Planning") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//skylift conformance//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART:20240301T090000Z\r\nDTEND:20240301T100000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def vcard(uid: str, name: str = "Ada Lovelace") -> bytes:
    family, _, given = name.partition(" ")[::-1]
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{family};{given};;;\r\n"
        "END:VCARD\r\n"
    ).encode()


def make_object(kind: DavKind, uid: str, text: str = "first") -> bytes:
    return calendar_object(uid, text) if kind is DavKind.CALENDAR else vcard(uid, f"Ada {text}")


def logical_objects(kind: DavKind) -> dict[str, bytes]:
    """The objects every source is loaded with: file name -> bytes."""
    return {f"obj-{n}{kind.suffix}": make_object(kind, f"obj-{n}@conformance") for n in range(3)}


@dataclass
class Seeded:
    """A source loaded with objects: *open* reads it, *change* rewrites one object by name."""

    open: Callable[[], DavSource]
    change: Callable[[str, bytes], None]


@dataclass
class DavCase:
    """One connector under test.

    *seed*: load a collection called :data:`COLLECTION` with name -> bytes and return it.
    *open_target*: a fresh, empty target account (None: source only, say why in *notes*).
    *exact_bytes*: a source serves what was stored byte for byte; a server that
    re-serialises says False (with its reason in *notes*) and must still give back the same
    content lines.
    *same*: for a target that rebuilds objects (a cloud API), when two objects are the same.
    *opt_outs*: test name -> why this connector's semantics differ (a cloud API that is no
    DAV server: no ETag preconditions, no collection marker); each is skipped with its
    reason, so the documented difference shows in every run.
    """

    kind: DavKind
    seed: Callable[[dict[str, bytes]], Seeded]
    open_target: Callable[[], DavTarget] | None = None
    exact_bytes: bool = True
    notes: dict[str, str] = field(default_factory=dict)
    opt_outs: dict[str, str] = field(default_factory=dict)
    #: a target that rebuilds each object from its own model (a cloud API) says what "the
    #: same object" means for it, e.g. the same UID, summary and instants; else lines
    same: Callable[[bytes, bytes], bool] | None = None

    def target(self) -> DavTarget:
        if self.open_target is None:
            pytest.skip(
                "source only: capabilities.writes is False "
                f"({self.notes.get('writes', 'it cannot be written to')})"
            )
        return self.open_target()


Openers = tuple[Callable[[], DavTarget], Callable[[], DavSource]]


def seed_through(fresh_account: Callable[[], Openers]) -> Callable[[dict[str, bytes]], Seeded]:
    """A *seed* for a connector that is also a target: *fresh_account* makes a new account
    and returns how to open it for writing and for reading; objects go in by ``put``."""

    def seed(objects: dict[str, bytes]) -> Seeded:
        open_writer, open_reader = fresh_account()
        with open_writer() as writer:
            spec = Collection(kind=writer.kind, name=COLLECTION)
            made, problems, _ = writer.make_collection(spec)
            assert problems == []
            for name, raw in objects.items():
                assert writer.put(made, name, raw).error is None

        def change(name: str, raw: bytes) -> None:
            with open_writer() as account:
                collection = the_collection(account)
                href = account.item_href(collection, name)
                current = account.get(href)
                assert current is not None
                assert account.put(collection, name, raw, current.etag, href).error is None

        return Seeded(open_reader, change)

    return seed


def the_collection(source: DavSource) -> Collection:
    (found,) = [c for c in source.collections() if c.name == COLLECTION]
    return found


def lines(raw: bytes) -> list[bytes]:
    return sorted(raw.split(b"\r\n"))


def same_objects(case: DavCase, got: list[bytes], want: list[bytes]) -> bool:
    """Byte for byte, or (a server that re-serialises) the same content lines in any order,
    or (a cloud API) the same object by the case's own measure."""
    if case.same is not None:
        if len(got) != len(want):
            return False
        return all(any(case.same(g, w) for w in want) for g in got)
    if case.exact_bytes:
        return sorted(got) == sorted(want)
    return sorted(map(lines, got)) == sorted(map(lines, want))


def read_all(source: DavSource, collection: Collection) -> dict[str, bytes]:
    refs = source.list_items(collection)
    return {item.href: item.raw for item in source.fetch(collection, [r.href for r in refs])}


class _OptOuts:
    @pytest.fixture(autouse=True)
    def _opted_out(self, request: pytest.FixtureRequest, case: DavCase) -> None:
        """Skip a contract test the connector documents an opt-out for (DavCase.opt_outs)."""
        why = case.opt_outs.get(request.node.originalname)
        if why:
            pytest.skip(f"opt-out: {why}")


class DavSourceContract(_OptOuts):
    """What every DAV source does; subclass and provide a ``case`` fixture."""

    def test_capabilities_are_declared(self, case: DavCase) -> None:
        with case.seed(logical_objects(case.kind)).open() as source:
            assert source.capabilities.writes == (case.open_target is not None)

    def test_collection_is_listed_with_its_kind(self, case: DavCase) -> None:
        with case.seed(logical_objects(case.kind)).open() as source:
            collection = the_collection(source)
            assert collection.kind is case.kind

    def test_same_bytes_come_out(self, case: DavCase) -> None:
        objects = logical_objects(case.kind)
        with case.seed(objects).open() as source:
            got = read_all(source, the_collection(source))
        assert len(got) == len(objects)
        assert same_objects(case, list(got.values()), list(objects.values()))

    def test_listing_matches_fetch_with_etags(self, case: DavCase) -> None:
        with case.seed(logical_objects(case.kind)).open() as source:
            collection = the_collection(source)
            refs = {ref.href: ref.etag for ref in source.list_items(collection)}
            fetched = {i.href: i.etag for i in source.fetch(collection, list(refs))}
        assert fetched.keys() == refs.keys()
        assert all(refs.values()), "every object is listed with an ETag"
        assert fetched == refs

    def test_vanished_href_is_left_out(self, case: DavCase) -> None:
        with case.seed(logical_objects(case.kind)).open() as source:
            collection = the_collection(source)
            first = source.list_items(collection)[0].href
            missing = first.rpartition("/")[0] + "/no-such-object" + case.kind.suffix
            got = [item.href for item in source.fetch(collection, [first, missing])]
        assert got == [first]

    def test_marker_is_stable_and_changes_with_the_content(self, case: DavCase) -> None:
        objects = logical_objects(case.kind)
        seeded = case.seed(objects)
        with seeded.open() as source:
            collection = the_collection(source)
            before = source.marker(collection)
            read_all(source, collection)
            assert source.marker(collection) == before, "reading changed the marker"
        name = next(iter(objects))
        seeded.change(name, make_object(case.kind, "obj-0@conformance", "second"))
        with seeded.open() as source:
            after = source.marker(the_collection(source))
        assert before is not None and after is not None and after != before

    def test_sync_token_gives_only_the_changes(self, case: DavCase) -> None:
        objects = logical_objects(case.kind)
        seeded = case.seed(objects)
        with seeded.open() as source:
            if not source.capabilities.sync_collection:
                with pytest.raises(NotImplementedError):
                    source.changes_since(the_collection(source), "any")
                pytest.skip("capabilities.sync_collection is False: no sync token to test")
            collection = the_collection(source)
            token = collection.sync_token
            hrefs = {ref.href for ref in source.list_items(collection)}
        assert token, "a sync_collection source announces a sync token"
        seeded.change("obj-1" + case.kind.suffix, make_object(case.kind, "obj-1@conformance", "x"))
        with seeded.open() as source:
            collection = the_collection(source)
            delta = source.changes_since(collection, token)
            assert delta is not None
            changed, removed, new_token = delta
            assert removed == []
            assert len(changed) == 1 and changed[0].href in hrefs
            (item,) = source.fetch(collection, [changed[0].href])
            assert b"x" in item.raw and item.etag == changed[0].etag
            assert new_token != token
            assert source.changes_since(collection, new_token) == ([], [], new_token)


class DavTargetContract(_OptOuts):
    """What every DAV target does; skipped (with the capability) for a source only."""

    def _collection(self, target: DavTarget, kind: DavKind) -> Collection:
        spec = Collection(kind=kind, name=COLLECTION, display_name="Conformance")
        made, problems, _ = target.make_collection(spec)
        assert problems == []
        return made

    def test_put_then_get_gives_the_same_bytes_and_an_etag(self, case: DavCase) -> None:
        with case.target() as target:
            collection = self._collection(target, case.kind)
            raw = make_object(case.kind, "put-get@conformance")
            result = target.put(collection, "put-get" + case.kind.suffix, raw)
            assert result.error is None and result.etag
            got = target.get(result.href)
            assert got is not None
            assert same_objects(case, [got.raw], [raw])
            assert {r.href: r.etag for r in target.list_items(collection)} == {
                result.href: result.etag
            }

    def test_create_only_put_does_not_overwrite(self, case: DavCase) -> None:
        with case.target() as target:
            collection = self._collection(target, case.kind)
            name = "once" + case.kind.suffix
            first = target.put(collection, name, make_object(case.kind, "once@conformance"))
            again = target.put(collection, name, make_object(case.kind, "once@conformance", "2"))
            assert again.conflict and again.error
            got = target.get(first.href)
            assert got is not None and got.etag == first.etag

    def test_update_changes_the_etag_and_a_stale_one_is_refused(self, case: DavCase) -> None:
        with case.target() as target:
            collection = self._collection(target, case.kind)
            name = "upd" + case.kind.suffix
            first = target.put(collection, name, make_object(case.kind, "upd@conformance"))
            newer = make_object(case.kind, "upd@conformance", "second")
            second = target.put(collection, name, newer, first.etag, first.href)
            assert second.error is None and second.etag and second.etag != first.etag
            stale = target.put(collection, name, make_object(case.kind, "upd@conformance", "3"),
                               first.etag, first.href)  # fmt: skip
            assert stale.conflict
            got = target.get(first.href)
            assert got is not None and got.etag == second.etag
            assert b"second" in got.raw

    def test_delete_removes_and_a_stale_etag_keeps_it(self, case: DavCase) -> None:
        with case.target() as target:
            collection = self._collection(target, case.kind)
            kept = target.put(collection, "k" + case.kind.suffix, make_object(case.kind, "k@c"))
            gone = target.put(collection, "g" + case.kind.suffix, make_object(case.kind, "g@c"))
            assert target.delete(kept.href, '"not-its-etag"') is not None
            assert target.delete(gone.href, gone.etag) is None
            assert target.get(gone.href) is None
            assert [r.href for r in target.list_items(collection)] == [kept.href]
            assert target.delete(gone.href) is None, "deleting what is gone is done"

    def test_too_big_object_is_refused_in_words(self, case: DavCase) -> None:
        with case.target() as target:
            collection = self._collection(target, case.kind)
            limit = collection.max_resource_size or target.capabilities.max_resource_size
            if not limit:
                pytest.skip(
                    "no size limit: capabilities.max_resource_size is None and the collection "
                    f"announces none ({case.notes.get('size', 'the server keeps any size')})"
                )
            raw = make_object(case.kind, "big@conformance", "x" * (limit + 1))
            result = target.put(collection, "big" + case.kind.suffix, raw)
            assert result.error, "a too-big object is refused with the target's words"
            assert target.get(result.href) is None

    def test_collection_is_made_once_with_its_properties(self, case: DavCase) -> None:
        with case.target() as target:
            made = self._collection(target, case.kind)
            again, problems, _ = target.make_collection(
                Collection(kind=case.kind, name=COLLECTION, display_name="Other")
            )
            assert problems == [] and again.href == made.href
            (listed,) = [c for c in target.collections() if c.name == COLLECTION]
            assert listed.display_name == "Conformance"
            if not target.capabilities.properties:
                return
            assert target.set_properties(made.href, {"displayname": "Renamed"}) == []
            (listed,) = [c for c in target.collections() if c.name == COLLECTION]
            assert listed.display_name == "Renamed"

    def test_marker_changes_on_every_write(self, case: DavCase) -> None:
        with case.target() as target:
            collection = self._collection(target, case.kind)
            before = target.marker(collection)
            target.put(collection, "m" + case.kind.suffix, make_object(case.kind, "m@c"))
            after = target.marker(collection)
            assert after is not None and after != before

    def test_a_migration_arrives_whole_and_a_rerun_copies_nothing(
        self, case: DavCase, tmp_path: Path
    ) -> None:
        from skylift.connectors.dav.memory import MemoryDavServer

        objects = logical_objects(case.kind)
        source = MemoryDavServer().account("ada", case.kind)
        spec, _, _ = source.make_collection(Collection(kind=case.kind, name=COLLECTION))
        for name, raw in objects.items():
            source.put(spec, name, raw)
        ledger = DavLedger(str(tmp_path / "ledger.db"))
        options = RunOptions(case.kind, export_dir=tmp_path / "export")
        try:
            with case.target() as target:
                (first,) = migrate_account(source, target, ledger, "ada", options)
                assert first.count(Action.CREATE) == len(objects) and not first.failed
                (second,) = migrate_account(source, target, ledger, "ada", options)
                assert second.unchanged or second.count(Action.SKIP) == len(objects)
                assert second.count(Action.CREATE) + second.count(Action.UPDATE) == 0
                got = read_all(target, the_collection(target))
        finally:
            ledger.close()
        assert len(got) == len(objects)
        assert same_objects(case, list(got.values()), list(objects.values()))


class DavContract(DavSourceContract, DavTargetContract):
    """Both halves; a source-only connector's target tests skip with the capability."""
