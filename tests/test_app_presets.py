"""AppTest: presets show torch's sizes; the article's wrong replacements are wrong in torch too."""

from __future__ import annotations

import torch
from app_support import assert_clean, forward_shape, open_page, run_snippet, titles
from torch import nn

from core.presets import ARTICLE_CASES, ARTICLE_TITLE, ARTICLE_URL, PRESETS, ArticleCase
from ui.state import LayerConfig


def torch_sequential(layer_text: str) -> nn.Sequential:
    """Build our own constant layer-list text (one `nn.` call per line) in torch."""
    lines = [line for line in layer_text.splitlines() if line.strip()]
    return nn.Sequential(*[eval(line, {"nn": nn}) for line in lines])  # constants from core


def torch_size(case: ArticleCase, text: str) -> tuple[int, int]:
    _, channels, height, width = case.input_shape
    return forward_shape(torch_sequential(text), channels, (height, width))


def size_text(size: tuple[int, int]) -> str:
    return f"{size[0]} × {size[1]}"


def test_preset_cards_show_torchs_output_sizes():
    at = open_page("presets")
    assert_clean(at)
    assert titles(at) == ["Presets"]
    shown = " ".join(m.value for m in at.main.markdown)
    for preset in PRESETS:
        module = nn.ConvTranspose2d(**preset.layer.kwargs())
        out = forward_shape(module, preset.layer.in_channels, (preset.input_size,) * 2)
        n = preset.input_size
        assert f"{n} × {n} → **{size_text(out)} px**" in shown
        assert preset.layer.torch_repr() in [c.value for c in at.main.code]


def test_article_cases_wrong_and_right_sizes_equal_torch():
    at = open_page("presets")
    tables = at.main.table  # static tables: every row shown, nothing to load
    assert len(tables) == len(ARTICLE_CASES)
    for case, table in zip(ARTICLE_CASES, tables, strict=True):
        original = torch_size(case, case.original)
        article = torch_size(case, case.article)
        assert original != article  # the article really is wrong
        sizes = list(table.value["output (px)"])
        assert sizes[:2] == [size_text(original), size_text(article)]
        assert sizes[2] == size_text(original)  # Deconv Lab's fix keeps the size
        assert list(table.value["same as original"]) == ["yes", "**no**", "yes"]


def test_done_right_code_builds_a_model_of_the_original_size():
    at = open_page("presets")
    fixed_code = [c.value for c in at.main.code if c.value.startswith('"""Converted')]
    assert len(fixed_code) == len(ARTICLE_CASES)
    for case, code in zip(ARTICLE_CASES, fixed_code, strict=True):
        model = run_snippet(code)["model"]
        x = torch.zeros(case.input_shape)
        with torch.no_grad():
            assert model(x).shape == torch_sequential(case.original)(x).shape


def test_open_preset_loads_it_into_the_designer():
    at = open_page("presets")
    at.button(key="pr_open_pix2pix").click().run()
    assert_clean(at)
    assert titles(at) == ["Layer designer"]
    cfg, notices = LayerConfig.from_query(at.query_params)
    pix2pix = next(p for p in PRESETS if p.key == "pix2pix")
    assert not notices and cfg.layer() == pix2pix.layer
    assert cfg.input_size == (pix2pix.input_size,) * 2


def test_open_article_case_loads_its_first_layer():
    at = open_page("presets")
    case = ARTICLE_CASES[-1]
    at.button(key=f"pr_case_{case.key}").click().run()
    assert_clean(at)
    assert titles(at) == ["Layer designer"]
    cfg, _ = LayerConfig.from_query(at.query_params)
    assert cfg.layer() == case.original_layers()[0]
    assert cfg.input_size == case.input_shape[2:]


def test_the_article_the_page_cites_is_named_and_linked():
    at = open_page("presets")
    assert_clean(at)
    assert ARTICLE_TITLE and ARTICLE_URL and "runebook.dev" in ARTICLE_URL
    shown = "\n".join(c.value for c in at.caption)
    assert f"[{ARTICLE_TITLE}]({ARTICLE_URL})" in shown  # a markdown link: title, then address
    assert "(runebook.dev, 2025)" in shown
