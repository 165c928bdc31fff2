"""Read throughput and peak memory of the archive sources (mbox, Maildir, PST).

Generates a deterministic mbox and a Maildir of --size-mb each (default 1024) in a temp
folder, then reads each in a fresh child process: "assess" = select + list every folder,
"read" = list + fetch every message. Prints MB/s (archive bytes / wall time) and the child's
peak RSS, so "memory flat in file size" can be checked. Also reads the largest PST/OST in
tests/data/pst (the xz-compressed OST is unpacked first).

    PYTHONPATH=src python bench/archive_read_bench.py [--size-mb 1024] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import lzma
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _pool(rng: random.Random) -> list[bytes]:
    """4 MiB of base64 text in 76-character lines, plus a few "From " lines to escape."""
    text = base64.b64encode(rng.randbytes(3 * 1024 * 1024))
    lines = [text[i : i + 76] + b"\n" for i in range(0, len(text), 76)]
    for i in range(0, len(lines), 997):
        lines[i] = b"From the pool, a line an mbox writer must escape\n"
    return lines


def generate_messages(total_bytes: int, seed: int = 42):  # type: ignore[no-untyped-def]
    """Yield (index, unix time, raw message with LF endings) until *total_bytes* are out."""
    rng = random.Random(seed)
    pool = _pool(rng)
    written, index = 0, 0
    while written < total_bytes:
        size = rng.randint(2_000, 20_000) if rng.random() < 0.8 else rng.randint(100_000, 500_000)
        when = 1_500_000_000 + index * 613
        head = (
            f"From: Sender {index % 97} <s{index % 97}@old.example>\n"
            f"To: Jane <jane@old.example>\nSubject: Bench message {index}\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(when))}\n"
            f"Message-ID: <bench-{index}@old.example>\n\n"
        ).encode()
        start = rng.randrange(len(pool))
        body: list[bytes] = []
        length = len(head)
        while length < size:
            line = pool[(start + len(body)) % len(pool)]
            body.append(line)
            length += len(line)
        raw = head + b"".join(body)
        yield index, when, raw
        written += len(raw)
        index += 1


def write_mbox(path: Path, total_bytes: int) -> int:
    count = 0
    with open(path, "wb", buffering=1 << 20) as handle:
        for _index, when, raw in generate_messages(total_bytes):
            stamp = time.asctime(time.gmtime(when))
            handle.write(f"From MAILER-DAEMON {stamp}\n".encode())
            handle.write(raw.replace(b"\nFrom ", b"\n>From "))
            handle.write(b"\n")
            count += 1
    return count


def write_maildir(root: Path, total_bytes: int) -> int:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    count = 0
    for index, when, raw in generate_messages(total_bytes):
        file = root / "cur" / f"{when}.M{index}P1.bench,S={len(raw)}:2,S"
        file.write_bytes(raw)
        os.utime(file, (when, when))
        count += 1
    return count


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def read_in_child(scheme: str, path: Path, fetch: bool) -> dict[str, float]:
    """Run the read in a fresh interpreter so its peak RSS is the reader's alone."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [_src(), os.environ.get("PYTHONPATH")]))
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", scheme, str(path), "fetch" if fetch else "list"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _src() -> str:
    return str(Path(__file__).resolve().parent.parent / "src")


def child(scheme: str, path: str, mode: str) -> None:
    from skylift.connectors import mail_connector
    from skylift.connectors.endpoint import Endpoint
    from skylift.model.account import Login

    started, cpu_started = time.perf_counter(), time.process_time()
    messages = fetched_bytes = 0
    source = mail_connector(Endpoint.parse(f"{scheme}://{path}")).open_source(Login(""))
    with source:
        for folder in source.folders():
            if not folder.selectable:
                continue
            source.select(folder)
            refs = list(source.list_messages(folder))
            messages += len(refs)
            if mode == "fetch":
                uids = [r.uid for r in refs]
                for start in range(0, len(uids), 100):  # batches, as the engine fetches
                    for message in source.fetch(folder, uids[start : start + 100]):
                        fetched_bytes += len(message.raw)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "messages": messages,
                "fetched": fetched_bytes,
                "rss_mib": rss_kib / 1024,
            }
        )
    )


def report(label: str, size: int, result: dict[str, float]) -> None:
    mb = size / 1e6
    print(
        f"{label:<28} {mb:9.1f} MB {int(result['messages']):7d} msgs "
        f"{result['seconds']:7.2f} s {mb / result['seconds']:7.1f} MB/s "
        f"(CPU-bound: {mb / result['cpu_seconds']:6.1f} MB/s) "
        f"peak RSS {result['rss_mib']:6.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="skylift-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    total = args.size_mb * 1024 * 1024
    try:
        mbox = work / "bench.mbox"
        maildir = work / "Maildir"
        if not mbox.exists():
            started = time.perf_counter()
            count = write_mbox(mbox, total)
            print(f"generated mbox: {count} messages in {time.perf_counter() - started:.1f} s")
        if not maildir.exists():
            started = time.perf_counter()
            count = write_maildir(maildir, total)
            print(f"generated Maildir: {count} messages in {time.perf_counter() - started:.1f} s")
        load = os.getloadavg()[0]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.1f}")
        print("page cache warm after writing; MB/s by wall clock and per CPU second")
        for scheme, path in (("mbox", mbox), ("maildir", maildir)):
            size = tree_bytes(path)
            report(f"{scheme} assess (list)", size, read_in_child(scheme, path, fetch=False))
            report(f"{scheme} read (list+fetch)", size, read_in_child(scheme, path, fetch=True))
        psts = sorted(DATA.glob("pst/**/*.pst"), key=lambda p: p.stat().st_size)
        if psts:
            largest = psts[-1]
            report(
                f"pst {largest.name}", largest.stat().st_size, read_in_child("pst", largest, True)
            )
        packed = next(DATA.glob("pst/**/*.ost.xz"), None)
        if packed is not None:
            ost = work / packed.name.removesuffix(".xz")
            with lzma.open(packed) as src, open(ost, "wb") as dst:
                shutil.copyfileobj(src, dst)
            report(f"ost {ost.name[:24]}", ost.stat().st_size, read_in_child("ost", ost, True))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
