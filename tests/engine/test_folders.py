"""Folder mapping rules: special folders, separators, collisions, filters — pure and stable."""

from __future__ import annotations

import pytest

from skylift.engine.mail.folders import FolderRules, map_folders, parse_map_folder, role_of
from skylift.model.mail import Folder

TARGET = [
    Folder(("INBOX",), role="inbox"),
    Folder(("Sent",), role="sent"),
    Folder(("Trash",), role="trash"),
    Folder(("Junk",), role="junk"),
    Folder(("Drafts",), role="drafts"),
]


def _map(names: list[tuple[str, ...]], **kw: object) -> dict[str, tuple[str, str | None]]:
    result = map_folders(
        [Folder(p) for p in names],
        TARGET,
        target_separator=kw.pop("sep", "/"),
        **kw,  # type: ignore[arg-type]
    )
    return {m.source_name: (m.target_name, m.reason) for m in result}


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("Sent Items", "sent"),
        ("Gesendete Objekte", "sent"),
        ("Éléments envoyés", "sent"),
        ("Deleted Items", "trash"),
        ("Papierkorb", "trash"),
        ("Junk E-mail", "junk"),
        ("Courrier indésirable", "junk"),
        ("Entwürfe", "drafts"),
        ("Archief", "archive"),
        ("Projects", None),
    ],
)
def test_well_known_names_in_several_languages_have_roles(name: str, role: str | None) -> None:
    assert role_of(Folder((name,))) == role


def test_special_folders_and_their_children_land_in_the_targets_own() -> None:
    mapped = _map(
        [("INBOX",), ("Éléments envoyés",), ("Éléments envoyés", "2019"), ("Papierkorb",)]
    )
    assert mapped["Éléments envoyés"][0] == "Sent"
    assert mapped["Éléments envoyés/2019"][0] == "Sent/2019"
    assert mapped["Papierkorb"][0] == "Trash"
    assert mapped["INBOX"] == ("INBOX", None)


def test_declared_special_use_wins_over_the_name() -> None:
    result = map_folders([Folder(("Outbox copies",), role="sent")], TARGET, target_separator="/")
    assert result[0].target_name == "Sent"


def test_separator_inside_a_name_is_replaced_and_reported() -> None:
    mapped = _map([("a/b",), ("a/b", "c")], sep="/")
    assert mapped["a/b"][0] == "a_b"
    assert mapped["a/b/c"][0] == "a_b/c"
    assert "separator" in (mapped["a/b"][1] or "")


def test_case_collisions_on_a_case_insensitive_target_are_renamed_never_merged() -> None:
    mapped = _map([("Work",), ("work",), ("work", "x")], case_insensitive=True)
    assert mapped["Work"][0] == "Work"
    assert mapped["work"][0] == "work (2)"
    assert mapped["work/x"][0] == "work (2)/x"
    assert "already taken" in (mapped["work"][1] or "")
    # the same names on a case-sensitive target stay as they are
    assert _map([("Work",), ("work",)])["work"][0] == "work"


def test_a_top_level_inbox_lookalike_never_merges_into_inbox() -> None:
    mapped = _map([("INBOX",), ("Inbox",)], case_insensitive=False)
    assert mapped["Inbox"][0] == "Inbox (2)"


def test_reserved_names_are_renamed() -> None:
    mapped = _map([("Calendar",)], reserved=frozenset({"Calendar"}))
    assert mapped["Calendar"][0] == "Calendar (2)"
    assert "reserved" in (mapped["Calendar"][1] or "")


def test_include_exclude_and_explicit_map() -> None:
    rules = FolderRules(
        include=["^(INBOX|Work)"],
        exclude=["Private"],
        map_folder=parse_map_folder(["Work=Old/Work"]),
    )
    mapped = _map(
        [("INBOX",), ("Work",), ("Work", "Private"), ("Work", "2019"), ("Other",)], rules=rules
    )
    assert set(mapped) == {"INBOX", "Work", "Work/2019"}
    assert mapped["Work/2019"] == ("Old/Work/2019", None)


def test_mapping_is_deterministic_whatever_the_listing_order() -> None:
    names = [("b",), ("B",), ("a",), ("Sent Items",), ("Gesendet",)]
    first = _map(names, case_insensitive=True)
    second = _map(list(reversed(names)), case_insensitive=True)
    assert first == second


def test_bad_map_folder_is_refused() -> None:
    with pytest.raises(ValueError, match="OLD=NEW"):
        parse_map_folder(["nothing"])
