"""The pages in a real browser: Debian's chromium, headless, driven by Playwright (never
``playwright install``: the system's browser is used). Loads the matches, filters by a rule,
uses the tester, opens an article; screenshots at 375 px and 1280 px are kept as test output
(the test's temp folder, or WATCHER_TEST_OUTPUT when set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import browser, output
from tests.web.conftest import Site

pytestmark = pytest.mark.timeout(120)
__all__ = ["browser", "output"]  # fixtures


@pytest.mark.parametrize("width", [375, 1280])
def test_browse_filter_test_and_open_an_article(browser: Any, site: Site, output: Path,
                                                width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)

    page.goto(site.url + "/")
    assert page.locator("li.item").count() == 3
    assert page.locator("li.item mark").first.is_visible()
    # readable on a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(output / f"matches-{width}.png"), full_page=True)

    page.select_option("#filter-rule", "wagner")
    page.click("form.filters button")
    page.wait_for_url("**/?rule=wagner**")
    titles = page.locator("li.item h2").all_inner_texts()
    assert titles and all("Spy chief" not in t for t in titles)
    assert any("Wagner convoy" in t for t in titles)

    page.goto(site.url + "/rules")
    page.fill("#tester-query", "Prigozhin AND Belarus")
    page.click("#tester-run")
    page.wait_for_selector("#tester-summary")
    assert "query: 3 of 6 articles" in page.inner_text("#tester-summary")
    page.locator("#tester-hits details summary").first.click()
    assert page.locator("#tester-hits details .tree li.yes").first.is_visible()
    page.screenshot(path=str(output / f"tester-{width}.png"), full_page=True)

    page.fill("#tester-query", "MI6 AND (")
    page.click("#tester-run")
    assert "^" in page.inner_text("#tester-error pre")

    page.goto(site.url + "/")
    page.locator("li.item h2 a", has_text="Spy chief").click()
    page.wait_for_selector("#explain")
    assert "<script>alert(1)</script>" in page.inner_text("#article-title")
    assert page.locator("article mark").count() >= 2
    assert "mi6-defection" in page.inner_text("#explain")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(output / f"article-{width}.png"), full_page=True)

    assert dialogs == []  # nothing from the hostile page ran
    assert not [e for e in errors if "Content Security Policy" not in e]
    page.close()
    assert (output / f"matches-{width}.png").stat().st_size > 1000
