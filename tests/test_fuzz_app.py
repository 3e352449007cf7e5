"""Fuzzing the Streamlit app: random query strings and random widget values on every page.

Every page of app.py's navigation is opened with AppTest from a URL holding random values for the
app's own query parameters (junk, huge, negative, unicode, repeated keys) and then has random
widgets set to random values, as a hostile client could send them (number inputs outside their
bounds included). After every run: no exception element; problems appear as st.error/st.warning.
Bounded: a few examples per page (AppTest runs the whole script each time).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest
from fuzz_support import app_page_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest
from tests_paths import ROOT

from ui import state

APP = ROOT / "app.py"
RUN_TIMEOUT = 120  # seconds per script run: generous for a loaded 2-core machine
PAGES = app_page_files()


def _page_param_keys() -> list[str]:
    """Query keys the pages read: the first argument of every state.page_param("key", ...)."""
    keys = set()
    for page in PAGES:
        tree = ast.parse((ROOT / page).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "page_param"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                keys.add(node.args[0].value)
    return sorted(keys)


def _string_pool(page: str) -> list[str]:
    """Short string constants of a page (and ui/): the candidate values of its choice widgets."""
    pool = set()
    for path in [ROOT / page, *sorted((ROOT / "ui").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and 0 < len(node.value) <= 40:
                pool.add(node.value)
    return sorted(pool)


URL_KEYS = sorted({spec.url for spec in state.FIELDS.values()} | {state.BIAS_URL})
PAGE_KEYS = _page_param_keys()

HOSTILE_TEXT = [
    "",
    " ",
    "0",
    "-1",
    "-4",
    "1",
    "3",
    "16",
    "4,4",
    "3,5",
    "1,2,3",
    ",",
    "4 8 16 32 64",
    "4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384",
    "65536",
    "1048577",
    str(2**62),
    "-" + str(2**62),
    "9" * 400,
    "1e9",
    "nan",
    "inf",
    "0x10",
    "true",
    "None",
    "é🙂",
    "\u202e\u0000\n",
    "<script>alert(1)</script>",
    "x` [a prize](https://evil.example/) `",
    "'; import os; os.system('rm -rf /') #",
    "convtranspose,convtranspose",
    "subpixel,resize-nearest,zero-insertion",
    "k4s2p1,k3s2p1op1",
    "(1, 100, 1, 1)",
    "1, 8, 4, 4",
    "ConvTranspose2d(64, 32, 4, 2, 1)",
    "Sequential(\n  (0): ConvTranspose2d(8, 4, 4, 2, 1)\n  (x;__import__): ReLU()\n)",
    "(" * 300,
    "A" * 25_000,
]
hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))


@st.composite
def query_strings(draw) -> dict[str, Any]:
    keys = draw(
        st.lists(
            st.one_of(
                st.sampled_from(URL_KEYS),
                st.sampled_from(PAGE_KEYS or URL_KEYS),
                st.sampled_from(["", "page", "embed", "x" * 300, "é"]),
            ),
            max_size=8,
            unique=True,
        )
    )
    query: dict[str, Any] = {}
    for key in keys:
        repeated = draw(st.integers(0, 5)) == 0
        query[key] = (
            draw(st.lists(hostile_text, min_size=2, max_size=3)) if repeated else draw(hostile_text)
        )
    return query


def open_page(page: str, query: dict[str, Any]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert_no_exception(at, f"{page} first run with {query!r}")
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    return at


def assert_no_exception(at: AppTest, context: str) -> None:
    assert not at.exception, f"{context}: {[e.value for e in at.exception]}"


# ----------------------------------------------------------------------------- widgets

NUMBER_EXTREMES = (0, -1, 1, 2**31, 2**62, -(2**62), 10**9)


def _number_value(widget, draw) -> float | int:
    low = widget.min if widget.min is not None else -(10**6)
    high = widget.max if widget.max is not None else 10**6
    integral = float(widget.step or 1).is_integer() and float(low).is_integer()
    candidates = st.one_of(
        st.integers(int(low), int(min(high, low + 10_000))),
        st.sampled_from([low, high, low - 1, high + 1, *NUMBER_EXTREMES]),
    )
    value = draw(candidates)
    return int(value) if integral else float(value)


def mutate_widget(at: AppTest, page: str, draw) -> str | None:
    """Set one random widget of the page to a random value; describe what was done."""
    widgets = [
        w
        for kind in (
            "number_input",
            "slider",
            "selectbox",
            "multiselect",
            "radio",
            "text_input",
            "text_area",
            "toggle",
            "checkbox",
            "button_group",
            "button",
        )
        for w in getattr(at, kind)
        if not getattr(w, "disabled", False)
    ]
    if not widgets:
        return None
    widget = draw(st.sampled_from(widgets))
    kind = type(widget).__name__
    label = getattr(widget, "label", "") or getattr(widget, "key", "")
    if kind == "NumberInput":
        value: Any = _number_value(widget, draw)
        widget.set_value(value)
    elif kind == "Slider":
        low, high = widget.min, widget.max
        if isinstance(widget.value, (list, tuple)):
            a, b = sorted(draw(st.lists(st.integers(int(low), int(high)), min_size=2, max_size=2)))
            value = (a, b)
        elif isinstance(low, int) and isinstance(high, int):
            value = draw(st.integers(low, high))
        else:
            return None
        widget.set_value(value)
    elif kind == "Selectbox":
        if not widget.options:
            return None
        value = draw(st.integers(0, len(widget.options) - 1))
        widget.select_index(value)
    elif kind in ("Multiselect", "ButtonGroup"):
        value = _choice_values(widget, page, draw)
        if value is None:
            return None
        widget.set_value(value)
    elif kind == "Radio":
        if not widget.options:
            return None
        value = draw(st.sampled_from(widget.options))
        widget.set_value(value)
    elif kind in ("TextInput", "TextArea"):
        value = draw(hostile_text)
        widget.input(value) if value else widget.set_value(value)
    elif kind in ("Toggle", "Checkbox"):
        value = draw(st.booleans())
        widget.set_value(value)
    elif kind == "Button":
        value = "click"
        widget.click()
    else:  # pragma: no cover - the kinds listed above only
        return None
    return f"{kind}({label!r}) <- {value!r}"[:300]


def _choice_values(widget, page: str, draw) -> Any:
    """Actual values for a multiselect/button group: strings of the page that format to one of
    its options (the test only sees the formatted labels)."""
    fmt = widget.format_func
    by_label = {}
    for candidate in _string_pool(page):
        try:
            label = str(fmt(candidate))
        except Exception:  # a format_func may refuse foreign strings
            continue
        if label in widget.options:
            by_label.setdefault(label, candidate)
    values = sorted(by_label.values())
    if not values:
        return None
    single = type(widget).__name__ == "ButtonGroup" and widget._is_single_select
    if single:
        return draw(st.sampled_from(values))
    return draw(st.lists(st.sampled_from(values), max_size=len(values), unique=True))


# ----------------------------------------------------------------------------- tests

app_settings = settings(
    max_examples=5,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("page", PAGES)
@app_settings
@given(query=query_strings())
def test_random_query_strings(page, query):
    at = open_page(page, query)
    assert_no_exception(at, f"{page} with {query!r}")


@pytest.mark.parametrize("page", PAGES)
@app_settings
@given(data=st.data())
def test_random_widget_values(page, data):
    at = open_page(page, {})
    done = []
    for _ in range(3):
        action = mutate_widget(at, page, data.draw)
        if action is None:
            break
        done.append(action)
        at.run()
        assert_no_exception(at, f"{page} after {done}")


def _strip_code_spans(markdown: str) -> str:
    """Markdown with its code spans removed (CommonMark: equal-length backtick runs)."""
    return re.sub(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", "", markdown, flags=re.DOTALL)


@pytest.mark.parametrize("page", PAGES)
def test_link_values_cannot_inject_markdown(page):
    """A crafted link must not put a live markdown link (phishing) into the app's messages."""
    payload = "x` [a prize](https://evil.example/) `"
    query = {key: payload for key in [*URL_KEYS, *PAGE_KEYS]}
    at = open_page(page, query)
    assert_no_exception(at, page)
    shown = [
        el.value
        for kind in ("warning", "error", "info", "success", "markdown", "caption")
        for el in getattr(at, kind)
        if isinstance(el.value, str)
    ]
    for text in shown:
        assert "[a prize](https://evil.example" not in _strip_code_spans(text), (
            f"{page}: a link from the URL is rendered as markdown: {text[:300]!r}"
        )
