"""The admin and the manager in a real browser (Chromium via Playwright) on ``skylift web``.

The admin logs in, starts wave 1 and watches it reach 100% on the page without reloading
(the numbers arrive by Server-Sent Events), then opens the mailbox with the item that could
not arrive and reads Dovecot's reason. The manager's viewer account sees the same page
with no button. Screenshots are saved and checked to be real pictures of a page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from tests.web.conftest import Web, log_in, session


def _screenshot(page: Any, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 1000 and image.height >= 400
        # a page, not a blank: more than a handful of colours
        assert len(image.convert("RGB").getcolors(maxcolors=100_000) or []) > 20


def test_admin_starts_a_wave_and_watches_it_reach_100_percent(
    browser: Any, web: Web, tmp_path: Path
) -> None:
    page = log_in(browser, web, "admin")
    assert page.inner_text("#who") == "admin (admin)"
    assert page.inner_text('[data-wave-status="1"]') == "not started"
    window = page.inner_text('tr[data-wave="1"] td:nth-child(2)')
    assert window == "Sat 05 Dec 20:00 – Mon 07 Dec 06:00 UTC"  # from --config
    _screenshot(page, tmp_path / "overview.png")

    buttons = page.locator('tr[data-wave="1"] button.act')
    assert [b.inner_text() for b in buttons.all() if b.is_visible()] == ["Start"]
    page.click('button[data-action="start"][data-wave="1"]')
    page.wait_for_url(web.url + "/waves/1")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    page.wait_for_function(
        "document.querySelector('[data-wave-percent=\"1\"]').textContent === '100%'",
        timeout=60_000,
    )
    assert page.evaluate("window.loadedOnce") is True
    assert page.get_attribute('[data-wave-fill="1"]', "style") == "width: 100%;"
    assert page.get_attribute("body", "data-updated")  # set by the event stream only
    assert page.inner_text('[data-wave-status="1"]') == "done with problems"
    assert page.is_visible('button[data-action="start"]')  # a rerun moves what is new
    assert not page.is_visible('button[data-action="pause"]')
    states = page.eval_on_selector_all(
        "tr[data-user] [data-field=state]", "cells => cells.map(c => c.textContent)"
    )
    assert sorted(states) == ["done", "done", "partial"]
    _screenshot(page, tmp_path / "wave-1.png")

    page.click("text=chloe@new.example")
    page.wait_for_url(web.url + "/users/chloe@new.example")
    reason = page.inner_text("#problems .reason")
    assert "Mail size is larger than the maximum size allowed" in reason  # Dovecot's words
    assert "INBOX" in page.inner_text("#problems")
    assert page.get_attribute("#setup-link", "href") == (
        "https://autoconfig.new.example/setup?emailaddress=chloe%40new.example"
    )
    folders = page.inner_text("#folders")
    assert "Projects/Apollo" in folders and "INBOX" in folders
    _screenshot(page, tmp_path / "chloe.png")

    runs = page.locator("#runs tr").count()
    page.click('button[data-action="retry"]')  # the same item is refused again, same words
    page.wait_for_url(web.url + "/users/chloe@new.example")
    page.wait_for_function(
        "document.querySelector('[data-user] [data-field=state]').textContent === 'partial'"
    )
    for _ in range(100):
        page.reload()
        if page.locator("#runs tr").count() == runs + 1 and "partial" in page.inner_text(
            "#runs tr:nth-child(2)"
        ):
            break
        page.wait_for_timeout(200)
    assert page.locator("#runs tr").count() == runs + 1
    assert "Mail size is larger" in page.inner_text("#problems .reason")

    page.goto(web.url + "/")
    assert page.inner_text('[data-wave-status="1"]') == "done with problems"
    assert page.locator("#throughput rect").count() >= 1  # this minute's messages
    assert page.inner_text('tr[data-user="chloe@new.example"] [data-field=problems]') == "1"
    _screenshot(page, tmp_path / "overview-after.png")

    page.click("text=Assessment")  # skylift assess's own report, behind the login
    page.wait_for_url(web.url + "/assessment")
    assert "alice@new.example" in page.content()

    page.goto(web.url + "/audit")
    latest, first = (
        page.inner_text("#audit tr:nth-child(2)"),
        page.inner_text("#audit tr:nth-child(3)"),
    )
    assert "admin" in first and "start" in first and "wave 1 started (3 mailboxes)" in first
    assert "admin" in latest and "retry" in latest and "chloe@new.example started again" in latest
    page.close()


def test_a_viewer_sees_the_same_page_and_cannot_start_anything(
    browser: Any, web: Web, tmp_path: Path
) -> None:
    page = log_in(browser, web, "manager")
    assert page.inner_text("#who") == "manager (viewer)"
    assert page.locator('[data-wave="2"]').count() == 1
    assert page.locator("button.act").count() == 0
    page.goto(web.url + "/users/alice@new.example")
    assert page.locator("button.act").count() == 0
    _screenshot(page, tmp_path / "viewer.png")
    page.close()

    client, csrf = session(web, "manager")
    refused = client.post("/waves/2/start", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "viewers cannot change anything" in refused.text
    wave = next(w for w in client.get("/api/overview").json()["waves"] if w["wave"] == "2")
    assert wave["status"] == "not started"
