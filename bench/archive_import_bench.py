"""Import rate of archives (mbox, Maildir) against IMAP-to-IMAP into the same Dovecot target.

The goal in issue 4: an archive import runs within 80% of the IMAP-to-IMAP rate into the
same target, so reading the archive is never the bottleneck. This script generates one
deterministic mailbox (the generator of ``archive_read_bench.py``) of --size-mb, writes it
as an mbox and as a Maildir, and loads the same files into a *source* Dovecot. Then it runs
``skylift migrate`` three times into three fresh mailboxes of one *target* Dovecot:

    mbox://…     -> target      maildir://…  -> target      imap://source -> target

and prints, for each, MB/s and messages/s (archive bytes and messages over the wall time of
the ``skylift`` process, start-up included), the peak RSS of that process and the ratio of
each archive rate to the IMAP rate.

    PYTHONPATH=src python bench/archive_import_bench.py [--size-mb 300] [--keep DIR]
    PYTHONPATH=src python bench/archive_import_bench.py --size-mb 1024   # the 1 GB case
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_read_bench import tree_bytes, write_maildir, write_mbox
from skylift.demo.dovecot import DovecotServer

SRC = Path(__file__).resolve().parent.parent / "src"
PASSWORD = "bench-pw"


def run_migrate(source: str, csv_text: str, target: DovecotServer, work: Path, label: str) -> dict:  # type: ignore[type-arg]
    """One ``skylift migrate --json`` in a child process: wall time, peak RSS, summary."""
    users = work / f"{label}.csv"
    users.write_text(csv_text)
    command = [
        sys.executable, "-m", "skylift", "migrate", "--source", source,
        "--target", target.imap_url(), "--users", str(users),
        "--state", str(work / f"{label}.db"), "--json",
    ]  # fmt: skip
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    }
    out = work / f"{label}.json"
    started = time.monotonic()
    with open(out, "wb") as stdout, open(work / f"{label}.err", "wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(
            f"{label}: skylift migrate exited {code}: {(work / f'{label}.err').read_text()[-2000:]}"
        )
    summary = json.loads(out.read_text())
    copied = sum(m.get("copied", 0) for m in summary.get("mailboxes", []))
    return {"seconds": seconds, "rss_mib": usage.ru_maxrss / 1024, "copied": copied}


def load_source(server: DovecotServer, user: str, maildir: Path) -> None:
    """The same message files, as the source server's mailbox (what IMAP-to-IMAP reads)."""
    target = server.user_maildir(user)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(maildir, target)
    if os.getuid() == 0:
        for path in [server.mail_root, *server.mail_root.rglob("*")]:
            shutil.chown(path, "dovecot", "dovecot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="skylift-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    total = args.size_mb * 1024 * 1024
    archives = work / "archives"
    archives.mkdir(exist_ok=True)
    mbox, maildir = archives / "bench.mbox", archives / "Maildir"
    if not mbox.exists():
        count = write_mbox(mbox, total)
    if not maildir.exists():
        count = write_maildir(maildir, total)
    count = sum(1 for _ in (maildir / "cur").iterdir())
    size = tree_bytes(maildir)  # the messages' own bytes (the mbox adds its From_ lines)
    users = {"from-mbox": PASSWORD, "from-maildir": PASSWORD, "from-imap": PASSWORD}
    source = DovecotServer(work / "source", users={"old": PASSWORD}, separator="/")
    target = DovecotServer(work / "target", users=users, separator="/")
    try:
        source.start()
        target.start()
        load_source(source, "old", maildir)
        load = os.getloadavg()[0]
        print(
            f"{count} messages, {size / 1e6:.1f} MB; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs, load average {load:.1f}; one target Dovecot, fresh mailbox each"
        )
        archive_csv = "File,EmailAddress,TargetPassword\n{file},{user},{pw}\n"
        runs = {
            "imap -> imap": run_migrate(
                source.imap_url(),
                f"EmailAddress,UserName,Password,TargetPassword\nfrom-imap,old,{PASSWORD},{PASSWORD}\n",
                target,
                work,
                "imap",
            ),
            "mbox -> imap": run_migrate(
                f"mbox://{archives}",
                archive_csv.format(file=mbox.name, user="from-mbox", pw=PASSWORD),
                target,
                work,
                "mbox",
            ),
            "maildir -> imap": run_migrate(
                f"maildir://{archives}",
                archive_csv.format(file=maildir.name, user="from-maildir", pw=PASSWORD),
                target,
                work,
                "maildir",
            ),
        }
        imap_rate = size / runs["imap -> imap"]["seconds"]
        for label, result in runs.items():
            rate = size / result["seconds"]
            print(
                f"{label:<16} {result['copied']:6d}/{count} copied {result['seconds']:7.1f} s "
                f"{rate / 1e6:6.1f} MB/s {result['copied'] / result['seconds']:6.1f} msg/s "
                f"peak RSS {result['rss_mib']:6.1f} MiB  {rate / imap_rate:5.0%} of IMAP-to-IMAP"
            )
    finally:
        source.cleanup()
        target.cleanup()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
