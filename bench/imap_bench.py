"""IMAP-to-IMAP migration benchmark: skylift (and mbsync) between two local Dovecots.

    PYTHONPATH=src python bench/imap_bench.py                      # 20 users x 2000, ~1 GB
    PYTHONPATH=src python bench/imap_bench.py --users 4 --messages 300 --mbsync --wan
    PYTHONPATH=src python bench/imap_bench.py --big-folder 100000 --no-full

Prints one table: messages/s, MB/s, wall and CPU seconds of the tool, CPU seconds of the
two Dovecots, peak RSS of the tool process. Figures, not a test: nothing is asserted, but a
run that copies fewer messages than the source holds is flagged in the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imapclient

import servers as bench_storage
from corpus import extra_messages, fill_user, user_messages
from delay_proxy import DelayProxy
from dsync_run import DOVEADM, dsync_commands
from imapsync_run import find_imapsync, imapsync_commands
from mbsync_run import MBSYNC, mbsync_commands
from measure import Cost, run_measured
from servers import (
    PASSWORD,
    Servers,
    bench_servers,
    mail_owner,
    make_target,
    user_names,
    warm_up,
)


@dataclass
class Row:
    case: str
    tool: str
    messages: int
    nbytes: int
    cost: Cost
    server_cpu: float
    note: str = ""

    def cells(self) -> list[str]:
        s = max(self.cost.seconds, 1e-9)
        return [
            self.case,
            self.tool,
            str(self.messages),
            f"{self.nbytes / 1e6:.0f}",
            f"{self.cost.seconds:.2f}",
            f"{self.messages / s:.0f}",
            f"{self.nbytes / 1e6 / s:.1f}",
            f"{self.cost.cpu_seconds:.1f}",
            f"{self.server_cpu:.1f}",
            f"{self.cost.peak_rss_mb:.0f}",
            self.note,
        ]


HEADER = [
    "case",
    "tool",
    "msgs",
    "MB",
    "wall s",
    "msg/s",
    "MB/s",
    "cpu s",
    "srv cpu s",
    "RSS MB",
    "note",
]


def print_table(rows: list[Row]) -> None:
    table = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for i, line in enumerate(table):
        print(
            "  ".join(
                c.rjust(w) if 1 < j < 10 else c.ljust(w)
                for j, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


SKYLIFT_SRC = Path(__file__).resolve().parent.parent / "src"


def skylift_env() -> dict[str, str]:
    src = SKYLIFT_SRC
    path = os.environ.get("PYTHONPATH", "")
    return os.environ | {"PYTHONPATH": f"{src}{os.pathsep}{path}" if path else str(src)}


def skylift_migrate(
    servers: Servers, src_port: int, dst_port: int, users: list[str], state: Path, parallel: int,
    out: Path,
) -> Cost:  # fmt: skip
    cmd = [
        sys.executable, "-m", "skylift", "migrate",
        "--source", f"imap://127.0.0.1:{src_port}",
        "--target", f"imap://127.0.0.1:{dst_port}",
        "--users", str(servers.users_csv(users)),
        "--state", str(state),
        "--parallel", str(parallel),
        "--json",
    ]  # fmt: skip
    out.unlink(missing_ok=True)
    return run_measured([cmd], env=skylift_env(), stdout=out)


def summary(out: Path) -> dict[str, int]:
    try:
        return dict(json.loads(out.read_text())["totals"])
    except (OSError, ValueError, KeyError):
        return {}


def count_messages(port: int, user: str) -> tuple[int, int]:
    """(messages, folders) of *user*, by STATUS on every folder."""
    client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=600)
    try:
        client.login(user, PASSWORD)
        total = folders = 0
        for flags, _d, name in client.list_folders():
            if b"\\Noselect" in flags:
                continue
            total += int(client.folder_status(name, ["MESSAGES"])[b"MESSAGES"])
            folders += 1
        return total, folders
    finally:
        client.logout()


def target_total(port: int, users: list[str]) -> int:
    return sum(count_messages(port, f"{u}@example.com")[0] for u in users)


def fill_source(servers: Servers, users: list[str], messages: int, scale: float) -> tuple[int, int]:
    t0 = time.monotonic()
    n = size = 0
    for user in users:
        a, b = fill_user(servers.source.user_maildir(user), user, messages, scale, mail_owner())
        n, size = n + a, size + b
    for user in users:
        warm_up(servers.source.imap_port, user)
    print(
        f"corpus: {len(users)} users, {n} messages, {size / 1e6:.0f} MB "
        f"(written and indexed in {time.monotonic() - t0:.0f} s)",
        file=sys.stderr,
    )
    return n, size


def add_new_mail(port: int, users: list[str], per_user: int) -> tuple[int, int]:
    """APPEND *per_user* new messages into each source mailbox (mail that arrived since)."""
    n = size = 0
    for user in users:
        client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=600)
        try:
            client.login(user, PASSWORD)
            for msg in extra_messages(user, per_user):
                client.append(".".join(msg.folder), msg.raw, sorted(msg.flags), msg.date)
                n, size = n + 1, size + len(msg.raw)
        finally:
            client.logout()
    return n, size


def fresh_target(servers: Servers, users: list[str], name: str) -> Servers:
    """A second, empty target configured like the first (for another tool or the WAN)."""
    target = make_target(servers.workdir / name, users).start()
    return Servers(servers.source, target, servers.workdir)


def check(servers: Servers, users: list[str], expected: int, totals: dict[str, int]) -> str:
    got = target_total(servers.target.imap_port, users)
    note = f"target has {got}/{expected}"
    if totals:
        bad = totals.get("failed", 0) + totals.get("rejected", 0) + totals.get("skipped", 0)
        if bad:
            note += f", {bad} not copied"
    return note


def run_full(args: argparse.Namespace, servers: Servers, users: list[str], rows: list[Row]) -> None:
    n, size = fill_source(servers, users, args.messages, args.scale)
    state = servers.workdir / "skylift.db"
    out = servers.workdir / "skylift.json"
    cpu0 = servers.server_cpu()
    cost = skylift_migrate(
        servers,
        servers.source.imap_port,
        servers.target.imap_port,
        users,
        state,
        args.parallel,
        out,
    )
    totals = summary(out)
    rows.append(
        Row(
            f"full -P{args.parallel}",
            "skylift",
            n,
            size,
            cost,
            servers.server_cpu() - cpu0,
            check(servers, users, n, totals),
        )
    )
    print_table(rows[-1:])
    if args.dsync:
        run_dsync(servers, users, n, size, args.parallel, rows)
    if args.imapsync_script:
        run_imapsync(servers, users, n, size, args.parallel, args.imapsync_script, rows)
    if not args.reruns:
        if args.mbsync:
            run_mbsync(servers, users, n, size, args.parallel, "full", rows)
        return

    def rerun(label: str, on: Path, note: Callable[[dict[str, int]], str]) -> None:
        cpu0 = servers.server_cpu()
        cost = skylift_migrate(
            servers, servers.source.imap_port, servers.target.imap_port, users, on,
            args.parallel, out,
        )  # fmt: skip
        t = summary(out)
        rows.append(Row(label, "skylift", t.get("copied", 0), t.get("bytes", 0), cost,
                        servers.server_cpu() - cpu0, note(t)))  # fmt: skip

    rerun("rerun, no change", state, lambda t: f"already there {t.get('already_there', 0)}")
    per_user = max(1, math.ceil(args.messages / 100))
    new_n, _ = add_new_mail(servers.source.imap_port, users, per_user)
    rerun("rerun, 1% new", state, lambda t: check(servers, users, n + new_n, t))
    fresh_state = servers.workdir / "skylift-fresh.db"
    rerun("rerun, empty state", fresh_state, lambda t: check(servers, users, n + new_n, t))
    print_table(rows[-3:])

    if args.mbsync:
        run_mbsync(servers, users, n + new_n, size, args.parallel, "full", rows)


def run_mbsync(
    servers: Servers, users: list[str], n: int, size: int, parallel: int, case: str,
    rows: list[Row], src_port: int | None = None, proxy_target: float | None = None,
) -> None:  # fmt: skip
    if MBSYNC is None:
        print("mbsync not installed (apt-get install isync): skipped", file=sys.stderr)
        return
    other = fresh_target(servers, users, f"target-mbsync-{case.split()[0]}")
    proxy = DelayProxy(other.target.imap_port, proxy_target).start() if proxy_target else None
    try:
        dst_port = proxy.port if proxy else other.target.imap_port
        cmds = mbsync_commands(
            servers.workdir / case.split()[0], users, src_port or servers.source.imap_port,
            dst_port, PASSWORD,
        )  # fmt: skip
        cpu0 = other.server_cpu()
        cost = run_measured(cmds, parallel=parallel, quiet=True)
        rows.append(
            Row(
                f"{case} -P{parallel}",
                "mbsync",
                n,
                size,
                cost,
                other.server_cpu() - cpu0,
                check(other, users, n, {}),
            )
        )
        print_table(rows[-1:])
    finally:
        if proxy:
            proxy.stop()
        other.target.cleanup()


def run_other_tool(
    tool: str, servers: Servers, users: list[str], n: int, size: int, parallel: int,
    rows: list[Row], commands: Callable[[Servers], list[list[str]]],
) -> None:  # fmt: skip
    """Another tool's full copy, *parallel* users at a time, into a fresh target."""
    other = fresh_target(servers, users, f"target-{tool}")
    try:
        cpu0 = other.server_cpu()
        cost = run_measured(commands(other), parallel=parallel, quiet=True)
        rows.append(
            Row(f"full -P{parallel}", tool, n, size, cost, other.server_cpu() - cpu0,
                check(other, users, n, {}))
        )  # fmt: skip
        print_table(rows[-1:])
    finally:
        other.target.cleanup()


def run_dsync(
    servers: Servers, users: list[str], n: int, size: int, parallel: int, rows: list[Row]
) -> None:
    """Dovecot's dsync (``doveadm backup -R`` from an imapc: source) into a fresh target."""
    if DOVEADM is None:
        print("doveadm not installed (apt-get install dovecot-core): skipped", file=sys.stderr)
        return
    run_other_tool(
        "dsync", servers, users, n, size, parallel, rows,
        lambda other: dsync_commands(
            other.target.root / "dovecot.conf", users, servers.source.imap_port, PASSWORD
        ),
    )  # fmt: skip


def run_imapsync(
    servers: Servers, users: list[str], n: int, size: int, parallel: int, script: str,
    rows: list[Row],
) -> None:  # fmt: skip
    """imapsync (see bench/imapsync_run.py) into a fresh target."""
    run_other_tool(
        "imapsync", servers, users, n, size, parallel, rows,
        lambda other: imapsync_commands(
            script, servers.workdir / "imapsync", users, servers.source.imap_port,
            other.target.imap_port, PASSWORD,
        ),
    )  # fmt: skip


def run_wan(args: argparse.Namespace, servers: Servers, users: list[str], rows: list[Row]) -> None:
    wan_users = users[: args.wan_users]
    size = 0
    if not args.full:
        fill_source(servers, wan_users, args.wan_messages, args.scale)
    n = sum(count_messages(servers.source.imap_port, u)[0] for u in wan_users)
    rtt = args.rtt / 1000
    other = fresh_target(servers, wan_users, "target-wan")
    src_proxy = DelayProxy(servers.source.imap_port, rtt).start()
    dst_proxy = DelayProxy(other.target.imap_port, rtt).start()
    try:
        out = servers.workdir / "wan.json"
        cpu0 = other.server_cpu()
        cost = skylift_migrate(
            other, src_proxy.port, dst_proxy.port, wan_users, servers.workdir / "wan.db",
            args.wan_parallel, out,
        )  # fmt: skip
        t = summary(out)
        size = t.get("bytes", 0)
        rows.append(
            Row(
                f"WAN {args.rtt:.0f}ms -P{args.wan_parallel}",
                "skylift",
                n,
                size,
                cost,
                other.server_cpu() - cpu0,
                check(other, wan_users, n, t),
            )
        )
        print_table(rows[-1:])
        cost = skylift_migrate(
            other, src_proxy.port, dst_proxy.port, wan_users, servers.workdir / "wan.db",
            args.wan_parallel, out,
        )  # fmt: skip
        rows.append(
            Row(
                f"WAN {args.rtt:.0f}ms rerun",
                "skylift",
                0,
                0,
                cost,
                0.0,
                f"already there {summary(out).get('already_there', 0)}",
            )
        )
    finally:
        dst_proxy.stop()
        other.target.cleanup()
    if args.mbsync:
        try:
            run_mbsync(
                servers, wan_users, n, size, args.wan_parallel, f"WAN {args.rtt:.0f}ms", rows,
                src_port=src_proxy.port if src_proxy else None, proxy_target=rtt,
            )  # fmt: skip
        finally:
            src_proxy.stop()
    else:
        src_proxy.stop()


def run_big_folder(args: argparse.Namespace, rows: list[Row]) -> None:
    """One user with one folder of --big-folder small messages: memory must stay flat."""
    from corpus import MaildirWriter

    users = ["big01"]
    with bench_servers(users) as servers:
        t0 = time.monotonic()
        writer = MaildirWriter(servers.source.user_maildir("big01"))
        size = 0
        for i, msg in enumerate(user_messages("big01", args.big_folder, scale=0.05)):
            writer.add(msg.__class__(("INBOX",), msg.raw, msg.flags, msg.date))
            size += len(msg.raw)
            if i % 20000 == 0:
                print(f"big folder: {i} written", file=sys.stderr)
        writer.finish(mail_owner())
        warm_up(servers.source.imap_port, "big01")
        print(f"big folder ready in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        n = args.big_folder
        out = servers.workdir / "big.json"
        for case, state in (
            ("100k folder", "big.db"),
            ("100k rerun", "big.db"),
            ("100k empty state", "big-fresh.db"),
        ):
            cpu0 = servers.server_cpu()
            cost = skylift_migrate(
                servers, servers.source.imap_port, servers.target.imap_port, users,
                servers.workdir / state, 1, out,
            )  # fmt: skip
            t = summary(out)
            rows.append(
                Row(
                    case.replace("100k", f"{n // 1000}k"),
                    "skylift",
                    t.get("copied", 0),
                    t.get("bytes", 0),
                    cost,
                    servers.server_cpu() - cpu0,
                    check(servers, users, n, t),
                )
            )
            print_table(rows[-1:])


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--messages", type=int, default=2000, help="per user")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies attachment sizes")
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--no-full", dest="full", action="store_false", help="skip the full migration")
    p.add_argument("--no-reruns", dest="reruns", action="store_false", help="only the first copy")
    p.add_argument("--mbsync", action="store_true", help="also run mbsync on the same corpus")
    p.add_argument(
        "--dsync", action="store_true", help="also run Dovecot's dsync (doveadm backup -R, imapc:)"
    )
    p.add_argument(
        "--imapsync",
        type=Path,
        default=None,
        metavar="SCRIPT",
        help="also run imapsync (the script; else $IMAPSYNC or imapsync on $PATH)",
    )
    p.add_argument("--wan", action="store_true", help="add the WAN case (delay proxy)")
    p.add_argument("--rtt", type=float, default=20.0, help="WAN round trip in ms")
    p.add_argument("--wan-users", type=int, default=2)
    p.add_argument("--wan-messages", type=int, default=500, help="per user, without the full case")
    p.add_argument("--wan-parallel", type=int, default=2)
    p.add_argument(
        "--disk",
        action="store_true",
        help="keep the Dovecots' mail on disk (/tmp) instead of tmpfs (/dev/shm)",
    )
    p.add_argument("--src", type=Path, help="run skylift from this source tree (A/B runs)")
    p.add_argument("--big-folder", type=int, default=0, metavar="N", help="N-message folder test")
    args = p.parse_args()
    args.imapsync_script = find_imapsync(args.imapsync)
    if args.imapsync_script is None:
        print("imapsync not found (see bench/imapsync_run.py): skipped", file=sys.stderr)

    if args.src:
        global SKYLIFT_SRC
        SKYLIFT_SRC = args.src.resolve()
    if args.disk:
        bench_storage.MAIL_BASE = None
    rows: list[Row] = []
    if args.full or args.wan:
        users = user_names(max(args.users, args.wan_users if args.wan else 0))
        with bench_servers(users) as servers:
            if args.full:
                run_full(args, servers, users[: args.users], rows)
            if args.wan:
                run_wan(args, servers, users, rows)
    if args.big_folder:
        run_big_folder(args, rows)
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
