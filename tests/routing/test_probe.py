"""The probe finds, before any change, a routing loop and a recipient nobody can deliver to."""

from __future__ import annotations

import json

from tests.mailtools import run_skylift
from tests.routing.conftest import Org, password


def test_probe_reports_a_loop_an_unresolved_recipient_and_a_good_path(org: Org) -> None:
    w2a, w2b = org.wave(2)
    (w3,) = org.wave(3)
    # A route set by hand that sends w2a's mail back to this very MTA: a loop.
    conf = org.onprem.config_dir
    (conf / "admin_transport").write_text(f"{w2a}\tsmtp:[127.0.0.1]:{org.onprem.smtp_port}\n")
    org.onprem.install.run("postmap", "-c", str(conf), f"hash:{conf}/admin_transport")
    org.onprem.postconf(
        {"transport_maps": f"hash:{conf}/admin_transport, hash:{conf}/skylift_transport"}
    )
    org.onprem.reload()
    # w2b's mailbox was never created on the source: nobody can take its mail.
    org.source.users.pop(w2b)
    org.source.add_user(w3, password(w3))
    try:
        for wave, users in ((2, (w2a, w2b)), (3, (w3,))):
            done = run_skylift(
                "route", "probe", "--smtp", f"smtp://127.0.0.1:{org.onprem.smtp_port}",
                "--wave", wave, "--waves", org.waves_csv, "--users", org.users_csv,
                "--source", org.source.imap_url(), "--target", org.target.imap_url(),
                "--state", org.state, "--probe-from", w3, "--wait", "15", "--json",
            )  # fmt: skip
            assert done.returncode == (1 if wave == 2 else 0), done.stderr
            probes = {p["user"]: p for p in json.loads(done.stdout)["probes"]}
            assert set(probes) == set(users)
            if wave == 2:
                assert probes[w2a]["verdict"] == "loop", probes[w2a]
                assert "too many hops" in probes[w2a]["detail"]
                assert probes[w2b]["verdict"] == "unresolved", probes[w2b]
                assert "5.1.1" in probes[w2b]["detail"]
            else:
                assert probes[w3]["verdict"] == "ok"
                assert [x["side"] for x in probes[w3]["landed"]] == ["source"]
    finally:
        org.source.add_user(w2b, password(w2b))
