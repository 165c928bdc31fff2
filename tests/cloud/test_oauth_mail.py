"""App-only OAuth2 on both sides, against real Dovecots that validate the tokens themselves.

Google Workspace -> Microsoft 365, as an admin runs it: a service account impersonates each
source user (JWT-bearer grant), an Entra app signs in to every target mailbox (client
credentials), no password anywhere. The token endpoint is a loopback fake over https with a
test CA (``tests/servers/token_endpoint.py``); the mail servers are real Dovecot 2.3 with the
``oauth2`` passdb checking signatures, issuers, expiry and the mailbox (FullAccess) locally;
relays in front end sessions whose token expired, as Exchange does. Tokens live 2 seconds, so
every run crosses several expiries.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from skylift.connectors.auth.sasl import xoauth2_string
from skylift.model.account import Secret
from tests.conftest import _need_dovecot
from tests.mailtools import Item, connect, dump, message, run_skylift, seed, when, write_users
from tests.servers.dovecot_oauth import OAuthDovecot
from tests.servers.expiring_proxy import ExpiringProxy
from tests.servers.token_endpoint import TokenEndpoint, make_certificate

MASTER = ("skylift-admin", "master-pw-7")
SECRET = "app-secret-Qx7-never-printed"
SOURCE_USERS = {f"{n}@old.example" for n in ("alice", "bob", "carol", "dave", "erin", "fay")}


@dataclass
class Cloud:
    tokens: TokenEndpoint
    source: OAuthDovecot
    target: OAuthDovecot
    source_proxy: ExpiringProxy
    target_proxy: ExpiringProxy
    key_file: Path
    client_id: str
    root: Path

    def args(self, *, source: bool = True, target: bool = True) -> list[str]:
        """Both sides app-only, through the relays, trusting the test CA for the tokens."""
        out: list[str] = []
        if source:
            out += [
                "--source-profile", "google-workspace", "--source", self.source_proxy.url(),
                "--source-oauth-service-account", str(self.key_file),
                "--source-ca", str(self.tokens.ca_file),
            ]  # fmt: skip
        if target:
            out += [
                "--target-profile", "microsoft365", "--target", self.target_proxy.url(),
                "--target-oauth-tenant", "new.example", "--target-oauth-client-id",
                self.client_id, "--target-oauth-authority", self.tokens.url,
                "--target-ca", str(self.tokens.ca_file),
            ]  # fmt: skip
        return out

    def env(self) -> dict[str, str]:
        # A CA bundle in the environment that does not know the test CA: --*-ca must win.
        return {
            "SKYLIFT_TARGET_OAUTH_CLIENT_SECRET": SECRET,
            "REQUESTS_CA_BUNDLE": str(self.root / "other-ca.pem"),
            "SSL_CERT_FILE": str(self.root / "other-ca.pem"),
        }


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    _need_dovecot()
    root = tmp_path_factory.mktemp("cloud")
    tokens = TokenEndpoint(root / "tokens", lifetime=2).start()
    tenant = tokens.add_tenant("new.example")
    app = tokens.add_app("new.example", secret=SECRET)
    key_file = tokens.add_service_account("old.example", SOURCE_USERS)
    _, other = make_certificate(root, "other-ca")
    (root / "other-ca.pem").write_bytes(other.public_bytes(serialization.Encoding.PEM))
    source = OAuthDovecot(
        root / "source", master_user=MASTER, separator="/", style="google",
        issuer="https://accounts.google.com",
    )  # fmt: skip
    target = OAuthDovecot(
        root / "target", master_user=MASTER, separator="/", special_use_autocreate=True,
        issuer=f"https://sts.windows.net/{tenant.tid}/",
        full_access={f"{n}@new.example" for n in ("alice", "bob", "carol", "erin", "frank")},
    )  # fmt: skip
    for server in (source, target):
        tokens.write_validation_key(server.key_dir)
        server.start()
    cloud = Cloud(
        tokens, source, target, ExpiringProxy(source.imap_port), ExpiringProxy(target.imap_port),
        key_file, app.client_id, root,
    )  # fmt: skip
    yield cloud
    cloud.source_proxy.close()
    cloud.target_proxy.close()
    source.cleanup()
    target.cleanup()
    tokens.stop()


def _as(user: str) -> tuple[str, str]:
    return f"{user}*{MASTER[0]}", MASTER[1]


def _many(n: int, size: int) -> list[Item]:
    return [
        Item(message(i, size=size), ("\\Seen",) if i % 2 else (), when(i % 30)) for i in range(n)
    ]


def _count(server: OAuthDovecot, user: str) -> int:
    c = connect(server.imap_port, *_as(user))
    try:
        return sum(c.folder_status(n, ["MESSAGES"])[b"MESSAGES"] for _, _, n in c.list_folders())
    finally:
        c.logout()


def _users(cloud: Cloud, name: str, *people: str) -> Path:
    rows = [(f"{p}@new.example", f"{p}@old.example") for p in people]
    return write_users(cloud.root / name, rows, "EmailAddress,UserName")


def _no_secret_anywhere(cloud: Cloud, *texts: str, files: tuple[Path, ...] = ()) -> None:
    blobs = [t.encode() for t in texts] + [f.read_bytes() for f in files if f.exists()]
    needles = [SECRET.encode()] + [t.encode() for t in cloud.tokens.tokens]
    for blob in blobs:
        for needle in needles:
            assert needle not in blob, "a secret or a token leaked"


def test_xoauth2_string_is_microsofts_published_example() -> None:
    # Microsoft's page "Authenticate an IMAP, POP or SMTP connection using OAuth", SASL XOAUTH2.
    raw = xoauth2_string(
        "test@contoso.onmicrosoft.com", Secret("EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA")
    )
    assert base64.b64encode(raw) == (
        b"dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFv"
        b"N0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ=="
    )


def test_google_to_microsoft_app_only_across_token_expiries_then_rerun(cloud: Cloud) -> None:
    seed(cloud.source.imap_port, *_as("alice@old.example"),
         {"INBOX": _many(250, 6000), "Projects/2019": _many(80, 3000)}, sep="/")  # fmt: skip
    seed(cloud.source.imap_port, *_as("bob@old.example"), {"INBOX": _many(40, 1000)}, sep="/")
    users = _users(cloud, "ab.csv", "alice", "bob")
    state = cloud.root / "ab.db"
    logins_before = cloud.target_proxy.logins
    first = run_skylift(
        "migrate", *cloud.args(), "--users", users, "--state", state, "--json",
        "--bwlimit", "500K", env=cloud.env(),
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout)
    assert report["totals"]["copied"] == 370
    # Sessions really ended on expiry and resumed with fresh tokens.
    assert cloud.source_proxy.byes + cloud.target_proxy.byes >= 1
    assert sum(m["token_renewals"] for m in report["items"]) >= 1
    assert cloud.target_proxy.logins - logins_before >= 3
    for person in ("alice", "bob"):
        src = dump(cloud.source.imap_port, *_as(f"{person}@old.example"))
        dst = dump(cloud.target.imap_port, *_as(f"{person}@new.example"))
        for folder, rows in src.items():
            assert dst[folder] == rows, (person, folder)
    again = run_skylift("migrate", *cloud.args(), "--users", users, "--state", state, "--json",
                        env=cloud.env())  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["totals"]["copied"] == 0
    verify = run_skylift("verify", *cloud.args(), "--users", users, "--state", state,
                         env=cloud.env())  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    _no_secret_anywhere(cloud, first.stdout, first.stderr, again.stdout, files=(state,))


def test_kill_9_mid_run_then_resume_is_exact(cloud: Cloud) -> None:
    seed(cloud.source.imap_port, *_as("carol@old.example"), {"INBOX": _many(800, 6000)}, sep="/")
    users = _users(cloud, "c.csv", "carol")
    state = cloud.root / "c.db"
    args = ["migrate", *cloud.args(), "--users", str(users), "--state", str(state),
            "--bwlimit", "1M"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "skylift", *args], env=os.environ | cloud.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _count(cloud.target, "carol@new.example") < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    landed = _count(cloud.target, "carol@new.example")
    assert 0 < landed < 800, "the kill must land mid-run"
    resumed = run_skylift(*args[:-2], "--json", env=cloud.env())
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    src = dump(cloud.source.imap_port, *_as("carol@old.example"))
    dst = dump(cloud.target.imap_port, *_as("carol@new.example"))
    assert dst["INBOX"] == src["INBOX"]


def test_a_mailbox_without_full_access_fails_alone(cloud: Cloud) -> None:
    seed(cloud.source.imap_port, *_as("dave@old.example"), {"INBOX": _many(3, 100)}, sep="/")
    seed(cloud.source.imap_port, *_as("erin@old.example"), {"INBOX": _many(5, 100)}, sep="/")
    users = _users(cloud, "de.csv", "dave", "erin")
    result = run_skylift("migrate", *cloud.args(), "--users", users, "--state",
                         cloud.root / "de.db", "--json", env=cloud.env())  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    boxes = {m["mailbox"]: m for m in json.loads(result.stdout)["items"]}
    assert boxes["erin@new.example"]["status"] == "ok"
    assert boxes["erin@new.example"]["copied"] == 5
    error = boxes["dave@new.example"]["error"]
    assert "dave@new.example" in error and "Authentication failed" in error
    assert "Add-MailboxPermission -Identity dave@new.example" in error
    assert "Traceback" not in result.stderr
    _no_secret_anywhere(cloud, result.stdout, result.stderr)


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 3, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("skylift: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_token_refusals_are_one_line_each(cloud: Cloud) -> None:
    users = _users(cloud, "e.csv", "erin")
    base = ["migrate", "--users", str(users), "--state", str(cloud.root / "x.db")]
    args = cloud.args()

    def run(*changes: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        changed = list(args)
        for change in changes:
            flag, _, value = change.partition("=")
            changed[changed.index(flag) + 1] = value
        return run_skylift(*base, *changed, env=cloud.env() | (env or {}))

    _one_line_error(run("--target-oauth-tenant=wrong.example"), "tenant 'wrong.example' not found")
    _one_line_error(run("--target-oauth-client-id=0000-unknown"), "not registered in tenant")
    _one_line_error(
        run(env={"SKYLIFT_TARGET_OAUTH_CLIENT_SECRET": "wrong"}), "client secret refused"
    )
    shy = cloud.tokens.add_app("new.example", secret=SECRET, consented=False)
    _one_line_error(
        run(f"--target-oauth-client-id={shy.client_id}"), "no admin consent", "Grant admin consent"
    )
    narrow = cloud.tokens.add_service_account(
        "old.example", SOURCE_USERS, scopes={"https://www.googleapis.com/auth/gmail.readonly"}
    )
    _one_line_error(
        run(f"--source-oauth-service-account={narrow}"), "Domain-wide delegation",
        "https://mail.google.com/",
    )  # fmt: skip
    cloud.tokens.clock_offset = 2 * 3600
    try:
        _one_line_error(run(), "clock")
    finally:
        cloud.tokens.clock_offset = 0
    # Without --*-ca the environment's bundle does not know the test CA: one line, not a trace.
    at = args.index("--target-ca")
    no_ca = args[:at] + args[at + 2 :]
    tls = run_skylift(*base, *no_ca, env=cloud.env())
    assert tls.returncode == 3 and "not trusted" in tls.stderr and "--target-ca" in tls.stderr, (
        tls.stderr
    )
    assert "Traceback" not in tls.stderr


def test_certificate_credential_and_auth_check(cloud: Cloud, tmp_path: Path) -> None:
    pem, cert = make_certificate(tmp_path)
    app = cloud.tokens.add_app("new.example", certificate=cert)
    users = write_users(tmp_path / "u.csv", [("erin@new.example", "erin@old.example"),
                                             ("dave@new.example", "dave@old.example")],
                        "EmailAddress,UserName")  # fmt: skip
    args = cloud.args()
    args[args.index("--target-oauth-client-id") + 1] = app.client_id
    args += ["--target-oauth-certificate", str(pem)]
    env = cloud.env()
    del env["SKYLIFT_TARGET_OAUTH_CLIENT_SECRET"]
    result = run_skylift("auth", "check", *args, "--users", users, "--json", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    checks = {(c["side"], c["mailbox"]): c for c in json.loads(result.stdout)["items"]}
    assert checks[("target", None)]["ok"] and checks[("source", None)]["ok"], result.stdout
    assert checks[("target", "erin@new.example")]["ok"]
    assert checks[("source", "dave@old.example")]["ok"]
    dave = checks[("target", "dave@new.example")]
    assert not dave["ok"] and "Add-MailboxPermission -Identity dave@new.example" in dave["fix"]
    assert "New-ServicePrincipal" in dave["fix"]
    text = run_skylift("auth", "check", *args, "--users", users, "--first", "2", env=env)
    assert text.returncode == 3 and "FAIL target dave@new.example" in text.stdout, text.stdout
    assert "fix: in Exchange Online PowerShell: New-ServicePrincipal" in text.stdout
    _no_secret_anywhere(cloud, result.stdout, result.stderr, text.stdout, text.stderr)


def test_pop3_source_signs_in_with_xoauth2(cloud: Cloud) -> None:
    # POP3 AUTH XOAUTH2 (RFC 5034 exchange) against Dovecot's pop3 with the same oauth2 passdb.
    seed(cloud.source.imap_port, *_as("fay@old.example"), {"INBOX": _many(12, 500)}, sep="/")
    users = write_users(cloud.root / "f.csv", [("frank@new.example", "fay@old.example")],
                        "EmailAddress,UserName")  # fmt: skip
    args = cloud.args()
    args[args.index("--source") + 1] = cloud.source.pop3_url()
    result = run_skylift("migrate", *args, "--users", users, "--state", cloud.root / "f.db",
                         "--json", env=cloud.env())  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    src = dump(cloud.source.imap_port, *_as("fay@old.example"))["INBOX"]
    dst = dump(cloud.target.imap_port, *_as("frank@new.example"))["INBOX"]
    assert sorted(r[0] for r in dst) == sorted(r[0] for r in src)


def test_throttled_token_endpoints_are_waited_out(cloud: Cloud) -> None:
    """Entra's 429 with Retry-After and Google's 403 rateLimitExceeded on the token request:
    the run waits what it was told (the endpoint's log) and then copies everything once."""
    seed(cloud.source.imap_port, *_as("fay@old.example"), {"Tokens": _many(6, 500)}, sep="/")
    cloud.target.grant("fay@new.example")
    users = _users(cloud, "tok.csv", "fay")
    google_403 = {
        "error": {"code": 403, "message": "Rate Limit Exceeded", "status": "PERMISSION_DENIED",
                  "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}]},
    }  # fmt: skip
    cloud.tokens.throttle_next = [
        (403, {}, google_403),  # the source's first token request (preflight: source first)
        (429, {"Retry-After": "2"}, {"error": "temporarily_unavailable"}),  # the target's
    ]
    posts_before = len(cloud.tokens.posts_at)
    result = run_skylift("migrate", *cloud.args(), "--users", users, "--state",
                         cloud.root / "f.db", "--json", env=cloud.env())  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not cloud.tokens.throttle_next and len(cloud.tokens.throttled_at) >= 2
    posts = cloud.tokens.posts_at[posts_before:]
    after_429 = cloud.tokens.throttled_at[-1]
    nxt = min(p for p in posts if p > after_429)
    assert nxt - after_429 >= 2.0, "the Retry-After was not honoured"
    src = dump(cloud.source.imap_port, *_as("fay@old.example"))
    dst = dump(cloud.target.imap_port, *_as("fay@new.example"))
    assert dst["Tokens"] == src["Tokens"] and len(src["Tokens"]) == 6
    _no_secret_anywhere(cloud, result.stdout, result.stderr)


def test_a_tenant_cap_holds_across_mailboxes_whatever_parallel_says(cloud: Cloud) -> None:
    """--parallel 8 against a profile that allows 2 sessions per tenant: the relay in front
    of the target never sees a third, and every mailbox still arrives whole."""
    from tests.servers.counting_proxy import CountingProxy

    seed(cloud.source.imap_port, *_as("fay@old.example"), {"Cap": _many(30, 4000)}, sep="/")
    boxes = [f"cap{i}@new.example" for i in range(8)]
    for box in boxes:
        cloud.target.grant(box)
    users = write_users(
        cloud.root / "cap.csv", [(b, "fay@old.example") for b in boxes], "EmailAddress,UserName"
    )
    profile = cloud.root / "tenant-cap.toml"
    profile.write_text(
        'name = "tenant-cap"\n[mail]\nauth = "oauth2-microsoft"\ntenant_connections = 2\n'
    )
    counter = CountingProxy(cloud.target.imap_port)
    args = [
        *cloud.args(target=False),
        "--target-profile", str(profile), "--target", counter.url(),
        "--target-oauth-tenant", "new.example", "--target-oauth-client-id", cloud.client_id,
        "--target-oauth-authority", cloud.tokens.url, "--target-ca", str(cloud.tokens.ca_file),
    ]  # fmt: skip
    try:
        result = run_skylift("migrate", *args, "--users", users, "--state", cloud.root / "cap.db",
                             "--json", "--parallel", "8", env=cloud.env())  # fmt: skip
    finally:
        counter.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert counter.sessions >= 8 and counter.most == 2, (counter.sessions, counter.most)
    src = dump(cloud.source.imap_port, *_as("fay@old.example"))["Cap"]
    for box in boxes:
        assert dump(cloud.target.imap_port, *_as(box))["Cap"] == src, box
