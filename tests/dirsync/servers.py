"""Real peers for directory sync tests and the benchmark: slapd and a SCIM 2.0 server.

slapd runs from a slapd.conf in a temp folder on 127.0.0.1 with a free port, its database
seeded by slapadd (fast, even for 20,000 users). The SCIM server is the ``scim2-server``
package's own test server, run as a subprocess with a bearer token.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
ADMIN_PASSWORD = "admin-secret"
SYNC_PASSWORD = "sync-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Slapd:
    """One slapd with an mdb database for *suffix*; cn=admin is the root DN."""

    root: Path
    suffix: str
    port: int = 0
    cert: tuple[Path, Path] | None = None
    ldaps_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.suffix}"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        (self.root / "db").mkdir(parents=True, exist_ok=True)
        schemas = "\n".join(
            f"include {SCHEMA_DIR / n}.schema"
            for n in ("core", "cosine", "inetorgperson", "nis", "misc")
        )
        tls = ""
        if self.cert:
            tls = f"TLSCertificateFile {self.cert[0]}\nTLSCertificateKeyFile {self.cert[1]}\n"
        conf = self.root / "slapd.conf"
        conf.write_text(
            f"""{schemas}
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload ppolicy
pidfile {self.root}/slapd.pid
argsfile {self.root}/slapd.args
{tls}
database mdb
maxsize 4294967296
suffix "{self.suffix}"
rootdn "{self.admin_dn}"
rootpw {ADMIN_PASSWORD}
directory {self.root}/db
index objectClass eq
index entryUUID eq
index uid,mail,cn eq
index employeeNumber,businessCategory eq
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
overlay ppolicy
""",
            encoding="utf-8",
        )
        return conf

    def start(self, ldif: str = "") -> Slapd:
        conf = self.write_config()
        data = ldif or next(org_ldif(self.suffix, users=0, groups=0))
        seed = self.root / "seed.ldif"
        seed.write_text(data, encoding="utf-8")
        subprocess.run(
            [SLAPADD, "-q", "-f", str(conf), "-l", str(seed)], check=True, capture_output=True
        )
        self.port = self.port or free_port()
        urls = f"ldap://127.0.0.1:{self.port}/"
        if self.cert:
            self.ldaps_port = self.ldaps_port or free_port()
            urls += f" ldaps://127.0.0.1:{self.ldaps_port}/"
        # "-s 0": nothing to syslog, so a syslog socket nobody reads cannot stall the start.
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", urls, "-d", "0", "-s", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        if self.cert:
            wait_for_port(self.ldaps_port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None

    def ldap(self, ldif: str) -> None:
        """Apply LDIF change records as admin with ldapmodify (deletes, renames, edits)."""
        subprocess.run(
            ["ldapmodify", "-x", "-H", self.url, "-D", self.admin_dn, "-w", ADMIN_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
        )


@dataclass
class ScimServer:
    """The scim2-server test server on 127.0.0.1, in memory, with one bearer token."""

    token: str = "scim-test-token"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"scim+http://127.0.0.1:{self.port}/v2"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def start(self) -> ScimServer:
        self.port = self.port or free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scim2_server.testserver.cli",
                "--port",
                str(self.port),
                "--bearer-token",
                self.token,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


def org_ldif(
    suffix: str = "dc=old,dc=example",
    users: int = 240,
    groups: int = 12,
    disabled_every: int = 25,
    domain: str = "old.example",
) -> Iterator[str]:
    """A generated organisation: Staff and Leavers OUs, department groups nested in one
    all-staff group, every *disabled_every*-th account locked (pwdAccountLockedTime)."""
    dc = suffix.split(",")[0].split("=")[1]
    yield f"dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\no: {dc}\ndc: {dc}\n"
    for ou in ("People", "Groups"):
        yield f"dn: ou={ou},{suffix}\nobjectClass: organizationalUnit\nou: {ou}\n"
    for ou in ("Staff", "Leavers", "Service"):
        yield f"dn: ou={ou},ou=People,{suffix}\nobjectClass: organizationalUnit\nou: {ou}\n"
    yield (
        f"dn: cn=sync,ou=Service,ou=People,{suffix}\nobjectClass: simpleSecurityObject\n"
        f"objectClass: organizationalRole\ncn: sync\nuserPassword: {SYNC_PASSWORD}\n"
    )
    members: dict[int, list[str]] = {g: [] for g in range(groups)}
    for i in range(users):
        uid = f"user{i:05d}"
        dn = f"uid={uid},ou=Staff,ou=People,{suffix}"
        lock = (
            "pwdAccountLockedTime: 000001010000Z\n"
            if disabled_every and i % disabled_every == disabled_every - 1
            else ""
        )
        yield (
            f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Given{i} Family{i}\n"
            f"givenName: Given{i}\nsn: Family{i}\ndisplayName: Given{i} Family{i}\n"
            f"mail: {uid}@{domain}\ntitle: Engineer {i % 7}\ndepartmentNumber: D{i % groups}\n"
            f"telephoneNumber: +1 555 {i:07d}\n{lock}"
        )
        members[i % groups].append(dn)
    for g in range(groups):
        body = "".join(f"member: {m}\n" for m in members[g]) or f"member: {suffix}\n"
        cn = f"dept{g:03d}"
        yield f"dn: cn={cn},ou=Groups,{suffix}\nobjectClass: groupOfNames\ncn: {cn}\n{body}"
    nested = "".join(f"member: cn=dept{g:03d},ou=Groups,{suffix}\n" for g in range(groups))
    yield f"dn: cn=all-staff,ou=Groups,{suffix}\nobjectClass: groupOfNames\ncn: all-staff\n{nested}"


def org_text(**kwargs: object) -> str:
    return "\n".join(org_ldif(**kwargs))  # type: ignore[arg-type]


class RateLimitedScim:
    """The scim2-server application behind a rate limiter that answers every *every*-th
    request with ``429 Too Many Requests`` and ``Retry-After: 1``, as hosted providers do.

    Served in a thread with the standard library's WSGI server on 127.0.0.1.
    """

    def __init__(self, every: int = 3, token: str = "scim-test-token") -> None:
        from scim2_models import ScimProvider
        from scim2_server.memory import InMemoryStorage
        from scim2_server.service import ScimService
        from scim2_server.testserver.application import BearerTokenApplication
        from scim2_server.utils import (
            load_default_resource_types,
            load_default_schemas,
            load_default_service_provider_config,
        )

        provider = ScimProvider.from_discovery(
            load_default_schemas().values(),
            load_default_resource_types().values(),
            config=load_default_service_provider_config(),
        )
        self.app = BearerTokenApplication(
            InMemoryStorage(),
            provider,
            service=ScimService(provider, secret="test"),
            bearer_tokens=[token],
        )
        self.token = token
        self.every = every
        self.requests = 0
        self.refused = 0
        self.if_match: list[str] = []  # If-Match headers of the writes, to see ETags used
        self.port = 0
        self.server: object | None = None

    def __call__(self, environ: dict, start_response):  # type: ignore[no-untyped-def, type-arg]
        self.requests += 1
        if environ.get("HTTP_IF_MATCH"):
            self.if_match.append(environ["HTTP_IF_MATCH"])
        if self.requests % self.every == 0:
            self.refused += 1
            start_response(
                "429 Too Many Requests",
                [("Retry-After", "1"), ("Content-Type", "application/scim+json")],
            )
            return [b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429"}']
        return self.app(environ, start_response)

    @property
    def url(self) -> str:
        return f"scim+http://127.0.0.1:{self.port}/v2"

    def start(self) -> RateLimitedScim:
        import threading
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

        server = make_server("127.0.0.1", 0, self, handler_class=Quiet)
        self.port = server.server_port
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()  # type: ignore[attr-defined]
            self.server.server_close()  # type: ignore[attr-defined]
