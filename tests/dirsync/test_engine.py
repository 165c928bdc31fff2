"""The pure sync engine: mapping transforms, scope reasons, matching, planning, thresholds."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from skylift.engine.directory.mapping import apply_transform, load_mapping, mapping_from_dict
from skylift.engine.directory.matching import match
from skylift.engine.directory.plan import DeleteThresholdExceeded, check_threshold, plan_changes
from skylift.engine.directory.scope import build_desired
from skylift.errors import ConfigError
from skylift.model.directory import Group, SourceEntry, User

NOW = datetime(2026, 11, 27, 12, 0)
BASE = "dc=old,dc=example"


def person(uid: str, ou: str = "Staff", **extra: str) -> SourceEntry:
    attrs = {"uid": (uid,), "mail": (f"{uid}@old.example",), "sn": ("Doe",), "givenname": ("J",)}
    attrs |= {k.lower(): (v,) for k, v in extra.items()}
    return SourceEntry(f"uid={uid},ou={ou},{BASE}", f"anchor-{uid}", "user", attrs)


def group(cn: str, *member_dns: str) -> SourceEntry:
    return SourceEntry(
        f"cn={cn},ou=Groups,{BASE}", f"anchor-{cn}", "group", {"cn": (cn,), "member": member_dns}
    )


def plan_for(
    entries: list[SourceEntry], targets: list[User | Group], known: dict[str, str], **kw: object
):  # type: ignore[no-untyped-def]
    mapping = mapping_from_dict({"scope": {"user_ous": [f"ou=Staff,{BASE}"]}})
    desired = build_desired(entries, mapping)
    users = [t for t in targets if isinstance(t, User)]
    groups = [t for t in targets if isinstance(t, Group)]
    matches = match(desired, users, groups, known)
    return plan_changes(desired, matches, disabled_at=kw.pop("disabled_at", {}), now=NOW, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "values", "expected"),
    [
        ("lower", ("Jane@Old.Example",), ("jane@old.example",)),
        (
            "domain:@old.example=@new.example",
            ("jane@OLD.example", "x@other.org"),
            ("jane@new.example", "x@other.org"),
        ),
        ("prefix:OLD-=NEW-", ("old-42",), ("NEW-42",)),
        ("split:@:0", ("jane@old.example",), ("jane",)),
        ("smtp", ("smtp:b@x", "SMTP:a@x", "X500:/o=x"), ("a@x", "b@x")),
        ("smtp-secondary", ("smtp:b@x", "SMTP:a@x"), ("b@x",)),
    ],
)
def test_transforms_rewrite_values_as_documented(
    spec: str, values: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert apply_transform(spec, values) == expected


def test_mapping_joins_constants_and_ad_preset(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        'preset = "ad"\n[users]\ndisplayName = { join = ["sn", "givenName"], sep = ", " }\n'
        'department = { const = "Sales" }\n',
        encoding="utf-8",
    )
    mapping = load_mapping(path)
    entry = SourceEntry(
        "CN=Jane,OU=Staff,DC=old,DC=example",
        "guid",
        "user",
        {
            "userprincipalname": ("Jane@Old.Example",),
            "sn": ("Doe",),
            "givenname": ("Jane",),
            "mail": ("jane@old.example",),
            "proxyaddresses": ("SMTP:jane@old.example", "smtp:j.doe@old.example"),
            "useraccountcontrol": ("514",),
        },
    )
    [user] = build_desired([entry], mapping).users.values()
    assert user.user_name == "jane@old.example"
    assert user.display_name == "Doe, Jane" and user.department == "Sales"
    assert user.other_emails == ("j.doe@old.example",)
    assert user.active is False  # userAccountControl bit 2 (ACCOUNTDISABLE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[users]\nshoeSize = 'x'\n", "unknown target attribute 'shoeSize'"),
        (
            "[users]\nuserName = { from = 'uid', transforms = ['reverse'] }\n",
            "unknown transform 'reverse'",
        ),
        (
            "[users]\nuserName = { from = 'mail', transforms = ['domain:@x'] }\n",
            "expected domain:OLD=NEW",
        ),
        ("[scopes]\n", "unknown section(s) scopes"),
        ("users = [\n", "is not valid TOML"),
    ],
)
def test_a_bad_mapping_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_mapping(path)


def test_scope_gives_a_reason_for_every_object_left_out() -> None:
    mapping = mapping_from_dict(
        {
            "scope": {
                "user_ous": [f"ou=Staff,{BASE}"],
                "exclude": ["bob"],
                "member_of": [f"cn=vpn,ou=Groups,{BASE}"],
            }
        }
    )
    entries = [
        person("ann"),
        person("bob"),
        person("cid", ou="Leavers"),
        person("dan"),
        SourceEntry(
            f"uid=eve,ou=Staff,{BASE}", "anchor-eve", "user", {"uid": ("eve",)}, in_filter=False
        ),
        group("vpn", f"cn=inner,ou=Groups,{BASE}"),
        group("inner", f"UID=ann, OU=Staff, {BASE}"),
    ]
    desired = build_desired(entries, mapping)
    assert set(desired.users) == {"anchor-ann"}  # a member of vpn through the nested group
    assert desired.out_of_scope == {
        "anchor-bob": "excluded by the mapping file",
        "anchor-cid": f"left scope (moved to ou=Leavers,{BASE})",
        "anchor-dan": f"not a member of cn=vpn,ou=Groups,{BASE}",
        "anchor-eve": "left scope (no longer matches the filter)",
    }
    assert desired.groups["anchor-inner"].members == {"anchor-ann"}
    assert desired.groups["anchor-vpn"].members == {"anchor-inner"}


def test_update_touches_only_changed_attributes_with_a_reason() -> None:
    current = User(
        "anchor-ann", "ann", given_name="J", family_name="Doe", email="ann@old.example", id="t1"
    )
    plan = plan_for([person("ann", title="Boss")], [current], {"anchor-ann": "t1"})
    [change] = plan.changes
    assert (change.action, change.reason) == ("update", "update: title changed")
    assert change.changes == {"title": ("", "Boss")}


def test_soft_match_and_two_sources_claiming_one_target_are_conflicts_not_merges() -> None:
    ann = User("", "ann", email="ann@old.example", id="t1")
    plan = plan_for([person("ann")], [ann], {})
    assert [(c.action, c.reason) for c in plan.changes] == [
        ("link", "soft-match existing target user by email")
    ]

    twin = SourceEntry(
        f"uid=ann2,ou=Staff,{BASE}",
        "anchor-ann2",
        "user",
        {"uid": ("ann2",), "mail": ("ann@old.example",)},
    )
    plan = plan_for([person("ann"), twin], [ann], {})
    assert plan.changes == []
    assert [c.message for c in plan.conflicts] == [
        "conflict: 2 sources claim email ann@old.example: "
        f"uid=ann,ou=Staff,{BASE}; uid=ann2,ou=Staff,{BASE}"
    ]


def test_disable_comes_first_then_delete_after_the_grace_period() -> None:
    gone = User("anchor-zed", "zed", id="t9")
    plan = plan_for(
        [person("ann")], [User("anchor-ann", "ann", id="t1"), gone], {"anchor-zed": "t9"}
    )
    assert [(c.action, c.reason) for c in plan.changes if c.anchor == "anchor-zed"] == [
        ("disable", "disable: deleted in source (or moved outside the base)")
    ]
    disabled = User("anchor-zed", "zed", active=False, id="t9")
    since = {"anchor-zed": NOW - timedelta(days=3)}
    grace = timedelta(days=30)
    kept = plan_for([], [disabled], {"anchor-zed": "t9"}, disabled_at=since, delete_after=grace)
    assert kept.changes == []
    since = {"anchor-zed": NOW - timedelta(days=31)}
    due = plan_for([], [disabled], {"anchor-zed": "t9"}, disabled_at=since, delete_after=grace)
    assert [c.action for c in due.changes] == ["delete"]


def test_threshold_counts_disables_and_deletes_by_count_or_percentage() -> None:
    targets: list[User | Group] = [User(f"a{i}", f"u{i}", id=f"t{i}") for i in range(20)]
    plan = plan_for([], targets, {f"a{i}": f"t{i}" for i in range(20)})
    assert plan.removals() == 20
    check_threshold(plan, "20")
    with pytest.raises(DeleteThresholdExceeded, match="would disable or delete 20 objects"):
        check_threshold(plan, "19")
    with pytest.raises(DeleteThresholdExceeded, match=r"10% of 20 managed objects"):
        check_threshold(plan, "10%")
    with pytest.raises(ConfigError):
        check_threshold(plan, "ten")


def test_on_leave_delete_deletes_at_once_and_a_returning_user_is_enabled() -> None:
    gone = User("anchor-zed", "zed", id="t9")
    plan = plan_for([], [gone], {"anchor-zed": "t9"}, delete_mode="delete")
    assert [(c.action, c.reason) for c in plan.changes] == [
        ("delete", "delete: deleted in source (or moved outside the base)")
    ]
    back = User("anchor-ann", "ann", active=False, given_name="J", family_name="Doe",
                email="ann@old.example", id="t1")  # fmt: skip
    plan = plan_for([person("ann")], [back], {"anchor-ann": "t1"}, disabled_at={"anchor-ann": NOW})
    assert [(c.action, c.reason) for c in plan.changes] == [("enable", "enable: back in scope")]
