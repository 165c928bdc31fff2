"""take_inventory over the in-memory reference mailbox: counts, histogram, bounded detail."""

from __future__ import annotations

from skylift.connectors.mail.base import Namespace
from skylift.connectors.mail.memory import MemoryMailbox
from skylift.engine.assess.checks import ITEM_FINDINGS_PER_USER, check_mailbox
from skylift.engine.assess.inventory import LARGE_ITEMS_PER_FOLDER, classify, take_inventory
from skylift.engine.profiles import load_profile
from skylift.model.mail import Folder


def test_counts_sizes_and_bounded_large_item_detail(tmp_path):
    profile_file = tmp_path / "small.toml"
    profile_file.write_text("[limits.max_item_bytes]\nvalue = 1000\n")
    profile = load_profile(str(profile_file))
    box = MemoryMailbox()
    for n in range(LARGE_ITEMS_PER_FOLDER + 50):
        box.put(("Archive",), b"Subject: big\r\n\r\n" + b"x" * (2000 + n))
    box.put(("INBOX",), b"Subject: small\r\n\r\nhi\r\n")
    inv = take_inventory(box, "ann@example.com", "ann", large_item_bytes=1000)
    archive = next(f for f in inv.folders if f.path == ("Archive",))
    assert archive.count == LARGE_ITEMS_PER_FOLDER + 50
    assert len(archive.large_items) == LARGE_ITEMS_PER_FOLDER  # memory stays bounded
    assert archive.large_items_more == 50
    assert inv.count == LARGE_ITEMS_PER_FOLDER + 51
    assert sum(inv.histogram()) == inv.count
    findings = check_mailbox(inv, profile)
    big = [f for f in findings if f.kind == "item-too-large"]
    assert len(big) == ITEM_FINDINGS_PER_USER + 1
    assert big[-1].item is None and "150 more items" in big[-1].detail


def test_namespace_classification_picks_the_longest_prefix():
    spaces = [Namespace("personal", "", "."), Namespace("other", "shared.", "."),
              Namespace("shared", "Public.", ".")]  # fmt: skip
    assert classify(Folder(("shared", "bob", "Projects")), spaces) == ("other", "bob")
    assert classify(Folder(("Public", "News")), spaces) == ("shared", None)
    assert classify(Folder(("sharedstuff",)), spaces) == ("personal", None)
    assert classify(Folder(("INBOX",)), spaces) == ("personal", None)
