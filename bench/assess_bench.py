"""Benchmark ``skylift assess`` on a generated multi-user corpus in a local Dovecot.

Prints users/s and the peak RSS of the assess process, and, for comparison, how long a
full download of the same mail takes (what a migration must at least read). Run:

    PYTHONPATH=src python bench/assess_bench.py [--users 20] [--messages 400]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.demo.dovecot import DovecotServer
from skylift.model.account import Login, Secret

FOLDERS = ("", ".Sent", ".Archive", ".Archive.2019", ".Projects")


def write_corpus(server: DovecotServer, users: int, messages: int, seed: int = 7) -> int:
    """Write Maildir files directly (fast); return the total bytes written."""
    rng = random.Random(seed)
    total = 0
    for n in range(users):
        maildir = server.user_maildir(f"user{n:05d}")
        count = max(1, int(rng.uniform(0.5, 1.5) * messages))
        for folder in FOLDERS:
            for sub in ("cur", "new", "tmp"):
                (maildir / folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            size = min(int(rng.lognormvariate(9.5, 1.2)), 5_000_000)
            body = (b"y" * 76 + b"\r\n") * (size // 78 + 1)
            raw = (
                f"From: a{i}@example.com\r\nTo: user{n}@example.com\r\n"
                f"Subject: message {i}\r\nMessage-ID: <{n}.{i}@bench>\r\n"
                f"Date: Mon, 1 Jan 2018 00:00:00 +0000\r\n\r\n"
            ).encode() + body
            folder = FOLDERS[i % len(FOLDERS)]
            flags = "S" if i % 3 else ""
            (maildir / folder / "cur" / f"{1514764800 + i}.M{i}P{n}.bench:2,{flags}").write_bytes(
                raw
            )
            total += len(raw)
    if os.getuid() == 0:
        for path in [server.mail_root, *server.mail_root.rglob("*")]:
            shutil.chown(path, "dovecot", "dovecot")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=400, help="average per user")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--skip-download", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="skylift-assess-bench-"))
    names = [f"user{n:05d}" for n in range(args.users)]
    server = DovecotServer(work / "dovecot", users={u: "pw-" + u for u in names}, separator=".")
    server.start()
    try:
        started = time.monotonic()
        total = write_corpus(server, args.users, args.messages)
        print(
            f"corpus: {args.users} users, {total / 1e6:.1f} MB "
            f"(written in {time.monotonic() - started:.1f} s)"
        )
        users_csv = work / "users.csv"
        users_csv.write_text(
            "EmailAddress,UserName,Password\n"
            + "".join(f"{u}@example.com,{u},pw-{u}\n" for u in names)
        )
        command = [
            sys.executable, "-m", "skylift", "assess",
            "--source", server.imap_url(), "--users", str(users_csv),
            "--target-profile", "microsoft365", "--out", str(work / "report"),
            "--parallel", str(args.parallel), "--json",
        ]  # fmt: skip
        for label in ("cold (Dovecot builds its indexes)", "warm"):
            started = time.monotonic()
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=os.environ.copy())
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.monotonic() - started
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit("assess failed")
            print(
                f"assess {label}: {seconds:.2f} s, {args.users / seconds:.1f} users/s, "
                f"{total / 1e6 / seconds:.1f} MB of mail/s assessed, "
                f"peak RSS {usage.ru_maxrss / 1024:.0f} MB (parallel {args.parallel})"
            )
        if args.skip_download:
            return
        connector = mail_connector(Endpoint.parse(server.imap_url()))
        started = time.monotonic()
        got = 0
        for user in names:
            with connector.open_source(Login(user, Secret("pw-" + user))) as source:
                for folder in source.folders():
                    if folder.selectable and source.select(folder).count:
                        uids = [ref.uid for ref in source.list_messages(folder)]
                        for i in range(0, len(uids), 200):
                            got += sum(len(m.raw) for m in source.fetch(folder, uids[i : i + 200]))
        full = time.monotonic() - started
        print(
            f"full download (one stream, what a migration reads at least): {full:.2f} s "
            f"for {got / 1e6:.1f} MB -> assess took {seconds / full:.0%} of that time"
        )
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
