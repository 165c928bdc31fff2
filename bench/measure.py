"""Run a command as a child and read its cost from the kernel: wall time, CPU, peak RSS.

``os.wait4`` returns the child's own rusage, so the numbers are the tool's alone — not the
servers', not the benchmark's — without needing ``/usr/bin/time``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Cost:
    """What one or more child processes took."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_codes: list[int]


def run_measured(
    commands: Sequence[Sequence[str]],
    *,
    parallel: int = 1,
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
    cwd: Path | None = None,
    quiet: bool = False,
) -> Cost:
    """Run *commands*, *parallel* at a time; CPU is summed, peak RSS is the largest one."""
    queue = list(commands)
    running: dict[int, subprocess.Popen[bytes]] = {}
    outputs = []
    cpu = 0.0
    rss_kb = 0
    codes: list[int] = []
    start = time.monotonic()
    while queue or running:
        while queue and len(running) < parallel:
            cmd = queue.pop(0)
            out = open(stdout, "ab") if stdout else subprocess.DEVNULL  # noqa: SIM115
            if stdout:
                outputs.append(out)
            proc = subprocess.Popen(
                list(cmd),
                env=env,
                stdout=out,
                stderr=subprocess.DEVNULL if quiet else None,
                cwd=cwd,
            )
            running[proc.pid] = proc
        time.sleep(0.02)
        for pid in list(running):
            # Only our own children: the benchmark's Dovecots are children too.
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got == 0:
                continue
            proc = running.pop(pid)
            proc.returncode = os.waitstatus_to_exitcode(status)
            codes.append(proc.returncode)
            cpu += usage.ru_utime + usage.ru_stime
            rss_kb = max(rss_kb, usage.ru_maxrss)
    for out in outputs:
        out.close()
    return Cost(time.monotonic() - start, cpu, rss_kb / 1024, codes)
