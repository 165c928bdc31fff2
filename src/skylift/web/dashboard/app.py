"""The dashboard's FastAPI app: pages, ``/api/``, the live event stream and ``/metrics``.

Server-rendered Jinja2 pages and one small plain script (static/dashboard.js, no build
step) that listens to ``/events`` (Server-Sent Events) and rewrites the numbers in place.
Everything is read from the state store per request (web/dashboard/snapshot.py); the
buttons go through web/dashboard/control.py, i.e. the CLI's own runner.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape

from skylift.errors import ConfigError
from skylift.model.units import human_bytes
from skylift.runners.dirsync import read_journal, read_previews
from skylift.state import ledger_stats
from skylift.state.routing import RoutingRegistry
from skylift.state.store import StateStore
from skylift.state.web_access import TooManyTries, WebAccess
from skylift.state.work_units import WorkUnits
from skylift.web.dashboard import metrics, snapshot
from skylift.web.dashboard.auth import (
    COOKIE,
    LOGIN_COOKIE,
    Caller,
    Refused,
    admin_form,
    caller,
    form,
)
from skylift.web.dashboard.control import WaveControl

HERE = Path(__file__).parent
ACTIONS = ("start", "pause", "resume", "cancel")
EVENT_SECONDS = 1.0


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def create_app(
    state: str | Path,
    *,
    control: WaveControl | None = None,
    secure_cookies: bool = False,
    assessment: Path | None = None,
    setup_url: str | None = None,
) -> FastAPI:
    """The dashboard over the state store at *state*; *control* enables the wave buttons."""
    store = StateStore(state)  # makes every mail table, so a fresh state shows empty pages
    units = WorkUnits(store.engine)
    access = control.access if control else WebAccess(store.engine)
    RoutingRegistry(store.engine).close()
    app = FastAPI(title="skylift dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    pages.filters["bytes"] = human_bytes
    pages.filters["duration"] = _duration

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return exc.response

    @app.exception_handler(ConfigError)
    async def bad(request: Request, exc: ConfigError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    def render(name: str, who: Caller | None, **values: Any) -> HTMLResponse:
        html = pages.get_template(name).render(
            who=who.account if who else None, csrf=who.csrf if who else "",
            can_act=bool(who and who.account.admin and control), setup_url=setup_url,
            assessment=assessment is not None, **values,
        )  # fmt: skip
        return HTMLResponse(html)

    def cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=secure_cookies, path="/")  # fmt: skip

    # -- login ---------------------------------------------------------------------------
    @app.get("/login")
    async def login_page(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(16)
        response = render("login.html.j2", None, login_csrf=token, next=next, error=None)
        cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        fields = await form(request)
        target = fields.get("next", "/")
        target = target if target.startswith("/") and not target.startswith("//") else "/"
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(fields.get("csrf", ""), expected):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)

        def again(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
            response = render("login.html.j2", None, login_csrf=expected, next=target,
                              error=error)  # fmt: skip
            response.status_code = status
            response.headers.update(headers or {})
            return response

        try:
            account = await asyncio.to_thread(
                access.check_password, fields.get("name", ""), fields.get("password", "")
            )
        except TooManyTries as exc:
            return again(str(exc), 429, {"Retry-After": str(exc.retry_after)})
        if account is None:
            return again("wrong name or password", 401)
        response = RedirectResponse(target, status_code=303)
        cookie(response, COOKIE, access.open_session(account.name), 12 * 3600)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        who = caller(request, access, page=True)
        fields = await form(request)
        if who.token and secrets.compare_digest(fields.get("csrf", ""), who.csrf):
            access.close_session(who.token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- pages ---------------------------------------------------------------------------
    @app.get("/")
    async def overview(request: Request) -> Response:
        who = caller(request, access, page=True)
        view = await asyncio.to_thread(snapshot.overview, units, control)
        return render("overview.html.j2", who, view=view)

    def wave_view(wave: str) -> tuple[dict[str, Any], dict[str, Any]]:
        view = snapshot.overview(units, control)
        found = next((w for w in view["waves"] if w["wave"] == wave), None)
        if found is None:
            raise ConfigError(f"no wave {wave} in the plan")
        return view, found

    @app.get("/waves/{wave}")
    async def wave_page(request: Request, wave: str) -> Response:
        who = caller(request, access, page=True)
        view, found = await asyncio.to_thread(wave_view, wave)
        users = [u for u in view["items"] if u["wave"] == wave]
        return render("wave.html.j2", who, wave=found, users=users)

    def user_view(key: str) -> dict[str, Any]:
        view = snapshot.overview(units, control)
        row = next((u for u in view["items"] if u["key"] == key), None)
        if row is None:
            raise ConfigError(f"no mailbox {key} in the plan or the state store")
        with RoutingRegistry(store.engine) as registry:
            history = [r.to_dict() for r in registry.history(key)]
        return {
            **row,
            "folders": ledger_stats.folders(store.engine, key),
            "problem_items": ledger_stats.problems(store.engine, key),
            "route_history": history,
            "units": [u.to_dict() for u in units.list(kind="mail") if u.key == key],
        }

    @app.get("/users/{key}")
    async def user_page(request: Request, key: str) -> Response:
        who = caller(request, access, page=True)
        user = await asyncio.to_thread(user_view, key)
        return render("user.html.j2", who, user=user, quote=quote)

    def work_view() -> dict[str, Any]:
        rows = [r.to_dict() for r in ledger_stats.latest_units(units).values() if r.kind != "mail"]
        entries = read_journal(state, 200)  # what `skylift dirsync-journal` prints
        return {"units": rows, "journal": entries, "previews": read_previews(state),
                "dav": ledger_stats.dav_accounts(store.engine)}  # fmt: skip

    @app.get("/work")
    async def work_page(request: Request) -> Response:
        who = caller(request, access, page=True)
        return render("work.html.j2", who, **await asyncio.to_thread(work_view))

    @app.get("/audit")
    async def audit_page(request: Request) -> Response:
        who = caller(request, access, page=True)
        return render("audit.html.j2", who, entries=access.audit_log(200))

    @app.get("/assessment")
    async def assessment_page(request: Request) -> Response:
        caller(request, access, page=True)
        report = assessment / "assessment.html" if assessment else None
        if report is None or not report.is_file():
            return PlainTextResponse("no assessment report (skylift web --assessment DIR)", 404)
        return FileResponse(report, media_type="text/html")

    @app.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in ("dashboard.js", "dashboard.css"):
            return PlainTextResponse("not found", 404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(HERE / "static" / name, media_type=kind)

    # -- actions (admin, session + CSRF) -------------------------------------------------
    def act(who: Caller, action: str, target: str) -> None:
        if control is None:
            raise Refused(JSONResponse({"error": "started without --waves: nothing to run"},
                                       status_code=409))  # fmt: skip
        control.act(who.account.name, action, target)

    @app.post("/waves/{wave}/{action}")
    async def wave_action(request: Request, wave: str, action: str) -> Response:
        who = caller(request, access, page=False)
        admin_form(who, await form(request))
        if action not in ACTIONS:
            raise ConfigError(f"unknown action {action!r}")
        act(who, action, wave)
        return RedirectResponse(f"/waves/{quote(wave)}", status_code=303)

    @app.post("/users/{key}/retry")
    async def retry(request: Request, key: str) -> Response:
        who = caller(request, access, page=False)
        admin_form(who, await form(request))
        act(who, "retry", key)
        return RedirectResponse(f"/users/{quote(key, safe='@')}", status_code=303)

    # -- API, events, metrics ------------------------------------------------------------
    @app.get("/api/overview")
    async def api_overview(request: Request) -> Response:
        caller(request, access, page=False)
        return JSONResponse(await asyncio.to_thread(snapshot.overview, units, control))

    @app.get("/api/users/{key}")
    async def api_user(request: Request, key: str) -> Response:
        caller(request, access, page=False)
        user = await asyncio.to_thread(user_view, key)
        return JSONResponse({"command": "web user", "totals": {}, "items": [user]})

    @app.get("/api/units")
    async def api_units(request: Request) -> Response:
        caller(request, access, page=False)
        rows = [r.to_dict() for r in await asyncio.to_thread(units.list)]
        return JSONResponse({"command": "jobs", "totals": {}, "items": rows})

    @app.get("/api/audit")
    async def api_audit(request: Request) -> Response:
        caller(request, access, page=False)
        items = [e.to_dict() for e in access.audit_log(500)]
        return JSONResponse({"command": "web audit", "totals": {}, "items": items})

    @app.get("/events")
    async def events(request: Request) -> Response:
        caller(request, access, page=False)

        async def stream() -> AsyncIterator[str]:
            while not await request.is_disconnected():
                data = await asyncio.to_thread(snapshot.live, units, control)
                yield f"event: progress\ndata: {json.dumps(data, default=str)}\n\n"
                await asyncio.sleep(EVENT_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})  # fmt: skip

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        caller(request, access, page=False)
        view = await asyncio.to_thread(snapshot.overview, units, control)
        return PlainTextResponse(metrics.render(view), media_type=metrics.CONTENT_TYPE)

    return app
