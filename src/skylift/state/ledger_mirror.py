"""Keep the two directions of a coexisting mailbox's ledger in step.

Between cut-over and rollback mail is copied both ways: source -> target (``migrate``) and,
on rollback, target -> source (a reverse delta under the key ``<user>#rollback``). A message
one direction copied is, for the other direction, a message already there: without telling
the other ledger, the next run the other way would copy it back a second time. After each
pass, every copied row of one direction is written into the other as the same message seen
from the other side (its target UID becomes the source UID), in the folders whose validity
the other direction already recorded. A folder the other direction never saw needs nothing:
its first pass matches messages by fingerprint.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert, select

from skylift.state import schema as t

REVERSE_SUFFIX = "#rollback"


def reverse_key(key: str) -> str:
    """The ledger key of the target -> source direction of mailbox *key*."""
    return f"{key}{REVERSE_SUFFIX}"


def mirror(engine: Engine, from_key: str, to_key: str) -> int:
    """Write *from_key*'s copied rows into *to_key*'s ledger; return the rows added."""
    c = t.messages.c
    added = 0
    with engine.begin() as conn:
        validity: dict[str, str] = {}
        for folder, valid in conn.execute(
            select(c.source_folder, c.source_validity).where(c.mailbox == to_key).order_by(c.id)
        ):
            validity[folder] = valid  # the newest epoch of each folder wins
        known = {
            (r.source_folder, r.source_validity, r.source_uid)
            for r in conn.execute(
                select(c.source_folder, c.source_validity, c.source_uid).where(c.mailbox == to_key)
            )
        }
        rows = conn.execute(
            select(t.messages).where(
                c.mailbox == from_key, c.state == "copied", c.target_uid.is_not(None)
            )
        ).mappings()
        new = []
        for r in rows:
            valid = validity.get(r["target_folder"])
            key = (r["target_folder"], valid, r["target_uid"])
            if valid is None or key in known:
                continue
            known.add(key)
            new.append(
                {
                    "mailbox": to_key, "source_folder": r["target_folder"],
                    "source_validity": valid, "source_uid": r["target_uid"],
                    "target_folder": r["source_folder"], "target_uid": r["source_uid"],
                    "target_mark": None, "fingerprint": r["fingerprint"], "size": r["size"],
                    "flags": r["flags"], "state": "copied", "copied_at": r["copied_at"],
                }
            )  # fmt: skip
        if new:
            conn.execute(insert(t.messages), new)
            added = len(new)
    return added


def folder_pairs(engine: Engine, key: str) -> dict[str, str]:
    """Source folder -> target folder, as mailbox *key*'s passes mapped them.

    The reverse direction maps each folder back where it came from (the inverse of this),
    not by its own rules: those would send the target's special "Sent" to a new "Sent" on
    the source rather than home to "Gesendete Objekte", and the next pass forward would map
    that new folder again, one more "Sent (2)" each round trip.
    """
    marks, c = t.folder_marks.c, t.messages.c
    pairs: dict[str, str] = {}
    with engine.connect() as conn:
        for source, target in conn.execute(
            select(c.source_folder, c.target_folder).where(c.mailbox == key).distinct()
        ):
            pairs.setdefault(source, target)
        for source, target in conn.execute(
            select(marks.source_folder, marks.target_folder).where(marks.mailbox == key)
        ):
            pairs[source] = target  # the latest pass's mapping wins
    return pairs


def inverse_folders(engine: Engine, key: str) -> dict[str, str]:
    """Target folder -> the source folder it came from (for the reverse direction)."""
    inverse: dict[str, str] = {}
    clashes: set[str] = set()
    for source, target in folder_pairs(engine, key).items():
        if target in inverse and inverse[target] != source:
            clashes.add(target)
        inverse[target] = source
    return {k: v for k, v in inverse.items() if k not in clashes and k.upper() != "INBOX"}
