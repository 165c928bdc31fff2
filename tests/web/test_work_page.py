"""The work page shows each directory pair's newest preview: what ``dirsync --apply`` would
do now, read from the state store the CLI's preview wrote."""

from __future__ import annotations

from skylift.state.directory_journal import DirectoryJournal
from tests.web.conftest import Org, Web, session


def test_the_newest_directory_preview_is_on_the_work_page(org: Org, web: Web) -> None:
    journal = DirectoryJournal(org.state, "ldap://dc.old.example -> scim://new.example")
    try:
        journal.record_preview("dirsync-old", [("create", "user", "stale", "create")])
        journal.record_preview(
            "dirsync-new",
            [("create", "user", "ann@new.example", "create"),
             ("disable", "user", "bob@new.example", "left the source scope")],
        )  # fmt: skip
    finally:
        journal.close()
    client, _ = session(web, "manager")  # a viewer sees it too
    try:
        page = client.get("/work")
    finally:
        client.close()
    assert page.status_code == 200
    table = page.text.split('id="dirsync-preview"', 1)[1].split("</table>", 1)[0]
    assert "ann@new.example" in table and "left the source scope" in table
    assert "stale" not in table  # only the newest preview of the pair
