"""Debian's Chromium driven by Playwright (never a downloaded browser), and screenshots for people to look at."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
LAPTOP = {"width": 1366, "height": 820}
NARROW = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium for one test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Save the whole page under test-artifacts/dashboard/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, url: str, key: str) -> None:
    """Paste the key into the sign-in form and wait for the audits list."""
    page.goto(f"{url}/")
    page.fill("#api-key", key)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#audit-list table, #audit-list .empty")
