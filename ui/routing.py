"""Keep every page behind the router in app.py, even on a process's very first run.

Until `st.navigation` has run once in a process, Streamlit treats a folder named `pages/` beside
the entry script as its legacy automatic multipage app: the first visit to a deep link such as
`/solver` runs `pages/solver.py` on its own, without app.py (no shared sidebar, a navigation that
lists every file). AppTest starts every run in that mode. `require_router()`, the first line of
each page, notices such a run, switches the legacy mode off and runs app.py in its place, in the
same run (so a button press it carries is not lost); app.py resolves the same page, since page
identity is the URL path, which both modes derive alike.
"""

from __future__ import annotations

import runpy

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx


def require_router() -> None:
    """Run app.py instead if Streamlit ran this page file directly (legacy `pages/` mode)."""
    ctx = get_script_run_ctx()
    if ctx is None or not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    runpy.run_path(ctx.pages_manager.main_script_path, run_name="__main__")
    st.stop()  # app.py has drawn this page in full; the direct run ends here
