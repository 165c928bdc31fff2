"""Side by side with automx2 (the tool an admin would otherwise run) for the same domain.

automx2 is started on loopback from its PyPI package (Flask), seeded through its own
``/initdb/`` with the on-prem servers skylift serves to users not moved yet; both must give
the same servers, ports and socket types in all three formats. Known, documented differences:
automx2 picks the socket type from the port (993/995/465 SSL, else STARTTLS), skylift takes it
from the config; automx2 writes no Encryption element for SSL-less ports and knows nothing of
a migration (one answer per domain), so only the on-prem side can be compared.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from skylift.demo.dovecot import free_port

OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
REQUEST = (
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
    "<Request><EMailAddress>bob@new.example</EMailAddress>"
    f"<AcceptableResponseSchema>{OUTLOOK}</AcceptableResponseSchema></Request></Autodiscover>"
)


@pytest.fixture(scope="module")
def automx2(org) -> Iterator[httpx.Client]:
    pytest.importorskip("automx2", reason="automx2 is in the dev extra: pip install -e '.[dev]'")
    folder = org.root / "automx2"
    folder.mkdir()
    conf = folder / "automx2.conf"
    conf.write_text(f"[automx2]\ndb_uri = sqlite:///{folder / 'automx2.db'}\nloglevel = WARNING\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "automx2.server:app", "run",
         "--host", "127.0.0.1", "--port", str(port)],
        env=os.environ | {"AUTOMX2_CONF": str(conf)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.get("/")
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"automx2 did not start: {proc.stderr.read() if proc.stderr else ''}"
                ) from None
            time.sleep(0.1)
    seed = {
        "version": 2,
        "provider": "New Example",
        "domains": [{"name": "new.example"}],
        "servers": [
            {"name": "mail.old.example", "type": "imap", "port": 143},
            {"name": "mail.old.example", "type": "smtp", "port": 587},
        ],
    }
    assert client.post("/initdb/", json=seed).status_code == 200
    yield client
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


def _servers_thunderbird(body: bytes) -> list[tuple[str, str, str, str]]:
    doc = etree.fromstring(body)
    return sorted(
        (e.tag, e.findtext("hostname"), e.findtext("port"), e.findtext("socketType"))
        for e in doc.iter("incomingServer", "outgoingServer")
    )


def _servers_pox(body: bytes) -> list[tuple[str, str, str, str]]:
    ns = {"o": OUTLOOK}
    doc = etree.fromstring(body)
    return sorted(
        (p.findtext("o:Type", namespaces=ns), p.findtext("o:Server", namespaces=ns),
         p.findtext("o:Port", namespaces=ns),
         p.findtext("o:Encryption", namespaces=ns) or ("SSL" if p.findtext("o:SSL", namespaces=ns) == "on" else "None"))
        for p in doc.iterfind(".//o:Protocol", ns)
    )  # fmt: skip


def _servers_apple(body: bytes) -> dict[str, object]:
    payload = plistlib.loads(body)["PayloadContent"][0]
    keys = ("IncomingMailServerHostName", "IncomingMailServerPortNumber",
            "IncomingMailServerUseSSL", "OutgoingMailServerHostName",
            "OutgoingMailServerPortNumber", "OutgoingMailServerUseSSL", "EmailAccountType")  # fmt: skip
    return {k: payload.get(k) for k in keys}


def test_same_servers_ports_and_sockets_as_automx2(service, automx2, tmp_path, org):
    query = {"emailaddress": "bob@new.example"}
    ours = service.client.get("/mail/config-v1.1.xml", params=query).content
    theirs = automx2.get("/mail/config-v1.1.xml", params=query).content
    assert _servers_thunderbird(ours) == _servers_thunderbird(theirs)
    assert ("incomingServer", "mail.old.example", "143", "STARTTLS") in _servers_thunderbird(ours)

    headers = {"Content-Type": "text/xml"}
    ours = service.client.post(
        "/autodiscover/autodiscover.xml", content=REQUEST, headers=headers
    ).content
    theirs = automx2.post(
        "/autodiscover/autodiscover.xml", content=REQUEST, headers=headers
    ).content
    assert _servers_pox(ours) == _servers_pox(theirs)

    signed = tmp_path / "ours.mobileconfig"
    signed.write_bytes(service.client.get("/mobileconfig", params=query).content)
    plain = subprocess.run(
        ["openssl", "smime", "-verify", "-inform", "DER", "-in", str(signed), "-noverify"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    theirs = automx2.get("/mobileconfig/", params=query).content
    assert _servers_apple(plain) == _servers_apple(theirs)
