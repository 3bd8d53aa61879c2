"""Browser fixtures for tests/test_ui_*.py: Debian's chromium driven by Playwright (sync API).

No downloaded browser: chromium is launched from ``/usr/bin/chromium`` (``MPESA_UI_CHROMIUM``
overrides), which ``scripts/browser_suite.sh`` installs from Debian's packages. Every test
leaves a screenshot in ``artifacts/screenshots/`` and fails on a JavaScript error in the page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("MPESA_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no chromium at {CHROMIUM} (scripts/browser_suite.sh installs Debian's)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    """A fresh tab (own sessionStorage); screenshot at the end; JavaScript errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: msg.type == "error" and errors.append(f"console error: {msg.text}"))
    yield tab
    try:
        shoot(tab, request.node.name + "-end")
    finally:
        context.close()
    assert not errors, "JavaScript errors in the page:\n" + "\n".join(errors)


def shoot(tab, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png")
    tab.screenshot(path=str(path), full_page=full_page)
    return path


def connect(tab, sim) -> None:
    """Paste the admin token, as a user would, and wait until the page says it is connected."""
    tab.get_by_label("Admin token").fill(sim.admin_token)
    tab.get_by_role("button", name="Save token").click()
    sync_api.expect(tab.locator("#token-status")).to_have_text("Connected")
