"""Debian's chromium, headless, driven by Playwright (never ``playwright install``: the
system's browser is used), for the tests that look at pages as a reader does. Screenshots
go to the test's temp folder, or WATCHER_TEST_OUTPUT when set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.local import unavailable

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-extensions", "--no-first-run",
                "--disable-sync", "--metrics-recording-only", "--mute-audio"]

def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (apt-get install chromium; .ci/run does it)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        unavailable(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WATCHER_TEST_OUTPUT") or tmp_path) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
