"""The autoconfig service as clients see it: each format valid, each answer the user's side."""

from __future__ import annotations

import plistlib
import subprocess
from pathlib import Path

from lxml import etree

from skylift.state.routing import RoutingRegistry
from tests.mailtools import run_skylift

DATA = Path(__file__).resolve().parent.parent / "data" / "clients"
OUTLOOK_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
    "<Request><EMailAddress>{address}</EMailAddress>"
    "<AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request></Autodiscover>"
)
OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MOBILESYNC = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"


def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / name)))


def _valid(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    doc = etree.fromstring(body)
    assert schema.validate(doc), schema.error_log
    return doc


def _shape(doc: etree._Element) -> list[str]:
    """Element paths, without text: what an observer could compare between two answers."""
    return [doc.getroottree().getpath(e) for e in doc.iter()]


def _pox(service, address: str, schema: str = OUTLOOK) -> bytes:
    body = OUTLOOK_REQUEST.format(address=address, schema=schema)
    answer = service.client.post(
        "/autodiscover/autodiscover.xml", content=body, headers={"Content-Type": "text/xml"}
    )
    assert answer.status_code == 200
    return answer.content


def test_thunderbird_gets_each_users_side_on_both_paths(service):
    schema = _schema("thunderbird-config-v1.1.xsd")
    for path in ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"):
        moved = _valid(
            schema, service.client.get(path, params={"emailaddress": "ann@new.example"}).content
        )
        waiting = _valid(
            schema, service.client.get(path, params={"emailaddress": "bob@new.example"}).content
        )
        assert moved.findtext(".//incomingServer/hostname") == "outlook.office365.com"
        assert moved.findtext(".//incomingServer/socketType") == "SSL"
        assert moved.findtext(".//outgoingServer/port") == "587"
        assert moved.findtext(".//incomingServer/authentication") == "OAuth2"
        assert waiting.findtext(".//incomingServer/hostname") == "mail.old.example"
        assert waiting.findtext(".//incomingServer/port") == "143"
        assert waiting.findtext(".//incomingServer/socketType") == "STARTTLS"


def test_unknown_addresses_get_the_same_shape_as_known_ones(service):
    path = "/mail/config-v1.1.xml"
    known = service.client.get(path, params={"emailaddress": "bob@new.example"})
    unknown = service.client.get(path, params={"emailaddress": "nobody-here@new.example"})
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content  # %EMAILADDRESS%: not even the address differs
    pox_known = etree.fromstring(_pox(service, "bob@new.example"))
    pox_unknown = etree.fromstring(_pox(service, "nobody-here@new.example"))
    assert _shape(pox_known) == _shape(pox_unknown)
    profile_known = service.client.get("/mobileconfig", params={"emailaddress": "bob@new.example"})
    profile_unknown = service.client.get(
        "/mobileconfig", params={"emailaddress": "zed@new.example"}
    )
    assert profile_known.status_code == profile_unknown.status_code == 200
    assert abs(len(profile_known.content) - len(profile_unknown.content)) < 64


def test_outlook_pox_and_mobilesync_answers_follow_microsofts_schema(service):
    schema = _schema("autodiscover-response-2006.xsd")
    ns = {"o": OUTLOOK, "m": MOBILESYNC}
    moved = _valid(schema, _pox(service, "ann@new.example"))
    protocols = {
        p.findtext("o:Type", namespaces=ns): p for p in moved.iterfind(".//o:Protocol", ns)
    }
    assert protocols["IMAP"].findtext("o:Server", namespaces=ns) == "outlook.office365.com"
    assert protocols["IMAP"].findtext("o:Encryption", namespaces=ns) == "SSL"
    assert protocols["SMTP"].findtext("o:Encryption", namespaces=ns) == "TLS"  # STARTTLS
    assert protocols["SMTP"].findtext("o:LoginName", namespaces=ns) == "ann@new.example"
    waiting = _valid(schema, _pox(service, "bob@new.example"))
    assert waiting.findtext(".//o:Protocol/o:Server", namespaces=ns) == "mail.old.example"
    eas = _valid(schema, _pox(service, "ann@new.example", MOBILESYNC))
    assert eas.findtext(".//m:Url", namespaces=ns) == (
        "https://outlook.office365.com/Microsoft-Server-ActiveSync"
    )
    no_eas = _valid(schema, _pox(service, "bob@new.example", MOBILESYNC))
    assert no_eas.find(".//m:Error", ns) is not None
    # the capitalised path Outlook also tries
    alt = service.client.post(
        "/Autodiscover/Autodiscover.xml",
        content=OUTLOOK_REQUEST.format(address="ann@new.example", schema=OUTLOOK),
    )
    assert alt.status_code == 200 and b"outlook.office365.com" in alt.content


def test_autodiscover_json_v2_points_to_the_xml_or_to_activesync(service):
    base = service.url
    v1 = service.client.get(
        "/autodiscover/autodiscover.json",
        params={"Email": "bob@new.example", "Protocol": "AutodiscoverV1"},
    )
    assert v1.json() == {
        "Protocol": "AutodiscoverV1",
        "Url": f"{base}/autodiscover/autodiscover.xml",
    }
    eas = service.client.get(
        "/autodiscover/autodiscover.json/v1.0/ann@new.example", params={"Protocol": "ActiveSync"}
    )
    assert eas.json()["Url"] == "https://outlook.office365.com/Microsoft-Server-ActiveSync"
    none = service.client.get(
        "/autodiscover/autodiscover.json/v1.0/bob@new.example", params={"Protocol": "ActiveSync"}
    )
    assert none.status_code == 400 and none.json()["ErrorCode"] == "ProtocolNotSupported"


def test_mobileconfig_is_signed_and_holds_the_right_payload(service, org, tmp_path):
    for address, payload_type in (
        ("ann@new.example", "com.apple.eas.account"),
        ("bob@new.example", "com.apple.mail.managed"),
    ):
        answer = service.client.get("/mobileconfig", params={"emailaddress": address})
        assert answer.headers["content-type"] == "application/x-apple-aspen-config"
        signed = tmp_path / f"{address}.mobileconfig"
        signed.write_bytes(answer.content)
        plain = tmp_path / f"{address}.plist"
        verify = subprocess.run(
            ["openssl", "smime", "-verify", "-inform", "DER", "-in", str(signed),
             "-CAfile", str(org.sign_cert), "-purpose", "any", "-out", str(plain)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stderr
        assert "Verification successful" in verify.stderr
        profile = plistlib.loads(plain.read_bytes())
        assert profile["PayloadType"] == "Configuration"
        (payload,) = profile["PayloadContent"]
        assert payload["PayloadType"] == payload_type
        if payload_type == "com.apple.eas.account":
            assert payload["Host"] == "outlook.office365.com" and payload["OAuth"] is True
        else:
            assert payload["IncomingMailServerHostName"] == "mail.old.example"
            assert payload["IncomingMailServerPortNumber"] == 143
            assert payload["OutgoingMailServerPortNumber"] == 587
            assert payload["EmailAddress"] == address
        assert not any("Password" in k and k != "OutgoingPasswordSameAsIncomingPassword"
                       for k in payload)  # fmt: skip
    # a second download replaces the installed profile instead of adding one
    again = service.client.get("/mobileconfig", params={"emailaddress": "bob@new.example"})
    tampered = tmp_path / "t.mobileconfig"
    tampered.write_bytes(again.content.replace(b"mail.old.example", b"evil.old.example"))
    bad = subprocess.run(
        ["openssl", "smime", "-verify", "-inform", "DER", "-in", str(tampered),
         "-CAfile", str(org.sign_cert), "-purpose", "any"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert bad.returncode != 0


def test_answer_changes_when_the_users_route_is_cut_over(service, org):
    path = "/mail/config-v1.1.xml"
    before = etree.fromstring(
        service.client.get(path, params={"emailaddress": "cat@new.example"}).content
    )
    assert before.findtext(".//incomingServer/hostname") == "mail.old.example"
    with RoutingRegistry(str(org.state)) as registry:
        registry.set(["cat@new.example"], "migrating", wave=3, run_id="t", actor="test")
    during = etree.fromstring(
        service.client.get(path, params={"emailaddress": "cat@new.example"}).content
    )
    assert during.findtext(".//incomingServer/hostname") == "mail.old.example"
    with RoutingRegistry(str(org.state)) as registry:
        registry.set(["cat@new.example"], "cloud", wave=3, run_id="t", actor="test")
    after = etree.fromstring(
        service.client.get(path, params={"emailaddress": "cat@new.example"}).content
    )
    assert after.findtext(".//incomingServer/hostname") == "outlook.office365.com"
    pox = _pox(service, "cat@new.example")
    assert b"outlook.office365.com" in pox and b"mail.old.example" not in pox
    looked = run_skylift(
        "autoconfig",
        "lookup",
        "cat@new.example",
        "--json",
        "--state",
        org.state,
        "--waves",
        org.waves,
        "--config",
        org.config,
        "--target-profile",
        "microsoft365",
        "--zone",
        org.root / "none.zone",
    )
    assert looked.returncode == 2 and "zone file" in looked.stderr  # no such zone file: one line
    with RoutingRegistry(str(org.state)) as registry:  # back, for the other tests
        registry.set(["cat@new.example"], "onprem", wave=3, run_id="t", actor="test")


def test_every_request_is_logged_without_secrets(service):
    service.client.get("/mail/config-v1.1.xml",
                       params={"emailaddress": "ann@new.example", "password": "hunter2-secret"},
                       headers={"Authorization": "Basic YW5uOmh1bnRlcjItc2VjcmV0"})  # fmt: skip
    service.client.post(
        "/autodiscover/autodiscover.xml",
        content=b"<not xml",
        headers={"Authorization": "Basic YW5uOmh1bnRlcjItc2VjcmV0"},
    )
    log = service.log.read_text()
    assert "GET /mail/config-v1.1.xml?emailaddress=ann@new.example 200" in log
    assert "POST /autodiscover/autodiscover.xml 200" in log  # unreadable body: default answer
    assert "hunter2" not in log and "YW5uOmh1bnRlcjIt" not in log


def test_serve_help_lists_the_paths_and_bad_options_are_one_line():
    shown = run_skylift("autoconfig", "serve", "--help")
    assert shown.returncode == 0
    for path in ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml",
                 "/autodiscover/autodiscover.xml", "/autodiscover/autodiscover.json",
                 "/mobileconfig?emailaddress=", "/setup?emailaddress="):  # fmt: skip
        assert path in shown.stdout
    bad = run_skylift("autoconfig", "serve", "--domain", "new.example", "--listen", "nowhere")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    no_host = run_skylift(
        "autoconfig", "serve", "--domain", "new.example", "--listen", "127.0.0.1:1"
    )
    assert no_host.returncode == 2
    assert "no IMAP host for the cloud side" in no_host.stderr  # generic-imap names none
