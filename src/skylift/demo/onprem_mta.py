"""The demo's on-prem MTA: a private Postfix that takes the organization's mail by SMTP and
delivers it by LMTP to the old server, unless skylift's maps route a user to the cloud.

It is the same Postfix the routing tests run (skylift.demo.postfix): Debian's package,
unpacked with ``apt-get download`` + ``dpkg -x`` (an installed Postfix is used when there is
one), never installed, because installing it would replace the machine's own MTA. Its
main.cf names skylift's three maps (docs/cutover.md, "Setting up Postfix"), so ``skylift
cutover`` and ``rollback`` on the kept demo change where mail lands, as on a real MX.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from skylift.demo.postfix import PostfixServer, find_install, user_cache

MAPS = ("skylift_transport", "skylift_relay_recipients", "skylift_tls_policy")


def unpack_postfix(dest: Path) -> None:
    """``apt-get download postfix`` + ``dpkg -x`` into *dest*; RuntimeError saying why not."""
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        raise RuntimeError("no Postfix here and no apt-get/dpkg to unpack one")
    work = Path(tempfile.mkdtemp(prefix="skylift-postfix-deb-"))
    try:
        got = subprocess.run(
            ["apt-get", "download", "-q", "postfix"],
            cwd=work, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        debs = sorted(work.glob("postfix_*.deb"))
        if got.returncode != 0 or not debs:
            last = (got.stderr.strip().splitlines() or ["no package"])[-1]
            raise RuntimeError(f"apt-get download postfix failed: {last}")
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(debs[0]), str(dest)], check=True, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"cannot unpack Postfix: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def start_onprem_mta(domain: str, source_lmtp_port: int, *, unpack: bool = True) -> PostfixServer:
    """Start the on-prem Postfix for *domain*; RuntimeError (one line) when it cannot run."""
    if find_install() is None:
        if not unpack:
            raise RuntimeError("Postfix is not installed or unpacked")
        unpack_postfix(user_cache())
        if find_install() is None:
            raise RuntimeError(f"no postfix program in what was unpacked into {user_cache()}")
    if os.geteuid() != 0:
        raise RuntimeError("Postfix's master must start as root (run the demo with sudo)")
    mta = PostfixServer(hostname="mx.old.example", relay_domains=[domain])
    conf = mta.config_dir
    mta.postconf(
        {
            "relay_transport": f"lmtp:inet:127.0.0.1:{source_lmtp_port}",
            "transport_maps": f"hash:{conf}/{MAPS[0]}",
            "relay_recipient_maps": f"hash:{conf}/{MAPS[1]}",
            "smtp_tls_policy_maps": f"hash:{conf}/{MAPS[2]}",
        }
    )
    try:
        return mta.start()
    except (RuntimeError, OSError) as exc:
        mta.stop()
        words = str(exc).strip().splitlines()
        raise RuntimeError(words[0] if words else "postfix did not start") from None


def master_pid(mta: PostfixServer) -> int:
    """Postfix's master (its exit, and a kill of its process group, ends every daemon)."""
    return int((mta.queue_dir / "pid" / "master.pid").read_text().strip())
