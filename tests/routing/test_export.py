"""route export writes the registry where admins route mail: Sieve redirects and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from skylift.state.routing import RouteState, RoutingRegistry
from tests.mailtools import run_skylift


def test_sieve_and_csv_exports_follow_the_registry(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    with RoutingRegistry(state) as reg:
        reg.set(
            ["ann@corp.example", "bob@corp.example"],
            RouteState.CLOUD,
            wave=1,
            run_id="r1",
            actor="op",
        )
        reg.set(
            ["cyd@corp.example"],
            RouteState.ONPREM,
            wave=1,
            run_id="r1",
            actor="op",
            reason="verify: 1 difference",
        )
    out = tmp_path / "sieve"
    done = run_skylift("route", "export", "--format", "sieve", "--out", out, "--state", state,
                       "--routing-domain", "contoso.mail.onmicrosoft.com")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "ann@corp.example.sieve",
        "bob@corp.example.sieve",
    ]
    assert (
        'redirect "ann@contoso.mail.onmicrosoft.com";'
        in (out / "ann@corp.example.sieve").read_text()
    )

    with RoutingRegistry(state) as reg:  # bob goes home: his redirect goes away
        reg.set(["bob@corp.example"], RouteState.ONPREM, wave=1, run_id="r2", actor="op")
    run_skylift("route", "export", "--format", "sieve", "--out", out, "--state", state,
                "--routing-domain", "contoso.mail.onmicrosoft.com")  # fmt: skip
    assert [p.name for p in out.iterdir()] == ["ann@corp.example.sieve"]

    done = run_skylift("route", "export", "--format", "csv", "--out", tmp_path, "--state", state)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "routes.csv").open()))
    assert [(r["user"], r["state"], r["reason"]) for r in rows] == [
        ("ann@corp.example", "cloud", ""),
        ("bob@corp.example", "onprem", ""),
        ("cyd@corp.example", "onprem", "verify: 1 difference"),
    ]

    users = tmp_path / "users.csv"
    users.write_text(
        "EmailAddress,UserName,Password\nann@corp.example,ann,pw\ndee@corp.example,dee,pw\n"
    )
    status = run_skylift("route", "status", "--state", state, "--users", users)
    assert status.returncode == 0, status.stderr
    lines = dict(line.split("\t", 1) for line in status.stdout.splitlines())
    assert lines["ann@corp.example"].startswith("cloud\t")
    assert lines["cyd@corp.example"].endswith("(verify: 1 difference)")
    assert lines["dee@corp.example"] == "onprem\t-\t(never routed)"
    assert "pw" not in status.stdout

    loop = run_skylift("route", "export", "--format", "sieve", "--out", out, "--state", state,
                       "--routing-domain", "corp.example")  # fmt: skip
    assert loop.returncode == 2
    assert loop.stderr.strip() == (
        "skylift: error: --routing-domain corp.example is ann@corp.example's own domain: "
        "the redirect would loop"
    )
