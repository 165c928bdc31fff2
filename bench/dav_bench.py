"""Calendar and contacts migration benchmark: Radicale -> Radicale through the skylift CLI.

Generates a deterministic data set (per user: events incl. weekly series with a moved and a
cancelled occurrence, three time zones, all-day events; contacts, every tenth with a photo),
writes it straight into the source Radicale's storage folder (Radicale reads files put
there; seeding over HTTP would take longer than the migration), then runs
``migrate-calendars`` and ``migrate-contacts`` to a second Radicale and prints for each run:
objects/s, MB/s, wall and CPU time and peak RSS of the skylift process (from wait4). Then
the same with no change, and with 1% of the objects changed over HTTP.

Run from a checkout:  PYTHONPATH=src python bench/dav_bench.py [--users 5 --events 1000
--contacts 500 --dav-workers 4]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from skylift.demo.radicale import RadicaleServer  # noqa: E402

PASSWORD = "bench-secret"
ZONES = {
    "Europe/Berlin": ("+0100", "+0200", "CET", "CEST", "-1SU", 3, 10),
    "America/New_York": ("-0500", "-0400", "EST", "EDT", "2SU", 3, 11),
}


def vtimezone(tzid: str) -> str:
    std, dst, std_name, dst_name, day, dst_month, std_month = ZONES[tzid]
    std_day = "-1SU" if tzid == "Europe/Berlin" else "1SU"
    return (
        f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
        f"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:{std}\r\nTZOFFSETTO:{dst}\r\nTZNAME:{dst_name}\r\n"
        f"DTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH={dst_month};BYDAY={day}\r\n"
        f"END:DAYLIGHT\r\n"
        f"BEGIN:STANDARD\r\nTZOFFSETFROM:{dst}\r\nTZOFFSETTO:{std}\r\nTZNAME:{std_name}\r\n"
        f"DTSTART:19701101T020000\r\nRRULE:FREQ=YEARLY;BYMONTH={std_month};BYDAY={std_day}\r\n"
        f"END:STANDARD\r\nEND:VTIMEZONE\r\n"
    )


def event(user: str, n: int, rng: random.Random, summary: str | None = None) -> str:
    """One calendar object resource; every 10th a weekly series with two exceptions."""
    uid = f"ev-{n:05d}-{user}"
    day = 1 + rng.randrange(28)
    month = 1 + rng.randrange(12)
    hour = 8 + rng.randrange(9)
    summary = summary or f"Meeting {n} about {rng.choice(['budget', 'roadmap', 'hiring'])}"
    zone = rng.choice([*ZONES, "UTC"])
    if zone == "UTC":
        start = f"DTSTART:2025{month:02d}{day:02d}T{hour:02d}0000Z"
        end = f"DTEND:2025{month:02d}{day:02d}T{hour + 1:02d}0000Z"
        tz = ""
    else:
        start = f"DTSTART;TZID={zone}:2025{month:02d}{day:02d}T{hour:02d}0000"
        end = f"DTEND;TZID={zone}:2025{month:02d}{day:02d}T{hour + 1:02d}0000"
        tz = vtimezone(zone)
    common = (
        f"UID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"ORGANIZER;CN=Boss:mailto:boss@old.example\r\n"
        f"ATTENDEE;CN=User;PARTSTAT=ACCEPTED:mailto:{user}\r\n"
    )
    body = f"BEGIN:VEVENT\r\n{common}{start}\r\n{end}\r\nSUMMARY:{summary}\r\n"
    if n % 7 == 0:
        body += (
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Soon\r\nEND:VALARM\r\n"
        )
    if n % 10 == 0:  # a series: weekly, one week moved, one cancelled
        body += "RRULE:FREQ=WEEKLY;COUNT=20\r\nEND:VEVENT\r\n"
        moved = start.split(":", 1)[1]
        tzparam = f";TZID={zone}" if zone != "UTC" else ""
        rid = f"RECURRENCE-ID{tzparam}:{moved}"
        body += (
            f"BEGIN:VEVENT\r\n{common}{rid}\r\n{start}\r\n{end}\r\n"
            f"SUMMARY:{summary} (moved)\r\nEND:VEVENT\r\n"
        )
    else:
        body += "END:VEVENT\r\n"
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//skylift bench//EN\r\n{tz}{body}END:VCALENDAR\r\n"


def contact(user: str, n: int, rng: random.Random, note: str = "") -> str:
    photo = ""
    if n % 10 == 0:
        blob = base64.b64encode(rng.randbytes(12_000)).decode()
        folded = "\r\n ".join(blob[i : i + 74] for i in range(0, len(blob), 74))
        photo = f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\r\n"
    first = rng.choice(["Ana", "Ben", "Chen", "Dara", "Eli", "Femi"])
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ct-{n:05d}-{user}\r\nFN:{first} Person{n}\r\n"
        f"N:Person{n};{first};;;\r\nEMAIL;TYPE=WORK:{first.lower()}{n}@partner.example\r\n"
        f"TEL;TYPE=CELL:+49 30 {rng.randrange(10**6, 10**7)}\r\n"
        f"ORG:Partner {n % 17}\r\n{photo}{f'NOTE:{note}' + chr(13) + chr(10) if note else ''}"
        "END:VCARD\r\n"
    )


def seed(storage: Path, users: list[str], events: int, contacts: int) -> int:
    """Write every object as a file in Radicale's storage; return the bytes written."""
    total = 0
    for user in users:
        rng = random.Random(user)
        home = storage / "collection-root" / user
        for name, tag, props, make, count in (
            ("work", "VCALENDAR", {"C:supported-calendar-component-set": "VEVENT"}, event, events),
            ("contacts", "VADDRESSBOOK", {}, contact, contacts),
        ):
            folder = home / name
            folder.mkdir(parents=True, exist_ok=True)
            meta = {"tag": tag, "D:displayname": name.title(), **props}
            (folder / ".Radicale.props").write_text(json.dumps(meta))
            suffix = ".ics" if tag == "VCALENDAR" else ".vcf"
            for n in range(count):
                data = make(user, n, rng).encode()
                total += len(data)
                (folder / f"{n:05d}{suffix}").write_bytes(data)
    return total


def change(server: RadicaleServer, users: list[str], events: int, contacts: int, share: float):
    """Change *share* of each user's events and contacts over HTTP (as a client would)."""
    count = 0
    with httpx.Client(auth=("admin", PASSWORD), timeout=60) as client:
        for user in users:
            rng = random.Random(user + "-change")
            for name, total, make, suffix in (
                ("work", events, event, ".ics"),
                ("contacts", contacts, contact, ".vcf"),
            ):
                for n in rng.sample(range(total), max(1, int(total * share))):
                    if suffix == ".ics":
                        data = make(user, n, rng, summary=f"Changed {n}")
                    else:
                        data = make(user, n, rng, note=f"Changed {n}")
                    url = f"{server.http_url}{user}/{name}/{n:05d}{suffix}"
                    kind = "calendar" if suffix == ".ics" else "vcard"
                    response = client.put(
                        url, content=data, headers={"Content-Type": f"text/{kind}"}
                    )
                    response.raise_for_status()
                    count += 1
    return count


def run(args: list[str], env: dict[str, str], logs: Path) -> tuple[float, float, float, dict]:
    """Run skylift once; return wall s, CPU s, peak RSS MiB and the JSON summary."""
    out_path, err_path = logs / "stdout.json", logs / "stderr.txt"
    started = time.monotonic()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skylift", *args], env=env, stdout=out, stderr=err
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(
            f"skylift exited {code}:\n{err_path.read_text()}\n{out_path.read_text()[-3000:]}"
        )
    return (
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        json.loads(out_path.read_text()),
    )


def counts(summary: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for account in summary["items"]:
        for collection in account.get("collections", []):
            for action, n in collection["counts"].items():
                totals[action] = totals.get(action, 0) + n
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--events", type=int, default=1000, help="per user")
    parser.add_argument("--contacts", type=int, default=500, help="per user")
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--parallel", type=int, default=4, help="accounts at once")
    parser.add_argument("--dav-workers", type=int, default=None, help="PUTs at once per collection")
    opts = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # `kill` stops the servers too
    users = [f"user{i}@bench.example" for i in range(1, opts.users + 1)]

    with tempfile.TemporaryDirectory(prefix="skylift-dav-bench-") as tmp:
        root = Path(tmp)
        accounts = dict.fromkeys(users, PASSWORD)
        source = RadicaleServer(root / "source", users=dict(accounts), admin=("admin", PASSWORD))
        target = RadicaleServer(root / "target", users=dict(accounts), admin=("admin", PASSWORD))
        source.root.mkdir(parents=True)
        t = time.monotonic()
        size = seed(source.storage, users, opts.events, opts.contacts)
        objects = {"calendar": opts.users * opts.events, "addressbook": opts.users * opts.contacts}
        print(
            f"setup: {objects['calendar']} events + {objects['addressbook']} contacts "
            f"({size / 1e6:.1f} MB) for {opts.users} users written in {time.monotonic() - t:.1f}s"
        )
        csv = root / "users.csv"
        csv.write_text(
            "EmailAddress,UserName,Password,TargetUserName,TargetPassword\n"
            + "".join(f"{u},{u},{PASSWORD},{u},{PASSWORD}\n" for u in users)
        )
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
            )
        }
        extra = ["--dav-workers", str(opts.dav_workers)] if opts.dav_workers else []
        with source, target:

            def migrate(kind: str, label: str) -> None:
                command, scheme = (
                    ("migrate-calendars", "caldav+http")
                    if kind == "calendar"
                    else ("migrate-contacts", "carddav+http")
                )
                wall, cpu, rss, summary = run(
                    [
                        command, "--source", source.url(scheme), "--target", target.url(scheme),
                        "--users", str(csv), "--state", str(root / "state.db"), "--json",
                        "--parallel", str(opts.parallel), *extra,
                    ],
                    env,
                    root,
                )  # fmt: skip
                done = counts(summary)
                moved = done.get("create", 0) + done.get("update", 0)
                per_s = objects[kind] / wall
                mb = size_of[kind] * moved / objects[kind] / 1e6 / wall
                print(
                    f"{label:<26} {kind:<11} {wall:7.1f}s wall {cpu:6.1f}s CPU "
                    f"{per_s:7.1f} obj/s {mb:6.3f} MB/s  peak RSS {rss:4.0f} MiB  "
                    + " ".join(f"{k}={v}" for k, v in sorted(done.items()) if v)
                )

            size_of = {
                "calendar": sum(p.stat().st_size for p in source.storage.rglob("*.ics")),
                "addressbook": sum(p.stat().st_size for p in source.storage.rglob("*.vcf")),
            }
            for kind in ("calendar", "addressbook"):
                migrate(kind, "first run")
            for kind in ("calendar", "addressbook"):
                migrate(kind, "rerun, nothing changed")
            t = time.monotonic()
            n = change(source, users, opts.events, opts.contacts, opts.changed)
            print(f"changed {n} objects on the source in {time.monotonic() - t:.1f}s")
            for kind in ("calendar", "addressbook"):
                migrate(kind, f"rerun, {opts.changed:.0%} changed")


if __name__ == "__main__":
    main()
