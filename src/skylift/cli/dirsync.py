"""``skylift dirsync``: one-way directory sync from LDAP/AD to SCIM 2.0 or LDAP.

Preview is the default: it prints (and with ``--out`` writes as JSON and CSV) every change
with its reason and changes nothing. ``--apply`` makes the changes. Secrets come from
environment variables or files, never from the command line.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from skylift.cli import cloud
from skylift.cli.common import envelope, parse_duration, print_json
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.options import (
    DEFAULT_TIMEOUT,
    AllowPlaintextOpt,
    BrokerOpt,
    InsecureSourceOpt,
    InsecureTargetOpt,
    JsonOpt,
    RunnerOpt,
    SourceCaOpt,
    StateOpt,
    TargetApiBaseOpt,
    TargetCaOpt,
    TimeoutOpt,
    WaitOpt,
    checked_ca,
    read_secret,
)
from skylift.connectors.auth.oauth import GRAPH_SCOPE, GoogleTokens
from skylift.connectors.endpoint import Endpoint
from skylift.engine.directory.mapping import load_mapping, mapping_from_dict
from skylift.engine.directory.plan import parse_threshold
from skylift.engine.profiles import load_profile
from skylift.errors import EXIT_INTERRUPTED, EXIT_ITEMS_FAILED, EXIT_OK, ConfigError
from skylift.runners.dirsync import SyncOptions, SyncResult, read_journal, run_every, run_once


def _print_result(result: SyncResult, as_json: bool) -> None:
    if as_json:
        body = result.to_dict()
        totals = {**body["counts"], "applied": body["applied"], "failed": body["failed"]}
        totals["stopped"] = body["stopped"]
        print_json(envelope("dirsync", totals, body.pop("changes"), **body))
        return
    kind = "delta" if result.delta else "full"
    print(f"dirsync {result.mode} ({kind} read, {result.seconds:.1f}s)")
    for change in result.plan.changes:
        print(f"  {change.action:<7} {change.kind:<5} {change.name}: {change.reason}")
    for conflict in result.plan.conflicts:
        print(f"  {'skip':<7} {'':<5} {conflict.message}")
    for problem in result.plan.problems:
        print(f"  {'skip':<7} {'':<5} {problem}")
    for line in result.plan.blocked_lines():
        print(f"  {'skip':<7} {'':<5} {line}")
    counts = ", ".join(f"{k} {v}" for k, v in result.plan.counts().items() if v) or "nothing to do"
    print(f"summary: {counts}")
    report = result.report
    if report and (
        report["likely_matches"] or report["target_only"] or report["source_duplicates"]
    ):
        print(
            f"pre-flight: {len(report['source_duplicates'])} duplicate(s) in the source, "
            f"{len(report['likely_matches'])} existing target account(s) will be adopted, "
            f"{len(report['target_only'])} target-only account(s) left untouched"
        )
        for item in report["target_only"][:20]:
            print(f"  target-only {item['kind']} {item['name']}")
    if result.threshold_error:
        print(f"warning: {result.threshold_error}")
    for path in result.files:
        print(f"wrote {path}")
    if result.mode == "preview":
        print("preview only: nothing was changed; rerun with --apply to make these changes")
    else:
        left = f", {result.stopped} left by Ctrl-C for the rerun" if result.stopped else ""
        print(f"applied {result.applied} change(s), {len(result.failed)} failed{left}")
        for line in result.failed:
            print(f"  failed: {line}", file=sys.stderr)


GOOGLE_DIRECTORY_SCOPE = (
    "https://www.googleapis.com/auth/admin.directory.user "
    "https://www.googleapis.com/auth/admin.directory.group"
)


def _cloud_target(target: str | None, profile: str | None, api_base: str | None) -> tuple[str, str]:
    """The target URL and OAuth scope from --target, or --target-profile [+ --target-api-base]."""
    if profile is None:
        if target is None:
            raise ConfigError("say where to write: --target URL or --target-profile NAME")
        if api_base is not None:
            raise ConfigError("--target-api-base goes with --target-profile (a cloud's API)")
        return target, ""
    directory = load_profile(profile).directory
    url = target or directory.get("target", "")
    if not url:
        raise ConfigError(f"profile {profile} names no directory target; give --target URL")
    if api_base is not None:
        parts = urlsplit(api_base)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError(f"--target-api-base must be an http(s):// URL: {api_base!r}")
        url = f"{urlsplit(url).scheme.split('+')[0]}+{parts.scheme}://{parts.netloc}"
    return url, directory.get("scope", "")


#: the dirsync options prepare_dirsync reads
_FIELDS = [
    "dry_run",
    "apply",
    "on_leave",
    "delete_threshold",
    "allow_plaintext",
    "timeout",
    "ca_file",
    "source_ca",
    "target_ca",
    "source",
    "insecure_source",
    "target",
    "target_profile",
    "target_api_base",
    "insecure_target",
    "target_oauth_service_account",
    "target_bind",
    "target_admin",
    "mapping",
    "preset",
    "filter",
    "ou",
    "group_ou",
    "base",
    "bind",
    "bind_password_file",
    "state",
    "scim_token_file",
    "target_base",
    "delete_after",
    "full",
    "out",
]


def prepare_dirsync(p: dict[str, Any]) -> SyncOptions:
    """dirsync's options by name as a sync (here, or on a scale-out worker: the secrets are
    read from this machine's environment and files)."""
    (
        dry_run, apply, on_leave, delete_threshold, allow_plaintext, timeout, ca_file,
        source_ca, target_ca, source, insecure_source, target, target_profile,
        target_api_base, insecure_target, target_oauth_service_account, target_bind,
        target_admin, mapping, preset, filter, ou, group_ou, base, bind, bind_password_file,
        state, scim_token_file, target_base, delete_after, full, out
    ) = itemgetter(*_FIELDS)(p)  # fmt: skip
    if dry_run and apply:
        raise ConfigError("--dry-run and --apply contradict each other: give one")
    if on_leave not in ("disable", "delete"):
        raise ConfigError(f"--on-leave must be disable or delete, not {on_leave!r}")
    parse_threshold(delete_threshold)
    tls = {"allow_plaintext": allow_plaintext, "timeout": timeout}
    checked_ca(ca_file)
    source_ca, target_ca = source_ca or ca_file, target_ca or ca_file
    source_ep = Endpoint.parse(
        source, ca_file=str(source_ca) if source_ca else None, insecure=insecure_source, **tls
    )
    target, oauth_scope = _cloud_target(target, target_profile, target_api_base)
    target_ep = Endpoint.parse(
        target, ca_file=str(target_ca) if target_ca else None, insecure=insecure_target, **tls
    )
    if target_ep.scheme.startswith("graph-directory+"):
        entra = cloud.Side(
            "target", None, p["target_oauth_tenant"], p["target_oauth_client_id"],
            p["target_oauth_client_secret_file"], p["target_oauth_certificate"],
            p["target_oauth_authority"],
        )  # fmt: skip
        directory = load_profile(target_profile).directory if target_profile else {}
        roles = tuple(directory.get("roles", "User.ReadWrite.All Group.ReadWrite.All").split())
        target_ep = replace(
            target_ep, oauth=entra.entra(target_ep.ca_file, oauth_scope or GRAPH_SCOPE, roles)
        )
    elif oauth_scope or target_oauth_service_account is not None:
        if target_oauth_service_account is None:
            raise ConfigError(
                "the Google directory signs in with a service account: give "
                "--target-oauth-service-account KEY.json and --target-admin ADDRESS"
            )
        target_ep = replace(target_ep, oauth=GoogleTokens(
            "target", target_oauth_service_account, scope=oauth_scope or GOOGLE_DIRECTORY_SCOPE,
            ca_file=target_ep.ca_file,
        ))  # fmt: skip
        target_bind = target_admin or target_bind
    loaded = load_mapping(mapping, preset)
    if preset and mapping is None:
        loaded = mapping_from_dict({}, preset)
    if filter or ou or group_ou:
        scope = replace(
            loaded.scope,
            user_ous=tuple(ou or ()) or loaded.scope.user_ous,
            group_ous=tuple(group_ou or ()) or loaded.scope.group_ous,
        )
        loaded = replace(loaded, scope=scope, ldap_filter=filter or loaded.ldap_filter)
    options = SyncOptions(
        source=source_ep,
        base=base,
        bind_dn=bind,
        bind_password=read_secret("SKYLIFT_LDAP_PASSWORD", bind_password_file, "bind password"),
        target=target_ep,
        mapping=loaded,
        state=state,
        apply=apply,
        scim_token=read_secret("SKYLIFT_SCIM_TOKEN", scim_token_file, "SCIM token"),
        target_bind_dn=target_bind,
        target_password=read_secret("SKYLIFT_TARGET_LDAP_PASSWORD", None, "target password"),
        target_base=target_base,
        delete_threshold=delete_threshold,
        delete_mode="delete" if on_leave == "delete" else "disable",
        delete_after=parse_duration(delete_after, "--delete-after") if delete_after else None,
        full=full,
        out_dir=out,
    )
    return options


def register(app: typer.Typer) -> None:
    """Add ``skylift dirsync`` to *app*."""

    @app.command("dirsync")
    def dirsync(
        source: Annotated[
            str, typer.Option(help="ldap:// or ldaps:// URL of the source directory.")
        ],
        base: Annotated[str, typer.Option(help="Base DN to read below.")],
        target: Annotated[
            str | None,
            typer.Option(help="scim+https://host/path or ldap(s):// target (or --target-profile)."),
        ] = None,
        bind: Annotated[
            str, typer.Option(help="Bind DN for the source (password: SKYLIFT_LDAP_PASSWORD).")
        ] = "",
        bind_password_file: Annotated[
            Path | None, typer.Option(help="File holding the source bind password.")
        ] = None,
        scim_token_file: Annotated[
            Path | None, typer.Option(help="File holding the SCIM bearer token.")
        ] = None,
        target_bind: Annotated[str, typer.Option(help="Bind DN for an LDAP target.")] = "",
        target_base: Annotated[str, typer.Option(help="DN an LDAP target writes below.")] = "",
        mapping: Annotated[Path | None, typer.Option(help="Mapping file (TOML).")] = None,
        preset: Annotated[str | None, typer.Option(help="Source preset: openldap or ad.")] = None,
        filter: Annotated[str, typer.Option("--filter", help="LDAP filter users must match.")] = "",
        ou: Annotated[
            list[str] | None, typer.Option("--ou", help="Only users below this DN (repeatable).")
        ] = None,
        group_ou: Annotated[
            list[str] | None,
            typer.Option("--group-ou", help="Only groups below this DN (repeatable)."),
        ] = None,
        apply: Annotated[
            bool, typer.Option("--apply/--preview", help="Make the changes (default: preview).")
        ] = False,
        delete_threshold: Annotated[
            str, typer.Option(help="Stop if more would be disabled/deleted (500 or 10%).")
        ] = "500",
        on_leave: Annotated[
            str, typer.Option(help="What happens to objects that leave scope: disable or delete.")
        ] = "disable",
        delete_after: Annotated[
            str | None, typer.Option(help="Delete objects disabled this long ago (e.g. 30d).")
        ] = None,
        every: Annotated[
            str | None, typer.Option(help="Keep syncing at this interval (e.g. 30m).")
        ] = None,
        full: Annotated[
            bool, typer.Option("--full", help="Read the whole source, not only changes.")
        ] = False,
        state: StateOpt = "skylift.db",
        out: Annotated[
            Path | None, typer.Option(help="Write the diff as JSON and CSV into this folder.")
        ] = None,
        as_json: JsonOpt = False,
        source_ca: SourceCaOpt = None,
        target_ca: TargetCaOpt = None,
        insecure_source: InsecureSourceOpt = False,
        insecure_target: InsecureTargetOpt = False,
        ca_file: Annotated[
            Path | None,
            typer.Option(
                "--ca-file", hidden=True, help="Old spelling: --source-ca and --target-ca"
            ),
        ] = None,
        allow_plaintext: AllowPlaintextOpt = False,
        timeout: TimeoutOpt = DEFAULT_TIMEOUT,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="The same as --preview: plan and show, change nothing."),
        ] = False,
        target_profile: Annotated[
            str | None, typer.Option(help="A cloud's profile: microsoft365 or google-workspace.")
        ] = None,
        target_oauth_service_account: cloud.TargetServiceAccount = None,
        target_admin: Annotated[
            str | None, typer.Option(help="Super-admin the Google service account acts as.")
        ] = None,
        target_api_base: TargetApiBaseOpt = None,
        target_oauth_tenant: cloud.TargetTenant = None,
        target_oauth_client_id: cloud.TargetClientId = None,
        target_oauth_client_secret_file: cloud.TargetSecretFile = None,
        target_oauth_certificate: cloud.TargetCertificate = None,
        target_oauth_authority: cloud.TargetAuthority = None,
        runner: RunnerOpt = "local",
        broker: BrokerOpt = None,
        wait: WaitOpt = False,
    ) -> int:
        """Sync users and groups one way from LDAP/AD into a SCIM 2.0 or LDAP directory."""
        params = dict(locals())
        if runner != "local":
            if every:
                raise ConfigError("--every runs here: leave out --runner celery")
            from skylift.cli.dirsync_celery import dirsync_on_workers

            return dirsync_on_workers(params)
        if broker is not None or wait:
            raise ConfigError("--broker and --wait go with --runner celery")
        options = prepare_dirsync(params)

        def log(message: str) -> None:
            if not as_json:
                print(message, file=sys.stderr)

        with graceful_stop(options.stop):
            if every:
                interval = parse_duration(every, "--every")
                worst = run_every(
                    options, interval, log, lambda r: _print_result(r, as_json),
                    stop=options.stop.is_set,
                )  # fmt: skip
            else:
                result = run_once(options, log)
                _print_result(result, as_json)
                worst = EXIT_ITEMS_FAILED if result.incomplete() else EXIT_OK
        if options.stop.is_set():
            print_resume_hint("what was applied is in the journal")
            return EXIT_INTERRUPTED
        return worst

    @app.command("dirsync-journal")
    def dirsync_journal(
        state: StateOpt = "skylift.db",
        limit: Annotated[int, typer.Option(help="How many of the newest changes to show.")] = 50,
        as_json: JsonOpt = False,
    ) -> int:
        """Show the journal of applied directory changes (what, when, before/after)."""
        if "://" not in state and not Path(state).exists():
            raise ConfigError(f"no state file at {state}")
        rows = read_journal(state, limit)
        if as_json:
            ok = sum(bool(r["ok"]) for r in rows)
            totals = {"changes": len(rows), "ok": ok, "failed": len(rows) - ok}
            print_json(envelope("dirsync-journal", totals, rows))
        for row in [] if as_json else rows:
            status = "ok" if row["ok"] else f"FAILED: {row['error']}"
            print(
                f"{row['at']:%Y-%m-%d %H:%M:%S} {row['action']:<7} {row['kind']:<5} "
                f"{row['name']}: {row['reason']} [{status}]"
            )
        return EXIT_OK
