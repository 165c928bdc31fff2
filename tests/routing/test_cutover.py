"""Cut-over and rollback of a wave with a real Postfix routing the mail each time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from skylift.state.routing import RouteState, RoutingRegistry
from tests.mailtools import run_skylift
from tests.routing.conftest import Org, count, inbox_bodies, wait_count


def _cutover_args(org: Org, *extra: str) -> list[object]:
    """Wave 2's cut-over as a subprocess runs it (the tests that kill or interrupt it)."""
    return [
        "cutover", "--wave", "2", "--waves", org.waves_csv, "--users", org.users_csv,
        "--source", org.source.imap_url(), "--target", org.target.imap_url(),
        "--state", org.state, "--postfix-config-dir", org.onprem.config_dir,
        "--postfix-command-dir", org.onprem.command_directory, "--cloud-relay", org.relay,
        "--cloud-tls-name", "mx.cloud.test", *extra,
    ]  # fmt: skip


def _seed_wave(org: Org, messages: int, size: int) -> tuple[str, str]:
    from tests.mailtools import Item, message, seed

    users = org.wave(2)
    for user in users:
        items = [Item(message(i, size=size)) for i in range(messages)]
        seed(org.source.imap_port, user, f"{user.split('@')[0]}-pw", {"INBOX": items}, ".")
    return users[0], users[1]


def _status(org: Org) -> dict[str, str]:
    done = run_skylift("route", "status", "--state", org.state, "--json")
    assert done.returncode == 0, done.stderr
    return {u["user"]: u["state"] for u in json.loads(done.stdout)["users"]}


def test_wave_moves_rolls_back_and_moves_again_with_every_message_once(org: Org) -> None:
    w2a, w2b = org.wave(2)
    (w3,) = org.wave(3)
    before = org.send(w2a, "before the move")
    assert wait_count(org.source, w2a, before) == 1

    done = org.route("cutover", 2)
    assert done.returncode == 0, done.stderr + done.stdout
    assert _status(org) == {w2a: "cloud", w2b: "cloud"}
    transport = (org.onprem.config_dir / "skylift_transport").read_text()
    assert f"{w2a}\tsmtp:[127.0.0.1]:{org.edge.smtp_port}" in transport
    assert w3 not in transport
    policy = (org.onprem.config_dir / "skylift_tls_policy").read_text()
    assert f"[127.0.0.1]:{org.edge.smtp_port}\tsecure match=mx.cloud.test" in policy
    # the final delta carried the old mail, byte for byte
    assert count(org.target, w2a, before) == 1
    assert inbox_bodies(org.target, w2a) == inbox_bodies(org.source, w2a)

    moved = org.send(w2a, "after the move")
    stays = org.send(w3, "wave 3 is not moved")
    assert wait_count(org.target, w2a, moved) == 1
    assert wait_count(org.source, w3, stays) == 1
    assert count(org.source, w2a, moved) == 0
    assert count(org.target, w3, stays) == 0
    # through the verified TLS hop
    org.onprem.wait_for_log(
        rf"to=<{w2a}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{org.edge.smtp_port}.*status=sent"
    )
    assert "Verified TLS connection established to 127.0.0.1" in org.onprem.log()

    again = org.route("cutover", 2, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["maps_changed"] == []
    with RoutingRegistry(org.state) as registry:
        assert [r.state for r in registry.history(w2a)] == [RouteState.MIGRATING, RouteState.CLOUD]

    back = org.route("rollback", 2)
    assert back.returncode == 0, back.stderr + back.stdout
    assert _status(org) == {w2a: "onprem", w2b: "onprem"}
    assert w2a not in (org.onprem.config_dir / "skylift_transport").read_text()
    # what reached the cloud in between is on the source now, once
    assert count(org.source, w2a, moved) == 1
    home = org.send(w2a, "after the rollback")
    assert wait_count(org.source, w2a, home) == 1
    assert count(org.target, w2a, home) == 0

    third = org.route("cutover", 2)
    assert third.returncode == 0, third.stderr + third.stdout
    for mid in (before, moved, home):
        assert count(org.target, w2a, mid) == 1, mid
    assert count(org.source, w2a, moved) == 1
    # and back once more: what the cut-over copied forward is not copied home a second time
    later = org.send(w2a, "in the cloud again")
    assert wait_count(org.target, w2a, later) == 1
    fourth = org.route("rollback", 2)
    assert fourth.returncode == 0, fourth.stderr + fourth.stdout
    for mid in (before, moved, home, later):
        assert count(org.source, w2a, mid) == 1, mid
    jobs = run_skylift("jobs", "--state", org.state, "--kind", "cutover", "--json")
    assert jobs.returncode == 0, jobs.stderr
    assert {i["key"] for i in json.loads(jobs.stdout)["items"]} == {w2a, w2b}


def test_a_message_sent_during_the_flip_is_delivered_exactly_once(org: Org) -> None:
    from pathlib import Path

    from skylift.cli.route_options import cloud_relay_of, routing_of, wave_pairs
    from skylift.connectors.endpoint import Endpoint
    from skylift.runners.cutover import WaveJob, cutover

    w2a, _ = org.wave(2)
    sent: dict[str, str] = {}

    def at(step: str) -> None:
        if step == "flip":  # accepted on-prem while the route changes: lands on the source
            sent["flip"] = org.send(w2a, "during the flip")
            assert wait_count(org.source, w2a, sent["flip"]) == 1
        if step == "last-delta":  # the map has changed: straight to the cloud
            sent["after"] = org.send(w2a, "right after the flip")

    pairs, everyone = wave_pairs(org.waves_csv, org.users_csv, 2, None, None)
    relay = cloud_relay_of(org.relay, "mx.cloud.test", "secure", None, everyone)
    routing = routing_of(
        "postfix", org.onprem.config_dir, Path(org.onprem.command_directory), relay, None, None
    )
    job = WaveJob(
        2, pairs, everyone, Endpoint.parse(org.source.imap_url()),
        Endpoint.parse(org.target.imap_url()), str(org.state), routing, on_step=at,
    )  # fmt: skip
    report = cutover(job)
    assert report.ok, report.as_dict()
    assert wait_count(org.target, w2a, sent["after"]) == 1
    time.sleep(1)  # nothing more is on its way
    assert count(org.target, w2a, sent["flip"]) == 1
    assert count(org.target, w2a, sent["after"]) == 1
    assert count(org.source, w2a, sent["after"]) == 0


def test_kill_9_in_the_middle_of_cutover_then_rerun_finishes_the_wave(org: Org) -> None:
    w2a, w2b = _seed_wave(org, 120, 2000)
    args = _cutover_args(org, "--parallel", "1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "skylift", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    killed_in = None
    while time.monotonic() < deadline and proc.poll() is None:
        if org.state.exists():
            try:
                with RoutingRegistry(org.state) as registry:
                    states = {r.state for r in registry.all_current().values()}
            except Exception:  # the file is being created
                states = set()
            if RouteState.MIGRATING in states:
                time.sleep(0.3)  # into the final delta
                os.kill(proc.pid, signal.SIGKILL)
                killed_in = "final delta"
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_in, "cutover ended before it could be killed"

    done = org.route("cutover", 2)
    assert done.returncode == 0, done.stderr + done.stdout
    assert _status(org) == {w2a: "cloud", w2b: "cloud"}
    for user in (w2a, w2b):
        assert sorted(inbox_bodies(org.target, user)) == sorted(inbox_bodies(org.source, user))
    lines = (org.onprem.config_dir / "skylift_transport").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in lines if not line.startswith("#")) == sorted(
        [w2a, w2b]
    )
    fresh = org.send(w2b, "after the rerun")
    assert wait_count(org.target, w2b, fresh) == 1


def test_kill_9_during_the_flip_then_rerun_leaves_one_consistent_map_and_no_duplicate(
    org: Org,
) -> None:
    """Killed after the map is written and before the wave is recorded (reload, settle, last
    delta): the rerun records the wave, the map lists each moved user once, mail sent in
    between is delivered once, and nothing is copied twice."""
    w2a, w2b = _seed_wave(org, 40, 1500)
    args = _cutover_args(org)
    transport = org.onprem.config_dir / "skylift_transport"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skylift", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if w2a in transport.read_text():  # the flip's map is in place
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "cutover ended before the flip could be killed"
    jobs = run_skylift("jobs", "--state", org.state, "--kind", "cutover", "--json")
    assert {i["state"] for i in json.loads(jobs.stdout)["items"]} == {"running"}  # not recorded
    between = org.send(w2b, "between the kill and the rerun")
    until = time.monotonic() + 20
    while count(org.source, w2b, between) + count(org.target, w2b, between) == 0:
        assert time.monotonic() < until, "the message sent after the kill was not delivered"
        time.sleep(0.1)

    done = org.route("cutover", 2, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    assert _status(org) == {w2a: "cloud", w2b: "cloud"}
    lines = [x for x in transport.read_text().splitlines() if not x.startswith("#")]
    assert sorted(line.split("\t")[0] for line in lines) == sorted([w2a, w2b])
    assert "skylift_transport" not in json.loads(done.stdout)["maps_changed"]
    for user in (w2a, w2b):
        target = inbox_bodies(org.target, user)
        assert len(target) == len(set(target)), f"{user}: a message is on the target twice"
        assert set(inbox_bodies(org.source, user)) <= set(target)
    assert count(org.target, w2b, between) == 1
    jobs = run_skylift("jobs", "--state", org.state, "--kind", "cutover", "--json")
    latest = [i for i in json.loads(jobs.stdout)["items"] if i["state"] == "done"]
    assert {i["key"] for i in latest} == {w2a, w2b}
    fresh = org.send(w2a, "after the rerun")
    assert wait_count(org.target, w2a, fresh) == 1
    assert count(org.source, w2a, fresh) == 0


def _exists(org: Org, user: str) -> int:
    import imapclient

    from tests.routing.conftest import password

    try:
        with imapclient.IMAPClient("127.0.0.1", org.target.imap_port, ssl=False) as client:
            client.login(user, password(user))
            return int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
    except imapclient.exceptions.IMAPClientError:
        return 0  # not created yet


def test_ctrl_c_in_the_final_delta_changes_no_route_and_the_rerun_cuts_over(org: Org) -> None:
    """The first Ctrl-C stops the final delta at a batch boundary: no map is written, the
    wave is back on-prem (mail keeps arriving there), and the rerun finishes the wave exactly."""
    w2a, w2b = _seed_wave(org, 150, 2000)
    args = _cutover_args(org, "--parallel", "1", "--json")
    transport = org.onprem.config_dir / "skylift_transport"
    map_before = transport.read_text() if transport.exists() else ""
    proc = subprocess.Popen(
        [sys.executable, "-m", "skylift", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _exists(org, w2a) > 0:  # the final delta is copying
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopping after the current batch" in err and "no route changed" in err
    assert "Resume with the same command" in err and "Traceback" not in err
    report = json.loads(out)
    assert report["stopped"] is True and "flip" not in report["steps"]
    assert {u["after"] for u in report["users"]} == {"onprem"}
    assert _status(org) == {w2a: "onprem", w2b: "onprem"}
    assert (transport.read_text() if transport.exists() else "") == map_before
    assert len(inbox_bodies(org.target, w2a)) < 150 or len(inbox_bodies(org.target, w2b)) < 150
    during = org.send(w2b, "after the Ctrl-C")
    assert wait_count(org.source, w2b, during) == 1  # still delivered on-prem

    done = org.route("cutover", 2)
    assert done.returncode == 0, done.stderr + done.stdout
    assert _status(org) == {w2a: "cloud", w2b: "cloud"}
    for user in (w2a, w2b):
        target = inbox_bodies(org.target, user)
        assert len(target) == len(set(target)), f"{user}: a message is on the target twice"
        assert sorted(target) == sorted(inbox_bodies(org.source, user))
