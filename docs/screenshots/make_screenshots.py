"""Regenerate the README's screenshots: one PNG per page of the app, default settings.

    .venv/bin/python docs/screenshots/make_screenshots.py [PAGE ...]

Starts `streamlit run app.py`, opens each page in headless Chromium at 1400 px wide, waits for
every chart, and writes docs/screenshots/<page>.png (the page's full height, up to a cap). Name
pages (designer, overlap, generator, ...) to take only those.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests"))

from browser_support import PAGES, launch, open_page, streamlit_server  # noqa: E402

WIDTH = 1400
MAX_HEIGHT = 3200  # px; the overlap page is long, the README needs its top


def page_height(page) -> int:
    """Height of the scrolling main section's content (Streamlit scrolls inside the app)."""
    return page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return main ? main.scrollHeight : document.body.scrollHeight;
        }"""
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    wanted = sys.argv[1:]
    unknown = [w for w in wanted if w not in [p or "designer" for p in PAGES]]
    if unknown:
        raise SystemExit(f"unknown page(s): {', '.join(unknown)}")
    paths = [p for p in PAGES if not wanted or (p or "designer") in wanted]

    with streamlit_server() as base, sync_playwright() as playwright:
        browser = launch(playwright)
        for path in paths:
            context = browser.new_context(
                viewport={"width": WIDTH, "height": 900}, device_scale_factor=1
            )
            context.set_default_timeout(180_000)
            page = context.new_page()
            open_page(page, base, path)
            height = min(max(page_height(page) + 40, 900), MAX_HEIGHT)
            page.set_viewport_size({"width": WIDTH, "height": height})
            open_page(page, base, path)  # re-layout at the full height, charts included
            target = HERE / f"{path or 'designer'}.png"
            page.screenshot(path=target)
            print(f"{target.relative_to(HERE.parent.parent)}  {WIDTH}x{height}")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
