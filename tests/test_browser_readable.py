"""End to end: the generator and overlap pages read at a desktop's and a phone's width, in the
light and the dark theme, in headless Chromium against `streamlit run`.

Each combination is screenshotted to $ARTIFACTS_DIR/deconv-lab-readable (default under the
system's temporary directory) for a person to look at, and checked in the page itself: no text
of a chart (its title, subplot titles, axis titles, colour bar title) runs into another or out
of its chart, no plotly toolbar is drawn, nothing is wider than the window (a wide table scrolls
inside its own frame), and every picture is shown at exactly its own pixel size (whole-number
zooms made in core, no browser scaling). While a fit runs, every live picture keeps one size and
place.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from browser_support import (
    EXCEPTION,
    launch,
    open_page,
    require_chromium,
    streamlit_server,
    wait_settled,
)
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(tempfile.gettempdir()) / "artifacts"))
SHOTS = ARTIFACTS / "deconv-lab-readable"
TIMEOUT_MS = 180_000  # generous: a loaded 2-core CI machine renders slowly
WIDTHS = (1440, 390)  # a desktop and a phone
SCHEMES = ("light", "dark")
MAX_SHOT_HEIGHT = 16_000

# Every text box of every plotly chart that could run into another: the figure title, subplot
# titles and other annotations, axis titles, colour bar titles, legend entries. For each chart:
# its box, and the boxes of those texts (empty ones left out).
_CHART_TEXTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
    const box = r => [r.left, r.top, r.right, r.bottom];
    const texts = Array.from(gd.querySelectorAll(
        '.gtitle, .annotation-text, .xtitle, .ytitle, .cbtitle text, .legendtext'
    )).filter(t => t.textContent.trim() && t.getBoundingClientRect().width > 0)
      .map(t => ({text: t.textContent.trim(), box: box(t.getBoundingClientRect())}));
    return {chart: box(gd.getBoundingClientRect()), texts: texts,
            modebars: gd.querySelectorAll('.modebar-btn').length};
})"""
_IMAGES_JS = """() => Array.from(document.querySelectorAll('[data-testid="stImage"] img')).map(
    i => ({natural: i.naturalWidth, shown: i.getBoundingClientRect().width, alt: i.alt})
)"""
_WIDEST_JS = """() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth,
    document.querySelector('[data-testid="stMain"]').scrollWidth)"""
# The live pictures (in the fit's keyed frames; the pictures drawn after the fit are not).
_LIVE_JS = """() => Array.from(
    document.querySelectorAll("[class*='st-key-gen_live_'] [data-testid='stImage'] img")
).map(i => {
    const r = i.getBoundingClientRect();
    return [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)];
})"""


@pytest.fixture(scope="module")
def app():
    require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as base, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield base, browser
        finally:
            browser.close()


def new_page(browser, width: int, scheme: str):
    context = browser.new_context(
        viewport={"width": width, "height": 1000}, color_scheme=scheme, device_scale_factor=1
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def overlaps(a: list[float], b: list[float], slack: float = 1.0) -> bool:
    """Whether two boxes [left, top, right, bottom] overlap by more than `slack` pixels."""
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def full_height(page) -> int:
    return page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return main ? main.scrollHeight : document.body.scrollHeight;
        }"""
    )


def check_readable(page, width: int) -> None:
    """No chart text runs into another or out of its chart; no toolbar; nothing wider than the
    window; every picture at its own pixel size."""
    charts = page.evaluate(_CHART_TEXTS_JS)
    assert charts, "no chart drawn"
    for chart in charts:
        assert chart["modebars"] == 0, "a plotly toolbar is drawn over a chart"
        left, top, right, _ = chart["chart"]
        texts = chart["texts"]
        for t in texts:
            x0, y0, x1, _ = t["box"]
            assert x0 >= left - 1 and x1 <= right + 1 and y0 >= top - 1, (t["text"], chart["chart"])
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert not overlaps(a["box"], b["box"]), (a["text"], b["text"])
    assert page.evaluate(_WIDEST_JS) <= width, "something is wider than the window"
    for image in page.evaluate(_IMAGES_JS):
        assert image["shown"] == image["natural"], image  # whole-number zooms, not the browser's


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ["generator", "overlap"])
def test_page_reads_at_this_width_and_theme(app, path, width, scheme):
    base, browser = app
    context, page = new_page(browser, width, scheme)
    try:
        open_page(page, base, path, "ov_stages=1" if path == "overlap" else "")
        page.set_viewport_size({"width": width, "height": min(full_height(page), MAX_SHOT_HEIGHT)})
        wait_settled(page)
        assert page.locator(EXCEPTION).count() == 0
        check_readable(page, width)
        page.screenshot(path=SHOTS / f"{path}_{width}_{scheme}.png")
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_fit_keeps_every_picture_in_place_while_it_runs(app, width):
    """Sampled while the fit runs: one size and one place per live picture, whatever arrives."""
    base, browser = app
    context, page = new_page(browser, width, "light")
    try:
        open_page(page, base, "generator", "gen_mode=fit&gen_steps=200")
        page.set_viewport_size({"width": width, "height": 4000})
        page.get_by_role("button", name="Fit").click()
        done = page.get_by_text("Done in")
        seen: set[tuple[int, ...]] = set()
        samples = 0
        while not done.count():
            boxes = page.evaluate(_LIVE_JS)
            if len(boxes) == 5:  # the five live pictures (before the fit's end removes them)
                seen.update(tuple(b) for b in boxes)
                samples += 1
            time.sleep(0.05)  # sampling pace only: nothing is asserted about time
        assert samples > 0
        assert len({b[2:] for b in seen}) == 1, seen  # one size
        assert len({b[:2] for b in seen}) == 5, seen  # five places, never moved
        wait_settled(page)
        assert page.locator(EXCEPTION).count() == 0
        check_readable(page, width)
        page.set_viewport_size({"width": width, "height": min(full_height(page), MAX_SHOT_HEIGHT)})
        wait_settled(page)
        page.screenshot(path=SHOTS / f"generator_fit_{width}_light.png")
    finally:
        context.close()
