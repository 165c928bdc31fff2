"""The Graph fake's Microsoft To Do half: task lists and tasks, beside the calendars.

Extends :class:`tests.servers.graph_fake.GraphFake` (same server, tokens, schema checks and
throttling) with exactly the calls skylift makes for a calendar's tasks:
``GET/POST /users/{id}/todo/lists``, ``GET/POST /users/{id}/todo/lists/{id}/tasks`` and
``PATCH/DELETE /users/{id}/todo/lists/{id}/tasks/{id}``. Every body is checked against the
``todoTask``/``todoTaskList`` types of the pinned CSDL slice, like the calendar calls.

What it reproduces: the application permission ``Tasks.ReadWrite.All`` (403 without it, while
the calendar calls go on with ``Calendars.ReadWrite``); a task's ``linkedResources`` are made
with the task and returned only with ``$expand=linkedResources``; ``lastModifiedDateTime``
changes on every write; a recurring task needs a ``dueDateTime`` (400 otherwise); paging by
``@odata.nextLink``.

What it cannot reproduce: the To Do apps' own views (My Day, flagged e-mails), list sharing,
checklist items and task attachments (skylift writes neither), delta queries.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from tests.servers.graph_fake import GraphFake


class GraphTodoFake(GraphFake):
    def __init__(self, tokens: Any) -> None:
        super().__init__(tokens)
        self.lists: dict[str, dict[str, dict[str, Any]]] = {}  # user -> id -> list
        self.tasks: dict[str, dict[str, Any]] = {}  # id -> task (with _list)

    def tasks_of(self, user: str, name: str) -> list[dict[str, Any]]:
        """Every task of *user*'s To Do list called *name* (for assertions)."""
        ids = {x["id"] for x in self.lists.get(user, {}).values() if x["displayName"] == name}
        return [t for t in self.tasks.values() if t["_list"] in ids]

    def required_role(self, path: str) -> str:
        if "/todo/" in path or path.endswith("/todo"):
            return "Tasks.ReadWrite.All"
        return super().required_role(path)

    def _route(self, verb: str, seg: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        user, rest = seg[1].lower(), seg[2:]
        if rest[:2] != ["todo", "lists"]:
            return super()._route(verb, seg, q, body)
        home = self.lists.setdefault(user, {})
        rest = rest[2:]
        if not rest and verb == "GET":
            return 200, {"value": list(home.values())}
        if not rest and verb == "POST":
            made = {"id": f"AQMkTl{uuid.uuid4().hex[:12]}", "displayName": body["displayName"],
                    "isOwner": True, "isShared": False, "wellknownListName": "none"}  # fmt: skip
            home[made["id"]] = made
            return 201, made
        if rest[0] not in home:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "no such list"}}
        if rest[1:] == ["tasks"] and verb == "GET":
            return 200, self._task_page(user, rest[0], q)
        if rest[1:] == ["tasks"] and verb == "POST":
            if body.get("recurrence") and not body.get("dueDateTime"):
                return 400, {"error": {"code": "invalidRequest",
                                       "message": "A recurring task needs a dueDateTime."}}  # fmt: skip
            task = {k: v for k, v in body.items() if k != "id"}
            task["linkedResources"] = [{**link, "id": uuid.uuid4().hex}
                                       for link in body.get("linkedResources", [])]  # fmt: skip
            task.update(id=f"AQMkTk{uuid.uuid4().hex[:16]}", _list=rest[0])
            task.setdefault("status", "notStarted")
            task.setdefault("importance", "normal")
            self._touch(task)
            self.tasks[task["id"]] = task
            return 201, self._task_view(task, {})
        task = self.tasks.get(rest[2]) if len(rest) == 3 and rest[1] == "tasks" else None
        if task is None or task["_list"] != rest[0]:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "no such task"}}
        if verb == "PATCH":
            if "linkedResources" in body:
                return 400, {"error": {"code": "invalidRequest",
                                       "message": "linkedResources are not patched here"}}  # fmt: skip
            task.update(body)
            self._touch(task)
            return 200, self._task_view(task, {})
        if verb == "DELETE":
            del self.tasks[task["id"]]
            return 204, None
        return 405, {"error": {"code": "BadRequest", "message": f"{verb} not supported here"}}

    def _task_page(self, user: str, list_id: str, q: dict[str, str]) -> dict[str, Any]:
        skip = int(q.get("$skip", "0"))
        top = min(int(q.get("$top", str(self.page_size))), self.page_size)
        found = [t for t in self.tasks.values() if t["_list"] == list_id]
        out: dict[str, Any] = {"value": [self._task_view(t, q) for t in found[skip : skip + top]]}
        if skip + top < len(found):
            base = f"{self.api_base}/v1.0/users/{user}/todo/lists/{list_id}/tasks"
            keep = {k: v for k, v in q.items() if k != "$skip"}
            out["@odata.nextLink"] = f"{base}?{urlencode({**keep, '$skip': skip + top})}"
        return out

    @staticmethod
    def _task_view(task: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        out = {k: v for k, v in task.items() if not k.startswith("_")}
        if "linkedResources" not in q.get("$expand", ""):
            out.pop("linkedResources", None)
        return out
