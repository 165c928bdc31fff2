"""``skylift migrate-contacts-im``: each user's IM contact list from one XMPP server to another.

The users CSV is mail's (``EmailAddress`` the new address, ``UserName`` the old one,
``Password``, ``TargetPassword``). Exit codes: 0 every roster complete, 1 some subscriptions
only a contact who does not move can restore, 2 usage, 3 a login failed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from skylift.cli.common import envelope, print_json
from skylift.cli.mail_sides import load_pairs
from skylift.cli.options import (
    DEFAULT_TIMEOUT,
    AllowPlaintextOpt,
    DryRunOpt,
    JsonOpt,
    SourceCaOpt,
    TargetCaOpt,
    TimeoutOpt,
    UsersOpt,
)
from skylift.connectors.endpoint import Endpoint
from skylift.errors import EXIT_ITEMS_FAILED, EXIT_OK, ConfigError
from skylift.runners.im import migrate_rosters

SourceOpt = Annotated[str, typer.Option("--source", help="xmpp://old-server:5222")]
TargetOpt = Annotated[str, typer.Option("--target", help="xmpp://new-server:5222")]


def register(app: typer.Typer) -> None:
    @app.command("migrate-contacts-im")
    def migrate_contacts_im(
        source: SourceOpt,
        target: TargetOpt,
        users: UsersOpt = None,
        dry_run: DryRunOpt = False,
        json_out: JsonOpt = False,
        allow_plaintext: AllowPlaintextOpt = False,
        source_ca: SourceCaOpt = None,
        target_ca: TargetCaOpt = None,
        timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    ) -> int:
        """Move IM contact lists (contacts, groups, subscriptions) between XMPP servers."""
        if users is None:
            raise ConfigError("--users users.csv names whose contact lists to move")
        pairs = load_pairs(users, None, None, None, None, None)
        ends = [
            Endpoint.parse(
                url,
                allow_plaintext=allow_plaintext,
                timeout=timeout,
                ca_file=str(ca) if ca else None,
            )
            for url, ca in ((source, source_ca), (target, target_ca))
        ]
        for end in ends:
            if end.scheme != "xmpp":
                raise ConfigError(f"--source and --target must be xmpp:// (got {end.scheme}://)")
        reports = migrate_rosters(pairs, ends[0], ends[1], dry_run)
        totals = {
            "users": len(reports),
            "items_set": sum(r.items_set for r in reports),
            "subscriptions_asked": sum(r.subscriptions for r in reports),
            "unchanged": sum(r.unchanged for r in reports),
            "left_to_contact": sum(len(r.cannot) for r in reports),
        }
        if json_out:
            print_json(envelope("migrate-contacts-im", totals, [r.as_dict() for r in reports]))
        else:
            verb = "would set" if dry_run else "set"
            for r in reports:
                print(
                    f"{r.user}: {verb} {r.items_set} contacts, {r.subscriptions} subscriptions "
                    f"asked, {r.unchanged} unchanged"
                )
                for jid in r.cannot:
                    print(f"  {jid} must ask again to see {r.user}'s presence (not migrated)")
        return EXIT_ITEMS_FAILED if totals["left_to_contact"] else EXIT_OK
