"""Directory sync benchmark: 20,000 users and 2,000 groups in slapd -> a SCIM 2.0 server.

Prints: full sync time, delta sync time with 1% of users changed, and for each run the
skylift process's CPU time and peak RSS (from wait4), so one can see whether the target
or skylift is the limit. Run from a checkout:  PYTHONPATH=src python bench/dirsync_bench.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dirsync.servers import ADMIN_PASSWORD, ScimServer, Slapd, org_ldif  # noqa: E402

SUFFIX = "dc=old,dc=example"


def run_sync(args: list[str], env: dict[str, str], logs: Path) -> tuple[float, float, float, str]:
    """Run ``skylift dirsync`` once; return wall seconds, CPU seconds, peak RSS MiB, summary."""
    out_path, err_path = logs / "stdout.txt", logs / "stderr.txt"
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skylift", "dirsync", *args], env=env, stdout=out, stderr=err
        )
        # wait4 gives the resource usage of this one child (the servers are not waited for).
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    lines = out_path.read_text().splitlines()
    if code != 0:
        raise SystemExit(
            f"sync failed ({code}):\n{err_path.read_text()}\n" + "\n".join(lines[-20:])
        )
    summary = next((ln for ln in reversed(lines) if ln.startswith("summary:")), "")
    steps = "; ".join(err_path.read_text().splitlines())  # "read … in Xs; planned … at Ys"
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, f"{summary} [{steps}]"


def report(label: str, wall: float, cpu: float, rss: float, summary: str) -> None:
    print(
        f"{label:<18} {wall:7.1f}s wall {cpu:7.1f}s skylift CPU  peak RSS {rss:5.0f} MiB  {summary}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=2_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of users changed")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="skylift-dirsync-bench-") as tmp:
        root = Path(tmp)
        t = time.monotonic()
        ldif = "\n".join(org_ldif(SUFFIX, users=opts.users, groups=opts.groups))
        source = Slapd(root / "slapd", SUFFIX).start(ldif)
        scim = ScimServer().start()
        took = time.monotonic() - t
        print(f"setup: {opts.users} users, {opts.groups + 1} groups loaded in {took:.1f}s")
        src = str(ROOT / "src")
        env = os.environ | {
            "SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD,
            "SKYLIFT_SCIM_TOKEN": scim.token,
            "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p),
        }
        common = [
            "--source", source.url, "--base", SUFFIX, "--bind", source.admin_dn,
            "--target", scim.url, "--state", str(root / "state.db"), "--apply",
            "--delete-threshold", "100%",
        ]  # fmt: skip
        try:
            wall, cpu, rss, tail = run_sync(common, env, root)
            report("full sync", wall, cpu, rss, tail)
            wall, cpu, rss, tail = run_sync(common, env, root)
            report("no-op delta", wall, cpu, rss, tail)

            changed = int(opts.users * opts.changed)
            step = max(opts.users // max(changed, 1), 1)
            records = "".join(
                f"dn: uid=user{i:05d},ou=Staff,ou=People,{SUFFIX}\nchangetype: modify\n"
                f"replace: title\ntitle: Changed {i}\n\n"
                for i in range(0, opts.users, step)
            )
            source.ldap(records)
            wall, cpu, rss, tail = run_sync(common, env, root)
            report(f"delta {changed} changed", wall, cpu, rss, tail)

            wall, cpu, rss, tail = run_sync([*common, "--full"], env, root)
            report("no-op full", wall, cpu, rss, tail)
        finally:
            scim.stop()
            source.stop()


if __name__ == "__main__":
    main()
