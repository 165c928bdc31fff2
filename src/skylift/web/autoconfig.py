"""The autoconfig service: one ASGI app (FastAPI) for every mail client's discovery request.

FastAPI over Starlette because it is well kept, typed, runs on uvicorn (already what the test
servers use) and needs no WSGI bridge; Jinja2 renders the setup page. Every answer is
computed per request from the routing registry or wave plan, so a cut-over shows at once.

Paths (also in ``skylift autoconfig serve --help`` and docs/clients.md):
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import segno
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from skylift.engine.clients.formats import (
    autodiscover_json,
    autodiscover_pox,
    requested_schema,
    thunderbird_xml,
)
from skylift.engine.clients.mobileconfig import mobileconfig
from skylift.errors import ConfigError, SkyliftError

LOG = logging.getLogger("skylift.autoconfig")
TEMPLATES = Path(__file__).parent / "templates"

PATHS = {
    "/mail/config-v1.1.xml?emailaddress=A": "Thunderbird autoconfig (host autoconfig.DOMAIN)",
    "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=A": "Thunderbird, on DOMAIN itself",
    "/autodiscover/autodiscover.xml (POST)": "Outlook Autodiscover POX (also /Autodiscover/Autodiscover.xml)",
    "/autodiscover/autodiscover.json?Email=A&Protocol=P": "Autodiscover v2 JSON (also .../v1.0/A?Protocol=P)",
    "/mobileconfig?emailaddress=A": "Apple configuration profile (signed with --sign-cert)",
    "/setup?emailaddress=A": "setup page: settings for each client and a QR code of the profile link",
}
__doc__ = (__doc__ or "") + "\n".join(f"    {p}  {w}" for p, w in PATHS.items())

# Query parameters worth logging; anything else (automx2 clients send ?password=) is dropped.
LOGGED_PARAMS = {"emailaddress", "email", "protocol", "name"}
MOBILECONFIG_TYPE = "application/x-apple-aspen-config"


def _logged_query(params: Any) -> str:
    kept = [f"{k}={v}" for k, v in params.multi_items() if k.lower() in LOGGED_PARAMS]
    return ("?" + "&".join(kept)) if kept else ""


def create_app(directory: Any, *, public_url: str | None = None, signer: Any = None) -> Any:
    """The app for one :class:`~skylift.runners.clients.ClientDirectory`.

    *public_url* is the base of the links in the setup page and QR code (default: the
    request's own scheme and host); *signer* a ProfileSigner, or None for unsigned profiles.
    """
    app = FastAPI(title="skylift autoconfig", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )

    @app.middleware("http")
    async def log_request(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        started = time.monotonic()
        response = await call_next(request)
        LOG.info(
            "%s %s %s%s %d %.0f ms",
            request.client.host if request.client else "-",
            request.method,
            request.url.path,
            _logged_query(request.query_params),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )  # never headers (Outlook sends Basic credentials) nor bodies
        return response

    def base(request: Request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    def settings(address: str | None) -> Any:
        if not address:
            address = f"user@{directory.domain}"
        return directory.settings_for(address)

    def bad(text: str) -> Response:
        return PlainTextResponse(text + "\n", status_code=400)

    def xml(body: bytes) -> Response:
        return Response(body, media_type="application/xml")

    async def thunderbird(request: Request) -> Response:
        try:
            return xml(thunderbird_xml(settings(request.query_params.get("emailaddress"))))
        except ConfigError as exc:
            return bad(str(exc))

    app.add_api_route("/mail/config-v1.1.xml", thunderbird, methods=["GET"])
    app.add_api_route("/.well-known/autoconfig/mail/config-v1.1.xml", thunderbird, methods=["GET"])

    async def pox(request: Request) -> Response:
        address, schema = requested_schema(await request.body())
        try:
            return xml(autodiscover_pox(settings(address), schema))
        except ConfigError as exc:
            return bad(str(exc))

    for path in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
        app.add_api_route(path, pox, methods=["POST"])

    def json_answer(request: Request, address: str | None) -> Response:
        protocol = (
            request.query_params.get("Protocol") or request.query_params.get("protocol") or ""
        )
        try:
            status, body = autodiscover_json(settings(address), protocol, base(request))
        except ConfigError as exc:
            return bad(str(exc))
        return JSONResponse(body, status_code=status)

    async def json_query(request: Request) -> Response:
        params = request.query_params
        return json_answer(request, params.get("Email") or params.get("email"))

    async def json_path(request: Request, address: str) -> Response:
        return json_answer(request, address)

    app.add_api_route("/autodiscover/autodiscover.json", json_query, methods=["GET"])
    app.add_api_route("/autodiscover/autodiscover.json/v1.0/{address}", json_path, methods=["GET"])

    async def profile(request: Request) -> Response:
        address = request.query_params.get("emailaddress")
        if not address:
            return bad("give ?emailaddress=you@example.com")
        try:
            body = mobileconfig(settings(address))
        except ConfigError as exc:
            return bad(str(exc))
        if signer is not None:
            body = signer.sign(body)
        name = address.split("@")[0].replace('"', "")
        return Response(
            body,
            media_type=MOBILECONFIG_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.mobileconfig"'},
        )

    for path in ("/mobileconfig", "/mobileconfig/"):
        app.add_api_route(path, profile, methods=["GET"])

    async def setup(request: Request) -> Response:
        address = request.query_params.get("emailaddress")
        if not address:
            return bad("give ?emailaddress=you@example.com")
        try:
            answer = settings(address)
        except ConfigError as exc:
            return bad(str(exc))
        link = f"{base(request)}/mobileconfig?emailaddress={quote(answer.address)}"
        qr = segno.make(link, error="m").svg_inline(scale=6, dark="#000", light="#fff")
        html = pages.get_template("setup.html.j2").render(
            s=answer, link=link, qr=qr, signed=signer is not None
        )
        return HTMLResponse(html)

    app.add_api_route("/setup", setup, methods=["GET"])

    @app.exception_handler(SkyliftError)
    async def one_line(request: Request, exc: SkyliftError) -> Response:
        return bad(str(exc))

    return app


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    access_log: Path | None = None,
) -> None:
    """Run *app* on uvicorn until interrupted; each request is one line on stderr (or a file)."""
    import uvicorn

    handler: logging.Handler = (
        logging.FileHandler(access_log) if access_log else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        access_log=False,  # ours above drops query secrets; uvicorn's would log them
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=3,  # the dashboard's event streams never end by themselves
    )
    uvicorn.Server(config).run()
