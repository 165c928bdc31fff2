"""The admin's buttons: start, pause, resume and cancel a wave, retry one mailbox.

Each action runs ``runners.mail.migrate_all`` — the very function ``skylift migrate --waves
W --wave N`` calls — on a thread of the dashboard's process, so the ledger, the work units
and every guarantee (resume without duplicates, one mailbox's failure never stops the others)
are the CLI's. Pause and cancel set the run's stop flag, the one Ctrl-C sets: the mailboxes
running stop at the next batch boundary with the ledger written; resume is a rerun, which
moves only what is left. Each action is written to the audit trail with who took it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from skylift.connectors.endpoint import Endpoint
from skylift.engine.mail.sync import MigrateOptions
from skylift.engine.throttle import TokenBucket
from skylift.engine.users import load_users
from skylift.errors import ConfigError
from skylift.model.account import MailboxPair
from skylift.runners.mail import RunSettings, migrate_all
from skylift.state.store import StateStore
from skylift.state.web_access import WebAccess

LOG = logging.getLogger("skylift.web")


@dataclass
class WavePlan:
    """The waves the dashboard can start: waves.csv's pairs by wave, and both servers."""

    waves: dict[str, list[MailboxPair]]
    source: Endpoint
    target: Endpoint
    windows: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_csv(cls, path: Path, source: Endpoint, target: Endpoint) -> WavePlan:
        pairs = load_users(path, need_target=True)
        if pairs and "Wave" not in pairs[0].extra:
            raise ConfigError(f"{path} has no Wave column (make it with 'skylift plan')")
        waves: dict[str, list[MailboxPair]] = {}
        windows: dict[str, str] = {}
        for pair in pairs:
            wave = pair.extra.get("Wave", "").strip()
            if wave:
                waves.setdefault(wave, []).append(pair)
                if pair.extra.get("Window"):
                    windows[wave] = pair.extra["Window"]
        if not waves:
            raise ConfigError(f"no user of {path} is in a wave")
        return cls(dict(sorted(waves.items(), key=lambda w: (len(w[0]), w[0]))), source, target,
                   windows)  # fmt: skip

    def wave_of(self, key: str) -> str | None:
        return next((w for w, pairs in self.waves.items() if any(p.key == key for p in pairs)),
                    None)  # fmt: skip


@dataclass
class Job:
    """One migrate_all running on a thread: its stop flag and what the admin asked of it."""

    thread: threading.Thread
    stop: threading.Event
    wanted: str = "running"  # running | paused | cancelled


class WaveControl:
    """Runs waves and retries for the dashboard; one job per wave (or mailbox) at a time."""

    def __init__(
        self,
        state: str | Path,
        plan: WavePlan,
        access: WebAccess,
        parallel: int = 3,
        bwlimit: float | None = None,
    ) -> None:
        self.state, self.plan, self.access, self.parallel = state, plan, access, parallel
        self.bwlimit = bwlimit  # bytes per second for every run, as migrate --bwlimit
        self.jobs: dict[str, Job] = {}
        self.asked: dict[str, str] = {}  # wave -> paused | cancelled, once its job ended
        self._lock = threading.Lock()

    def status(self, wave: str) -> str | None:
        """running, paused or cancelled if the dashboard ran or stopped it; else None."""
        job = self.jobs.get(wave)
        if job is not None and job.thread.is_alive():
            return "stopping" if job.wanted != "running" else "running"
        return self.asked.get(wave)

    def busy(self, name: str) -> bool:
        job = self.jobs.get(name)
        return job is not None and job.thread.is_alive()

    def _run(self, name: str, pairs: list[MailboxPair]) -> None:
        stop = threading.Event()
        job = Job(threading.Thread(target=self._migrate, args=(name, pairs, stop), daemon=True),
                  stop)  # fmt: skip
        self.jobs[name] = job
        self.asked.pop(name, None)
        job.thread.start()

    def _migrate(self, name: str, pairs: list[MailboxPair], stop: threading.Event) -> None:
        store = StateStore(self.state)
        try:
            options = MigrateOptions(stop=stop, bucket=TokenBucket(self.bwlimit))
            settings = RunSettings(parallel=self.parallel)
            plan = self.plan
            migrate_all(pairs, plan.source, plan.target, store, options, settings,
                        lambda *_: None)  # fmt: skip
        except Exception:  # a bug, not a mailbox's failure: those are recorded per unit
            LOG.exception("migration of %s ended with an error", name)
        finally:
            store.close()
            job = self.jobs.get(name)
            if job is not None and job.wanted != "running":
                self.asked[name] = job.wanted

    def _wave(self, wave: str) -> list[MailboxPair]:
        if wave not in self.plan.waves:
            raise ConfigError(f"no wave {wave} in the plan")
        return self.plan.waves[wave]

    def act(self, who: str, action: str, target: str) -> str:
        """Do *action* (start, pause, resume, cancel, retry) on *target*; return the outcome.

        The outcome is also the audit line: refused actions are recorded as well.
        """
        with self._lock:
            outcome = self._act(action, target)
        self.access.audit(who, action, target, outcome)
        LOG.info("%s: %s %s: %s", who, action, target, outcome)
        return outcome

    def _act(self, action: str, target: str) -> str:
        if action in ("start", "resume"):
            pairs = self._wave(target)
            if self.busy(target):
                return f"wave {target} is already running"
            again = [p.key for p in pairs if self.busy(p.key)]
            if again:  # a mailbox runs on one worker at a time
                return f"wave {target} waits: {', '.join(again)} is running again"
            self._run(target, pairs)
            return f"wave {target} started ({len(pairs)} mailboxes)"
        if action in ("pause", "cancel"):
            self._wave(target)
            job = self.jobs.get(target)
            wanted = "paused" if action == "pause" else "cancelled"
            if job is None or not job.thread.is_alive():
                if action == "cancel" and self.asked.get(target) == "paused":
                    self.asked[target] = "cancelled"
                    return f"wave {target} cancelled"
                return f"wave {target} is not running"
            job.wanted = wanted
            job.stop.set()
            return f"wave {target} {wanted}: running mailboxes stop at the next batch"
        if action == "retry":
            wave = self.plan.wave_of(target)
            if wave is None:
                raise ConfigError(f"{target} is in no wave of the plan")
            if self.busy(wave) or self.busy(target):
                return f"{target} is running already"
            pair = next(p for p in self.plan.waves[wave] if p.key == target)
            self._run(target, [pair])
            return f"{target} started again"
        raise ConfigError(f"unknown action {action!r}")

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for every job (the server's shutdown)."""
        for job in list(self.jobs.values()):
            job.stop.set()
            job.thread.join(timeout)
