"""End to end: the real app (`streamlit run`) in headless Debian Chromium driven by Playwright.

Every page loads without an exception element; changing a parameter updates the code, the chart
and the URL; a shared link reproduces the view; an invalid value shows the error. Screenshots go
to $ARTIFACTS_DIR (default: <tmp>/artifacts/deconv-lab-browser).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import (
    EXCEPTION,
    PAGES,
    chart_shape,
    launch,
    open_page,
    require_chromium,
    set_number,
    streamlit_server,
    wait_chart_shape,
    wait_query,
    wait_settled,
)
from playwright.sync_api import sync_playwright

from core.geometry.output_size import output_size
from ui.state import LayerConfig

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(tempfile.gettempdir()) / "artifacts"))
SHOTS = ARTIFACTS / "deconv-lab-browser"
TIMEOUT_MS = 120_000  # generous: a loaded 2-core CI machine renders slowly


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


@pytest.fixture
def page(app):
    _, browser = app
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0


@pytest.mark.parametrize("path", list(PAGES), ids=[p or "designer" for p in PAGES])
def test_every_page_loads(app, page, path):
    base, _ = app
    open_page(page, base, path)
    no_exception(page)
    if path in ("", "overlap", "generator"):  # the pages with the layer widgets
        assert LayerConfig.from_query(query(page))[0] == LayerConfig()
    page.screenshot(path=SHOTS / f"{path or 'designer'}.png", full_page=True)


def test_a_fresh_server_routes_its_first_visit_to_a_deep_link(app):
    """The very first run of a process, a shared link to /overlap, still goes through app.py:
    the titled navigation and the layer sidebar, not Streamlit's legacy `pages/` listing."""
    _, browser = app
    with streamlit_server() as fresh:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            tab = context.new_page()
            open_page(tab, fresh, "overlap", "k=5&n=8")
            nav = tab.locator('[data-testid="stSidebarNav"]').inner_text()
            assert all(title in nav for title in PAGES.values()), nav
            assert "app" not in nav.split()  # a legacy listing names app.py and file stems
            assert tab.get_by_label("kernel_size (px)", exact=True).input_value() == "5"
            no_exception(tab)
        finally:
            context.close()


def test_designer_change_updates_code_metric_and_url(app, page):
    base, _ = app
    open_page(page, base)
    set_number(page, "kernel_size (px)", 4)
    wait_query(page, "k", "4", TIMEOUT_MS)
    page.get_by_text("kernel_size=4, stride=2, padding=1, output_padding=1").first.wait_for()
    wait_settled(page)
    layer = LayerConfig(kernel_size=(4, 4)).layer()
    out = output_size(layer, 16)
    page.get_by_text(f"{out[0]} × {out[1]} px").first.wait_for()
    assert query(page)["k"] == "4"
    no_exception(page)
    page.screenshot(path=SHOTS / "designer_changed.png", full_page=True)


def test_overlap_change_redraws_the_chart(app, page):
    base, _ = app
    open_page(page, base, "overlap")
    before = output_size(LayerConfig().layer(), 16)
    assert chart_shape(page, 0) == list(before)
    set_number(page, "kernel_size (px)", 4)
    after = output_size(LayerConfig(kernel_size=(4, 4)).layer(), 16)
    wait_chart_shape(page, list(after), 0, TIMEOUT_MS)
    wait_query(page, "k", "4", TIMEOUT_MS)
    wait_settled(page)
    no_exception(page)
    page.screenshot(path=SHOTS / "overlap_changed.png", full_page=True)


def test_a_shared_link_reproduces_the_view_on_every_page(app, page):
    base, _ = app
    link = "k=5&s=3&p=2&op=0&n=8"
    cfg, _ = LayerConfig.from_query({k: v[0] for k, v in parse_qs(link).items()})
    out = output_size(cfg.layer(), 8)
    open_page(page, base, "", link)
    page.get_by_text("kernel_size=5, stride=3, padding=2").first.wait_for()
    page.get_by_text(f"{out[0]} × {out[1]} px").first.wait_for()
    page.get_by_role("link", name="Overlap").first.click()  # the sidebar navigation
    page.get_by_role("heading", name="Overlap", level=1).wait_for()
    wait_chart_shape(page, list(out), 0, TIMEOUT_MS)
    wait_query(page, "n", "8", TIMEOUT_MS)
    assert query(page)["k"] == "5"
    no_exception(page)


def test_invalid_value_shows_the_error_and_no_exception(app, page):
    base, _ = app
    open_page(page, base)
    set_number(page, "output_padding (px)", 2)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="output_padding")
    alert.first.wait_for()
    assert "must be smaller than stride" in alert.first.inner_text()
    wait_settled(page)
    no_exception(page)


def test_a_typed_value_above_a_limit_is_refused_with_the_limit_named(app, page):
    """Type 100000 as the input size and press Tab: the box keeps it, and the page says which
    limit refuses it and how to raise it (it used to go on with 16 in silence)."""
    base, _ = app
    open_page(page, base)
    box = page.get_by_label("input size (px)", exact=True)
    box.fill("100000")
    box.press("Tab")
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="above the limit")
    alert.first.wait_for()
    said = alert.first.inner_text()
    assert "input_size 100,000 is above the limit" in said
    assert "DECONV_LAB_LIMITS=local streamlit run app.py" in said
    wait_settled(page)
    assert box.input_value() == "100000"
    assert page.locator('[data-testid="stMetric"]').count() == 0  # nothing computed from 16
    no_exception(page)


@pytest.mark.parametrize(
    ("path", "label", "value"),
    [("", "dilation (px)", "1"), ("overlap", "dilation", "1")],
    ids=["sidebar", "overlap_stack_row"],
)
def test_an_emptied_number_box_goes_back_to_its_value_not_0(app, page, path, label, value):
    """Clear a box and press Enter: Streamlit's browser side commits the box's default, which is
    the box's own value (`ui.state.box_default`), not 0 ("dilation must be at least 1, got 0"
    was once seen under load)."""
    base, _ = app
    open_page(page, base, path)
    box = page.get_by_label(label, exact=True).first
    assert box.input_value() == value
    box.fill("")
    box.press("Enter")
    wait_settled(page)
    page.wait_for_function(
        "([el, v]) => el.value === v", arg=[box.element_handle(), value], timeout=TIMEOUT_MS
    )
    assert page.locator('[data-testid="stAlert"]').filter(has_text="got 0").count() == 0
    no_exception(page)


MAIN_TABLES = '[data-testid="stMain"] [data-testid="stTable"]'
TABLE_SCROLL_JS = f"""() => [...document.querySelectorAll('{MAIN_TABLES}')]
    .map(t => t.scrollHeight - t.clientHeight)"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize(
    ("name", "path", "link"),
    [
        ("designer", "", "op=0&ds_want=33"),
        ("solver", "solver", ""),
        ("solver_ends", "solver", "sv_mode=ends&sv_from=7&sv_to=28&sv_layers=2"),
    ],
)
def test_designer_and_solver_show_every_table_row_in_light_and_dark(
    app, name, path, link, width, scheme
):
    """Every table row visible without an inner scroll; screenshots for a person to look at."""
    base, browser = app
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        open_page(tab, base, path, link)
        assert tab.locator(MAIN_TABLES).count() >= 1
        assert all(extra <= 1 for extra in tab.evaluate(TABLE_SCROLL_JS))
        no_exception(tab)
        # Streamlit scrolls inside its main section: grow the window to the page to shoot it all.
        height = tab.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
        )
        tab.set_viewport_size({"width": width, "height": min(height + 40, 8000)})
        wait_settled(tab)
        tab.screenshot(path=SHOTS / f"{name}_{width}_{scheme}.png")
    finally:
        context.close()
