"""Who may do what on ``skylift web``: sessions, CSRF, login throttling, roles, /metrics.

Against the running dashboard of conftest.py, over plain HTTP as a script or a forger
would talk to it.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.web.conftest import PASSWORDS, Org, Web, run_web, session, skylift


def test_without_a_session_pages_redirect_to_login_and_the_api_answers_401(web: Web) -> None:
    page = httpx.get(web.url + "/waves/1")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/waves/1"
    for path in ("/api/overview", "/api/units", "/events", "/metrics"):
        answer = httpx.get(web.url + path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == 'Basic realm="skylift"'
    forged = httpx.post(web.url + "/waves/2/start", data={"csrf": "x"})
    assert forged.status_code == 401


def test_a_form_without_the_csrf_token_changes_nothing(web: Web) -> None:
    client, csrf = session(web, "admin")
    for data in ({}, {"csrf": "not-the-token"}, {"csrf": csrf[:-1]}):
        refused = client.post("/waves/2/start", data=data)
        assert refused.status_code == 403
        assert "CSRF" in refused.text
    # Basic credentials (which a browser may replay) never change anything either
    basic = httpx.post(web.url + "/waves/2/start", data={"csrf": csrf},
                       auth=("admin", PASSWORDS["admin"]))  # fmt: skip
    assert basic.status_code == 403
    wave = next(w for w in client.get("/api/overview").json()["waves"] if w["wave"] == "2")
    assert wave["status"] == "not started"
    audit = client.get("/api/audit").json()["items"]
    assert not any(e["target"] == "2" for e in audit)
    # the login form has its own token too
    bare = httpx.post(web.url + "/login", data={"name": "admin", "password": PASSWORDS["admin"]})
    assert bare.status_code == 403


def test_twenty_wrong_passwords_in_a_row_slow_the_login_down(web: Web) -> None:
    client = httpx.Client(base_url=web.url, timeout=30)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]

    def attempt(password: str) -> httpx.Response:
        return client.post("/login", data={"name": "guesser", "password": password, "csrf": csrf})

    for n in range(20):
        wrong = attempt(f"guess-{n}")
        assert wrong.status_code == 401
        assert "wrong name or password" in wrong.text
    slowed = attempt(PASSWORDS["guesser"])  # even the right one must wait now
    assert slowed.status_code == 429
    assert int(slowed.headers["retry-after"]) >= 1
    assert "too many wrong passwords" in slowed.text
    # Basic credentials are throttled the same way
    api = httpx.get(web.url + "/api/overview", auth=("guesser", PASSWORDS["guesser"]))
    assert api.status_code == 429
    # other accounts are not affected
    assert httpx.get(web.url + "/api/overview", auth=("manager", PASSWORDS["manager"])).is_success


def test_metrics_parse_with_prometheus_client_and_match_the_api(web: Web) -> None:
    auth = ("manager", PASSWORDS["manager"])
    text = httpx.get(web.url + "/metrics", auth=auth).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"skylift_messages_copied", "skylift_bytes_copied", "skylift_item_problems",
            "skylift_units", "skylift_wave_progress_ratio"} <= set(families)  # fmt: skip
    overview = httpx.get(web.url + "/api/overview", auth=auth).json()
    copied = families["skylift_messages_copied"].samples[0].value
    assert copied == overview["totals"]["messages"]
    waves = {s.labels["wave"]: s.value for s in families["skylift_wave_progress_ratio"].samples}
    assert set(waves) == {"1", "2"}
    assert waves["2"] == 0.0


def test_web_refuses_a_remote_listen_without_tls(org: Org) -> None:
    done = skylift("web", "--state", str(org.state), "--listen", "0.0.0.0:8080")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "skylift: error: --listen 0.0.0.0:8080: beyond loopback the dashboard needs "
        "--tls-cert and --tls-key (or --allow-http behind a TLS proxy)"
    )


def test_adduser_refuses_a_short_password_and_an_unknown_role(org: Org) -> None:
    short = org.root / "short.pw"
    short.write_text("abc\n")
    done = skylift("web", "adduser", "x", "--password-file", str(short), "--state", str(org.state))
    assert done.returncode == 2
    assert "at least 10 characters" in done.stderr
    done = skylift("web", "adduser", "x", "--role", "root", "--state", str(org.state))
    assert done.returncode == 2
    assert "--role root: one of admin, viewer" in done.stderr


def test_with_tls_the_cookies_are_secure(org: Org, tmp_path: Path) -> None:
    import ssl

    from skylift.demo.dovecot import make_self_signed_cert

    cert, key = make_self_signed_cert(tmp_path, "localhost")
    servers = run_web(org, org.state, "tls-web", "--tls-cert", str(cert), "--tls-key", str(key),
                      ca=cert)  # fmt: skip
    web = next(servers)
    try:
        assert web.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        login = httpx.get(web.url + "/login", verify=context)
        assert login.status_code == 200
        cookie = login.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    finally:
        servers.close()
