"""NAMESPACE answers of real servers (as recorded from Cyrus, Courier and Dovecot) mapped to
folder paths: what a user's folder is called on each, and which names are not theirs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from skylift.connectors.mail.imap.namespace import NamespaceMap

CYRUS_DEBIAN = NamespaceMap.from_response(
    SimpleNamespace(personal=(("INBOX.", "."),), other=(("user.", "."),), shared=(("", "."),))
)
CYRUS_UPSTREAM = NamespaceMap.from_response(
    SimpleNamespace(
        personal=(("", "/"),), other=(("Other Users/", "/"),), shared=(("Shared Folders/", "/"),)
    )
)
COURIER = NamespaceMap.from_response(
    SimpleNamespace(personal=((b"INBOX.", b"."),), other=None, shared=((b"#shared.", b"."),))
)
DOVECOT = NamespaceMap.from_response(SimpleNamespace(personal=(("", "/"),), other=(), shared=()))


@pytest.mark.parametrize(
    ("names", "server", "path"),
    [
        ("INBOX", CYRUS_DEBIAN, ("INBOX",)),
        ("INBOX.Sent", CYRUS_DEBIAN, ("Sent",)),
        ("inbox.Work.2019", CYRUS_DEBIAN, ("Work", "2019")),
        ("news", CYRUS_DEBIAN, None),  # the empty shared prefix: a public folder
        ("user.bob.Project", CYRUS_DEBIAN, None),
        ("Sent", CYRUS_UPSTREAM, ("Sent",)),
        ("Shared Folders/news", CYRUS_UPSTREAM, None),
        ("Other Users/bob/Project", CYRUS_UPSTREAM, None),
        ("INBOX.Drafts", COURIER, ("Drafts",)),
        ("#shared.lists", COURIER, None),
        ("Work/2019", DOVECOT, ("Work", "2019")),
    ],
)
def test_server_names_map_to_the_users_paths(
    names: str, server: NamespaceMap, path: tuple[str, ...] | None
) -> None:
    assert server.to_path(names) == path
    if path is not None and names != "inbox.Work.2019":
        assert server.to_name(path) == names  # and back


def test_prefixes_at_the_users_level_are_reserved() -> None:
    assert CYRUS_UPSTREAM.reserved() == {"Shared Folders", "Other Users"}
    assert CYRUS_DEBIAN.reserved() == frozenset()  # the user's names all live under INBOX.
    assert DOVECOT.reserved() == frozenset()
