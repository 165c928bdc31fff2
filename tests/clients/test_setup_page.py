"""The per-user setup page, as a user's browser shows it, and its QR code as a phone reads it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--hide-scrollbars"]  # fmt: skip


def test_setup_page_renders_and_its_qr_code_opens_the_profile(service, org, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    zbarimg = shutil.which("zbarimg")
    assert chromium, "chromium is not installed (scripts/setup.sh: apt-get install chromium)"
    assert zbarimg, "zbarimg is not installed (scripts/setup.sh: apt-get install zbar-tools)"
    answer = service.client.get("/setup", params={"emailaddress": "bob@new.example"})
    assert answer.status_code == 200
    html = answer.text
    assert "mail.old.example" in html and "143" in html and "STARTTLS" in html
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    page = tmp_path / "setup.html"
    page.write_text(html)
    shot = tmp_path / "setup.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1000,1100", page.as_uri()],
        capture_output=True, timeout=90, check=False,
    )  # fmt: skip
    assert shot.exists(), "chromium wrote no screenshot"
    decoded = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(shot)], capture_output=True, text=True, check=False
    )
    assert decoded.returncode == 0, decoded.stderr
    link = decoded.stdout.strip()
    assert link == f"{service.url}/mobileconfig?emailaddress=bob%40new.example"
    # the link the phone opens is the user's profile
    profile = service.client.get(link.removeprefix(service.url))
    assert profile.status_code == 200 and b"mail.old.example" in profile.content


@pytest.mark.parametrize("path", ["/setup", "/mobileconfig"])
def test_setup_and_profile_without_an_address_are_a_plain_400(service, path):
    answer = service.client.get(path)
    assert answer.status_code == 400 and "emailaddress" in answer.text
