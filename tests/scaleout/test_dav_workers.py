"""Contacts on ``skylift worker``: a vCard file into real Radicale through the broker, the
worker reading the password from its own environment; a rerun writes nothing twice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from skylift.model.dav import DavKind
from tests.dav.conftest import DATA, DavPair, dav_pair  # noqa: F401 - the Radicale pair fixture
from tests.scaleout.conftest import Workers


def test_contacts_run_on_a_worker_and_a_rerun_writes_nothing_twice(
    dav_pair: DavPair,  # noqa: F811
    workers: Workers,
    state_url: str,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(DATA / "vcf" / "ez-vcard" / "rfc6350-example.vcf", folder / "contacts.vcf")
    workers.start("w1", env=dav_pair.env())
    args = ["migrate-contacts", "--source", f"vcf://{folder}/contacts.vcf", "--target",
            dav_pair.target.url("carddav+http"), "--user", dav_pair.target_user, "--state",
            state_url, "--runner", "celery", "--broker", workers.broker, "--wait", "--json"]  # fmt: skip
    # the client needs no password: it only names the account; the worker reads it
    client_env = {k: v for k, v in dav_pair.env().items() if "PASSWORD" not in k}
    first = dav_pair.run(*args, env=client_env)
    assert first.returncode == 0, first.stdout + first.stderr
    out = json.loads(first.stdout)
    assert out["command"] == "migrate-contacts"
    assert [(i["kind"], i["state"], i["worker"]) for i in out["items"]] == [
        ("contacts", "done", "w1")
    ]
    written = out["items"][0]["items"]
    assert written >= 1
    with dav_pair.account("target", DavKind.ADDRESSBOOK) as account:
        books = list(account.collections())
        assert sum(len(account.list_items(book)) for book in books) == written
    again = json.loads(dav_pair.run(*args, env=client_env).stdout)
    assert again["items"][0]["state"] == "done" and again["items"][0]["items"] == 0
