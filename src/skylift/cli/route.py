"""``skylift cutover``, ``skylift rollback`` and ``skylift route status|export|probe``.

Coexistence (issue 13): the routing registry says where each user's mail goes; cutover and
rollback flip a whole wave in one step with a delta on each side of the flip; route
exports the registry to the places admins route mail and probes the real path before a
change. Exit codes: 0 done, 1 some users did not move (the report says why), 2 usage or
configuration error, 3 a server or the MTA could not be reached.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from skylift.cli.common import print_json
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.mail_sides import endpoint, load_pairs
from skylift.cli.options import JsonOpt, StateOpt
from skylift.cli.route_options import (
    AdminOpt,
    CaOpt,
    DavOpt,
    DryRunOpt,
    FlagOpt,
    MtaOpt,
    ParallelOpt,
    PlainOpt,
    PostfixCmdOpt,
    PostfixDirOpt,
    ProfileOpt,
    RelayOpt,
    RoutingAttrOpt,
    RoutingBaseOpt,
    RoutingBindOpt,
    RoutingCaOpt,
    RoutingDomainOpt,
    RoutingLdapOpt,
    SieveDirOpt,
    SourceOpt,
    TargetOpt,
    TlsLevelOpt,
    TlsNameOpt,
    UsersOpt,
    WaveOpt,
    WavesOpt,
    addresses,
    cloud_relay_of,
    dav_deltas,
    directory_routing_of,
    routing_of,
    wave_pairs,
)
from skylift.errors import EXIT_INTERRUPTED, EXIT_ITEMS_FAILED, EXIT_OK, ConfigError


def _wave_command(name: str):  # type: ignore[no-untyped-def]
    def command(
        wave: WaveOpt,
        waves: WavesOpt = None,
        users: UsersOpt = None,
        source: SourceOpt = None,
        target: TargetOpt = None,
        state: StateOpt = "skylift.db",
        mta: MtaOpt = "postfix",
        postfix_config_dir: PostfixDirOpt = None,
        postfix_command_dir: PostfixCmdOpt = None,
        cloud_relay: RelayOpt = None,
        cloud_tls_name: TlsNameOpt = None,
        cloud_tls_level: TlsLevelOpt = "secure",
        target_profile: ProfileOpt = None,
        sieve_dir: SieveDirOpt = None,
        routing_domain: RoutingDomainOpt = None,
        routing_ldap: RoutingLdapOpt = None,
        routing_ldap_base: RoutingBaseOpt = "",
        routing_ldap_bind: RoutingBindOpt = "",
        routing_attribute: RoutingAttrOpt = "mailRoutingAddress",
        routing_ldap_ca: RoutingCaOpt = None,
        calendars_source: DavOpt = None,
        calendars_target: DavOpt = None,
        contacts_source: DavOpt = None,
        contacts_target: DavOpt = None,
        source_admin: AdminOpt = None,
        target_admin: AdminOpt = None,
        source_ca: CaOpt = None,
        target_ca: CaOpt = None,
        insecure_source: FlagOpt = False,
        insecure_target: FlagOpt = False,
        allow_plaintext: PlainOpt = False,
        parallel: ParallelOpt = 4,
        timeout: Annotated[float, typer.Option(help="Seconds per server answer")] = 120.0,
        dry_run: DryRunOpt = False,
        json_out: JsonOpt = False,
    ) -> int:
        from skylift.runners.cutover import WaveJob, cutover, default_actor
        from skylift.runners.mail import RunSettings
        from skylift.runners.rollback import rollback

        if source is None or target is None:
            raise ConfigError("--source and --target are needed (the deltas copy mail)")
        src = endpoint(source, source_ca, insecure_source, allow_plaintext, timeout)
        dst = endpoint(target, target_ca, insecure_target, allow_plaintext, timeout)
        pairs, everyone = wave_pairs(waves, users, wave, source_admin, target_admin)
        relay = cloud_relay_of(
            cloud_relay, cloud_tls_name, cloud_tls_level, target_profile, [p.key for p in pairs]
        )
        routing = routing_of(
            mta, postfix_config_dir, postfix_command_dir, relay, sieve_dir, routing_domain
        )
        if routing_ldap is not None:
            routing.directory = directory_routing_of(
                routing_ldap, routing_ldap_base, routing_ldap_bind, routing_attribute,
                routing_domain, routing_ldap_ca, allow_plaintext, timeout,
            )  # fmt: skip
        dav = dav_deltas(
            calendars_source, calendars_target, contacts_source, contacts_target,
            allow_plaintext, source_ca, target_ca, insecure_source, insecure_target,
        )  # fmt: skip
        job = WaveJob(
            wave, pairs, everyone, src, dst, state, routing,
            settings=RunSettings(parallel=parallel, retries=2), dry_run=dry_run,
            actor=default_actor(), dav=dav,
        )  # fmt: skip
        with graceful_stop(job.stop):
            report = (cutover if name == "cutover" else rollback)(job)
        if json_out:
            print_json(report.as_dict())
        else:
            verb = "would move" if dry_run else "now"
            for u in report.users:
                line = (
                    f"{u.user}: {u.before} -> {u.after}"
                    if u.before != u.after
                    else f"{u.user}: {u.after} (unchanged)"
                )
                if dry_run:
                    line = f"{u.user}: {u.before}, {verb} {u.after}"
                if u.copied:
                    line += f", {u.copied} message(s) copied"
                if u.dav_copied:
                    line += f", {u.dav_copied} calendar/contact object(s) copied"
                if u.reason:
                    line += f" — {u.reason}"
                print(line)
            changed = ", ".join(report.maps_changed) or "none (already as the registry says)"
            if not dry_run and not report.stopped:
                print(f"wave {wave}: {name} done; maps changed: {changed}", file=sys.stderr)
        if report.stopped:
            flipped = "flip" in report.steps
            print_resume_hint(
                "the routes are as the registry says" + ("" if flipped else " (no route changed)")
            )
            return EXIT_INTERRUPTED
        return EXIT_OK if report.ok else EXIT_ITEMS_FAILED

    command.__doc__ = (
        "Cut a wave over: final delta, pre-flight, one routing flip, last delta, record."
        if name == "cutover"
        else "Roll a wave back: restore its previous routing, copy the cloud's new mail back."
    )
    return command


def status(
    state: StateOpt = "skylift.db",
    users: UsersOpt = None,
    json_out: JsonOpt = False,
) -> int:
    """Where each user's mail is delivered now (onprem, migrating, cloud), and since when."""
    from skylift.state.routing import RoutingRegistry

    with RoutingRegistry(state, must_exist=True) as registry:
        routes = registry.all_current()
    listed = {u: r.to_dict() for u, r in routes.items()}
    if users is not None:
        for key in addresses(users):
            listed.setdefault(key, {"user": key, "state": "onprem", "since": None, "wave": None,
                                    "run_id": None, "actor": None, "reason": "never routed"})  # fmt: skip
    items = [listed[u] for u in sorted(listed)]
    if json_out:
        totals: dict[str, int] = {}
        for item in items:
            totals[str(item["state"])] = totals.get(str(item["state"]), 0) + 1
        print_json({"command": "route status", "totals": totals, "users": items})
        return EXIT_OK
    if not items:
        print("no routes recorded yet: every user is on-prem", file=sys.stderr)
    for item in items:
        since = item["since"] or "-"
        wave = f"wave {item['wave']}" if item["wave"] is not None else ""
        why = f"({item['reason']})" if item["reason"] else ""
        print(f"{item['user']}\t{item['state']}\t{since}\t{' '.join(x for x in (wave, why) if x)}")
    return EXIT_OK


def export(
    fmt: Annotated[str, typer.Option("--format", help="postfix, sieve or csv")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write into")],
    state: StateOpt = "skylift.db",
    users: UsersOpt = None,
    cloud_relay: RelayOpt = None,
    cloud_tls_name: TlsNameOpt = None,
    cloud_tls_level: TlsLevelOpt = "secure",
    target_profile: ProfileOpt = None,
    routing_domain: RoutingDomainOpt = None,
    postfix_command_dir: PostfixCmdOpt = None,
) -> int:
    """Write the registry as Postfix maps, Sieve redirects or CSV."""
    from skylift.connectors.mta.postfix import write_map_files
    from skylift.connectors.mta.sieve import write_scripts
    from skylift.engine.routing.plan import postfix_maps, registry_csv, sieve_redirects
    from skylift.state.routing import RoutingRegistry

    if fmt not in ("postfix", "sieve", "csv"):
        raise ConfigError(f"--format {fmt}: use postfix, sieve or csv")
    if not out.parent.is_dir():
        raise ConfigError(f"--out: folder does not exist: {out.parent}")
    out.mkdir(exist_ok=True)
    with RoutingRegistry(state) as registry:
        routes = registry.all_current()
    if fmt == "csv":
        (out / "routes.csv").write_text(registry_csv(routes))
        written = ["routes.csv"]
    elif fmt == "sieve":
        written = [
            p.name for p in write_scripts(out, sieve_redirects(routes, routing_domain or ""))
        ]
    else:
        everyone = addresses(users) if users else []
        relay = cloud_relay_of(
            cloud_relay, cloud_tls_name, cloud_tls_level, target_profile, [*everyone, *routes]
        )
        written = write_map_files(out, postfix_maps(routes, relay, everyone), postfix_command_dir)
    print(f"wrote {len(written)} file(s) in {out}: {', '.join(written) or 'none changed'}")
    return EXIT_OK


def probe(
    smtp: Annotated[
        str, typer.Option("--smtp", help="The MTA the internet's mail reaches: smtp://host[:port]")
    ],
    wave: WaveOpt,
    waves: WavesOpt = None,
    users: UsersOpt = None,
    source: SourceOpt = None,
    target: TargetOpt = None,
    state: StateOpt = "skylift.db",
    probe_from: Annotated[
        str | None,
        typer.Option(
            "--probe-from", help="Sender whose mailbox (in the users CSV) gets the bounces"
        ),
    ] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the probes")] = 30.0,
    max_hops: Annotated[
        int, typer.Option("--max-hops", help="More Received headers than this is a loop")
    ] = 20,
    source_admin: AdminOpt = None,
    target_admin: AdminOpt = None,
    allow_plaintext: PlainOpt = False,
    json_out: JsonOpt = False,
) -> int:
    """Send a tagged probe per user of a wave through the real path; report loops and bounces."""
    from skylift.runners.route_probe import ProbeJob
    from skylift.runners.route_probe import probe as run_probe

    if source is None or target is None:
        raise ConfigError("--source and --target are needed (the probe looks for its mail there)")
    src = endpoint(source, None, False, allow_plaintext, 60.0)
    dst = endpoint(target, None, False, allow_plaintext, 60.0)
    pairs, _ = wave_pairs(waves, users, wave, source_admin, target_admin)
    sender = None
    if probe_from is not None:
        listed = load_pairs(users or waves, None, None, None, source_admin, target_admin)
        sender = next((p for p in listed if p.key.lower() == probe_from.lower()), None)
        if sender is None:
            raise ConfigError(f"--probe-from {probe_from}: not a row of the users CSV")
    verdicts = run_probe(ProbeJob(smtp, pairs, src, dst, state, sender, wait, max_hops))
    if json_out:
        print_json(
            {"command": "route probe", "ok": all(v.ok for v in verdicts),
             "probes": [v.as_dict() for v in verdicts]}
        )  # fmt: skip
    else:
        for v in verdicts:
            print(f"{v.user}: {v.verdict} — {v.detail}")
    return EXIT_OK if all(v.ok for v in verdicts) else EXIT_ITEMS_FAILED


def register(app: typer.Typer) -> None:
    """Add ``cutover``, ``rollback`` and the ``route`` group."""
    app.command("cutover")(_wave_command("cutover"))
    app.command("rollback")(_wave_command("rollback"))
    route = typer.Typer(help="The routing registry: status, export, probe.", no_args_is_help=True)
    route.command("status")(status)
    route.command("export")(export)
    route.command("probe")(probe)
    app.add_typer(route, name="route")
