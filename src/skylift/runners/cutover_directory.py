"""The directory side of a flip: a per-user routing attribute set at cut-over, restored at
rollback (``mailRoutingAddress``, or AD's ``targetAddress``).

The value found before the first write of a wave is saved in the routing registry
(``route_attributes``) before anything is written, and only once per wave until a rollback
restores it: a rerun after kill -9 finds the save and does not take skylift's own value
for the user's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from skylift.connectors import directory_routing
from skylift.connectors.directory.base import RoutingAttribute, RoutingValue
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ItemRejected
from skylift.model.account import Secret
from skylift.state.routing import RoutingRegistry


@dataclass(frozen=True)
class DirectoryRouting:
    """Where and what to write: the directory, the users' base DN, the attribute, and the
    cloud's routing domain (the value is ``local@routing_domain``)."""

    endpoint: Endpoint
    base: str
    attribute: str
    routing_domain: str
    bind_dn: str = ""
    password: Secret | None = None

    def open(self) -> RoutingAttribute:
        return directory_routing(  # type: ignore[no-any-return]
            self.endpoint, self.bind_dn, self.password, self.base, self.attribute
        )


def set_routes(
    spec: DirectoryRouting, registry: RoutingRegistry, users: list[str], wave: int, run_id: str
) -> dict[str, str]:
    """Point each user's attribute at the cloud; user -> why it could not be written."""
    why: dict[str, str] = {}
    if not users:
        return why
    with spec.open() as attr:
        for user in users:
            try:
                if registry.saved_attribute(user, attr.attribute, wave) is None:
                    before = json.dumps(attr.read(user).to_json())
                    registry.save_attribute(user, attr.attribute, wave, run_id, before)
                attr.write(user, RoutingValue((attr.value_for(user, spec.routing_domain),)))
            except ItemRejected as exc:
                why[user] = str(exc)
    return why


def restore_routes(
    spec: DirectoryRouting, registry: RoutingRegistry, users: list[str], wave: int
) -> dict[str, str]:
    """Put back what each user's attribute held before this wave's cut-over."""
    why: dict[str, str] = {}
    saved = {u: registry.saved_attribute(u, spec.attribute, wave) for u in users}
    todo = {u: s for u, s in saved.items() if s is not None}
    if not todo:
        return why
    with spec.open() as attr:
        for user, (row_id, previous) in todo.items():
            try:
                attr.write(user, RoutingValue.from_json(json.loads(previous)))
                registry.restored_attribute(row_id)
            except ItemRejected as exc:
                why[user] = str(exc)
    return why
