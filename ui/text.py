"""Presentation helpers shared by the pages: number formatting, references, download names."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

REFERENCES = {
    "odena": "Odena, Dumoulin & Olah (2016), [Deconvolution and Checkerboard Artifacts]"
    "(https://distill.pub/2016/deconv-checkerboard/), Distill",
    "dumoulin": "Dumoulin & Visin (2016), [A guide to convolution arithmetic for deep learning]"
    "(https://arxiv.org/abs/1603.07285)",
    "shi": "Shi et al. (2016), [Is the deconvolution layer the same as a convolutional layer?]"
    "(https://arxiv.org/abs/1609.07009)",
    "aitken": "Aitken et al. (2017), [Checkerboard artifact free sub-pixel convolution]"
    "(https://arxiv.org/abs/1707.02937)",
}


def cite(*keys: str) -> str:
    """A 'References: ...' line for the given reference keys."""
    return "References: " + "; ".join(REFERENCES[k] for k in keys) + "."


def size(values: Sequence[int]) -> str:
    """'32 × 32' for a spatial size."""
    return " × ".join(str(v) for v in values)


def shape(channels: int, spatial: Sequence[int]) -> str:
    """'(N, 64, 16, 16)': a tensor shape with a symbolic batch."""
    return "(N, " + ", ".join(str(v) for v in (channels, *spatial)) + ")"


def count(n: int | float) -> str:
    """A large count in engineering units: 1 234 567 -> '1.23 M'."""
    n = float(n)
    for factor, unit in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{unit}"
    return f"{n:.0f}"


def nbytes(n: int | float) -> str:
    """A byte count in binary units: 1536 -> '1.5 KiB'."""
    n = float(n)
    for factor, unit in ((2**40, " TiB"), (2**30, " GiB"), (2**20, " MiB"), (2**10, " KiB")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{unit}"
    return f"{n:.0f} B"


def code_block(
    code: str,
    file_name: str,
    label: str = "Download .py",
    key: str | None = None,
    help_text: str | None = None,
) -> None:
    """Code with Streamlit's copy button, and the same text as a .py download."""
    st.code(code, language="python", line_numbers=False, wrap_lines=True)
    st.download_button(
        label,
        data=code,
        file_name=file_name,
        mime="text/x-python",
        icon=":material/download:",
        key=key,
        help=help_text,
        on_click="ignore",
    )


def slug(text: str) -> str:
    """A file-name-safe version of a label."""
    keep = [c.lower() if c.isalnum() else "_" for c in text]
    return "_".join(part for part in "".join(keep).split("_") if part) or "code"
