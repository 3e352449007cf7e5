"""Deconv Lab: `streamlit run app.py`. The router: pages, the shared layer sidebar, the URL."""

from __future__ import annotations

import streamlit as st

from ui import state

st.set_page_config(
    page_title="Deconv Lab",
    page_icon=":material/grid_on:",
    layout="wide",
    menu_items={"About": "Deconv Lab: replace `nn.ConvTranspose2d` without breaking shapes."},
)

# file in app_pages/, title, material icon, url path ("" is the default page), and what the
# sidebar shows there: the layer's widgets, a summary of the layer, or nothing.
PAGES = [
    ("designer", "Layer designer", "tune", "", "sidebar"),
    ("overlap", "Overlap", "grid_on", "overlap", "sidebar"),
    ("generator", "Live generator", "image", "generator", "sidebar"),
    ("solver", "Size solver", "calculate", "solver", "summary"),
    ("presets", "Presets", "bookmarks", "presets", "summary"),
    ("converter", "Model converter", "swap_horiz", "converter", "none"),
]

state.begin_run()
pages = {
    url: st.Page(
        f"app_pages/{file}.py",
        title=title,
        icon=f":material/{icon}:",
        url_path=url or None,
        default=not url,
    )
    for file, title, icon, url, _ in PAGES
}
page = st.navigation(list(pages.values()))
layer_mode = next((mode for *_, url, mode in PAGES if pages[url].url_path == page.url_path), "none")

st.sidebar.markdown("## Deconv Lab")
if layer_mode == "sidebar":
    state.layer_sidebar()
elif layer_mode == "summary":
    state.layer_summary()

notices = st.container()  # above the page: what a shared link asked for that was not used
page.run()
state.show_notices(notices)
state.sync_url()
