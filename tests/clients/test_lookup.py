"""``autoconfig lookup``: what each client would find, from a zone file, and what DNS is missing."""

from __future__ import annotations

import json

from tests.mailtools import run_skylift

ZONE = """$ORIGIN new.example.
$TTL 300
@           IN SOA ns1 hostmaster 1 3600 600 86400 300
@           IN NS  ns1
ns1         IN A   192.0.2.1
@           IN MX  10 mx.new.example.
mx          IN A   192.0.2.25
setup       IN A   192.0.2.10
autoconfig  IN CNAME setup
"""


def _lookup(org, address, *extra):
    zone = org.root / "new.example.zone"
    zone.write_text(ZONE)
    return run_skylift("autoconfig", "lookup", address, "--zone", zone, "--service-host",
                       "setup.new.example", "--config", org.config, "--waves", org.waves,
                       "--state", org.state, "--target-profile", "microsoft365", *extra)  # fmt: skip


def test_lookup_walks_each_clients_probes_and_names_the_missing_records(org):
    result = _lookup(org, "ann@new.example", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["side"] == "cloud" and "wave 1 ended" in report["reason"]
    clients = {c["client"]: c for c in report["clients"]}
    tb = clients["thunderbird"]
    assert tb["answered_by"] == (
        "https://autoconfig.new.example/mail/config-v1.1.xml?emailaddress=ann@new.example"
    )
    assert "outlook.office365.com:993 SSL" in tb["gets"]
    assert [p["step"] for p in tb["probes"]][:2] == [
        "autoconfig host (HTTPS)",
        "well-known on the domain (HTTPS)",
    ]
    assert clients["outlook"]["answered_by"] is None  # no autodiscover name in the zone yet
    assert "Microsoft's own Autodiscover" in clients["outlook"]["note"]
    assert clients["ios"]["gets"] == "Exchange ActiveSync outlook.office365.com"
    missing = {(r["name"], r["type"], r["value"]) for r in report["records_to_add"]}
    assert ("autodiscover.new.example.", "CNAME", "setup.new.example.") in missing
    assert ("_autodiscover._tcp.new.example.", "SRV", "0 0 443 setup.new.example.") in missing
    assert not any(r["name"].startswith("autoconfig.") for r in report["records_to_add"])
    assert {"autoconfig.new.example", "autodiscover.new.example"} <= set(report["tls_names"])


def test_lookup_of_a_user_not_moved_yet_shows_the_onprem_servers(org):
    result = _lookup(org, "bob@new.example")
    assert result.returncode == 0, result.stderr
    assert "bob@new.example: onprem (wave 2 starts 2099-01-03 20:00 UTC" in result.stdout
    assert "IMAP: mail.old.example:143 STARTTLS" in result.stdout
    assert "DNS records to add:" in result.stdout


def test_lookup_of_something_that_is_no_address_is_one_line(org):
    result = _lookup(org, "not-an-address")
    assert result.returncode == 2
    assert result.stderr.strip() == "skylift: error: 'not-an-address' is not an e-mail address"
