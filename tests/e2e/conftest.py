"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Nothing is downloaded: Playwright's Python package ships its driver, and the browser is
the distribution's (`apt-get install chromium`). Without it these tests skip and say why.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"


_SKIPPED: list[str] = []


def _skip(reason: str) -> None:
    _SKIPPED.append(reason)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter) -> None:
    # pytest hides a skipped test's output; say it at the end of every run instead.
    if _SKIPPED:
        terminalreporter.write_line(f"browser tests (tests/e2e) SKIPPED: {_SKIPPED[0]}")


@pytest.fixture(scope="module")
def chromium():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip("the playwright package is not installed (pip install '.[dev]')")
    # Playwright runs an event loop in this thread; the test's own ORM calls are sync and
    # safe, but Django's guard cannot tell.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def seeded_providers(transactional_db):
    """The local engine's provider rows, as the migration seeds them.

    Live-server tests run in real transactions, and the flush after any such test (ours or
    another app's) empties every table, migration data included; re-apply the seed.
    """
    from django.apps import apps

    seed = importlib.import_module("ocr.migrations.0002_seed_local_provider").seed
    seed(apps, None)


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1180, "height": 820})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """screenshot(name): save the page to docs/screenshots/<name>.png for the docs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        # A 256-colour palette keeps the committed pictures small; UI text stays crisp.
        with Image.open(path) as shot:
            small = shot.convert("RGB").quantize(colors=256)
        small.save(path, optimize=True)
        return path

    return take
