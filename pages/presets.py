"""Presets: common ConvTranspose2d layers, and the article's wrong replacements with real sizes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.converter.text_conversion import convert_text
from core.errors import ConfigError
from core.geometry.phases import even_overlap, taps_per_phase
from core.presets import (
    ARTICLE_CASES,
    ARTICLE_TITLE,
    ARTICLE_URL,
    PRESETS,
    ArticleCase,
    Preset,
)
from ui import routing, state, text

routing.require_router()

FIX_METHOD = "resize-nearest"  # the replacement the article meant, done right


def load(preset: Preset) -> None:
    state.load_config(state.LayerConfig.from_layer(preset.layer, preset.input_size))


def preset_card(preset: Preset) -> None:
    with st.container(border=True):
        st.markdown(f"**{preset.title}**")
        st.caption(preset.source)
        st.code(preset.layer.torch_repr(), language="python", wrap_lines=True)
        phases = [taps_per_phase(a) for a in preset.layer.axes]
        even = all(even_overlap(a) for a in preset.layer.axes)
        st.markdown(
            f"{preset.input_size} × {preset.input_size} → **{text.size(preset.output_size)} px**"
            f" · overlap {'even' if even else 'uneven'} (taps per phase {phases[0]})"
        )
        st.caption(preset.note)
        if st.button(
            "Open in the designer",
            key=f"pr_open_{preset.key}",
            icon=":material/tune:",
            on_click=load,
            args=(preset,),
            width="stretch",
        ):
            st.switch_page("pages/designer.py")


def article_case(case: ArticleCase) -> None:
    sizes = case.sizes()
    original, article = sizes["original"], sizes["article"]
    with st.container(border=True):
        st.markdown(f"#### {case.title}")
        st.caption(case.mistake)
        try:
            fixed = convert_text(case.original, case.input_shape, FIX_METHOD)
        except ConfigError as err:
            state.show_error(err)
            fixed = None
        fixed_size = (
            None if fixed is None or fixed.output_shape is None else tuple(fixed.output_shape[2:])
        )
        rows = [
            {
                "layers": "original",
                "output (px)": text.size(original),
                "same as original": "yes",
            },
            {
                "layers": "the article's",
                "output (px)": text.size(article),
                "same as original": "yes" if article == original else "**no**",
            },
        ]
        if fixed_size is not None:
            rows.append(
                {
                    "layers": "padding solved",
                    "output (px)": text.size(fixed_size),
                    "same as original": "yes" if fixed_size == original else "**no**",
                }
            )
        left, right = st.columns([2, 3])
        with left:
            n = case.input_shape[2]
            st.markdown(
                f"On a {n} × {n} px input the article's replacement gives "
                f":red[**{text.size(article)} px**] where the original gives "
                f":green[**{text.size(original)} px**]. Sizes traced by core with torch's "
                "arithmetic:"
            )
            st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")
            st.caption(
                f"“padding solved”: Upsample + Conv2d ({FIX_METHOD}) with the padding "
                "computed by Deconv Lab; its code is under “Done right”."
            )
            layers = case.original_layers()
            first = layers[0]
            cfg = state.LayerConfig.from_layer(first, n)
            label = (
                "Open the original in the designer"
                if len(layers) == 1
                else "Open its first layer in the designer"
            )
            if st.button(
                label,
                key=f"pr_case_{case.key}",
                icon=":material/tune:",
                on_click=state.load_config,
                args=(cfg,),
            ):
                st.switch_page("pages/designer.py")
        with right:
            original_tab, article_tab, fixed_tab = st.tabs(
                ["Original", "The article's replacement", "Done right"]
            )
            with original_tab:
                st.code(case.original, language="python", wrap_lines=True)
            with article_tab:
                st.code(case.article, language="python", wrap_lines=True)
            with fixed_tab:
                if fixed is not None:
                    text.code_block(fixed.code, f"{case.key}_fixed.py", key=f"pr_dl_{case.key}")


st.title("Presets")
st.caption(
    "Layers people actually use. Open one in the designer to see its arithmetic, its "
    "replacements and their code; the overlap page then shows its checkerboard."
)

columns = st.columns(3)
for i, preset in enumerate(PRESETS):
    with columns[i % 3]:
        preset_card(preset)

st.subheader("Three replacements that get the size wrong")
st.caption(
    "The common advice is to replace ConvTranspose2d with Upsample + Conv2d against checkerboard "
    "artifacts, and tutorials keep the original's kernel and padding when they do. One of them, "
    f"[{ARTICLE_TITLE}]({ARTICLE_URL}) (runebook.dev, 2025), writes exactly the first case "
    "below: Upsample(2) + Conv2d(k=3, p=1) for ConvTranspose2d(64, 32, k=3, s=2, p=1) on "
    "16 × 16. The other two apply the same recipe to output_padding and to a three-layer "
    "generator. Every size below is computed here, and the last row of each case is the same "
    "replacement with its padding solved so that the size matches (Odena et al. 2016 for why "
    "resize-convolution)."
)
for case in ARTICLE_CASES:
    article_case(case)
st.caption(text.cite("odena", "dumoulin"))
