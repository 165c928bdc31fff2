"""Copy oversize messages with their large attachments in a library (``--detach-over``).

Part of a mailbox's folder pass (``sync.py``), kept apart so the pass stays one idea: the
rewrite itself is ``detach.py`` (pure); here it is fetched, stored in the library, appended
and recorded with the same pending -> copied ledger steps as every other append.
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING

from skylift.connectors.library.base import LibraryTarget
from skylift.engine.mail.detach import detach
from skylift.engine.mail.folders import FolderMapping
from skylift.engine.mail.report import FolderReport
from skylift.model.mail import Message, MessageRef, fingerprint
from skylift.state.store import CopyRecord

if TYPE_CHECKING:
    from skylift.engine.mail.sync import MailboxMigration


def file_safe(name: str) -> str:
    """A name any library takes (the strict SharePoint set; see docs/oversize.md)."""
    return re.sub(r'[\x00-\x1f"*:<>?/\\|]', "_", name).strip(" .") or "_"


def _link(library: LibraryTarget, where: tuple[str, ...], name: str) -> str:
    return library.url_of(where, file_safe(name))


def copy_detached(
    run: MailboxMigration, m: FolderMapping, fr: FolderReport, refs: list[tuple[MessageRef, str]],
    validity: str, target_existed: bool,
) -> list[tuple[MessageRef, str]]:  # fmt: skip
    """Copy each oversize message with its large attachments in the library; return the
    ones that still do not fit (with the reason)."""
    library, limit = run.opts.library, run.opts.detach_over
    assert library is not None and limit is not None
    sname, tname = m.source_name, m.target_name
    left: list[tuple[MessageRef, str]] = []
    mark = run.target.select(m.target).next_uid if target_existed else 1
    for ref, reason in refs:
        run._check_stop()
        msg = next(iter(run.source.fetch(m.source, [ref.uid])), None)
        if msg is None:
            continue
        fp = msg.fingerprint
        where = ("Detached", file_safe(run.mailbox), fp[:16])
        result = detach(msg.raw, limit, fp, partial(_link, library, where))
        if result is None:
            left.append((ref, reason + "; still too large without its attachments"))
            continue
        library.ensure_folder(where)
        library.put(where, "original.eml", msg.raw, ref.internaldate)
        for part in result.detached:
            library.put(where, file_safe(part.name), part.data, ref.internaldate)
        # The ledger keeps the fingerprint of what the target holds (the rewrite is
        # deterministic), so a killed run's append is found again, never made twice.
        sent = fingerprint(result.raw)
        pending = CopyRecord(ref.uid, None, sent, ref.size, ref.flags, target_mark=mark)
        run.store.record(run.mailbox, sname, validity, tname, [pending], "pending")
        (res,) = run.target.append(m.target, [Message(ref, result.raw)])
        if res.error:
            run.store.drop_pending(run.mailbox, sname, [ref.uid])
            run._problem(fr.rejected, "rejected", sname, ref, res.error)
            continue
        done = CopyRecord(ref.uid, res.uid, sent, ref.size, ref.flags)
        run.store.record(run.mailbox, sname, validity, tname, [done], "copied")
        fr.copied += 1
        fr.detached += 1
        fr.bytes += len(result.raw)
    return left
