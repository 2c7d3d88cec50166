"""The HTML digest as a reader's phone shows it: rendered from the fixed digest (hostile
titles, folded versions, every channel's layout) and loaded in headless chromium at 375 px
(issue 15). Nothing is wider than the screen, no script runs, every version is a link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.digest.fixtures import fixed_digest
from tests.support.browser import browser, output
from watcher.digest import render_all

pytestmark = pytest.mark.timeout(120)
__all__ = ["browser", "output"]  # fixtures


@pytest.mark.parametrize("width", [375, 1280])
def test_the_html_digest_fits_the_screen_and_stays_inert(browser: Any, output: Path,
                                                         width: int) -> None:
    html = render_all(fixed_digest()).html
    page = browser.new_page(viewport={"width": width, "height": 900},
                            java_script_enabled=True)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.set_content(html)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert links and all(link.startswith(("http://", "https://")) for link in links)
    assert page.locator("script").count() == 0
    assert dialogs == []
    page.screenshot(path=str(output / f"digest-{width}.png"), full_page=True)
    page.close()
