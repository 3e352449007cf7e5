"""Deconv Lab: `streamlit run app.py`. The router: pages, the shared layer sidebar, the URL."""

from __future__ import annotations

import streamlit as st

from ui import janitor, state

st.set_page_config(
    page_title="Deconv Lab",
    page_icon=":material/grid_on:",
    layout="wide",
    menu_items={"About": "Deconv Lab: replace `nn.ConvTranspose2d` without breaking shapes."},
)

state.begin_run()
janitor.start()  # memory back after heavy runs and expired sessions (once per process)

# Each page, and what the sidebar shows there: the layer's widgets, a summary of it, or nothing.
# Page files are spelled out (not built from names) so tools and tests can read them here.
SIDEBAR = {
    "": "sidebar",
    "overlap": "sidebar",
    "generator": "sidebar",
    "solver": "summary",
    "presets": "summary",
    "converter": "none",
}
PAGES = [
    st.Page("pages/designer.py", title="Layer designer", icon=":material/tune:", default=True),
    st.Page("pages/overlap.py", title="Overlap", icon=":material/grid_on:", url_path="overlap"),
    st.Page(
        "pages/generator.py",
        title="Live generator",
        icon=":material/image:",
        url_path="generator",
    ),
    st.Page("pages/solver.py", title="Size solver", icon=":material/calculate:", url_path="solver"),
    st.Page("pages/presets.py", title="Presets", icon=":material/bookmarks:", url_path="presets"),
    st.Page(
        "pages/converter.py",
        title="Model converter",
        icon=":material/swap_horiz:",
        url_path="converter",
    ),
]
page = st.navigation(PAGES)
layer_mode = SIDEBAR.get(page.url_path, "none")

st.sidebar.markdown("## Deconv Lab")
if layer_mode == "sidebar":
    state.layer_sidebar()
elif layer_mode == "summary":
    state.layer_summary()

state.limits_panel(st.sidebar)

notices = st.container()  # above the page: what a shared link asked for that was not used
page.run()
state.show_notices(notices)
state.sync_url()
