"""Scale-out benchmark: the same corpus migrated by 1, 2 and 4 ``skylift worker`` processes.

    PYTHONPATH=src python bench/scale_bench.py                       # 8 users x 400, ~150 MB
    PYTHONPATH=src python bench/scale_bench.py --users 16 --messages 600 --workers 1,2,4,8
    PYTHONPATH=src python bench/scale_bench.py --rtt 20        # a WAN's round trips on both sides

A real Redis (broker) and PostgreSQL (state) on loopback, the Dovecots of imap_bench.py with
the same corpus, a fresh target and database per case. Each worker runs one mailbox at a time
(``--concurrency``, default 1), so N workers is N mailboxes at once, each its own process.
Prints one row per case: wall seconds from queueing to the last unit's end, messages/s,
MB/s, the peak RSS of each worker and their CPU seconds. Figures, not a test: nothing is
asserted, but a case whose target holds fewer messages than the source is flagged.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test fixtures' PostgreSQL and Redis

from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.redis import RedisServer  # noqa: E402

from delay_proxy import DelayProxy  # noqa: E402
from imap_bench import fill_source, skylift_env, target_total  # noqa: E402
from servers import Servers, bench_servers, make_target, user_names, warm_up  # noqa: E402


def fresh_database(pg: PostgresServer, name: str) -> str:
    engine = sqlalchemy.create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return pg.url.rsplit("/", 1)[0] + f"/{name}"


def run_case(
    servers: Servers, ports: tuple[int, int], users: list[str], workers: int, concurrency: int,
    broker: str, state: str,
) -> tuple[float, list[float], float, int]:  # fmt: skip
    """(wall seconds, peak RSS MB per worker, worker CPU seconds, exit code of the client)."""
    env = skylift_env()
    worker = [sys.executable, "-m", "skylift", "worker", "--broker", broker, "--state", state,
              "--concurrency", str(concurrency)]  # fmt: skip
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([*worker, "--name", f"w{i + 1}"], **quiet) for i in range(workers)]
    watched = [psutil.Process(p.pid) for p in procs]
    time.sleep(3)  # let every worker reach the broker before the clock starts
    peaks = [0.0] * workers
    cmd = [
        sys.executable, "-m", "skylift", "migrate",
        "--source", f"imap://127.0.0.1:{ports[0]}",
        "--target", f"imap://127.0.0.1:{ports[1]}",
        "--users", str(servers.users_csv(users)), "--state", state,
        "--runner", "celery", "--broker", broker, "--wait", "--json",
    ]  # fmt: skip
    start = time.monotonic()
    client = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while client.poll() is None:
        for i, proc in enumerate(watched):
            with contextlib.suppress(psutil.NoSuchProcess):
                peaks[i] = max(peaks[i], proc.memory_info().rss / 1e6)
        time.sleep(0.1)
    wall = time.monotonic() - start
    cpu = 0.0
    for proc in watched:
        times = proc.cpu_times()
        cpu += times.user + times.system
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=60)
    return wall, peaks, cpu, client.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--messages", type=int, default=400, help="per user")
    ap.add_argument("--scale", type=float, default=0.5, help="attachment sizes")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--concurrency", type=int, default=1, help="units per worker")
    ap.add_argument("--rtt", type=float, default=0, help="ms of round trip added to both sides")
    args = ap.parse_args()
    users = user_names(args.users)
    pg, redis = PostgresServer().start(), RedisServer().start()
    rows = []
    try:
        with bench_servers(users) as servers:
            total, size = fill_source(servers, users, args.messages, args.scale)
            for n in [int(x) for x in args.workers.split(",")]:
                target = make_target(servers.workdir / f"target-{n}", users).start()
                case = Servers(servers.source, target, servers.workdir)
                for user in users:
                    warm_up(target.imap_port, f"{user}@example.com")
                state = fresh_database(pg, f"bench{n}")
                proxies = [DelayProxy(port, args.rtt / 1000).start() for port in
                           (servers.source.imap_port, target.imap_port)] if args.rtt else []  # fmt: skip
                ports = (proxies[0].port, proxies[1].port) if proxies else (
                    servers.source.imap_port, target.imap_port)  # fmt: skip
                try:
                    wall, peaks, cpu, code = run_case(
                        case, ports, users, n, args.concurrency, redis.url, state
                    )
                finally:
                    for proxy in proxies:
                        proxy.stop()
                got = target_total(target.imap_port, users)
                note = "" if got == total and code == 0 else f"target {got}/{total}, exit {code}"
                rows.append((n, wall, total / wall, size / 1e6 / wall, peaks, cpu, note))
                target.cleanup()
    finally:
        redis.stop()
        pg.stop()
    print(f"corpus: {len(users)} users, {total} messages, {size / 1e6:.0f} MB; "
          f"{os.cpu_count()} cores; --concurrency {args.concurrency}; RTT {args.rtt:.0f} ms")  # fmt: skip
    print(f"{'workers':>7} {'wall s':>7} {'msg/s':>7} {'MB/s':>6} {'speed-up':>8} "
          f"{'RSS MB per worker':>20} {'cpu s':>6}  note")  # fmt: skip
    base = rows[0][1] if rows else 1.0
    for n, wall, mps, mbps, peaks, cpu, note in rows:
        rss = "/".join(f"{p:.0f}" for p in peaks)
        print(f"{n:>7} {wall:>7.1f} {mps:>7.0f} {mbps:>6.1f} {base / wall:>7.2f}x "
              f"{rss:>20} {cpu:>6.1f}  {note}")  # fmt: skip


if __name__ == "__main__":
    main()
