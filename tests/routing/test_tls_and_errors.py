"""The route to the cloud needs a verified certificate; bad setups stop before any change."""

from __future__ import annotations

import time

from tests.mailtools import run_skylift
from tests.routing.conftest import CLOUD_NAME, Org, _cert, _edge, count, wait_count


def test_a_relay_whose_certificate_cannot_be_verified_gets_no_mail(org: Org) -> None:
    # Same name, same behaviour, but a certificate the on-prem MTA does not trust.
    rogue = _edge(org.target, _cert(CLOUD_NAME, "rogue"))
    try:
        w2a, _ = org.wave(2)
        relay = f"smtp://127.0.0.1:{rogue.smtp_port}"
        done = org.route("cutover", 2, relay=relay)
        assert done.returncode == 0, done.stderr + done.stdout
        policy = (org.onprem.config_dir / "skylift_tls_policy").read_text()
        assert f"[127.0.0.1]:{rogue.smtp_port}\tsecure match={CLOUD_NAME}" in policy
        mid = org.send(w2a, "must not travel unverified")
        found = org.onprem.wait_for_log(
            rf"to=<{w2a}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{rogue.smtp_port}.*"
            r"dsn=4\.7\.5, status=deferred \(([^)]*)\)"
        )
        assert found.group(1) == "Server certificate not verified"
        assert org.onprem.queue_ids()  # kept, to go once the hop presents a good certificate
        time.sleep(1)
        assert count(org.target, w2a, mid) == 0
        assert count(org.source, w2a, mid) == 0
    finally:
        rogue.stop()


def test_unresolved_user_stays_on_prem_with_the_reason(org: Org) -> None:
    w2a, w2b = org.wave(2)
    org.target.users.pop(w2b)  # the cloud has no mailbox for w2b
    org.target.add_user("placeholder@corp.example", "x")
    try:
        done = org.route("cutover", 2)
        assert done.returncode == 1, done.stderr + done.stdout
        assert f"{w2b}: onprem -> onprem" not in done.stdout
        line = next(x for x in done.stdout.splitlines() if x.startswith(w2b))
        assert "onprem" in line and "—" in line
        status = run_skylift("route", "status", "--state", org.state)
        assert f"{w2a}\tcloud" in status.stdout and f"{w2b}\tonprem" in status.stdout
        mid = org.send(w2b, "still at home")
        assert wait_count(org.source, w2b, mid) == 1
    finally:
        org.target.add_user(w2b, f"{w2b.split('@')[0]}-pw")


def test_bad_setups_are_one_line_and_change_nothing(org: Org) -> None:
    cases = {
        "ftp://x.example": "use smtp://host[:port] or lmtp://host:port",
        f"smtp://127.0.0.1:{org.onprem.smtp_port}": "would loop",
    }
    for relay, words in cases.items():
        done = org.route("cutover", 2, relay=relay)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("skylift: error: ") and words in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    main_cf = org.onprem.config_dir / "main.cf"
    main_cf.write_text(main_cf.read_text().replace("transport_maps", "#transport_maps"))
    done = org.route("cutover", 2)
    assert done.returncode == 2 and "does not use skylift's map" in done.stderr
    assert "transport_maps = hash:" in done.stderr
    status = run_skylift("route", "status", "--state", org.state, "--json")
    assert '"users": []' in status.stdout
