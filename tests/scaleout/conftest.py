"""Scale-out fixtures: one real Redis and one real PostgreSQL for the session, a fresh
database per test, Dovecot source and target with a small organization, and ``skylift
worker`` subprocesses started and killed as an admin would."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, message, seed, when, write_users
from tests.servers.postgres import PostgresServer, postgres_bin
from tests.servers.redis import RedisServer, redis_bin

_DATABASES = itertools.count(1)


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    if redis_bin() is None:
        pytest.fail("Redis is not installed: run scripts/setup.sh (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is not installed: run scripts/setup.sh")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def state_url(postgres: PostgresServer, redis: RedisServer) -> str:
    """A database of its own for one test, and an empty broker."""
    name = f"scaleout{next(_DATABASES)}"
    engine = sqlalchemy.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    subprocess.run(["redis-cli", "-p", str(redis.port), "FLUSHALL"], check=True,
                   capture_output=True)  # fmt: skip
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


class Org:
    """A small organization: *users* on a Maildir++ source and a hosted-style target."""

    def __init__(self, root: Path, users: dict[str, int], big: dict[str, int]) -> None:
        names = list(users) + list(big)
        self.source = DovecotServer(
            root / "source", users={u: f"{u}-pw" for u in names}, separator="."
        ).start()
        self.target = DovecotServer(
            root / "target", users={f"{u}@new.example": f"{u}-new-pw" for u in names},
            separator="/", special_use_autocreate=True,
        ).start()  # fmt: skip
        for user, count in users.items():
            seed(self.source.imap_port, user, f"{user}-pw", {
                "INBOX": [Item(message(i), ("\\Seen",), when(i)) for i in range(count)],
                "Work/Projects": [Item(message(1000 + i), (), when(i)) for i in range(count // 2)],
            }, sep=".")  # fmt: skip
        for user, count in big.items():  # a mailbox slow enough to kill a worker inside it
            seed(self.source.imap_port, user, f"{user}-pw", {
                "INBOX": [Item(message(i, size=20_000), (), when(i)) for i in range(count)],
            }, sep=".")  # fmt: skip
        self.names = names
        self.users_csv = write_users(
            root / "users.csv",
            [(f"{u}@new.example", u, f"{u}-pw", f"{u}-new-pw") for u in names],
            "EmailAddress,UserName,Password,TargetPassword",
        )

    def stop(self) -> None:
        self.source.cleanup()
        self.target.cleanup()


class Workers:
    """``skylift worker`` processes, as started on each machine."""

    def __init__(self, broker: str, state: str, log_dir: Path) -> None:
        self.broker, self.state, self.log_dir = broker, state, log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, concurrency: int = 1, lease: str = "3s", env: dict[str, str] | None = None
    ) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "skylift", "worker", "--broker", self.broker, "--state",
             self.state, "--concurrency", str(concurrency), "--lease", lease, "--name", name],
            stdout=log, stderr=subprocess.STDOUT, env=(env or dict(os.environ)) | {"COLUMNS": "200"},
        )  # fmt: skip

    def kill9(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(redis: RedisServer, state_url: str, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(redis.url, state_url, tmp_path)
    yield group
    group.stop_all()
