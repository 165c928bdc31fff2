"""A document library over plain WebDAV (RFC 4918) with httpx: SharePoint, OneDrive, Nextcloud.

Only MKCOL, PUT, GET and PROPFIND Depth 1 are used, the part every server implements the
same way. File times are not set: ``getlastmodified`` is a protected property (RFC 4918
15.7) and SharePoint, Nextcloud and wsgidav all answer a PROPPATCH of it with 403, so the
capabilities say ``file_times=False`` and the engine puts the date in the file name and the
index page. Requests go through ``connectors/dav/transport.py`` (redirects keep the method,
401 and 429 handled once for every DAV client).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, unquote, urlsplit

import httpx
from lxml import etree

from skylift.connectors.dav.client import http_base
from skylift.connectors.dav.transport import reason, send
from skylift.connectors.library.base import (
    LibraryCapabilities,
    LibraryConnector,
    LibraryFile,
    LibraryTarget,
)
from skylift.errors import ConnectError, ItemRejected, TransientError
from skylift.model.account import Login

#: SharePoint Online's limit for a decoded path; other servers allow more
SHAREPOINT_MAX_PATH = 400
PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>"
)
DAV = "{DAV:}"


class WebDavLibrary(LibraryTarget):
    """One library root (a URL) opened with one login."""

    capabilities = LibraryCapabilities(file_times=False, max_path=SHAREPOINT_MAX_PATH)

    def __init__(self, client: httpx.Client, base_url: str, who: str) -> None:
        self.client = client
        self.base = base_url.rstrip("/") + "/"
        self.who = who
        self._known: set[tuple[str, ...]] = {()}

    def _url(self, folder: tuple[str, ...], name: str | None = None) -> str:
        parts = [quote(p, safe="") for p in folder]
        tail = "".join(p + "/" for p in parts)
        return self.base + tail + (quote(name, safe="") if name is not None else "")

    def _send(
        self, method: str, url: str, body: bytes | None = None, **headers: str
    ) -> httpx.Response:
        return send(self.client, method, url, body, headers, self.who)

    def url_of(self, folder: tuple[str, ...], name: str) -> str:
        return self._url(folder, name)

    def ensure_folder(self, path: tuple[str, ...]) -> None:
        for depth in range(1, len(path) + 1):
            part = path[:depth]
            if part in self._known:
                continue
            response = self._send("MKCOL", self._url(part))
            # 405: it exists already (RFC 4918 9.3.1); 301 from some servers for the same
            if response.status_code not in (201, 405, 301):
                raise ItemRejected(
                    f"MKCOL {'/'.join(part)}: {response.status_code} {reason(response)}"
                )
            self._known.add(part)

    def put(
        self, folder: tuple[str, ...], name: str, data: bytes, mtime: datetime | None = None
    ) -> None:
        response = self._send("PUT", self._url(folder, name), bytes(data))
        if response.status_code >= 500:
            raise TransientError(f"PUT {name}: {response.status_code} {reason(response)}")
        if response.status_code not in (200, 201, 204):
            raise ItemRejected(f"PUT {name}: {response.status_code} {reason(response)}")

    def get(self, folder: tuple[str, ...], name: str) -> bytes | None:
        response = self._send("GET", self._url(folder, name))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ConnectError(f"GET {name}: {response.status_code} {reason(response)}")
        return response.content

    def list(self, folder: tuple[str, ...]) -> list[LibraryFile]:
        url = self._url(folder)
        response = self._send(
            "PROPFIND", url, PROPFIND, Depth="1", **{"Content-Type": "application/xml"}
        )
        if response.status_code == 404:
            return []
        if response.status_code != 207:
            raise ConnectError(f"PROPFIND {url}: {response.status_code} {reason(response)}")
        own = unquote(urlsplit(url).path).rstrip("/")
        out = []
        for node in etree.fromstring(response.content).iter(f"{DAV}response"):
            href = unquote(urlsplit(node.findtext(f"{DAV}href") or "").path)
            if href.rstrip("/") == own or node.find(f".//{DAV}collection") is not None:
                continue
            size = node.findtext(f".//{DAV}getcontentlength") or "0"
            out.append(LibraryFile(href.rstrip("/").rsplit("/", 1)[-1], int(size)))
        self._known.add(folder)
        return sorted(out, key=lambda f: f.name)

    def close(self) -> None:
        self.client.close()


class WebDavLibraryConnector(LibraryConnector):
    """``webdav+https://host/path`` (``webdav+http`` on loopback or with --allow-plaintext)."""

    capabilities = WebDavLibrary.capabilities

    def open(self, login: Login) -> WebDavLibrary:
        base = http_base(self.endpoint)
        secret = login.password.reveal() if login.password else ""
        verify: object = self.endpoint.ssl_context() if base.startswith("https") else True
        client = httpx.Client(
            auth=httpx.BasicAuth(login.user, secret) if login.user else None,
            verify=verify,  # type: ignore[arg-type]
            timeout=self.endpoint.timeout,
            follow_redirects=False,
            headers={"User-Agent": "skylift"},
        )
        library = WebDavLibrary(client, base, login.user or "anonymous")
        try:
            library.list(())  # sign in now: a wrong password fails before any copy
        except BaseException:
            client.close()
            raise
        return library
