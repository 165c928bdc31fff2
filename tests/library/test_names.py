"""The documented folder-name rule for libraries (docs/public-folders.md, steps 1-5)."""

from __future__ import annotations

import pytest

from skylift.engine.library.names import MAX_NAME, FolderNames, safe_name


@pytest.mark.parametrize(
    "name,mapped",
    [
        ('a"b*c:d<e>f?g/h\\i|j', "a_b_c_d_e_f_g_h_i_j"),  # step 1: every forbidden character
        ("tab\there", "tab_here"),
        ("  Notes. ", "Notes"),  # step 2: spaces and dots at both ends
        ("...", "_"),
        ("CON", "CON_"),  # step 3: reserved names, with or without an extension
        ("lpt9.txt", "lpt9.txt_"),
        ("desktop.ini", "desktop.ini_"),
        ("~$draft", "_$draft"),
        ("x_vti_y", "x_vti-y"),
        ("Console", "Console"),  # only whole reserved names
        ("Projekte 2024 (ä) #1 50%", "Projekte 2024 (ä) #1 50%"),  # allowed as they are
    ],
)
def test_one_name(name: str, mapped: str) -> None:
    assert safe_name(name) == mapped


def test_siblings_that_end_up_equal_stay_apart() -> None:
    names = FolderNames()
    assert names.map(("Q1: plan",)) == ("Q1_ plan",)
    assert names.map(("q1_ plan",)) == ("q1_ plan (2)",)
    assert names.map(("Q1: plan", "sub")) == ("Q1_ plan", "sub")
    assert names.map(("Q1: plan",)) == ("Q1_ plan",)  # the same answer every time


def test_long_names_and_paths_are_cut_keeping_them_distinct() -> None:
    names = FolderNames(limit=360)
    one, two = names.map(("a" * 300 + "1",)), names.map(("a" * 300 + "2",))
    assert len(one[0]) <= MAX_NAME and one != two and one[0].startswith("a" * 100)
    deep = ("d" * 100,) * 4
    mapped = names.map(deep)
    assert len("/".join(mapped)) <= 360
    assert mapped[:3] == deep[:3]  # only what does not fit is cut
