"""The mapping file: which source attributes flow into which target attributes, and scope.

A mapping is TOML. Each flow names a target attribute (SCIM name) and says where its value
comes from: one source attribute (``from``), several joined (``join`` + ``sep``) or a
constant (``const``), then optional ``transforms`` applied in order. Presets give sensible
flows for Active Directory and OpenLDAP; a file only overrides what it names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skylift.errors import ConfigError

# SCIM attribute name in a mapping file -> User dataclass field.
USER_TARGETS: dict[str, str] = {
    "userName": "user_name",
    "displayName": "display_name",
    "name.givenName": "given_name",
    "name.familyName": "family_name",
    "emails.work": "email",
    "emails.other": "other_emails",
    "title": "title",
    "department": "department",
    "phoneNumbers.work": "phone",
}
GROUP_TARGETS: dict[str, str] = {"displayName": "display_name"}
MULTI_VALUED = frozenset({"other_emails"})


@dataclass(frozen=True)
class Flow:
    """Where one target attribute's value comes from."""

    sources: tuple[str, ...] = ()
    const: str | None = None
    sep: str = " "
    transforms: tuple[str, ...] = ()

    def evaluate(self, get_all: Callable[[str], tuple[str, ...]]) -> tuple[str, ...]:
        if self.const is not None:
            values: tuple[str, ...] = (self.const,)
        elif len(self.sources) == 1:
            values = get_all(self.sources[0])
        else:
            parts = [get_all(name) for name in self.sources]
            joined = self.sep.join(p[0] for p in parts if p and p[0])
            values = (joined,) if joined else ()
        for spec in self.transforms:
            values = apply_transform(spec, values)
        return tuple(v for v in values if v != "")


def apply_transform(spec: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """Apply one transform named in a mapping file to every value.

    ``lower``, ``upper``, ``strip``; ``domain:@old.example=@new.example`` rewrites a suffix;
    ``prefix:OLD=NEW`` rewrites a prefix; ``split:SEP:N`` keeps part N; ``smtp`` keeps the
    SMTP addresses of AD proxyAddresses (primary first) without their ``smtp:`` tag;
    ``smtp-secondary`` keeps only the secondary ones; ``first`` keeps the first value.
    """
    name, _, arg = spec.partition(":")
    if name == "lower":
        return tuple(v.lower() for v in values)
    if name == "upper":
        return tuple(v.upper() for v in values)
    if name == "strip":
        return tuple(v.strip() for v in values)
    if name == "first":
        return values[:1]
    if name in ("domain", "prefix"):
        old, sep, new = arg.partition("=")
        if not sep or not old:
            raise ConfigError(f"transform {spec!r}: expected {name}:OLD=NEW")
        if name == "domain":
            return tuple(
                v[: -len(old)] + new if v.lower().endswith(old.lower()) else v for v in values
            )
        return tuple(
            new + v[len(old) :] if v.lower().startswith(old.lower()) else v for v in values
        )
    if name == "split":
        sep, _, index = arg.rpartition(":")
        if not sep or not index.lstrip("-").isdigit():
            raise ConfigError(f"transform {spec!r}: expected split:SEP:N")
        out = []
        for v in values:
            parts = v.split(sep)
            n = int(index)
            out.append(parts[n] if -len(parts) <= n < len(parts) else "")
        return tuple(out)
    if name in ("smtp", "smtp-secondary"):
        primary = [v[5:] for v in values if v.startswith("SMTP:")]
        secondary = [v[5:] for v in values if v.startswith("smtp:")]
        return tuple(secondary if name == "smtp-secondary" else primary + secondary)
    raise ConfigError(f"unknown transform {spec!r} in mapping")


@dataclass(frozen=True)
class DisabledRule:
    """How to read "this account is disabled" from a source entry.

    *bitmask*: the attribute is an integer and any of these bits set means disabled (AD
    userAccountControl, bit 2). *values*: one of these values means disabled. Otherwise the
    attribute being present at all means disabled (OpenLDAP ppolicy pwdAccountLockedTime).
    """

    attribute: str = ""
    bitmask: int = 0
    values: tuple[str, ...] = ()

    def is_disabled(self, get_all: Callable[[str], tuple[str, ...]]) -> bool:
        if not self.attribute:
            return False
        found = get_all(self.attribute)
        if not found:
            return False
        if self.bitmask:
            try:
                return bool(int(found[0]) & self.bitmask)
            except ValueError:
                return False
        if self.values:
            wanted = {v.lower() for v in self.values}
            return any(v.lower() in wanted for v in found)
        return True


@dataclass(frozen=True)
class Scope:
    """Which source objects are in scope, beyond the LDAP ``--filter``.

    *user_ous*/*group_ous*: DN suffixes (empty: the whole base). *member_of*: users must be
    members, directly or through nested groups, of one of these group DNs. *exclude*: DNs,
    anchors, userNames or group names never synced. *include_critical*: also sync AD's
    critical system objects (Administrator, krbtgt, Domain Admins, the Builtin groups …),
    which belong to the old directory itself and are left out by default.
    """

    user_ous: tuple[str, ...] = ()
    group_ous: tuple[str, ...] = ()
    member_of: tuple[str, ...] = ()
    exclude: frozenset[str] = frozenset()
    include_critical: bool = False


@dataclass(frozen=True)
class Mapping:
    """A complete mapping: flows for users and groups, the disabled rule and the scope."""

    preset: str
    user_flows: dict[str, Flow]
    group_flows: dict[str, Flow]
    disabled: DisabledRule
    scope: Scope = field(default_factory=Scope)
    ldap_filter: str = ""

    def source_attributes(self) -> set[str]:
        """Every source attribute the flows read, for the LDAP search's attribute list."""
        names = {
            s for f in (*self.user_flows.values(), *self.group_flows.values()) for s in f.sources
        }
        if self.disabled.attribute:
            names.add(self.disabled.attribute)
        return names | set(CRITICAL_ATTRIBUTES.get(self.preset, ()))


PRESET_FLOWS: dict[str, dict[str, dict[str, Flow]]] = {
    "openldap": {
        "user": {
            "userName": Flow(("uid",), transforms=("lower",)),
            "displayName": Flow(("displayName",)),
            "name.givenName": Flow(("givenName",)),
            "name.familyName": Flow(("sn",)),
            "emails.work": Flow(("mail",), transforms=("first", "lower")),
            "title": Flow(("title",)),
            "department": Flow(("departmentNumber",)),
            "phoneNumbers.work": Flow(("telephoneNumber",)),
        },
        "group": {"displayName": Flow(("cn",))},
    },
    "ad": {
        "user": {
            "userName": Flow(("userPrincipalName",), transforms=("lower",)),
            "displayName": Flow(("displayName",)),
            "name.givenName": Flow(("givenName",)),
            "name.familyName": Flow(("sn",)),
            "emails.work": Flow(("mail",), transforms=("lower",)),
            "emails.other": Flow(("proxyAddresses",), transforms=("smtp-secondary", "lower")),
            "title": Flow(("title",)),
            "department": Flow(("department",)),
            "phoneNumbers.work": Flow(("telephoneNumber",)),
        },
        "group": {"displayName": Flow(("cn",))},
    },
}
# What marks a directory's own system objects (see Scope.include_critical), by preset.
CRITICAL_ATTRIBUTES: dict[str, tuple[str, ...]] = {"ad": ("isCriticalSystemObject", "groupType")}
PRESET_DISABLED: dict[str, DisabledRule] = {
    "openldap": DisabledRule(attribute="pwdAccountLockedTime"),
    "ad": DisabledRule(attribute="userAccountControl", bitmask=2),
}


def default_mapping(preset: str = "openldap") -> Mapping:
    if preset not in PRESET_FLOWS:
        raise ConfigError(f"unknown preset {preset!r} (known: {', '.join(PRESET_FLOWS)})")
    flows = PRESET_FLOWS[preset]
    return Mapping(preset, dict(flows["user"]), dict(flows["group"]), PRESET_DISABLED[preset])


def load_mapping(path: Path | None, preset: str | None = None) -> Mapping:
    """Read a mapping file over its preset; a bad file is a one-line ConfigError."""
    if path is None:
        return default_mapping(preset or "openldap")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read mapping file {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping file {path} is not valid TOML: {exc}") from exc
    return mapping_from_dict(data, preset, where=str(path))


def mapping_from_dict(
    data: dict[str, Any], preset: str | None = None, where: str = "mapping"
) -> Mapping:
    base = default_mapping(preset or str(data.get("preset", "openldap")))
    unknown = set(data) - {"preset", "users", "groups", "scope"}
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    users = dict(data.get("users", {}))
    disabled = base.disabled
    if "disabled" in users:
        disabled = _disabled_rule(users.pop("disabled"), where)
    user_flows = {**base.user_flows, **_flows(users, USER_TARGETS, where + " [users]")}
    group_flows = {
        **base.group_flows,
        **_flows(dict(data.get("groups", {})), GROUP_TARGETS, where + " [groups]"),
    }
    scope_data = dict(data.get("scope", {}))
    scope = Scope(
        user_ous=tuple(_strings(scope_data.pop("user_ous", []), where)),
        group_ous=tuple(_strings(scope_data.pop("group_ous", []), where)),
        member_of=tuple(_strings(scope_data.pop("member_of", []), where)),
        exclude=frozenset(s.lower() for s in _strings(scope_data.pop("exclude", []), where)),
        include_critical=_bool(scope_data.pop("include_critical", False), where),
    )
    ldap_filter = str(scope_data.pop("filter", ""))
    if scope_data:
        raise ConfigError(f"{where} [scope]: unknown key(s) {', '.join(sorted(scope_data))}")
    return Mapping(base.preset, user_flows, group_flows, disabled, scope, ldap_filter)


def _flows(section: dict[str, Any], targets: dict[str, str], where: str) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    for name, spec in section.items():
        if name not in targets:
            raise ConfigError(
                f"{where}: unknown target attribute {name!r} (known: {', '.join(targets)})"
            )
        if isinstance(spec, str):
            spec = {"from": spec}
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: {name} must be a source attribute name or a table")
        transforms = tuple(_strings(spec.get("transforms", []), where))
        for t in transforms:
            apply_transform(t, ())  # validate now, not in the middle of a run
        if "const" in spec:
            flows[name] = Flow(const=str(spec["const"]), transforms=transforms)
        elif "join" in spec:
            flows[name] = Flow(
                tuple(_strings(spec["join"], where)),
                sep=str(spec.get("sep", " ")),
                transforms=transforms,
            )
        elif "from" in spec:
            flows[name] = Flow((str(spec["from"]),), transforms=transforms)
        else:
            raise ConfigError(f"{where}: {name} needs one of from, join or const")
    return flows


def _disabled_rule(spec: Any, where: str) -> DisabledRule:
    if not isinstance(spec, dict) or "attribute" not in spec:
        raise ConfigError(f"{where} [users.disabled]: needs attribute = NAME")
    return DisabledRule(
        attribute=str(spec["attribute"]),
        bitmask=int(spec.get("bitmask", 0)),
        values=tuple(_strings(spec.get("values", []), where)),
    )


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")
    return list(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} [scope]: include_critical must be true or false")
    return value
