"""The wave planner on generated users: window fit, grouping, first wave, oversize users."""

from __future__ import annotations

import pytest

from skylift.engine.assess.waves import PlanUser, parse_window, plan_waves
from skylift.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("Sat 20:00-Mon 06:00", 34.0),
        ("22:00-06:00", 8.0),
        ("Fri 18:00-Fri 20:30", 2.5),
        ("30h", 30.0),
        ("sun 00:00-sat 00:00", 144.0),
    ],
)
def test_window_hours(text, hours):
    assert parse_window(text) == pytest.approx(hours)


@pytest.mark.parametrize(
    "text", ["tonight", "Sat 20:00-06:00", "Xyz 10:00-Mon 06:00", "25:00-01:00"]
)
def test_bad_window_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_window(text)


def users(n: int, hours: float = 1.0, **kw) -> list[PlanUser]:
    return [PlanUser(key=f"u{i:03d}@example.com", hours=hours, **kw) for i in range(n)]


def test_every_wave_fits_the_window():
    people = users(40, hours=3.0)
    plan = plan_waves(people, window_hours=10.0, lanes=4)
    assert all(w.hours <= 10.0 for w in plan.waves)
    # 4 lanes x 3 users of 3 h per lane = 12 users per wave -> 4 waves for 40 users.
    assert len(plan.waves) == 4
    assert sorted(k for w in plan.waves for k in w.users) == sorted(u.key for u in people)
    assert not plan.overrun and not plan.oversize


def test_fixed_number_of_waves_spreads_big_mailboxes():
    people = [
        *users(6, hours=1.0),
        PlanUser("big1@example.com", 8.0),
        PlanUser("big2@example.com", 8.0),
        PlanUser("big3@example.com", 8.0),
    ]
    plan = plan_waves(people, window_hours=10.0, waves=3, lanes=2)
    where = plan.wave_of()
    assert (
        len({where["big1@example.com"], where["big2@example.com"], where["big3@example.com"]}) == 3
    )
    assert all(w.hours <= 10.0 for w in plan.waves)


def test_max_hours_caps_each_wave():
    plan = plan_waves(users(10, hours=2.0), window_hours=34.0, max_hours=4.0, lanes=1)
    assert plan.capacity_hours == 4.0
    assert len(plan.waves) == 5 and all(w.hours <= 4.0 for w in plan.waves)


def test_shared_folder_users_stay_together_and_groups_where_they_fit():
    people = [
        PlanUser("a@x", 4.0, shares_with=("b@x",)),
        PlanUser("b@x", 4.0),
        PlanUser("c@x", 4.0, group="Sales"),
        PlanUser("d@x", 4.0, group="Sales"),
        PlanUser("e@x", 4.0, group="Sales"),
        PlanUser("f@x", 4.0),
    ]
    plan = plan_waves(people, window_hours=9.0, lanes=1)
    where = plan.wave_of()
    assert where["a@x"] == where["b@x"]
    # Sales needs 12 h on one lane: it cannot fit one 9 h wave, so it is split and said so.
    assert plan.split_groups == ["Sales"]
    small = [PlanUser(k, 1.0, group="Ops") for k in ("g@x", "h@x", "i@x")] + users(20)
    plan = plan_waves(small, window_hours=5.0, lanes=1)
    ops = {plan.wave_of()[k] for k in ("g@x", "h@x", "i@x")}
    assert len(ops) == 1 and not plan.split_groups


def test_first_users_go_in_wave_one():
    people = users(30, hours=2.0)
    people[25] = PlanUser(people[25].key, 2.0, first=True)
    people[29] = PlanUser(people[29].key, 2.0, first=True)
    plan = plan_waves(people, window_hours=4.0, lanes=2)
    assert plan.wave_of()[people[25].key] == 1 and plan.wave_of()[people[29].key] == 1


def test_oversize_user_is_flagged_with_hours_and_prestage_advice():
    people = [*users(4, hours=1.0), PlanUser("huge@x", 50.0)]
    plan = plan_waves(people, window_hours=34.0, lanes=2)
    [big] = plan.oversize
    assert big.key == "huge@x" and big.hours == 50.0
    advice = big.advice(plan.window_hours)
    assert "pre-stage" in advice and "16.0 h before" in advice
    wave = next(w for w in plan.waves if w.number == big.wave)
    assert "huge@x" in wave.prestage and wave.hours <= 34.0
    assert not plan.overrun


def test_fewer_waves_than_asked_says_why():
    # three pairs of users who share folders can fill three waves, not four
    people = [
        PlanUser(f"{p}{i}@x", 1.0, shares_with=(f"{p}{1 - i}@x",)) for p in "abc" for i in (0, 1)
    ]
    plan = plan_waves(people, window_hours=10.0, waves=4, lanes=2)
    assert [w.number for w in plan.waves] == [1, 2, 3]
    assert plan.fewer_waves_reason.startswith("asked for 4 waves, made 3: only 3 group(s)")
    assert not plan_waves(people, window_hours=10.0, waves=3, lanes=2).fewer_waves_reason


def test_same_input_same_plan():
    people = [PlanUser(f"u{i}@x", (i * 7919) % 13 + 0.5, group=f"g{i % 3}") for i in range(200)]
    first = plan_waves(people, window_hours=20.0, lanes=3)
    second = plan_waves(list(reversed(people)), window_hours=20.0, lanes=3)
    assert first.wave_of() == second.wave_of()


def test_measured_pilot_rates_replace_the_estimate():
    from skylift.engine.assess.waves_csv import plan_users

    assessment = {
        "users": [
            {"user": "a@x", "login": "a", "status": "ok", "bytes": 3_600_000,
             "estimate": {"hours": 9.0, "bound": "bandwidth"}, "extra": {}},
            {"user": "b@x", "login": "b", "status": "ok", "bytes": 7_200_000,
             "estimate": {"hours": 9.0, "bound": "bandwidth"}, "extra": {}},
        ]
    }  # fmt: skip
    estimated = plan_users(assessment)
    assert [u.rate_source for u in estimated] == ["assessment:bandwidth"] * 2
    piloted = plan_users(assessment, measured={"a@x": 1000.0})
    assert [(u.key, u.rate_source) for u in piloted] == [
        ("a@x", "measured"),
        ("b@x", "pilot-median"),
    ]
    assert piloted[0].hours == pytest.approx(1.0) and piloted[1].hours == pytest.approx(2.0)
