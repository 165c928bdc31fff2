"""Findings and estimates from generated inventories against the shipped profiles."""

from __future__ import annotations

import pytest

from skylift.engine.assess.checks import check_mailbox, throttle_finding
from skylift.engine.assess.estimate import (
    RateBounds,
    estimate_mailbox,
    estimate_total,
    parse_bandwidth,
)
from skylift.engine.assess.inventory import FolderInventory
from skylift.engine.profiles import builtin_profiles, load_profile
from skylift.errors import ConfigError
from tests.assess.inventories import MB, folder, mailbox


def kinds(findings):
    return sorted({f.kind for f in findings})


def test_every_builtin_limit_names_its_public_source():
    assert builtin_profiles() == ["generic-imap", "google-workspace", "microsoft365"]
    for name in builtin_profiles():
        profile = load_profile(name)
        for limit in profile.limits.values():
            assert limit.source, (name, limit.name)
    m365 = load_profile("microsoft365")
    assert m365.value("max_item_bytes") == 35 * MB
    assert m365.value("max_items_per_mailbox") == 500_000
    assert "learn.microsoft.com" in m365.get("max_item_bytes").url
    assert load_profile("google-workspace").value("ingest_bytes_per_day") == 500 * MB


def test_m365_flags_big_item_deep_folder_slash_reserved_and_case_collision():
    profile = load_profile("microsoft365")
    deep = "/".join(f"L{i}" for i in range(301))
    inv = mailbox(
        "ann@example.com",
        folder("INBOX", [10_000, 40 * MB, 200 * MB]),
        folder(deep, [1000]),
        FolderInventory(path=("Q1/Q2 plans",)),  # a '/' inside one name part
        folder("Files", [5]),
        folder("Work", [5]),
        folder("work", [5]),
    )
    findings = check_mailbox(inv, profile)
    assert kinds(findings) == [
        "folder-name-collision",
        "folder-name-forbidden-char",
        "folder-name-reserved",
        "folder-too-deep",
        "item-too-large",
    ]
    big = [f for f in findings if f.kind == "item-too-large"]
    assert [f.item.split(" ")[1] for f in big] == ["2", "3"]
    assert all(f.user == "ann@example.com" and f.folder == "INBOX" for f in big)
    assert "MaxReceiveSize" in big[0].remedy  # 40 MB can be allowed by raising the limit
    assert "shrink or delete" in big[1].remedy  # 200 MB is over even the raised limit
    assert all("--detach-over" in f.remedy for f in big)  # where it can go instead
    assert big[0].source and "learn.microsoft.com" in big[0].source
    collision = next(f for f in findings if f.kind == "folder-name-collision")
    assert "Work" in collision.detail and "work" in collision.detail


def test_item_count_limits_and_quota():
    profile = load_profile("microsoft365")
    inv = mailbox("bob@example.com", folder("INBOX", [1] * 10))
    inv.folders[0].count = 600_000
    inv.folders[0].total_bytes = 60 * 1024**3
    findings = check_mailbox(inv, profile)
    assert kinds(findings) == ["mailbox-too-many-items", "over-target-quota"]
    assert "100000 would be left behind" in findings[0].detail


def test_public_folder_is_a_blocker_for_m365_but_not_generic_imap():
    inv = mailbox(
        "cy@example.com",
        folder("INBOX", [1]),
        folder("Public/Announcements", [1, 2], namespace="shared"),
        folder("shared/dee/Projects", [1], namespace="other", owner="dee"),
    )
    m365 = check_mailbox(inv, load_profile("microsoft365"))
    public = next(f for f in m365 if f.kind == "public-folder")
    assert public.severity == "blocker" and "shared mailbox" in public.remedy
    assert "skylift migrate-public-folders" in public.remedy  # where it can go instead
    shared = next(f for f in m365 if f.kind == "shared-folder")
    assert shared.severity == "info" and "dee" in shared.detail
    generic = check_mailbox(inv, load_profile("generic-imap"))
    assert next(f for f in generic if f.kind == "public-folder").severity == "info"
    assert inv.shares_with() == ["dee"]
    assert inv.total_bytes == 1  # other users' and public folders are not this user's data


def test_login_failure_is_one_finding_with_a_remedy():
    inv = mailbox("eve@example.com", error="authentication failed", error_kind="login")
    [finding] = check_mailbox(inv, load_profile("generic-imap"))
    assert finding.kind == "login-failed" and finding.severity == "blocker"
    assert "Password" in finding.remedy


def test_gmail_label_path_length_and_connections():
    profile = load_profile("google-workspace")
    long_path = "/".join(["x" * 60] * 4)
    inv = mailbox("fay@example.com", folder(long_path, [1]))
    findings = check_mailbox(inv, profile, connections=20)
    assert kinds(findings) == ["folder-path-too-long", "too-many-connections"]


def test_slowest_bound_wins_and_is_named():
    gmail = load_profile("google-workspace")
    rates = RateBounds.build(gmail, bandwidth=parse_bandwidth("100Mbit"))
    est = estimate_mailbox(1000 * MB, 10_000, rates)
    assert est.bound == "target-daily-limit"
    assert est.hours == pytest.approx(48.0)
    fast_target = load_profile("generic-imap")
    slow_link = RateBounds.build(fast_target, bandwidth=parse_bandwidth("1Mbit"), concurrency=1)
    est = estimate_mailbox(1000 * MB, 10, slow_link)
    assert est.bound == "bandwidth"
    assert est.hours == pytest.approx(1000 * MB / 125_000 / 3600)
    probed = RateBounds.build(fast_target, probe=10_000.0)
    assert estimate_mailbox(1000 * MB, 10, probed).bound == "probe"
    m365 = RateBounds.build(load_profile("microsoft365"))
    assert estimate_mailbox(10 * MB, 36_000, m365).bound == "target-items-per-hour"


def test_a_mailbox_held_back_by_the_daily_limit_gets_a_prestage_warning():
    gmail = load_profile("google-workspace")
    est = estimate_mailbox(2000 * MB, 10_000, RateBounds.build(gmail))
    finding = throttle_finding("gus@example.com", est, gmail)
    assert finding is not None and finding.kind == "ingest-throttled"
    assert "4.0 days" in finding.detail and "pre-stage" in finding.remedy
    assert "support.google.com" in finding.source
    small = estimate_mailbox(100 * MB, 10, RateBounds.build(gmail))
    assert throttle_finding("gus@example.com", small, gmail) is None


def test_total_time_bound_by_parallel_mailboxes_or_largest():
    rates = RateBounds(concurrency=2)
    assert estimate_total([1.0, 1.0, 1.0, 1.0], 0, rates) == (2.0, "mailboxes-in-parallel")
    assert estimate_total([10.0, 1.0], 0, rates) == (10.0, "largest-mailbox")


@pytest.mark.parametrize(
    ("text", "bytes_per_second"),
    [
        ("100Mbit", 12_500_000),
        ("1Gbps", 125_000_000),
        ("50MB/s", 50_000_000),
        ("20MiB/s", 20 * MB),
        ("8000", 8000),
        ("10M", 10_000_000),
    ],
)
def test_bandwidth_units(text, bytes_per_second):
    assert parse_bandwidth(text) == pytest.approx(bytes_per_second)


@pytest.mark.parametrize("text", ["fast", "0Mbit", "-3Mbit"])
def test_bad_bandwidth_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_bandwidth(text)


def test_custom_profile_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[limits.max_item_bytes]\nvalue = 1000\n')
    profile = load_profile(str(path))
    assert profile.value("max_item_bytes") == 1000
    assert "mine.toml" in profile.get("max_item_bytes").source
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits.max_size]\nvalue = 1\n")
    with pytest.raises(ConfigError, match="unknown limit 'max_size'"):
        load_profile(str(bad))
    with pytest.raises(ConfigError, match="unknown target profile"):
        load_profile("exchange2003")


def test_days_needed_under_the_daily_budget_migrate_enforces(tmp_path):
    """The estimate counts UTC days with the same per-user budget that ``migrate`` stops at
    (the target profile's ingest_bytes_per_day, the default of --daily-budget)."""
    from skylift.cli.cloud import SignIn

    gmail = load_profile("google-workspace")
    big = estimate_mailbox(2 * 1024 * MB + 1, 10_000, RateBounds.build(gmail))
    assert big.days == 5 and big.to_dict()["days_at_daily_budget"] == 5
    finding = throttle_finding("gus@example.com", big, gmail)
    assert finding is not None and "5 runs on 5 days" in finding.detail
    assert estimate_mailbox(100 * MB, 10, RateBounds.build(gmail)).days == 1
    assert (
        estimate_mailbox(100 * MB, 10, RateBounds.build(load_profile("generic-imap"))).days is None
    )
    own = tmp_path / "tiny.toml"
    own.write_text('name = "tiny"\n[limits.ingest_bytes_per_day]\nvalue = 100000\n')
    profile = load_profile(str(own))
    assert estimate_mailbox(300_001, 30, RateBounds.build(profile)).days == 4
    sign_in = SignIn.from_options({"target_profile": str(own)})
    assert sign_in.daily_budget() == 100_000  # what migrate stops each user at, per UTC day
