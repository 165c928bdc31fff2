"""The in-memory reference mailbox joins the conformance suite (a MailTarget loaded by append)."""

import pytest

from skylift.connectors.mail.memory import MemoryMailbox
from skylift.model.mail import Folder, Message, MessageRef

from .contract import ConformanceCase, MailSourceContract
from .mailbox import LOGICAL_MAILBOX


def loaded_mailbox() -> MemoryMailbox:
    mailbox = MemoryMailbox()
    for path, messages in LOGICAL_MAILBOX.items():
        folder = Folder(path)
        mailbox.create_folder(folder)
        mailbox.append(
            folder,
            [Message(MessageRef("", len(m.raw), m.flags, m.internaldate), m.raw) for m in messages],
        )
    return mailbox


class TestMemory(MailSourceContract):
    @pytest.fixture
    def case(self) -> ConformanceCase:
        mailbox = loaded_mailbox()
        return ConformanceCase(
            open_source=lambda: mailbox,
            snapshot=lambda: tuple(
                (path, tuple(sorted((uid, item[1]) for uid, item in folder.messages.items())))
                for path, folder in sorted(mailbox.store.items())
            ),
        )
