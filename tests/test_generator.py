"""The live generator: variants, sizes, shared weights, checkerboard at init, fit mode, caps."""

from __future__ import annotations

import ast
import dataclasses
import math
import threading
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch
from app_support import run_under_limits
from torch import nn

from core import checkerboard, hosted
from core.errors import ConfigError
from core.generator import devices
from core.generator.config import (
    MAX_STRIDE,
    NORMS,
    VARIANT_LABELS,
    VARIANTS,
    GeneratorConfig,
)
from core.generator.devices import available_devices, on_device, pick_device, resolve_precision
from core.generator.flat import FlatPanel, FlatStage
from core.generator.measures import CheckerboardNumbers, StrengthReference
from core.generator.model import build_generator, sample_latents
from core.generator.pictures import PicturePlan
from core.generator.readouts import energy_text, noise_ratio_text, share_text, strength_text
from core.generator.results import FitResult, Render, VariantFit, VariantRender
from core.generator.run import fit, next_block_size, render_at_init, steps_done_so_far
from core.generator.spectra import (
    SPECTRUM_LOW_PERCENTILE,
    StagePeriod,
    checkerboard_marks,
    spectrum_range,
    stage_periods,
)
from core.hosted import MAX_RESOLUTION
from core.replacements.registry import EXACT_METHODS, METHODS

BUILT_IN = tuple(v for v in VARIANTS if v != "custom")
RESIZE = ("resize-nearest", "resize-bilinear")

# (kernel_size, stride, padding, output_padding, stages): the usual DCGAN layers, odd kernels
# with and without output_padding, kernels smaller than, equal to and far above the stride.
GEOMETRIES = [
    (4, 2, 1, 0, 3),
    (3, 2, 1, 1, 3),
    (3, 2, 1, 0, 3),
    (5, 2, 2, 1, 2),
    (2, 2, 0, 0, 3),
    (1, 2, 0, 0, 2),
    (7, 2, 0, 0, 2),
    (5, 3, 1, 0, 2),
    (8, 4, 2, 0, 2),
    (3, 1, 1, 0, 2),
    (4, 2, 1, 1, 1),
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def small(**changes) -> GeneratorConfig:
    return GeneratorConfig(**{"base_channels": 16, "latent_dim": 16, **changes})


def geometry_config(geometry, **changes) -> GeneratorConfig:
    k, s, p, op, stages = geometry
    return small(kernel_size=k, stride=s, padding=p, output_padding=op, stages=stages, **changes)


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "k{}s{}p{}op{}x{}".format(*g))
def test_every_variant_produces_the_configured_size(geometry):
    config = geometry_config(geometry)
    z = sample_latents(config, 2, seed=3)
    for variant in VARIANTS:
        model = build_generator(config, variant, seed=3)
        # Stage by stage against torch's own ConvTranspose2d (the oracle).
        for stage, up in enumerate(model.upsampling):
            reference = nn.ConvTranspose2d(**config.layer(stage).kwargs())
            probe = torch.randn(1, config.channels[stage], config.sizes[stage], config.sizes[stage])
            with torch.no_grad():
                assert up(probe).shape == reference(probe).shape, (variant, stage)
        with torch.no_grad():
            out = model(z)
        assert out.shape == (2, 3, *config.image_size), variant
        assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "changes",
    [
        {"norm": "instance", "activation": "leaky_relu"},
        {"norm": "none", "activation": "silu", "output": "none"},
        {"stem": "convtranspose", "image_channels": 1},
        {"resize_kernel": 5},
        {"resize_kernel": 2, "kernel_size": 3, "padding": 1, "output_padding": 1},
    ],
)
def test_architecture_options_build_every_variant(changes):
    config = small(stages=2, **changes)
    z = sample_latents(config, 2, seed=0)
    for variant in VARIANTS:
        with torch.no_grad():
            out = build_generator(config, variant, seed=0)(z)
        assert out.shape == (2, config.image_channels, *config.image_size)
        if config.output == "tanh":
            assert out.abs().max() <= 1


def test_sizes_follow_torchs_formula_and_channels_halve():
    config = GeneratorConfig(stages=4, base_channels=64, kernel_size=3, padding=1)
    expected = [4]
    for _ in range(4):
        layer = nn.ConvTranspose2d(1, 1, 3, 2, 1)
        expected.append(layer(torch.zeros(1, 1, expected[-1], expected[-1])).shape[-1])
    assert config.sizes == tuple(expected)
    assert config.channels == (64, 32, 16, 8, 3)


# ----------------------------------------------------------------------------- shared init


def test_variants_share_everything_but_the_upsampling():
    config = small(stages=3)
    models = {v: build_generator(config, v, seed=11) for v in BUILT_IN}
    reference = models["convtranspose"]
    for model in models.values():
        for (name, a), (_, b) in zip(
            reference.stem.state_dict().items(), model.stem.state_dict().items(), strict=True
        ):
            assert torch.equal(a, b), name
        for a, b in zip(reference.norms.parameters(), model.norms.parameters(), strict=True):
            assert torch.equal(a, b)


def test_same_seed_repeats_and_leaves_the_global_rng_alone():
    config = small(stages=3)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = render_at_init(config, BUILT_IN, n_images=3, seed=5, device="cpu")
    again = render_at_init(config, BUILT_IN, n_images=3, seed=5, device="cpu")
    other = render_at_init(config, BUILT_IN, n_images=3, seed=6, device="cpu")
    assert torch.equal(torch.random.get_rng_state(), before)
    for v in BUILT_IN:
        assert np.array_equal(first.variants[v].images, again.variants[v].images)
        assert not np.array_equal(first.variants[v].images, other.variants[v].images)


def test_icnr_starts_as_a_nearest_upsample():
    config = small(stages=2, stride=2, kernel_size=4, padding=1)
    stage = build_generator(config, "subpixel-icnr", seed=2).upsampling[0]
    x = torch.randn(1, config.channels[0], 4, 4)
    with torch.no_grad():
        y = stage(x)
    blocks = y.unfold(2, 2, 2).unfold(3, 2, 2)  # (1, C, 4, 4, 2, 2): each 2x2 output block
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks))


@pytest.mark.parametrize("method", EXACT_METHODS)
def test_custom_exact_replacements_reproduce_the_conv_transpose_variant(method):
    config = small(stages=3, kernel_size=3, padding=1, output_padding=1, replacement=method)
    z = sample_latents(config, 2, seed=4)
    with torch.no_grad():
        expected = build_generator(config, "convtranspose", seed=4)(z)
        got = build_generator(config, "custom", seed=4)(z)
    assert torch.allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_custom_reports_its_replacement_error(method):
    config = small(stages=2, replacement=method)
    result = render_at_init(config, ["custom"], n_images=2, seed=0, device="cpu")
    error = result.variants["custom"].replacement_error
    assert isinstance(error, float) and np.isfinite(error)
    if method in EXACT_METHODS:
        assert error < 1e-6  # exact: the replacement computes the layer itself
    else:  # a least-squares fit of a random stride-2 layer: off, never worse than the layer
        assert 0 < error <= 1 + 1e-9


# ----------------------------------------------------------------------------- checkerboard


@pytest.mark.parametrize(
    "geometry", [(4, 2, 1, 0, 4), (3, 2, 1, 1, 4), (3, 2, 1, 0, 3), (2, 2, 0, 0, 4)]
)
def test_conv_transpose_images_carry_far_more_checkerboard_energy_at_init(geometry):
    """The quantity tested is `checkerboard_energy`: the share of the images' spectrum at the
    stride's checkerboard frequencies. Over 8 seeds, the median ConvTranspose2d energy must be
    more than 10x white noise's (`checkerboard_energy_baseline`) and more than 10x the median
    of each resize-conv and sub-pixel/ICNR variant; and even its lowest seed must beat white
    noise 10x. (Measured: about 100x to 300x noise for ConvTranspose2d, at most 0.5x for the
    others, so the margins are wide and the check is not a coin flip.)"""
    config = geometry_config(geometry, base_channels=32)
    others = (*RESIZE, "subpixel-icnr")
    energy = {v: [] for v in (*others, "convtranspose")}
    for seed in range(8):
        result = render_at_init(config, tuple(energy), n_images=4, seed=seed, device="cpu")
        for v in energy:
            energy[v].append(result.variants[v].checkerboard.energy)
    noise = checkerboard.checkerboard_energy_baseline(config.image_size, config.stride)
    assert result.geometry.energy_baseline == pytest.approx(noise)
    median = {v: float(np.median(values)) for v, values in energy.items()}
    assert median["convtranspose"] > 10 * noise, (median, noise)
    assert min(energy["convtranspose"]) > 10 * noise, (energy["convtranspose"], noise)
    for v in others:
        assert median["convtranspose"] > 10 * median[v], (v, median)
        assert median[v] < noise, (v, median, noise)  # smoother than white noise


@pytest.mark.parametrize("geometry", [(4, 2, 1, 0, 3), (3, 2, 1, 1, 3), (2, 2, 0, 0, 3)])
def test_conv_transpose_strength_at_init_is_the_random_weights_level_for_any_kernel(geometry):
    """The layer strength of a random-weight ConvTranspose2d comes out near sqrt(1 - 1/s^2)
    whatever the kernel, even where equal weights would give 0 (k4 s2, k2 s2): the page must
    not blame the kernel size alone. Median over seeds, within 0.1 of the expectation."""
    config = geometry_config(geometry, base_channels=32)
    values = []
    for seed in range(6):
        result = render_at_init(config, ["convtranspose"], n_images=1, seed=seed, device="cpu")
        values += [v for v in result.variants["convtranspose"].checkerboard.stage_strengths]
    reference = result.geometry.strength_reference
    assert reference.random_weights == pytest.approx(math.sqrt(0.75))
    k, s, p = geometry[:3]
    assert reference.equal_weights == pytest.approx(checkerboard.equal_weights_strength(k, s, p))
    assert abs(np.median(values) - reference.random_weights) < 0.1, values


def test_spectrum_peaks_at_the_marked_frequencies_for_conv_transpose():
    config = small(stages=3, base_channels=32)
    result = render_at_init(
        config, ["convtranspose", "resize-bilinear"], n_images=8, seed=1, device="cpu"
    )
    marks = [m for m in result.geometry.marks if m["period"] == config.stride]
    assert len(marks) == config.stride**2 - 1
    fy, fx = result.geometry.frequency_y, result.geometry.frequency_x
    for m in marks:
        assert fy[m["row"]] == pytest.approx(m["fy"]) and fx[m["col"]] == pytest.approx(m["fx"])

    def prominence(spectrum):  # log power at each mark minus the mean of its 8 neighbours
        h, w = spectrum.shape
        ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        return np.array(
            [
                spectrum[m["row"], m["col"]]
                - np.mean([spectrum[(m["row"] + dy) % h, (m["col"] + dx) % w] for dy, dx in ring])
                for m in marks
            ]
        )

    convt = prominence(result.variants["convtranspose"].spectrum)
    smooth = prominence(result.variants["resize-bilinear"].spectrum)
    assert (convt > 0).all(), convt  # a local peak at every checkerboard frequency
    assert (convt > smooth).all(), (convt, smooth)


def test_every_stage_is_listed_with_its_period_and_the_marked_ones_are_marked():
    config = small(stages=4)  # 64 x 64, stride 2: periods 2, 4, 8, 16
    result = render_at_init(config, ["convtranspose"], n_images=1, seed=0, device="cpu")
    periods = result.geometry.stage_periods
    assert [(e.stage, e.period) for e in periods] == [(4, 2), (3, 4), (2, 8), (1, 16)]
    assert [e.marked for e in periods] == [True, True, False, False]
    assert {m["period"] for m in result.geometry.marks} == {2, 4}
    assert {m["order"] for m in result.geometry.marks} == {1, 2}
    # A stride-4 stack marks its last stage only (period 16 would put marks 1/16 apart).
    config = small(stages=2, kernel_size=8, stride=4, padding=2)
    periods = stage_periods(config)
    assert [(e.period, e.marked) for e in periods] == [(4, True), (16, False)]
    # Stride 1: nothing to mark.
    config = small(stages=2, kernel_size=3, stride=1, padding=1)
    assert not any(e.marked for e in stage_periods(config))


def test_checkerboard_marks_are_bounded_and_validated():
    marks = checkerboard_marks(8, 8, 2, orders=6)  # periods 2, 4, 8; 16+ exceed the image
    assert {m["period"] for m in marks} == {2, 4, 8}
    assert len({(m["row"], m["col"]) for m in marks}) == len(marks) == 8 * 8 - 1
    assert checkerboard_marks(16, 16, 1, orders=3) == []
    for bad in ({"stride": 0}, {"height": 0}, {"orders": 10**9}, {"stride": 2.0}):
        with pytest.raises(ConfigError):
            checkerboard_marks(**{"height": 8, "width": 8, "stride": 2, **bad})


# ----------------------------------------------------------------------------- render output


def test_render_at_init_returns_page_ready_arrays():
    config = small(stages=3)
    result = render_at_init(
        config, BUILT_IN, n_images=5, seed=0, device="cpu", crop_size=8, zoom=4, columns=3
    )
    h, w = config.image_size
    assert result.device == "cpu" and "CPU" in result.device_label
    assert result.geometry.image_size == (h, w)
    assert result.geometry.frequency_y.shape == (h,) and result.geometry.frequency_x.shape == (w,)
    for v in BUILT_IN:
        entry = result.variants[v]
        assert entry.label == VARIANT_LABELS[v]
        assert entry.images.shape == (5, h, w, 3) and entry.images.dtype == np.uint8
        assert entry.grid.dtype == np.uint8 and entry.grid.shape[-1] == 3
        assert entry.grid.shape[1] == 3 * w + 2 * 2  # three columns, two gaps
        assert entry.crop.shape == (32, 32, 3)
        top, left, ch, cw = entry.crop_box
        crop = entry.images[0][top : top + ch, left : left + cw]
        assert np.array_equal(entry.crop[::4, ::4], crop)
        spectrum = entry.spectrum
        assert spectrum.shape == (h, w) and np.isnan(spectrum[h // 2, w // 2])  # DC masked
        assert np.isfinite(np.delete(spectrum.ravel(), (h // 2) * w + w // 2)).all()
        assert entry.checkerboard.energy_vs_noise == pytest.approx(
            entry.checkerboard.energy / result.geometry.energy_baseline
        )
        # Contrast normalisation uses (almost) the whole 0..255 range in every image.
        assert (entry.images.reshape(5, -1).max(axis=1) >= 250).all()
        assert (entry.images.reshape(5, -1).min(axis=1) <= 5).all()
        assert entry.parameters > 0 and entry.seconds >= 0


RENDER_KEYS = {
    "variants", "device", "device_label", "precision", "image_size", "n_images", "seed",
    "frequency_y", "frequency_x", "spectrum_range", "marks", "stage_periods",
    "checkerboard_energy_baseline", "strength_reference", "batch_statistics", "config", "seconds",
}  # fmt: skip
FIT_KEYS = {
    "variants", "target", "target_spectrum", "target_checkerboard_energy", "steps_done",
    "stopped_early", "stopped_for_time", "time_budget", "device", "device_label", "precision",
    "steps", "lr", "seed", "image_size", "frequency_y", "frequency_x", "spectrum_range", "marks",
    "stage_periods", "checkerboard_energy_baseline", "strength_reference", "config", "seconds",
}  # fmt: skip
CHECKERBOARD_KEYS = {
    "checkerboard_energy", "checkerboard_energy_vs_noise", "checkerboard_strength",
    "stage_checkerboard_strength",
}  # fmt: skip
VARIANT_RENDER_KEYS = {
    "label", "images", "grid", "crop", "crop_box", "spectrum", "parameters", "upsampling",
    "replacement_error", "seconds", *CHECKERBOARD_KEYS,
}  # fmt: skip
VARIANT_FIT_KEYS = {"label", "losses", "final_image", "spectrum", "psnr", "seconds"}
VARIANT_FIT_KEYS |= CHECKERBOARD_KEYS


def conforms(value, hint) -> bool:
    """Whether `value` is of the type `hint` declares (unions, tuples, mappings, strict floats)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(conforms(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0]) for v in value)
        return len(value) == len(args) and all(
            conforms(v, a) for v, a in zip(value, args, strict=True)
        )
    if origin in (dict, Mapping):
        return isinstance(value, origin) and all(
            conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items()
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def assert_fields_conform(obj) -> None:
    """Every field of the frozen dataclass `obj` (and of the dataclasses in it) has its type."""
    assert dataclasses.is_dataclass(obj) and obj.__dataclass_params__.frozen
    hints = typing.get_type_hints(type(obj))
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        assert conforms(value, hints[field.name]), (type(obj).__name__, field.name, value)
        inner = value.values() if isinstance(value, Mapping) else [value]
        inner = [*inner, *(value if isinstance(value, tuple) else [])]
        for item in inner:
            if dataclasses.is_dataclass(item):
                assert_fields_conform(item)


def test_results_are_typed_as_documented_and_keep_the_old_dict_shape():
    """The typed results: every field has its declared type and the documented shape and dtype,
    and `as_dict()` gives the dict the functions used to return, key for key."""
    config = small(stages=2, kernel_size=3, padding=1, output_padding=1)
    h, w = config.image_size
    render = render_at_init(config, BUILT_IN, n_images=3, seed=1, device="cpu", columns=2)
    fitted = fit(config, ("convtranspose", "resize-nearest"), None, steps=3, device="cpu")
    for result in (render, fitted):
        assert_fields_conform(result)
        geometry = result.geometry
        assert geometry.image_size == (h, w) and result.config == config
        assert geometry.frequency_y.shape == (h,) and geometry.frequency_x.shape == (w,)
        assert [e.stage for e in geometry.stage_periods] == [2, 1]
        assert geometry.marked_periods + geometry.unmarked_periods == geometry.stage_periods
        assert all(isinstance(e, StagePeriod) for e in geometry.stage_periods)
        assert result.spectrum_range[0] < result.spectrum_range[1]
        for name, variant in result.variants.items():
            assert variant.name == name and variant.label == VARIANT_LABELS[name]
            assert variant.spectrum.shape == (h, w) and variant.spectrum.dtype == np.float32
            assert len(variant.checkerboard.stage_strengths) == config.stages
    for variant in render.variants.values():
        assert variant.images.shape == (3, h, w, 3) and variant.images.dtype == np.uint8
        assert variant.grid.shape == (2 * h + 2, 2 * w + 2, 3) and variant.grid.dtype == np.uint8
        assert variant.crop.dtype == np.uint8 and len(variant.crop_box) == 4
    assert fitted.target.shape == (*fitted.target_spectrum.shape, 3) == (h, w, 3)
    assert fitted.fraction_done == 1 and fitted.losses == {
        name: v.losses for name, v in fitted.variants.items()
    }
    for variant in fitted.variants.values():
        assert len(variant.losses) == 3 and variant.final_image.shape == (h, w, 3)
    plain = render.as_dict()
    assert set(plain) == RENDER_KEYS and plain["config"] == config.to_dict()
    assert all(set(v) == VARIANT_RENDER_KEYS for v in plain["variants"].values())
    assert plain["stage_periods"] == [
        {"stage": e.stage, "period": e.period, "order": e.order, "marked": e.marked}
        for e in render.geometry.stage_periods
    ]
    plain = fitted.as_dict()
    assert set(plain) == FIT_KEYS and plain["steps_done"] == 3
    assert all(set(v) == VARIANT_FIT_KEYS for v in plain["variants"].values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        render.seed = 2


PAGE = Path(__file__).resolve().parent.parent / "pages" / "generator.py"
# What the page's names hold: a result of either run, a variant of either, and their parts.
PAGE_NAMES = {
    "result": (Render, FitResult),
    "variant": (VariantRender, VariantFit),
    "numbers": (CheckerboardNumbers,),
    "reference": (StrengthReference,),
    "e": (StagePeriod,),
    "stage": (FlatStage,),
    "panel": (FlatPanel,),
    "plan": (PicturePlan,),
}
ANNOTATIONS = {
    "Result": (Render, FitResult),
    "Render": (Render,),
    "FitResult": (FitResult,),
    "VariantRender": (VariantRender,),
    "VariantFit": (VariantFit,),
    "CheckerboardNumbers": (CheckerboardNumbers,),
    "FlatStage": (FlatStage,),
    "FlatPanel": (FlatPanel,),
    "PicturePlan": (PicturePlan,),
}


def page_reads() -> list[tuple[tuple[type, ...], str]]:
    """(the classes a page expression may hold, the attribute it reads), for every attribute
    the page reads off a result, a variant or one of their parts (`result.geometry.marks`...)."""
    reads = []

    def classes_of(node, names):
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.Attribute):
            owners = classes_of(node.value, names)
            if owners:
                hints = [typing.get_type_hints(c).get(node.attr) for c in owners]
                if all(isinstance(h, type) and dataclasses.is_dataclass(h) for h in hints):
                    return tuple(dict.fromkeys(hints))
        return None

    for function in ast.walk(ast.parse(PAGE.read_text())):
        if not isinstance(function, ast.FunctionDef):
            continue
        names = dict(PAGE_NAMES)
        for arg in function.args.args:
            annotation = ast.unparse(arg.annotation) if arg.annotation else ""
            if annotation in ANNOTATIONS:
                names[arg.arg] = ANNOTATIONS[annotation]
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                owners = classes_of(node.value, names)
                if owners:
                    reads.append((owners, node.attr))
    return reads


def test_the_page_reads_only_fields_the_results_have():
    reads = page_reads()
    read = {attr for _, attr in reads}
    assert {"variants", "geometry", "checkerboard", "marks", "strength", "fits_image"} <= read
    assert {"flat", "panels", "grid_columns", "crop_zoom", "image_zoom", "scale"} <= read
    for owners, attr in reads:
        for cls in owners:
            fields = {f.name for f in dataclasses.fields(cls)}
            assert attr in fields or isinstance(getattr(cls, attr, None), property), (cls, attr)


def test_next_block_size_measures_first_then_fits_the_time_left():
    now = [0.0]
    budget = hosted.TimeBudget(10, clock=lambda: now[0])
    unlimited = hosted.TimeBudget(None, clock=lambda: now[0])
    assert next_block_size(7, 0, 0.0, unlimited) == 7
    assert next_block_size(7, 0, 0.0, budget) == 1  # the first block measures the speed
    now[0] = 1.0
    assert next_block_size(50, 10, 1.0, budget) == 10  # at most a tenth of the budget: 1 s
    assert next_block_size(5, 10, 1.0, budget) == 5
    now[0] = 9.5
    assert next_block_size(50, 10, 1.0, budget) == 5  # 0.5 s left at 0.1 s a step
    now[0] = 10.0
    assert next_block_size(50, 10, 1.0, budget) < 1  # nothing left: the fit stops


def test_readouts():
    numbers = CheckerboardNumbers(
        strength=0.8123, stage_strengths=(0.8123,), energy=0.1234, energy_vs_noise=12345.6
    )
    assert strength_text(numbers) == "0.812"
    assert energy_text(numbers, 2) == "12.34%" and energy_text(numbers, 1) == "n/a"
    assert noise_ratio_text(numbers) == "12,346 × white noise"
    faint = dataclasses.replace(numbers, strength=None, energy=0.00042, energy_vs_noise=0.44)
    assert strength_text(faint) == "n/a" and share_text(faint.energy) == "0.042%"
    assert noise_ratio_text(faint) == "0.4 × white noise"
    assert noise_ratio_text(dataclasses.replace(numbers, energy_vs_noise=None)) is None
    assert steps_done_so_far({}) == 0 and steps_done_so_far({"a": [1.0, 0.5]}) == 2


def test_spectra_share_one_colour_range_set_by_a_percentile():
    config = small(stages=3)
    result = render_at_init(config, BUILT_IN, n_images=4, seed=0, device="cpu")
    spectra = [v.spectrum for v in result.variants.values()]
    low, high = result.spectrum_range
    assert (low, high) == spectrum_range(spectra)
    pooled = np.concatenate([s.ravel() for s in spectra])
    pooled = pooled[np.isfinite(pooled)]
    assert high == pytest.approx(pooled.max())
    assert low == pytest.approx(np.percentile(pooled, SPECTRUM_LOW_PERCENTILE))
    # The bottom is far above the display floor (12 decades under the peak) that a smooth
    # variant's near-zero bins sit on, so the rest of the scale is not squeezed.
    assert low > pooled.min() + 3
    # The masked DC bin takes no part; flat and empty inputs still give a usable range.
    assert spectrum_range([np.full((4, 4), np.nan)]) == (0.0, 1.0)
    flat_low, flat_high = spectrum_range([np.ones((4, 4))])
    assert flat_low < 1 < flat_high
    with pytest.raises(ConfigError):
        spectrum_range(spectra, low_percentile=100)


def test_image_zero_does_not_depend_on_how_many_images_are_shown():
    for norm in NORMS:
        config = small(stages=3, norm=norm)
        one = render_at_init(config, BUILT_IN, n_images=1, seed=2, device="cpu")
        many = render_at_init(config, BUILT_IN, n_images=7, seed=2, device="cpu")
        for v in BUILT_IN:
            assert np.array_equal(one.variants[v].images[0], many.variants[v].images[0]), (norm, v)
        expected = hosted.MAX_BATCH if norm == "batch" else None
        assert one.batch_statistics == many.batch_statistics == expected
    z = sample_latents(config, 3, seed=5)
    assert torch.equal(z, sample_latents(config, hosted.MAX_BATCH, seed=5)[:3])


def test_a_cached_model_is_copied_not_moved_when_the_device_differs(monkeypatch):
    """render_at_init must not move a shared (st.cache_resource) model in place: on another
    device it works on a copy. A CPU-only machine has one device, so the test pretends the
    model lives elsewhere."""
    config = small(stages=2)
    cached = build_generator(config, "convtranspose", seed=3)
    weights = [p.detach().clone() for p in cached.parameters()]
    moved = []
    monkeypatch.setattr(devices, "_device_of", lambda model: torch.device("meta"))
    original_to = nn.Module.to

    def spy(self, *args, **kwargs):
        moved.append(self)
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", spy)
    result = render_at_init(
        config,
        ["convtranspose"],
        n_images=2,
        seed=3,
        device="cpu",
        models={"convtranspose": cached},
    )
    assert moved and all(m is not cached for m in moved)  # only the copy was moved
    assert all(torch.equal(a, b) for a, b in zip(weights, cached.parameters(), strict=True))
    fresh = render_at_init(config, ["convtranspose"], n_images=2, seed=3, device="cpu")
    assert np.array_equal(
        result.variants["convtranspose"].images, fresh.variants["convtranspose"].images
    )
    # On its own device the model is used as it is, not copied.
    monkeypatch.undo()
    assert on_device(cached, torch.device("cpu")) is cached


def test_render_accepts_cached_models_only_for_the_same_build():
    config = small(stages=2)
    cached = {"convtranspose": build_generator(config, "convtranspose", seed=3)}
    fresh = render_at_init(config, ["convtranspose"], n_images=2, seed=3, device="cpu")
    reused = render_at_init(
        config, ["convtranspose"], n_images=2, seed=3, device="cpu", models=cached
    )
    assert np.array_equal(
        fresh.variants["convtranspose"].images, reused.variants["convtranspose"].images
    )
    with pytest.raises(ConfigError) as info:
        render_at_init(config, ["convtranspose"], n_images=2, seed=4, device="cpu", models=cached)
    assert info.value.parameter == "models"


# ----------------------------------------------------------------------------- fit mode


def test_fit_lowers_the_loss_and_reports_progress():
    config = small(stages=3)
    calls = []

    def callback(fraction, frames, losses):
        calls.append(
            (
                fraction,
                {k: v.shape for k, v in frames.items()},
                {k: len(v) for k, v in losses.items()},
            )
        )

    result = fit(
        config,
        BUILT_IN,
        None,
        steps=40,
        lr=0.01,
        seed=0,
        device="cpu",
        callback=callback,
        callback_every=10,
    )
    h, w = config.image_size
    assert [c[0] for c in calls] == [0.25, 0.5, 0.75, 1.0]
    assert all(shape == (h, w, 3) for c in calls for shape in c[1].values())
    assert [c[2]["convtranspose"] for c in calls] == [10, 20, 30, 40]
    assert result.target.shape == (h, w, 3) and result.steps_done == 40
    for v in BUILT_IN:
        entry = result.variants[v]
        assert len(entry.losses) == 40
        assert np.mean(entry.losses[-5:]) < np.mean(entry.losses[:5]), v
        assert entry.final_image.shape == (h, w, 3) and entry.final_image.dtype == np.uint8
        assert entry.spectrum.shape == (h, w) and np.isfinite(entry.psnr)


def test_fit_accepts_a_target_array_and_stops_when_the_callback_says_so():
    config = small(stages=2)
    target = np.random.default_rng(0).random((40, 30, 3))  # float 0..1, another size
    result = fit(
        config,
        ["resize-nearest"],
        target,
        steps=20,
        lr=0.01,
        seed=0,
        device="cpu",
        callback=lambda *_: False,
        callback_every=5,
    )
    assert result.stopped_early and result.steps_done == 5
    assert len(result.variants["resize-nearest"].losses) == 5
    assert result.target.shape == (*config.image_size, 3)


def test_fit_stops_at_its_time_budget_with_equal_steps_for_every_variant():
    """500 steps of two 64 x 64 variants take seconds; a 0.3 s budget stops the fit early, at a
    block boundary, with the same number of steps done by every variant."""
    config = small(stages=4)
    result = fit(
        config,
        ["convtranspose", "resize-nearest"],
        None,
        steps=hosted.MAX_STEPS,
        seed=0,
        device="cpu",
        time_budget=0.3,
    )
    assert result.stopped_for_time and result.stopped_early
    assert result.time_budget == 0.3
    done = result.steps_done
    assert 1 <= done < hosted.MAX_STEPS
    assert all(len(v.losses) == done for v in result.variants.values())
    # Ends near the budget: one short block and the final measurements over, even when loaded.
    assert result.seconds < 0.3 + 3.0
    # Without a budget, or with an ample one, every step runs.
    ample = fit(config, ["resize-nearest"], None, steps=6, seed=0, device="cpu", time_budget=600)
    assert ample.steps_done == 6 and not ample.stopped_for_time
    assert ample.time_budget == 600.0
    for bad in (0, -1, float("inf"), float("nan"), True, "30", hosted.MAX_TIME_BUDGET_S + 1):
        with pytest.raises(ConfigError) as info:
            fit(config, ["resize-nearest"], None, steps=2, device="cpu", time_budget=bad)
        assert info.value.parameter == "time_budget"


def test_time_budget_counts_wall_clock_and_allows_only_blocks_that_fit():
    now = [100.0]
    budget = hosted.TimeBudget(10, clock=lambda: now[0])
    assert budget.elapsed == 0 and budget.remaining == 10
    assert budget.allows(10) and not budget.allows(10.5)
    now[0] = 107.0
    assert budget.allows(3) and not budget.allows(3.5)
    assert budget.remaining == pytest.approx(3)
    now[0] = 111.0
    assert not budget.allows() and budget.remaining == 0
    unlimited = hosted.TimeBudget(None, clock=lambda: now[0])
    assert unlimited.allows(1e9) and unlimited.remaining == math.inf
    assert hosted.FIT_TIME_BUDGET_S <= 60  # a fit holds the one heavy-run slot: keep it short


def test_fit_repeats_for_a_seed():
    config = small(stages=2)
    a = fit(config, ["convtranspose"], None, steps=5, lr=0.01, seed=2, device="cpu")
    b = fit(config, ["convtranspose"], None, steps=5, lr=0.01, seed=2, device="cpu")
    assert a.variants["convtranspose"].losses == b.variants["convtranspose"].losses


# ----------------------------------------------------------------------------- caps and errors


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"stages": hosted.MAX_STAGES + 1}, "stages"),
        ({"stages": 0}, "stages"),
        ({"base_channels": hosted.MAX_CHANNELS + 1}, "base_channels"),
        ({"latent_dim": hosted.MAX_LATENT_DIM + 1}, "latent_dim"),
        ({"stages": 6, "padding": 0}, "stages"),  # 382 pixels > MAX_RESOLUTION
        ({"kernel_size": hosted.MAX_KERNEL + 1}, "kernel_size"),
        ({"stride": MAX_STRIDE + 1}, "stride"),
        ({"output_padding": 2}, "output_padding"),  # torch: op must be < stride
        ({"kernel_size": 1, "stride": 1, "padding": 1}, "padding"),  # shrinks the image
        ({"kernel_size": 2, "padding": 5}, "padding"),
        ({"norm": "layer"}, "norm"),
        ({"activation": "tanh"}, "activation"),
        ({"replacement": "magic"}, "replacement"),
        ({"image_channels": 4}, "image_channels"),
        ({"stages": True}, "stages"),
        ({"kernel_size": 4.0}, "kernel_size"),
    ],
)
def test_bad_configs_are_config_errors_naming_the_parameter(changes, parameter):
    with pytest.raises(ConfigError) as info:
        GeneratorConfig(**changes)
    assert info.value.parameter == parameter
    assert info.value.message


def test_largest_allowed_resolution_is_accepted():
    config = GeneratorConfig(stages=6, base_channels=8, latent_dim=8)
    assert config.image_size == (hosted.MAX_RESOLUTION, hosted.MAX_RESOLUTION)


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda c: render_at_init(c, n_images=hosted.MAX_BATCH + 1, device="cpu"), "n_images"),
        (lambda c: render_at_init(c, n_images=0, device="cpu"), "n_images"),
        (lambda c: render_at_init(c, variants=["deconv"], device="cpu"), "variants"),
        (lambda c: render_at_init(c, variants=[], device="cpu"), "variants"),
        (lambda c: render_at_init(c, variants=["custom", "custom"], device="cpu"), "variants"),
        (lambda c: render_at_init(c, seed=-1, device="cpu"), "seed"),
        (lambda c: render_at_init(c, device="tpu"), "device"),
        (lambda c: render_at_init(c, device="cpu", precision="float16"), "precision"),
        (lambda c: render_at_init({"stages": 2}, device="cpu"), "config"),
        (lambda c: fit(c, steps=hosted.MAX_STEPS + 1, device="cpu"), "steps"),
        (lambda c: fit(c, steps=10, lr=0, device="cpu"), "lr"),
        (lambda c: fit(c, steps=10, lr=float("nan"), device="cpu"), "lr"),
        (lambda c: fit(c, target_image="cat.png", steps=10, device="cpu"), "target_image"),
        (
            lambda c: fit(c, target_image=np.zeros((4, 4, 2)), steps=10, device="cpu"),
            "target_image",
        ),
        (lambda c: fit(c, steps=10, device="cpu", callback="print"), "callback"),
    ],
)
def test_bad_run_arguments_are_config_errors(call, parameter):
    with pytest.raises(ConfigError) as info:
        call(small(stages=2))
    assert info.value.parameter == parameter


# ----------------------------------------------------------------------------- devices


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    auto = pick_device()
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif torch.backends.mps.is_available():
        assert auto.type == "mps"
    else:
        assert auto.type == "cpu"
    assert str(auto) in available_devices() or auto.type == "cuda"
    for missing, present in (
        ("cuda", torch.cuda.is_available()),
        ("mps", torch.backends.mps.is_available()),
    ):
        if not present:
            with pytest.raises(ConfigError, match="available"):
                pick_device(missing)
    with pytest.raises(ConfigError):
        pick_device(f"cuda:{torch.cuda.device_count() + 3}")
    with pytest.raises(ConfigError):
        pick_device(3)


def test_cpu_threads_apply_during_the_run_only():
    seen = []
    torch.set_num_threads(1)
    fit(
        small(stages=1),
        ["convtranspose"],
        None,
        steps=2,
        lr=0.01,
        device="cpu",
        callback=lambda *_: seen.append(torch.get_num_threads()),
        callback_every=1,
        cpu_threads=2,
    )
    assert seen == [2, 2] and torch.get_num_threads() == 1
    with pytest.raises(ConfigError) as info:
        render_at_init(small(stages=1), device="cpu", cpu_threads=0)
    assert info.value.parameter == "cpu_threads"


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision(cpu, "auto") == "float32"
    assert resolve_precision(cpu, "float32") == "float32"
    with pytest.raises(ConfigError):
        resolve_precision(cpu, "bfloat16")
    with pytest.raises(ConfigError):
        resolve_precision(cpu, "float8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_autocast_matches_the_cpu_closely():
    config = small(stages=3)
    cpu = render_at_init(config, BUILT_IN, n_images=2, seed=0, device="cpu")
    gpu = render_at_init(config, BUILT_IN, n_images=2, seed=0, device="cuda", precision="auto")
    for v in BUILT_IN:
        a = cpu.variants[v].images.astype(int)
        b = gpu.variants[v].images.astype(int)
        assert np.median(np.abs(a - b)) <= 8, v


# ----------------------------------------------------------------------------- run slot


def test_heavy_run_slot_admits_one_run_at_a_time():
    inside, release = threading.Event(), threading.Event()

    def hold():
        with hosted.heavy_run_slot():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    assert hosted.slot_busy()
    with pytest.raises(hosted.BusyError, match="try again") as info, hosted.heavy_run_slot():
        pass
    assert isinstance(info.value, ConfigError) and info.value.parameter == "run"
    threading.Timer(0.2, release.set).start()
    with hosted.heavy_run_slot(timeout=5) as waited:  # waits for the holder to finish
        assert waited > 0
        with hosted.heavy_run_slot():  # re-entrant on the same thread
            pass
    holder.join(5)
    assert not hosted.slot_busy()
    with pytest.raises(ConfigError), hosted.heavy_run_slot(timeout=-1):
        pass


def test_caps_are_shared_with_the_image_module():
    from core.generator import images

    assert MAX_RESOLUTION == images.MAX_RESOLUTION == hosted.MAX_RESOLUTION


# ----------------------------------------------------------------------------- memory and limits


@pytest.mark.parametrize("variant", ["convtranspose", "resize-nearest"])
def test_activation_estimate_covers_what_torch_allocates(variant):
    """The estimate is at least the largest stage's input + output that forward hooks see, and
    not wildly above it (so it refuses only runs that really are large)."""
    config = GeneratorConfig(stages=3, base_channels=32, latent_dim=8)
    model = build_generator(config, variant, 0)
    seen: list[int] = []

    def hook(module, inputs, output):
        seen.append(inputs[0].numel() + output.numel())

    stages = [m for m in model.modules() if isinstance(m, nn.ConvTranspose2d | nn.Conv2d)]
    handles = [m.register_forward_hook(hook) for m in stages]
    with torch.no_grad():
        model(sample_latents(config, 4))
    for h in handles:
        h.remove()
    measured = 4 * max(seen)
    estimate = config.activation_bytes(4)
    assert measured <= estimate <= 3 * measured


def test_every_run_the_default_limits_allow_passes_the_memory_check():
    from core.generator.run import check_memory

    for stride, kernel, padding, stages in [(2, 4, 1, 6), (4, 8, 2, 3), (2, 11, 5, 6)]:
        config = GeneratorConfig(
            stages=stages,
            stride=stride,
            kernel_size=kernel,
            padding=padding,
            base_channels=hosted.MAX_CHANNELS,
        )
        check_memory(config, hosted.MAX_BATCH, backward=False)
        check_memory(config, 1, backward=True)


def test_local_limits_raise_the_generator_caps_and_still_refuse_a_run_too_large_for_memory():

    script = """
from core import hosted
from core.errors import ConfigError
from core.generator.config import GeneratorConfig
from core.generator.run import render_at_init
print("CAPS", hosted.MAX_CHANNELS, hosted.MAX_RESOLUTION, hosted.MAX_STEPS, hosted.MAX_BATCH)
big = GeneratorConfig(stages=4, stride=4, kernel_size=8, padding=2, base_channels=1024)
print("SIZE", big.image_size)
try:
    render_at_init(big, ["convtranspose"], n_images=64, device="cpu")
except ConfigError as error:
    print("REFUSED", error.parameter, error.message)
try:
    GeneratorConfig(base_channels=2048)
except ConfigError as error:
    print("CHANNELS", error.message)
"""
    out = run_under_limits(script, "local")
    assert "CAPS 1024 1024 5000 64" in out
    assert "SIZE (1024, 1024)" in out
    assert "REFUSED n_images this render would need about" in out
    assert "MiB is the local limit for the activation memory one run may take" in out
    assert "render fewer images" in out
    assert "1,024 is the local limit for the generator's channels" in out


def test_default_limits_name_the_setting_that_raises_a_generator_cap():
    with pytest.raises(ConfigError) as info:
        GeneratorConfig(base_channels=hosted.MAX_CHANNELS + 1)
    if hosted.MODE.local:
        pytest.fail("the suite runs under the default limits; unset DECONV_LAB_LIMITS")
    assert "DECONV_LAB_LIMITS=local streamlit run app.py" in info.value.message
    assert "to allow up to 1,024" in info.value.message


# ----------------------------------------------------------------------------- the ICNR sentence


def icnr_fit(icnr: float, convtranspose: float, energy_ratio: float) -> types.SimpleNamespace:
    """A fit as `icnr_finding` reads it, from numbers made up here (no fit runs): the sub-pixel
    variant's strength, ConvTranspose2d's, and the sub-pixel picture's checkerboard energy over
    the target's."""
    target = 0.002

    def variant(strength: float, energy: float) -> types.SimpleNamespace:
        numbers = CheckerboardNumbers(strength, (strength / 2, strength), energy, None)
        return types.SimpleNamespace(checkerboard=numbers)

    return types.SimpleNamespace(
        config=GeneratorConfig(stages=2, base_channels=8),
        variants={
            "convtranspose": variant(convtranspose, target),
            "resize-nearest": variant(0.0, target),
            "subpixel-icnr": variant(icnr, energy_ratio * target),
        },
        target_checkerboard_energy=target,
        geometry=types.SimpleNamespace(energy_baseline=0.5),
    )


def test_the_icnr_finding_ranks_the_strength_and_says_whether_the_picture_shows_it():
    from core.generator.findings import NO_GRID, VISIBLE_FACTOR, icnr_finding

    highest = icnr_finding(icnr_fit(0.5, 0.3, VISIBLE_FACTOR + 1)).text
    assert "ends with strength 0.500** (the highest of all)" in highest
    assert "the grid shows in its picture" in highest
    below = icnr_finding(icnr_fit(0.3, 0.5, VISIBLE_FACTOR + 1)).text
    assert "ends with strength 0.300** (below ConvTranspose2d's 0.500)" in below
    hidden = icnr_finding(icnr_fit(0.5, 0.3, VISIBLE_FACTOR / 2)).text
    assert f"That is not above {VISIBLE_FACTOR:g} × the target's" in hidden
    assert "the grid the strength measures does not stand out in its picture" in hidden
    assert "shows in its picture" not in hidden
    assert icnr_finding(icnr_fit(NO_GRID / 2, 0.3, 1.0)) is None  # no grid: nothing to explain
