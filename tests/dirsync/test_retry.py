"""Throttling is retried in one place, after the provider's own Retry-After.

The real scim2-server sits behind a relay that answers chosen requests with 429 and
``Retry-After: 1`` (as hosted SCIM providers do) and logs when every request arrived.
"""

from __future__ import annotations

from pathlib import Path

from tests.dirsync.conftest import SOURCE_SUFFIX, Sync, child_pythonpath, scim_groups, scim_users
from tests.dirsync.servers import ADMIN_PASSWORD, ScimServer, Slapd, org_text
from tests.servers.http_throttle_proxy import HttpThrottleProxy


def test_a_throttled_provider_is_retried_after_its_hint_and_gets_every_object(
    tmp_path: Path, scim: ScimServer, ldap_tools: None
) -> None:
    small = Slapd(tmp_path / "small", SOURCE_SUFFIX).start(org_text(users=8, groups=2))
    # 1 is discovery, 2 the first user listing; 6 and 11 fall among the creates.
    proxy = HttpThrottleProxy(scim.port, throttle={2, 6, 11}, retry_after=1)
    try:
        env = {"SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD, "SKYLIFT_SCIM_TOKEN": scim.token}
        target = f"scim+http://127.0.0.1:{proxy.port}/v2"
        sync = Sync(small, target, tmp_path, env | {"PYTHONPATH": child_pythonpath()})
        done = sync.run("--apply")
        assert done.returncode == 0, done.stderr
        assert "retry 1 in 1.0s" in done.stderr  # the runner said it waits the hint

        assert len(scim_users(scim)) == 8  # every object arrived, read from the server itself
        assert set(scim_groups(scim)) == {"dept000", "dept001", "all-staff"}
        throttled = [i for i, r in enumerate(proxy.log) if r.throttled]
        assert len(throttled) == 3
        for i in throttled:  # the same request came again, and not before Retry-After
            again = proxy.log[i + 1]
            assert (again.method, again.path) == (proxy.log[i].method, proxy.log[i].path)
        assert proxy.early_retries() == []

        rerun = sync.json("--apply")
        assert rerun["changes"] == [] and rerun["failed"] == []
    finally:
        proxy.close()
        small.stop()
