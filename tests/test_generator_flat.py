"""The live generator's pictures for the eye: the flat-input demonstration against torch, picture
layouts without blank tiles at whole zooms, and findings whose sentences agree with the numbers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from core import checkerboard
from core.errors import ConfigError
from core.generator import findings
from core.generator.config import VARIANT_LABELS, VARIANTS, GeneratorConfig
from core.generator.findings import (
    VISIBLE_FACTOR,
    correlation,
    error_text,
    fit_findings,
    flat_finding,
    init_findings,
    replacement_finding,
)
from core.generator.flat import flat_stage, flat_stages
from core.generator.measures import checkerboard_numbers
from core.generator.model import build_generator
from core.generator.pictures import (
    GRID_GAP,
    MAX_ZOOM,
    column_width,
    enlarge,
    image_grid,
    picture_plan,
    placeholder,
    squarest_columns,
)
from core.generator.readouts import crop_text, flat_panel_text, zoom_text
from core.generator.run import fit, render_at_init

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def small(**changes) -> GeneratorConfig:
    return GeneratorConfig(**{"base_channels": 16, "latent_dim": 16, "stages": 2, **changes})


def numbers_of(models):
    dummy = torch.zeros(1, 3, 8, 8)
    return {name: checkerboard_numbers(dummy, m) for name, m in models.items()}


def torch_constant_response(module: nn.Module, n: int) -> torch.Tensor:
    """torch's own answer of `module` (float64) to an all-ones (1, C, n, n) input: (C, H, W)."""
    probe = module.double()
    with torch.no_grad():
        return probe(torch.ones(1, _in_channels(module), n, n, dtype=torch.float64))[0]


def _in_channels(module: nn.Module) -> int:
    return next(m.in_channels for m in module.modules() if hasattr(m, "in_channels"))


# ----------------------------------------------------------------------------- flat input


def test_a_conv_transpose_with_uneven_taps_paints_a_period_s_grid_as_torch_does():
    """k3 s2: the two phases of an axis get 1 and 2 taps. With all weights equal and positive,
    torch's conv_transpose2d of an all-ones input is periodic in the interior and its four phase
    means differ; the panel shows exactly torch's values (over the shared scale)."""
    config = small(kernel_size=3, stride=2, padding=1, output_padding=1)
    models = {v: build_generator(config, v, seed=0) for v in ("convtranspose", "resize-nearest")}
    layer = models["convtranspose"].upsampling[0]
    with torch.no_grad():
        layer.weight.fill_(0.01)
    stage = flat_stage(models, numbers_of(models), 1)
    panel = stage.panels["convtranspose"]
    assert not panel.flat and stage.gridded == ("convtranspose",)
    n = 8
    with torch.no_grad():
        expected = F.conv_transpose2d(
            torch.ones(1, layer.in_channels, n, n, dtype=torch.float64),
            layer.weight.double(),
            layer.bias.double(),
            stride=2,
            padding=1,
            output_padding=1,
        )[0, stage.channel]
    rows, cols = panel.rows, panel.cols
    window = expected[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].numpy()
    assert np.allclose(panel.values * stage.scale, window)
    # Periodic with the stride, and each phase's value is the count of its taps times C * w.
    assert np.allclose(panel.values[2:, :], panel.values[:-2, :])
    assert np.allclose(panel.values[:, 2:], panel.values[:, :-2])
    taps = {0: 1, 1: 2}  # k3 s2 p1: output row o gets 1 tap when o is even, 2 when odd
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            count = taps[int(r) % 2] * taps[int(c) % 2]
            assert panel.values[i, j] * stage.scale == pytest.approx(
                count * layer.in_channels * 0.01
            )
    means = panel.phase_means * stage.scale
    assert len({round(float(v), 9) for v in means.ravel()}) == 3  # 1, 2, 2, 4 taps
    assert panel.channel_spread > 0
    # The shared scale: the largest |value| of any panel is 1.
    assert max(max(abs(p.low), abs(p.high)) for p in stage.panels.values()) == pytest.approx(1)


@pytest.mark.parametrize("variant", ["resize-nearest", "resize-bilinear", "subpixel-icnr"])
@pytest.mark.parametrize("geometry", [(3, 2, 1, 1), (4, 2, 1, 0), (5, 3, 1, 0)])
def test_resize_convs_and_icnr_answer_a_constant_with_a_flat_interior(variant, geometry):
    k, s, p, op = geometry
    config = small(kernel_size=k, stride=s, padding=p, output_padding=op)
    models = {variant: build_generator(config, variant, seed=3)}
    stage = flat_stage(models, numbers_of(models), 2, channel=2)
    panel = stage.panels[variant]
    assert panel.flat and stage.flat == (variant,)
    assert np.ptp(panel.values) == pytest.approx(0, abs=1e-12)
    # The same constant as torch's own forward pass, in the middle of the output.
    module = models[variant].upsampling[1]
    response = torch_constant_response(module, 12)[2]
    middle = response.shape[-1] // 2
    assert panel.values[0, 0] * stage.scale == pytest.approx(float(response[middle, middle]))
    assert flat_panel_text(panel).startswith("flat: every interior pixel")


def test_icnr_is_flat_only_while_its_sub_kernels_agree():
    """ICNR fixes the start: one sub-kernel changed (as a fit would change it) and the layer
    paints a grid, which is why a sub-pixel layer can end a fit with a high strength."""
    config = small(kernel_size=4, stride=2, padding=1)
    model = build_generator(config, "subpixel-icnr", seed=1)
    models = {"subpixel-icnr": model}
    assert flat_stage(models, numbers_of(models), 1).panels["subpixel-icnr"].flat
    conv = next(m for m in model.upsampling[0].modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        conv.weight[0] += 0.05  # output channel 0's phase (0, 0) only
    panel = flat_stage(models, numbers_of(models), 1).panels["subpixel-icnr"]
    assert not panel.flat and panel.channel_spread > 0


def test_flat_stages_cover_every_stage_and_check_their_arguments():
    config = small(stages=3)
    models = {v: build_generator(config, v, seed=0) for v in VARIANTS}
    numbers = numbers_of(models)
    stages = flat_stages(models, numbers)
    assert [s.stage for s in stages] == [1, 2, 3]
    for stage in stages:
        assert list(stage.panels) == list(VARIANTS)
        assert stage.out_channels == config.channels[stage.stage]
        for name, panel in stage.panels.items():
            assert panel.label == VARIANT_LABELS[name]
            assert panel.values.shape == (len(panel.rows), len(panel.cols)) == (6, 6)
            assert panel.strength == numbers[name].stage_strengths[stage.stage - 1]
            assert -1 - 1e-12 <= panel.low <= panel.high <= 1 + 1e-12
        # At initialisation only the ConvTranspose2d paints a grid; its exact replacements
        # would too, the resize-conv replacement (the default) does not.
        assert stage.gridded == ("convtranspose",)
    for bad in ({"stage": 0}, {"stage": 4}, {"stage": 1, "channel": 16}, {"stage": True}):
        with pytest.raises(ConfigError):
            flat_stage(models, numbers, **bad)


def test_constant_response_map_finds_the_interior_torch_would():
    layer = nn.ConvTranspose2d(2, 3, 3, 2, 1, output_padding=1)
    found = checkerboard.constant_response_map(layer, 2, min_interior=9)
    (top, bottom), (left, right) = found.interior
    assert bottom - top + 1 >= 9 and right - left + 1 >= 9 and found.stride == (2, 2)
    n = (found.response.shape[-1] + 2 * 1 - 1 - 1 - 1) // 2 + 1  # the input side torch used
    with torch.no_grad():
        expected = layer(torch.ones(1, 2, n, n))[0]
    assert torch.allclose(found.response, expected)
    means = checkerboard.interior_phase_means(found.response, found.interior, 2)
    assert torch.allclose(means, checkerboard.constant_response(layer, 2))


# ----------------------------------------------------------------------------- pictures


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 16),
    side=st.sampled_from([2, 4, 8, 16, 32, 64, 128, 256]),
    columns=st.integers(1, 5),
)
def test_picture_plans_have_no_blank_tile_and_whole_zooms(n, side, columns):
    width = column_width(columns)
    plan = picture_plan((side, side), n, width)
    assert n % plan.columns == 0 and plan.rows * plan.columns == n  # no blank tile
    zooms = (plan.grid_zoom, plan.crop_zoom, plan.image_zoom)
    assert all(1 <= z <= MAX_ZOOM for z in zooms)
    if side <= width:  # a picture fits the column: nothing is wider than it
        assert plan.grid_width <= width
        assert side * plan.image_zoom <= width and plan.crop_size * plan.crop_zoom <= width
    if side * 2 <= width:
        assert plan.image_zoom >= 2
    if side * (MAX_ZOOM + 1) <= width:
        assert plan.image_zoom == MAX_ZOOM
    grid = image_grid(np.zeros((n, side, side, 3), np.uint8), plan.columns)
    assert enlarge(grid, plan.grid_zoom).shape[1] == plan.grid_width


def test_the_default_page_layout_zooms_crops_to_countable_pixels():
    plan = picture_plan((64, 64), 8, column_width(5))
    assert (plan.columns, plan.rows, plan.grid_zoom) == (2, 4, 1)
    assert plan.crop_zoom == 8 and plan.crop_size >= 16 and plan.image_zoom == 2
    assert column_width(1) == column_width(2) == 340  # a phone's column, the widest


def test_enlarge_repeats_pixels_and_placeholder_keeps_the_size():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big = enlarge(image, 4)
    assert big.shape == (8, 12, 3)
    assert np.array_equal(big, np.kron(image, np.ones((4, 4, 1), np.uint8)))
    assert placeholder((5, 7), 3).shape == (15, 21, 3)
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError):
            enlarge(image, bad)


def test_render_lays_out_the_grid_it_says_and_enlarges_it():
    config = small()
    h, w = config.image_size
    render = render_at_init(config, ["convtranspose"], 6, 0, "cpu", columns=3, grid_zoom=2)
    variant = render.variants["convtranspose"]
    assert (variant.grid_columns, variant.grid_zoom) == (3, 2)
    expected = enlarge(image_grid(variant.images, 3), 2)
    assert np.array_equal(variant.grid, expected)
    assert variant.grid.shape == (2 * (2 * h + GRID_GAP), 2 * (3 * w + 2 * GRID_GAP), 3)
    assert zoom_text(1) == "actual size" and zoom_text(8).startswith("shown 8× (each pixel an")
    assert crop_text((2, 3, 4, 5), 8).startswith("rows 2–5, columns 3–7")


# ----------------------------------------------------------------------------- findings


def leaders(values: dict[str, float], fmt: str) -> str:
    """The labels whose value, as shown with `fmt`, equals the largest, in the page's words
    ("a", "a and b", "a, b and c"), in descending order of value."""
    order = sorted(values, key=lambda k: -values[k])
    top = [k for k in order if format(values[k], fmt) == format(values[order[0]], fmt)]
    return top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]


def number_after(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r",? (-?[\d.]+)", text)
    assert match, (label, text)
    return float(match.group(1))


def test_init_findings_agree_with_the_numbers():
    config = small(kernel_size=3, stride=2, padding=1, output_padding=1, stages=3)
    render = render_at_init(config, VARIANTS, 4, 0, "cpu")
    found = {f.kind: f.text for f in init_findings(render)}
    assert set(found) == {"energy", "strength", "replacement"}
    energies = {n: v.checkerboard.energy for n, v in render.variants.items()}
    order = [VARIANT_LABELS[n] for n in sorted(energies, key=lambda n: -energies[n])]
    positions = [found["energy"].index(f"; {label} ") if i else 0 for i, label in enumerate(order)]
    assert positions == sorted(positions)  # "highest first", as measured
    above = [
        VARIANT_LABELS[n]
        for n, v in render.variants.items()
        if v.checkerboard.energy_vs_noise > VISIBLE_FACTOR
    ]
    for label in above:
        assert label in found["energy"].split("first:")[1].split(". ")[-1]
    strengths = {VARIANT_LABELS[n]: v.checkerboard.strength for n, v in render.variants.items()}
    lead = f"Strongest checkerboard strength at initialisation: {leaders(strengths, '.3f')}, "
    assert lead + f"{max(strengths.values()):.3f}" in found["strength"]


def test_fit_findings_agree_with_the_numbers():
    config = small(kernel_size=3, stride=2, padding=1, output_padding=1, stages=3)
    result = fit(config, VARIANTS, None, 30, 0.01, 0, "cpu")
    found = {f.kind: f.text for f in fit_findings(result)}
    psnr = {VARIANT_LABELS[n]: v.psnr for n, v in result.variants.items()}
    best = f"{leaders(psnr, '.1f')}, {max(psnr.values()):.1f} dB"
    assert f"Closest to the target: {best}" in found["psnr"]
    strengths = {n: v.checkerboard.strength for n, v in result.variants.items()}
    shown = {VARIANT_LABELS[n]: v for n, v in strengths.items()}
    assert (
        f"Strongest checkerboard strength after the fit: {leaders(shown, '.3f')}, "
        f"{max(strengths.values()):.3f}" in found["strength"]
    )
    target = result.target_checkerboard_energy
    above = [
        n for n, v in result.variants.items() if v.checkerboard.energy > VISIBLE_FACTOR * target
    ]
    if above:
        assert all(VARIANT_LABELS[n] in found["energy"].split(". ")[-1] for n in above)
    else:
        assert "None is above" in found["energy"]
    icnr = result.variants["subpixel-icnr"].checkerboard
    if icnr.strength >= findings.NO_GRID:
        text = found["icnr"]
        assert f"strength {icnr.strength:.3f}" in text
        others = [v for n, v in strengths.items() if n != "subpixel-icnr"]
        assert ("the highest of all" in text) == (icnr.strength > max(others))
        shows = icnr.energy > VISIBLE_FACTOR * target
        assert ("the grid shows in its picture" in text) == shows
        stage = 1 + int(np.argmax(icnr.stage_strengths))
        assert f"at stage {stage}, whose pattern would repeat every " in text
        period = config.stride ** (config.stages - stage + 1)
        assert f"every {period} px" in text


def test_the_replacement_finding_explains_the_difference_from_the_build():
    config = small(kernel_size=3, stride=2, padding=1, output_padding=1, resize_kernel=3)
    render = render_at_init(config, VARIANTS, 2, 0, "cpu")
    c = render.replacement
    assert c.method == "resize-nearest" and not c.exact
    conv = next(m for m in build_generator(config, "custom", 0).upsampling[-1].modules()
                if isinstance(m, nn.Conv2d))  # fmt: skip
    assert c.kernel_size == tuple(conv.kernel_size) == (2, 2)  # covers k3 s2's footprint
    text = replacement_finding(c, tuple(render.variants)).text
    assert "differs from Resize-conv (nearest)" in text
    assert "its kernel is 2 × 2" in text and "3 × 3" in text
    assert f"relative error {error_text(c.error)}" in text
    a, b = c.correlations["convtranspose"], c.correlations["resize-nearest"]
    assert f"{a:.3f} with ConvTranspose2d's" in text and f"{b:.3f} with Resize-conv" in text
    closer = "ConvTranspose2d" if a > b else "Resize-conv (nearest)"
    assert f"closer to {closer}'s" in text
    # Same kernel as the resize-convs: the kernel is not given as a reason.
    same = small(kernel_size=3, stride=2, padding=1, output_padding=1, resize_kernel=2)
    text = replacement_finding(render_at_init(same, VARIANTS, 2, 0, "cpu").replacement, VARIANTS)
    assert "its kernel is" not in text.text and "least-squares fit" in text.text
    # An exact replacement is the ConvTranspose2d itself.
    exact = small(replacement="subpixel")
    render = render_at_init(exact, ["convtranspose", "custom"], 2, 0, "cpu")
    text = replacement_finding(render.replacement, ("convtranspose", "custom")).text
    assert "exact rewrite" in text
    assert render.replacement.correlations["convtranspose"] == pytest.approx(1, abs=1e-4)


def test_flat_finding_names_the_gridded_and_the_flat():
    config = small(kernel_size=4, stride=2, padding=1)
    render = render_at_init(config, VARIANTS, 2, 0, "cpu")
    stage = render.flat[-1]
    text = flat_finding(stage).text
    assert "ConvTranspose2d (phase means" in text and "paints a period-2 grid" in text
    for name in stage.flat:
        assert f"{VARIANT_LABELS[name]} ({stage.panels[name].high:.2f})" in text
    assert f"values ÷ {stage.scale:.3g}" in text


def test_correlation():
    a = torch.arange(10.0)
    assert correlation(a, 2 * a + 1) == pytest.approx(1)
    assert correlation(a, -a) == pytest.approx(-1)
    assert correlation(a, torch.ones(10)) == 0.0
    assert math.isfinite(correlation(torch.randn(5), torch.randn(5)))


def test_stride_one_names_no_strongest_grid():
    """Nothing is upsampled: no checkerboard frequencies, no layer with a pattern, and the
    findings say so instead of naming a "strongest" layer at 0.000."""
    config = small(kernel_size=3, stride=1, padding=1)
    render = render_at_init(config, VARIANTS, 2, 0, "cpu")
    found = {f.kind: f.text for f in init_findings(render)}
    assert "energy" not in found
    assert "No layer answers a constant with a pattern at initialisation" in found["strength"]
    assert "Strongest" not in found["strength"]
    assert all(not stage.gridded for stage in render.flat)
    result = fit(config, ["convtranspose", "subpixel-icnr"], None, 3, 0.01, 0, "cpu")
    kinds = [f.kind for f in fit_findings(result)]
    assert kinds == ["psnr", "strength"]  # no energy (stride 1), no sub-pixel grid to explain


def test_equal_readings_are_named_together():
    """Two variants whose strengths read the same (an exact replacement and its original) are
    both named the strongest."""
    config = small(kernel_size=4, stride=2, padding=1, replacement="subpixel")
    render = render_at_init(config, ["convtranspose", "custom"], 2, 0, "cpu")
    text = next(f.text for f in init_findings(render) if f.kind == "strength")
    a = render.variants["convtranspose"].checkerboard.strength
    assert f"{a:.3f}" == f"{render.variants['custom'].checkerboard.strength:.3f}"
    lead = text.split(". All")[0]  # the two, in either order (their unrounded values decide)
    assert lead.endswith(f", {a:.3f}") and " and " in lead
    assert "ConvTranspose2d" in lead and "Your replacement" in lead


def test_the_default_grid_has_no_blank_tile_either():
    for n in range(1, 17):
        columns = squarest_columns(n)
        rows = n // columns
        assert n % columns == 0 and columns >= rows  # no blank tile, no taller than wide
        assert all(abs(n // c - c) >= columns - rows for c in range(1, n + 1) if n % c == 0)
    config = small()
    h, w = config.image_size
    variant = render_at_init(config, ["resize-nearest"], 8, 0, "cpu").variants["resize-nearest"]
    assert variant.grid_columns == 4 and variant.grid.shape[:2] == (2 * h + 2, 4 * w + 3 * 2)
