"""A real Active Directory domain controller for the tests: Samba, provisioned into a temp folder.

``samba-tool domain provision`` writes the domain (a few seconds); smb.conf is then cut down
to the LDAP service alone, bound to 127.0.0.1. Samba has no setting for its LDAP port, so
it listens on 389/636 of 127.0.0.1. It serves LDAPS and StartTLS with a test certificate:
with TLS disabled, Samba still answers StartTLS with "success" and then drops the
connection, so TLS stays on (simple binds over TLS need no ``require strong auth = no``). Users are added over LDAPS with ldap3
(about 4 ms each), without passwords (``PASSWD_NOTREQD``), which is fast enough for 1,600.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ldap3 import BASE, MODIFY_ADD, MODIFY_REPLACE, Connection, Server, Tls

SAMBA = shutil.which("samba") or "/usr/sbin/samba"
SAMBA_TOOL = shutil.which("samba-tool") or "/usr/bin/samba-tool"
ADMIN_PASSWORD = "Admin-secret-1"
NORMAL = 512 | 32  # NORMAL_ACCOUNT | PASSWD_NOTREQD: an enabled account without a password
DISABLED = NORMAL | 2  # ACCOUNTDISABLE
BIG_GROUP_MEMBERS = 1600  # more than AD's 1,500 values per response: read in ranges


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Samba binds: TIME_WAIT is fine
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class SambaAD:
    """One Samba AD DC for the realm OLD.EXAMPLE, serving only LDAP(S) on 127.0.0.1."""

    root: Path
    realm: str = "OLD.EXAMPLE"
    domain: str = "OLD"
    port: int = 389
    ldaps_port: int = 636
    process: subprocess.Popen[bytes] | None = None
    provision_seconds: float = 0.0

    @property
    def base(self) -> str:
        return ",".join(f"DC={part}" for part in self.realm.lower().split("."))

    @property
    def admin_dn(self) -> str:
        return f"CN=Administrator,CN=Users,{self.base}"

    @property
    def url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "cert.pem"

    def provision(self) -> SambaAD:
        started = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                SAMBA_TOOL, "domain", "provision", "--use-rfc2307",
                f"--realm={self.realm}", f"--domain={self.domain}", "--server-role=dc",
                "--dns-backend=NONE", f"--targetdir={self.root}", f"--adminpass={ADMIN_PASSWORD}",
                "--host-ip=127.0.0.1", "--option=interfaces = 127.0.0.1",
                "--option=bind interfaces only = yes",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"samba-tool domain provision failed: {' | '.join(tail)}")
        self._write_tls()
        self._write_conf()
        self.provision_seconds = time.monotonic() - started
        return self

    def _write_tls(self) -> None:
        from skylift.demo.dovecot import make_self_signed_cert

        folder = self.root / "tls"
        folder.mkdir(exist_ok=True)
        _cert, key = make_self_signed_cert(folder, "localhost")
        key.chmod(0o600)  # Samba refuses a key others can read

    def _write_conf(self) -> None:
        r = self.root
        (r / "etc" / "smb.conf").write_text(
            f"""[global]
netbios name = DC1
realm = {self.realm}
workgroup = {self.domain}
server role = active directory domain controller
server services = ldap
interfaces = 127.0.0.1
bind interfaces only = yes
tls enabled = yes
tls certfile = {r}/tls/cert.pem
tls keyfile = {r}/tls/key.pem
tls cafile = {r}/tls/cert.pem
private dir = {r}/private
lock directory = {r}
state directory = {r}/state
cache directory = {r}/cache
pid directory = {r}
binddns dir = {r}/bind-dns
log file = {r}/samba.log
logging = file
idmap_ldb:use rfc2307 = yes
dsdb:schema update allowed = true
""",
            encoding="utf-8",
        )

    def start(self) -> SambaAD:
        for port in (self.port, self.ldaps_port):
            if not port_is_free(port):
                raise RuntimeError(
                    f"127.0.0.1:{port} is in use; Samba's LDAP port cannot be changed, "
                    "so the AD tests need it free"
                )
        log = (self.root / "samba.out").open("wb")
        self.process = subprocess.Popen(
            # --foreground, not -i: -i ends Samba as soon as its stdin reaches EOF.
            [
                SAMBA,
                "--foreground",
                "--debug-stdout",
                "-M",
                "single",
                "-s",
                str(self.root / "etc" / "smb.conf"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole in stop()
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"samba exited with {self.process.returncode} at start")
            try:
                self.connect().unbind()
                return self
            except Exception:  # not up yet
                time.sleep(0.2)
        raise RuntimeError("samba did not answer LDAPS on 127.0.0.1 within 60 s")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass
        self.process = None

    def connect(self) -> Connection:
        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(self.ca_file),
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
        server = Server("127.0.0.1", port=self.ldaps_port, use_ssl=True, tls=tls, connect_timeout=5)
        return Connection(
            server, self.admin_dn, ADMIN_PASSWORD, auto_bind=True, raise_exceptions=True
        )


class AdWriter:
    """Changes made the way an administrator makes them, over LDAPS as Administrator."""

    def __init__(self, ad: SambaAD) -> None:
        self.conn = ad.connect()
        self.base = ad.base
        self.realm = ad.realm.lower()

    def ou(self, name: str, parent: str = "") -> str:
        dn = f"OU={name},{parent or self.base}"
        self.conn.add(dn, "organizationalUnit")
        return dn

    def user(self, ou: str, login: str, mail: str = "", disabled: bool = False) -> str:
        dn = f"CN={login},{ou}"
        attrs: dict[str, object] = {
            "sAMAccountName": login[:20],
            "userPrincipalName": f"{login}@{self.realm}",
            "givenName": login.title(),
            "sn": "Tester",
            "displayName": f"{login.title()} Tester",
            "mail": mail or f"{login}@{self.realm}",
            "userAccountControl": DISABLED if disabled else NORMAL,
        }
        self.conn.add(dn, ["top", "person", "organizationalPerson", "user"], attrs)
        return dn

    def group(self, ou: str, name: str, members: list[str]) -> str:
        dn = f"CN={name},{ou}"
        self.conn.add(dn, ["top", "group"], {"sAMAccountName": name[:20]})
        for start in range(0, len(members), 500):  # keep each request a sensible size
            self.conn.modify(dn, {"member": [(MODIFY_ADD, members[start : start + 500])]})
        return dn

    def rename(self, dn: str, new_rdn: str, new_parent: str | None = None) -> str:
        self.conn.modify_dn(dn, new_rdn, new_superior=new_parent)
        return f"{new_rdn},{new_parent or dn.split(',', 1)[1]}"

    def replace(self, dn: str, **values: object) -> None:
        self.conn.modify(dn, {k: [(MODIFY_REPLACE, [v])] for k, v in values.items()})

    def guid(self, dn: str) -> str:
        """The objectGUID as skylift writes it to externalId (the RFC 4122 string form)."""
        self.conn.search(dn, "(objectClass=*)", BASE, attributes=["objectGUID"])
        raw = self.conn.response[0]["raw_attributes"]["objectGUID"][0]
        return str(uuid.UUID(bytes_le=raw))

    def usn_changed(self, dn: str) -> int:
        self.conn.search(dn, "(objectClass=*)", BASE, attributes=["uSNChanged"])
        return int(self.conn.response[0]["raw_attributes"]["uSNChanged"][0])

    def close(self) -> None:
        self.conn.unbind()
