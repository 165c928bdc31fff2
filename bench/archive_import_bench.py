"""Import rate of archives (mbox, Maildir) against IMAP-to-IMAP into the same Dovecot target.

The goal in issue 4: an archive import runs within 80% of the IMAP-to-IMAP rate into the
same target, so reading the archive is never the bottleneck. This script generates one
deterministic mailbox (the generator of ``archive_read_bench.py``) of --size-mb, writes it
as an mbox and as a Maildir, and loads the same files into a *source* Dovecot. Then it runs
``skylift migrate`` into fresh mailboxes of one *target* Dovecot:

    imap://source -> target      mbox://… -> target      maildir://… -> target

--repeat rounds (default 2) in rotating order, keeping each kind's best run (the machine may
be shared; the source Dovecot builds its index before any timing), then the largest PST in
tests/data. It prints, for each, MB/s and messages/s (archive bytes and messages over the
wall time of the ``skylift`` process, start-up included), the peak RSS of that process and
the ratio of each archive rate to the IMAP rate.

    PYTHONPATH=src python bench/archive_import_bench.py [--size-mb 300] [--repeat 2] [--keep DIR]
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

from imapclient import IMAPClient

from archive_read_bench import tree_bytes, write_maildir, write_mbox
from skylift.demo.dovecot import DovecotServer

SRC = Path(__file__).resolve().parent.parent / "src"
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
PASSWORD = "bench-pw"


def run_migrate(source: str, csv_text: str, target: DovecotServer, work: Path, label: str) -> dict:  # type: ignore[type-arg]
    """One ``skylift migrate --json`` in a child process: wall time, peak RSS, summary."""
    users = work / f"{label}.csv"
    users.write_text(csv_text)
    (work / f"{label}.db").unlink(missing_ok=True)  # a kept folder's old state would skip all
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


def warm_source(server: DovecotServer, user: str) -> None:
    """Let the source Dovecot build its index first, as a server in use has one."""
    with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
        client.login(user, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        ids = client.search("ALL")
        for start in range(0, len(ids), 1000):  # a long id list is a line too long
            client.fetch(ids[start : start + 1000], ["RFC822.SIZE", "INTERNALDATE", "FLAGS"])


def report(label: str, nbytes: int, result: dict, ratio: str) -> None:  # type: ignore[type-arg]
    seconds = result["seconds"]
    print(
        f"{label:<26} {int(result['copied']):6d} msgs {seconds:7.1f} s "
        f"{nbytes / seconds / 1e6:6.1f} MB/s {result['copied'] / seconds:6.1f} msg/s "
        f"peak RSS {result['rss_mib']:6.1f} MiB  {ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best run counts")
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
    pst = max(DATA.glob("pst/**/*.pst"), key=lambda p: p.stat().st_size, default=None)
    if pst is not None:
        shutil.copy(pst, archives / pst.name)
    kinds = ["imap", "mbox", "maildir"]
    users = {f"{kind}-{n}": PASSWORD for kind in kinds for n in range(args.repeat)}
    users["pst"] = PASSWORD
    source = DovecotServer(work / "source", users={"old": PASSWORD}, separator="/")
    target = DovecotServer(work / "target", users=users, separator="/")
    try:
        source.start()
        target.start()
        load_source(source, "old", maildir)
        started = time.monotonic()
        warm_source(source, "old")
        print(f"source Dovecot indexed its mailbox in {time.monotonic() - started:.1f} s (untimed)")
        load = os.getloadavg()[0]
        print(
            f"{count} messages, {size / 1e6:.1f} MB; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs, load average {load:.1f}; one target Dovecot, a fresh "
            f"mailbox per run; {args.repeat} round(s) in rotating order, the best of each kept"
        )
        sources = {
            "imap": (source.imap_url(), "EmailAddress,UserName,Password,TargetPassword\n{user},old,{pw},{pw}\n"),
            "mbox": (f"mbox://{archives}", f"File,EmailAddress,TargetPassword\n{mbox.name},{{user}},{{pw}}\n"),
            "maildir": (f"maildir://{archives}", f"File,EmailAddress,TargetPassword\n{maildir.name},{{user}},{{pw}}\n"),
        }  # fmt: skip
        best: dict[str, dict] = {}  # type: ignore[type-arg]
        for n in range(args.repeat):
            for kind in kinds[n % 3 :] + kinds[: n % 3]:
                url, csv_text = sources[kind]
                user = f"{kind}-{n}"
                result = run_migrate(
                    url, csv_text.format(user=user, pw=PASSWORD), target, work, user
                )
                print(f"  round {n + 1} {kind:<8} {result['seconds']:7.1f} s")
                if kind not in best or result["seconds"] < best[kind]["seconds"]:
                    best[kind] = result
        imap_rate = size / best["imap"]["seconds"]
        for kind in kinds:
            report(
                f"{kind} -> imap",
                size,
                best[kind],
                f"{size / best[kind]['seconds'] / imap_rate:5.0%} of IMAP-to-IMAP",
            )
        if pst is not None:
            csv_text = f"File,EmailAddress,TargetPassword\n{pst.name},pst,{PASSWORD}\n"
            result = run_migrate(f"pst://{archives}", csv_text, target, work, "pst")
            report(f"pst {pst.name} -> imap", pst.stat().st_size, result, "")
    finally:
        source.cleanup()
        target.cleanup()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
