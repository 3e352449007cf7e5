"""Live generator: the same DCGAN-style generator with each upsampling layer, side by side.

Each section reads its widgets, calls core (`core.generator.run`), and draws the typed result
it gets back (`core.generator.results`); the numbers and their texts come from core.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core.bounded_cache import BoundedCache
from core.errors import ConfigError
from core.generator.config import (
    ACTIVATIONS,
    DEFAULT_FIT_STEPS,
    DEFAULT_LR,
    NORMS,
    PRECISIONS,
    VARIANT_LABELS,
    VARIANTS,
    GeneratorConfig,
)
from core.generator.devices import (
    CPU_THREADS,
    available_devices,
    device_label,
    pick_device,
    resolve_precision,
)
from core.generator.findings import Finding, fit_findings, flat_finding, init_findings
from core.generator.flat import FlatPanel, FlatStage
from core.generator.images import load_upload
from core.generator.measures import CheckerboardNumbers, strength_reference
from core.generator.model import build_generator
from core.generator.pictures import (
    PicturePlan,
    column_width,
    enlarge,
    picture_plan,
    placeholder,
    zoomed_crop,
)
from core.generator.readouts import (
    crop_text,
    energy_text,
    flat_panel_text,
    noise_ratio_text,
    share_text,
    strength_text,
    zoom_text,
)
from core.generator.results import FitResult, Render, VariantFit, VariantRender
from core.generator.run import fit, render_at_init, steps_done_so_far
from core.generator.spectra import SPECTRUM_LOW_PERCENTILE, StagePeriod
from core.hosted import (
    FIT_TIME_BUDGET_S,
    MAX_BATCH,
    MAX_CHANNELS,
    MAX_RESOLUTION,
    MAX_STAGES,
    MAX_STEPS,
    MODE,
    ONE_RUN_WAIT_S,
    cap_note,
    decoded_once,
    slot_busy,
)
from core.replacements.registry import DEFAULT_METHOD, METHODS
from ui import heavy, routing, state, text
from ui.figures import generator as charts
from ui.figures.style import PLOTLY_CONFIG, colour_bar_figure
from ui.inputs import int_input

routing.require_router()

CHANNEL_CHOICES = [c for c in (8, 16, 32, 64, 128, 256, 512, 1024) if c <= MAX_CHANNELS]
MODES = ("init", "fit")
MODE_LABELS = {"init": "At initialisation", "fit": "Fit a target image"}
# How long a render waits in line: long enough to outlast one capped fit holding the slot.
WAIT_FOR_SLOT_S = ONE_RUN_WAIT_S
# The generator's own settings: (widget key, default, URL parser).
SETTINGS_PARAMS = [
    ("gen_stages", 4, state.bounded_int(1, MAX_STAGES, "generator.stages")),
    ("gen_ch", 64, state.int_choice(CHANNEL_CHOICES)),
    ("gen_norm", "batch", state.one_of(NORMS)),
    ("gen_act", "relu", state.one_of(ACTIVATIONS)),
    ("gen_rk", 3, state.bounded_int(1, 7)),
    ("gen_rep", DEFAULT_METHOD, state.one_of(METHODS)),
    ("gen_n", 8, state.bounded_int(1, MAX_BATCH, "generator.batch")),
    ("gen_seed", 0, state.bounded_int(0, 2**31 - 1)),
]
# The widget keys whose boxes may refuse a typed value, and their entry in the settings' values.
WIDGET_VALUES = {"gen_stages": "stages", "gen_n": "n_images"}
# How the spectra draw each stage's marks (`ui.figures.generator`), by order from the end.
MARK_SHAPES = {1: "circles", 2: "diamonds"}
LATER_MARK_SHAPE = "small squares"

Result = Render | FitResult


MODEL_CACHE_BYTES = 128 * 2**20  # parameters and buffers of the models kept for reuse


def model_bytes(model: Any) -> int:
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


@st.cache_resource(show_spinner=False)
def model_cache() -> BoundedCache:
    """The models shared by all sessions, least recently used out first past MODEL_CACHE_BYTES."""
    return BoundedCache(MODEL_CACHE_BYTES, model_bytes)


def cached_model(config_items: tuple[tuple[str, Any], ...], variant: str, seed: int, device: str):
    """One generator variant on one device (e.g. "cpu", "cuda:0"), built once per configuration
    and device and shared by all sessions: the device is in the key, so no session moves a
    model another one is using."""
    return model_cache().get_or_make(
        (config_items, variant, seed, device),
        lambda: build_generator(GeneratorConfig(**dict(config_items)), variant, seed).to(device),
    )


@st.cache_resource(show_spinner=False)
def device_names() -> list[str]:
    return ["auto", *available_devices()]


def parse_variants(raw: str) -> list[str]:
    chosen = [v for v in raw.split(",") if v]
    if not chosen or any(v not in VARIANTS for v in chosen):
        raise ValueError(f"use a comma-separated subset of {', '.join(VARIANTS)}")
    return chosen


def run_key(*parts: Any) -> str:
    """A short fingerprint of what a run depends on (to reuse its result)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- settings


def sidebar_layer(cfg: state.LayerConfig) -> tuple[int, int, int, int]:
    """Say which sidebar layer every stage uses (square: the W values) and what it ignores;
    return (kernel_size, stride, padding, output_padding)."""
    layer = (cfg.kernel_size[1], cfg.stride[1], cfg.padding[1], cfg.output_padding[1])
    st.markdown(
        f"Every stage upsamples with the sidebar's layer, square: kernel_size "
        f"{layer[0]}, stride {layer[1]}, padding {layer[2]}, output_padding "
        f"{layer[3]} (or a replacement of the same output size), starting from 4 × 4."
    )
    if cfg.per_axis and any(
        getattr(cfg, f)[0] != getattr(cfg, f)[1]
        for f in ("kernel_size", "stride", "padding", "output_padding")
    ):
        st.warning("The generator uses square layers: the sidebar's W values are used for H.")
    ignored = [
        name
        for name, used in (("dilation", cfg.dilation == (1, 1)), ("groups", cfg.groups == 1))
        if not used
    ]
    if ignored:
        st.warning(
            f"The generator's layers use their own channels, ungrouped and undilated: the "
            f"sidebar's {' and '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored."
        )
    return layer


def size_widgets() -> dict[str, Any]:
    """The first row of settings: stages, base channels, images per variant, seed. Stages and
    images are boxes without built-in bounds (`ui.inputs.int_input`): a value above a limit
    is refused under its box, naming the limit and how to raise it; its value is then None."""
    a, b, c, d = st.columns(4)
    return {
        "stages": int_input(
            a,
            "Upsampling stages",
            key="gen_stages",
            minimum=1,
            maximum=MAX_STAGES,
            limit="generator.stages",
            help="Each stage applies the upsampling layer once after 4 × 4. "
            f"Up to {MAX_STAGES}: {cap_note('stages')}.",
        ),
        "base_channels": b.selectbox(
            "Base channels",
            CHANNEL_CHOICES,
            key="gen_ch",
            help="Channels after the stem; they halve every stage (floor 8).",
        ),
        "n_images": int_input(
            c,
            "Images per variant",
            key="gen_n",
            minimum=1,
            maximum=MAX_BATCH,
            limit="generator.batch",
            help=f"Up to {MAX_BATCH}: {cap_note('batch')}.",
        ),
        "seed": d.number_input(
            "Seed",
            0,
            2**31 - 1,
            key="gen_seed",
            help="Same seed, same weights and latents: results repeat.",
        ),
    }


def layer_widgets() -> dict[str, Any]:
    """The second row of settings: normalisation, activation, resize kernel, replacement."""
    a, b, c, d = st.columns(4)
    return {
        "norm": a.selectbox("Normalisation", NORMS, key="gen_norm"),
        "activation": b.selectbox("Activation", ACTIVATIONS, key="gen_act"),
        "resize_kernel": c.number_input(
            "Resize-conv kernel",
            1,
            7,
            key="gen_rk",
            help="Kernel of the Conv2d in the resize-conv and sub-pixel variants.",
        ),
        "replacement": d.selectbox(
            "“Your replacement” method",
            METHODS,
            key="gen_rep",
            help="The custom variant: this replacement of the very same "
            "seeded ConvTranspose2d (core.replacements.weights.replace_conv_transpose).",
        ),
    }


def generator_config(
    layer: tuple[int, int, int, int], values: dict[str, Any], variants: list[str]
) -> GeneratorConfig | None:
    """The validated config from the widgets' values, or None after showing core's error."""
    kernel_size, stride, padding, output_padding = layer
    try:
        config = GeneratorConfig(
            stages=int(values["stages"]),
            base_channels=int(values["base_channels"]),
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            norm=values["norm"],
            activation=values["activation"],
            resize_kernel=int(values["resize_kernel"]),
            replacement=values["replacement"],
        )
        if not variants:
            raise ConfigError("variants", "pick at least one variant to compare")
    except ConfigError as err:
        state.show_error(err)
        return None
    return config


def settings_caption(config: GeneratorConfig) -> str:
    """The generator's sizes and channels per stage, and its caps in force."""
    return (
        f"Image size {text.size(config.image_size)} px · sizes per stage "
        f"{' → '.join(map(str, config.sizes))} · channels {' → '.join(map(str, config.channels))}"
        f" · {MODE.words(plural=True)}: {MAX_STAGES} stages, {MAX_CHANNELS} channels, "
        f"{MAX_BATCH} images, {MAX_STEPS} fit steps, {MAX_RESOLUTION} px images "
        "(the sidebar's Limits panel says how to raise them)."
    )


def settings(cfg: state.LayerConfig) -> tuple[GeneratorConfig | None, dict[str, Any]]:
    """Draw the generator's own settings; return its validated config (or None) and the rest."""
    layer = sidebar_layer(cfg)
    for key, default, parse in SETTINGS_PARAMS:
        state.page_param(key, default, parse)
    state.page_param("gen_variants", list(VARIANTS), parse_variants)
    values = {**size_widgets(), **layer_widgets()}
    variants = st.multiselect(
        "Variants", VARIANTS, key="gen_variants", format_func=VARIANT_LABELS.get
    )
    refused = [key for key in ("gen_stages", "gen_n") if values[WIDGET_VALUES[key]] is None]
    for key, _, _ in SETTINGS_PARAMS:
        if key in refused:
            state.keep_previous(key)
        else:
            state.remember(key)
    state.remember("gen_variants", ",".join)
    if refused:  # the boxes say why; nothing is computed from a refused value
        return None, {}
    chosen: dict[str, Any] = {
        "variants": tuple(variants),
        "n_images": int(values["n_images"]),
        "seed": int(values["seed"]),
    }
    config = generator_config(layer, values, variants)
    if config is not None:
        st.caption(settings_caption(config))
    return config, chosen


def device_row() -> tuple[str, str, str | None]:
    """Device and precision pickers; returns (device, precision, label or None on error)."""
    state.page_param("gen_device", "auto", lambda raw: raw)
    if st.session_state["gen_device"] not in device_names():
        st.session_state["gen_device"] = "auto"
    left, middle, right = st.columns([1, 1, 2], vertical_alignment="bottom")
    device = left.selectbox(
        "Device",
        device_names(),
        key="gen_device",
        help="auto: CUDA if available, else Apple MPS, else CPU.",
    )
    precision = middle.selectbox(
        "Precision",
        PRECISIONS,
        key="gen_precision",
        help="auto: bfloat16/float16 autocast on a GPU, float32 on CPU.",
    )
    state.remember("gen_device")
    try:
        picked = pick_device(device)
        label = device_label(picked, resolve_precision(picked, precision), threads=CPU_THREADS)
    except ConfigError as err:
        state.show_error(err, right)
        return device, precision, None
    right.info(f"Running on **{label}**", icon=":material/memory:")
    return device, precision, label


# ----------------------------------------------------------------------------- variant columns

STRENGTH_HELP = (
    "Largest over the upsampling stages of this number for the stage's layer: feed it a "
    "constant (all-ones) input, average each output channel's interior response over each of "
    "the stride × stride output phases (the pixels sharing row mod stride and column mod "
    "stride), then take sqrt(mean over channels of the variance across phases ÷ mean square of "
    "the phase averages). 0: the layer answers a constant with a constant; about "
    "sqrt(1 − 1/stride²) (0.866 for stride 2): the phase averages scatter around zero, as with "
    "random weights. It measures the layer, not the images."
)


def energy_help(result: Result) -> str:
    """What the checkerboard energy is, with white noise's figure for this size and stride."""
    baseline = result.geometry.energy_baseline
    stride = result.config.stride
    if stride == 1:
        return "n/a: with stride 1 nothing is upsampled and there is no checkerboard frequency."
    return (
        "Share of the images' power spectrum (each image's mean removed and cropped to whole "
        "periods, power averaged over the images and channels) that lies on the "
        f"{stride} × {stride} checkerboard "
        f"frequencies of the last stage, (a/{stride}, b/{stride}) cycles per pixel without the "
        f"zero frequency: where a period-{stride} pattern puts all its power. 100 % would be a "
        f"pure period-{stride} pattern; white noise of this size gives {baseline:.2%}, the "
        "reference for the “× white noise” figure. It measures the pictures, not the layer."
    )


def checkerboard_metrics(numbers: CheckerboardNumbers, result: Result) -> None:
    """A variant's checkerboard strength and energy, as two metrics with their explanations."""
    st.metric(
        "Checkerboard strength",
        strength_text(numbers),
        help=STRENGTH_HELP
        + ("" if numbers.strength is not None else " n/a: this layer could not be probed."),
    )
    st.metric(
        "Checkerboard energy",
        energy_text(numbers, result.config.stride),
        delta=noise_ratio_text(numbers),
        delta_color="off",
        delta_arrow="off",
        help=energy_help(result),
    )


def picture(image: np.ndarray, caption: str) -> None:
    """A picture at exactly its own pixel width (pre-enlarged in core by whole numbers), sent as
    PNG: no browser scaling, no JPEG blur over the pixels."""
    st.image(image, caption=caption, width=int(image.shape[1]), output_format="PNG")


def render_pictures(variant: VariantRender) -> None:
    """A rendered variant's picture grid and the zoomed crop of its first picture."""
    n = len(variant.images)
    picture(
        variant.grid,
        f"{n} image{'s' if n > 1 else ''}, {variant.grid_columns} per row, each contrast-"
        f"stretched, {zoom_text(variant.grid_zoom)}",
    )
    picture(variant.crop, f"image 1, {crop_text(variant.crop_box, variant.crop_zoom)}")


def fit_pictures(variant: VariantFit, plan: PicturePlan) -> None:
    """A fitted variant's final picture (not stretched) and a zoomed crop of it."""
    picture(
        enlarge(variant.final_image, plan.image_zoom),
        f"final image · PSNR {variant.psnr:.1f} dB · {zoom_text(plan.image_zoom)}",
    )
    crop, box = zoomed_crop(variant.final_image, plan.crop_size, plan.crop_zoom)
    picture(crop, crop_text(box, plan.crop_zoom))


def spectrum_chart(
    spectrum: np.ndarray, result: Result, title: str, height: int, **options: Any
) -> Any:
    """One spectrum panel on the result's shared axes, marks and colour range."""
    return charts.spectrum_figure(
        spectrum,
        result.geometry.frequency_y,
        result.geometry.frequency_x,
        result.geometry.marks,
        title=title,
        height=height,
        zrange=result.spectrum_range,
        stages=result.config.stages,
        **options,
    )


def variant_columns(result: Result, key: str, pictures: Callable[[Any], None]) -> None:
    """Checkerboard numbers, pictures (drawn by `pictures`) and spectrum per variant, side by
    side, then the shared colour scale and what the spectra show."""
    columns = st.columns(len(result.variants))
    for col, variant in zip(columns, result.variants.values(), strict=True):
        with col:
            st.markdown(f"**{variant.label}**")
            checkerboard_metrics(variant.checkerboard, result)
            pictures(variant)
            st.plotly_chart(
                spectrum_chart(variant.spectrum, result, "power spectrum", 220, axis_titles=False),
                width="stretch",
                key=f"{key}_spectrum_{variant.name}",
                config=PLOTLY_CONFIG,
            )
    st.plotly_chart(
        charts.colour_scale_figure(result.spectrum_range),
        width="stretch",
        key=f"{key}_spectrum_scale",
        config={**PLOTLY_CONFIG, "displayModeBar": False},
    )
    st.caption(spectrum_caption(result))


def unmarked_caption(unmarked: tuple[StagePeriod, ...]) -> str:
    """Which stages' frequencies are not marked, and why."""
    return (
        " Not marked: stage"
        + ("s " if len(unmarked) > 1 else " ")
        + ", ".join(f"{e.stage} (period {e.period} px)" for e in unmarked)
        + (
            ": marks that close together would cover the panel; in a ConvTranspose2d "
            "spectrum these show as a finer grid of bright dots."
            if any(e.fits_image for e in unmarked)
            else ": the period is longer than the image."
        )
    )


def marks_caption(result: Result) -> str:
    """Which stages' checkerboard frequencies the spectra mark, with which shapes."""
    if result.config.stride == 1:
        return "Stride 1: there are no checkerboard frequencies to mark."
    parts = [
        f"{MARK_SHAPES.get(e.order, LATER_MARK_SHAPE)} stage {e.stage} (period {e.period} px)"
        for e in result.geometry.marked_periods
    ]
    marks = (
        "Red marks: the checkerboard frequencies (multiples of 1/period cycles per pixel) "
        "where each stage's period-stride pattern lands in the image: " + "; ".join(parts) + "."
    )
    unmarked = result.geometry.unmarked_periods
    return marks + (unmarked_caption(unmarked) if unmarked else "")


def spectrum_caption(result: Result) -> str:
    """What the spectra show and which stages' checkerboard frequencies are marked."""
    low, high = result.spectrum_range
    n = result.n_images
    over = f"mean power over the {n} images" if n > 1 else "power of the image"
    return (
        f"Spectra: log10 of the {over} (mean removed, Hann window) against the "
        "horizontal and vertical frequency, −½ to ½ cycles per pixel, zero frequency in the "
        "centre and left blank. One colour scale for every panel, from "
        f"{low:.1f} (dark) to {high:.1f} (bright), so equal colours mean equal power; the "
        f"weakest {SPECTRUM_LOW_PERCENTILE:g} % of all panels' bins are drawn dark too. "
        f"{marks_caption(result)}"
    )


# ----------------------------------------------------------------------------- findings, flat input


def findings_block(found: tuple[Finding, ...]) -> None:
    """The measured findings, one bullet each (every sentence built by core from the numbers)."""
    if found:
        st.markdown("**Measured here**\n\n" + "\n".join(f"- {f.text}" for f in found))


def flat_stage_choice(stages: tuple[FlatStage, ...], key: str) -> FlatStage:
    """Which stage's flat-input panels to show (the last by default)."""
    choices = [s.stage for s in stages]
    if st.session_state.get(key) not in choices:
        st.session_state[key] = choices[-1]
    if len(choices) == 1:
        return stages[0]
    chosen = st.segmented_control(
        "Stage",
        choices,
        format_func=lambda n: f"stage {n}",
        key=key,
        required=True,
        help="Which upsampling stage's layer gets the all-ones input (stage 1 follows the "
        "4 × 4 stem; the last stage makes the image).",
    )
    return stages[choices.index(chosen)]


def flat_panel(panel: FlatPanel, key: str, height: int) -> None:
    """One variant's answer to the flat input: its window, with its numbers below."""
    st.markdown(f"**{panel.label}**")
    st.plotly_chart(
        charts.flat_figure(panel.values, panel.rows, panel.cols, height=height),
        width="stretch",
        key=key,
        config=PLOTLY_CONFIG,
    )
    st.caption(flat_panel_text(panel))


def strength_explained(result: Result) -> str:
    """What the checkerboard strength measures, against what the energy measures."""
    random = result.geometry.strength_reference.random_weights
    s = result.config.stride
    return (
        "**What the checkerboard strength measures.** These panels, as one number per layer: "
        f"feed the layer an all-ones input, average each output channel's interior over each of "
        f"the {s} × {s} output phases, and take the spread of those phase means over their size "
        "(root mean square), averaged over the channels: 0 for a layer that answers a constant "
        f"with a constant, about {random:.3f} when the phase means scatter around zero, as with "
        "random weights. It is relative, so a tiny pattern counts as much as a large one, and it "
        "probes the layer alone. The checkerboard energy measures the pictures instead, which "
        "also depend on what reaches the layer, the normalisation and activations after it and, "
        "after a fit, the target."
    )


def flat_section(result: Result, key: str) -> None:
    """A constant feature map through each variant's layer of one stage, on one colour range."""
    st.markdown("#### A flat input through each layer")
    st.caption(
        "Each variant's upsampling layer of one stage gets the same all-ones input, with nothing "
        "after it. Shown: one output channel in a window away from the borders (row and column "
        "numbers of the layer's output), every value divided by the same number, so that equal "
        "colours and numbers mean equal responses across the panels."
    )
    stage = flat_stage_choice(result.flat, f"{key}_flat_stage")
    panels = list(stage.panels.values())
    if panels:
        height = 230 if len(panels) > 2 else 300
        for col, panel in zip(st.columns(len(panels)), panels, strict=True):
            with col:
                flat_panel(panel, f"{key}_flat_{panel.name}", height)
        st.plotly_chart(
            colour_bar_figure((-1.0, 1.0), f"response ÷ {stage.scale:.3g}"),
            width="stretch",
            key=f"{key}_flat_scale",
            config=PLOTLY_CONFIG,
        )
    st.markdown(flat_finding(stage).text)
    st.markdown(strength_explained(result))


# ----------------------------------------------------------------------------- at initialisation


def init_caption(config: GeneratorConfig) -> str:
    """Why a ConvTranspose2d prints a grid at initialisation, with core's reference strengths."""
    k, s = config.kernel_size, config.stride
    if s == 1:
        return "With stride 1 there is no upsampling and no checkerboard to see."
    reference = strength_reference(config)
    uneven = (
        f"kernel_size {k} splits unevenly over stride {s}, so the phases also get different "
        "numbers of taps: a second pattern that shows once the weights share a non-zero "
        "mean, as trained weights often do (strength "
        f"{reference.equal_weights:.3f} with equal weights), not at zero-mean "
        "initialisation"
        if reference.uneven_taps
        else f"kernel_size {k} splits evenly over stride {s} (equal weights would give "
        "strength 0): the pattern here comes from the random weights alone"
    )
    return (
        "Random weights, no training. Any ConvTranspose2d with stride > 1 prints a "
        f"period-{s} grid at initialisation: each of the {s} × {s} output phases (pixels "
        f"sharing row and column mod {s}) sums its own kernel taps, so random weights give "
        "every phase a different response whatever the kernel size (strength about "
        f"{reference.random_weights:.3f} = sqrt(1 − 1/{s}²) for zero-mean random "
        f"weights). Here {uneven}. Its spectrum has power at the marked checkerboard "
        "frequencies (Odena et al. 2016). Resize-convolutions and sub-pixel convolution "
        "with ICNR initialisation (Aitken et al. 2017) start clean: every phase sees the "
        "same taps."
    )


def plan_for(config: GeneratorConfig, chosen: dict[str, Any], n_images: int) -> PicturePlan:
    """How a variant's column shows its pictures: whole-number zooms that fit the column."""
    return picture_plan(config.image_size, n_images, column_width(len(chosen["variants"])))


def rendered(
    config: GeneratorConfig, chosen: dict[str, Any], device: str, precision: str
) -> Render | None:
    """The render for these settings: this session's last one if they are unchanged, else a
    new one from the shared model cache (None after showing core's error)."""
    key = run_key(config, chosen, device, precision)
    if st.session_state.get("gen_init_key") != key:
        on = str(pick_device(device))
        models = {
            v: cached_model(tuple(config.to_dict().items()), v, chosen["seed"], on)
            for v in chosen["variants"]
        }
        try:
            with st.spinner("Rendering…"), heavy.turn("render", WAIT_FOR_SLOT_S, clicked=False):
                result = render_at_init(
                    config,
                    chosen["variants"],
                    chosen["n_images"],
                    chosen["seed"],
                    device,
                    precision=precision,
                    models=models,
                    **picture_options(plan_for(config, chosen, chosen["n_images"])),
                )
        except ConfigError as err:
            state.show_error(err)
            return None
        st.session_state["gen_init_result"] = result
        st.session_state["gen_init_key"] = key
    return st.session_state["gen_init_result"]


def picture_options(plan: PicturePlan) -> dict[str, int]:
    """`render_at_init`'s picture arguments from a plan."""
    return {
        "crop_size": plan.crop_size,
        "zoom": plan.crop_zoom,
        "columns": plan.columns,
        "grid_zoom": plan.grid_zoom,
    }


def render_caption(result: Render) -> str:
    """How many pictures, their size, the seed, the device and the time; batch norm's batch."""
    batch = result.batch_statistics
    return (
        f"{result.n_images} images per variant, {text.size(result.geometry.image_size)} px, "
        f"seed {result.seed}, on {result.device_label} in {result.seconds:.2f} s. Random "
        "weights make noise-like pictures, each contrast-stretched (its 0.5–99.5 percentile "
        "range to black–white) so that faint ones show; what tells the variants apart is the "
        "texture in the enlarged crops, the spectra, and the flat-input panels below."
        + (
            f" Batch norm takes its statistics from a fixed batch of {batch} latents, of "
            f"which the first {result.n_images} are shown and measured: an image does not "
            "change when you change how many are shown."
            if batch
            else ""
        )
    )


def init_section(
    config: GeneratorConfig, chosen: dict[str, Any], device: str, precision: str
) -> None:
    """Every variant at initialisation, side by side."""
    st.caption(init_caption(config))
    result = rendered(config, chosen, device, precision)
    if result is None:
        return
    st.caption(render_caption(result))
    findings_block(init_findings(result))
    variant_columns(result, "init", render_pictures)
    flat_section(result, "init")


# ----------------------------------------------------------------------------- fit


@dataclass(frozen=True)
class FitInputs:
    """What the fit widgets ask for: steps, learning rate, the target (None: the default scene)
    and what identifies the target (for the run key)."""

    steps: int
    lr: float
    target: np.ndarray | None
    target_id: Any


def fit_intro() -> str:
    return (
        "Deep-image-prior style: each variant is trained (Adam, MSE) to reproduce the target "
        "from one fixed latent. After the fit, the findings say which variant came closest, "
        "which layers print a checkerboard and whether the pictures show one, from the "
        f"numbers measured on this run. A fit stops after {FIT_TIME_BUDGET_S:g} s "
        f"({cap_note('fit_seconds')}; every variant then has the same number of steps done), "
        "and one fit runs at a time on the server."
    )


def fit_inputs(config: GeneratorConfig) -> FitInputs | None:
    """Draw the steps, learning rate and upload widgets; None after showing why the steps or the
    upload are refused."""
    state.page_param(
        "gen_steps",
        min(DEFAULT_FIT_STEPS, MAX_STEPS),
        state.bounded_int(1, MAX_STEPS, "generator.steps"),
    )
    left, middle, right = st.columns(3)
    steps = int_input(
        left,
        "Steps",
        key="gen_steps",
        minimum=1,
        maximum=MAX_STEPS,
        limit="generator.steps",
        help=f"Up to {MAX_STEPS}: {cap_note('steps')}.",
    )
    if steps is None:  # the box says why
        state.keep_previous("gen_steps")
        return None
    state.remember("gen_steps")
    lr = middle.number_input("Learning rate", 1e-4, 1.0, DEFAULT_LR, format="%.4f", key="gen_lr")
    upload = right.file_uploader(
        "Target image (PNG or JPEG; default: drawn in code)",
        type=["png", "jpg", "jpeg"],
        key="gen_upload",
    )
    if upload is None:
        return FitInputs(int(steps), float(lr), None, "default")
    try:
        target = decoded_once(upload.getvalue(), load_upload, config.image_size)
    except ConfigError as err:
        state.show_error(err)
        return None
    return FitInputs(int(steps), float(lr), target, (upload.name, upload.size, upload.file_id))


LIVE_CAPTION_PX = 40  # room under a live fit picture for its one-line caption


class LiveFit:
    """What a running fit shows: a progress bar, each variant's latest picture, the losses. Every
    picture keeps its final size from the start (a grey placeholder until the first frame), and
    the loss chart its height, so nothing on the page jumps while it runs."""

    def __init__(self, variants: tuple[str, ...], steps: int, image_size: tuple[int, int]) -> None:
        self.steps = steps
        self.zoom = picture_plan(image_size, 1, column_width(len(variants))).image_zoom
        # In a keyed box at least as high as its tallest state (the page's style, at the end):
        # Streamlit draws a new progress bar 40 px high for a moment before its text line, then
        # 35 px, which moved every picture below it by 5 px (seen in a browser during fits).
        self.progress = st.container(key="gen_fit_progress").progress(0.0, text="Starting…")
        # Everything live sits in one placeholder, emptied when the fit ends: the fixed-height
        # frames below would otherwise stay behind as blank space.
        self.board = st.empty()
        self.slots = {}
        with self.board.container():
            for col, name in zip(st.columns(len(variants)), variants, strict=True):
                col.markdown(f"**{VARIANT_LABELS[name]}**")
                # A frame of fixed height around the picture: a new picture loading in the
                # browser (briefly 0 px high) cannot move anything below it.
                height = image_size[0] * self.zoom + LIVE_CAPTION_PX
                frame = col.container(height=height, border=False, key=f"gen_live_{name}")
                self.slots[name] = frame.empty()
                self.show(name, placeholder(image_size, self.zoom), "latest picture")
        self.curve = st.empty()
        self.curve.plotly_chart(
            charts.loss_figure({}, VARIANT_LABELS), width="stretch", config=PLOTLY_CONFIG
        )

    def show(self, name: str, frame: np.ndarray, what: str) -> None:
        """A variant's latest picture at its own width, replacing the one in its slot (the same
        image element, so the browser shows the old picture until the new one has loaded)."""
        self.slots[name].image(
            frame,
            caption=f"{what} · {self.zoom}×",
            width=int(frame.shape[1]),
            output_format="PNG",
        )

    def update(self, fraction: float, images: dict, losses: dict) -> None:
        """The fit's callback: show its progress after a block of steps."""
        done = steps_done_so_far(losses)
        self.progress.progress(
            fraction, text=f"Training… step {done} of {self.steps} ({fraction:.0%})"
        )
        for name, image in images.items():
            self.show(name, enlarge(image, self.zoom), f"step {done}")
        self.curve.plotly_chart(
            charts.loss_figure(losses, VARIANT_LABELS), width="stretch", config=PLOTLY_CONFIG
        )

    def finish(self, result: FitResult) -> None:
        """Say how the fit ended and clear the live pictures and curve."""
        self.progress.progress(
            result.fraction_done,
            text=f"Done in {result.seconds:.1f} s on {result.device_label}: "
            f"{result.steps_done} of {result.steps} steps.",
        )
        self.board.empty()
        self.curve.empty()


def run_fit(
    config: GeneratorConfig, chosen: dict[str, Any], device: str, precision: str, inputs: FitInputs
) -> FitResult | None:
    """Fit every variant, showing its progress live; None after showing core's error."""
    live = LiveFit(chosen["variants"], inputs.steps, config.image_size)
    try:
        with heavy.turn("fit", heavy.FIT_WAIT_S):
            result = fit(
                config,
                chosen["variants"],
                inputs.target,
                inputs.steps,
                inputs.lr,
                chosen["seed"],
                device,
                live.update,
                precision=precision,
                time_budget=FIT_TIME_BUDGET_S,
            )
    except ConfigError as err:
        live.progress.empty()
        state.show_error(err)
        return None
    live.finish(result)
    return result


def fit_panels(result: FitResult) -> None:
    """The target and its spectrum beside every variant's loss curve."""
    left, right = st.columns([1, 3])
    with left:
        zoom = picture_plan(result.config.image_size, 1, column_width(4)).image_zoom
        picture(enlarge(result.target, zoom), f"target, {zoom_text(zoom)}")
        st.plotly_chart(
            spectrum_chart(result.target_spectrum, result, "target spectrum (log)", 260),
            width="stretch",
            key="fit_target_spectrum",
            config=PLOTLY_CONFIG,
        )
    with right:
        st.plotly_chart(
            charts.loss_figure(result.losses, VARIANT_LABELS),
            width="stretch",
            key="fit_losses",
            config=PLOTLY_CONFIG,
        )


def show_fit(result: FitResult) -> None:
    """A finished fit: a time-budget warning if it was cut short, the panels, the variants."""
    if result.stopped_for_time:
        st.warning(
            f"Stopped at the time budget of {result.time_budget:g} s: "
            f"{result.steps_done} of {result.steps} steps done for every variant. For a "
            f"full run use fewer steps, stages or channels ({cap_note('fit_seconds')}).",
            icon=":material/timer:",
        )
    fit_panels(result)
    st.caption(
        f"{result.steps_done} of {result.steps} steps, lr {result.lr:g}, seed "
        f"{result.seed}, on {result.device_label} in {result.seconds:.1f} s. Target "
        f"checkerboard energy {share_text(result.target_checkerboard_energy)}."
    )
    findings_block(fit_findings(result))
    plan = picture_plan(result.config.image_size, 1, column_width(len(result.variants)))
    variant_columns(result, "fit", lambda variant: fit_pictures(variant, plan))
    flat_section(result, "fit")


def fit_section(
    config: GeneratorConfig, chosen: dict[str, Any], device: str, precision: str
) -> None:
    """Fit every variant to a target on request, and show the last fit for these settings."""
    st.caption(fit_intro())
    inputs = fit_inputs(config)
    if inputs is None:
        return
    key = run_key(
        config,
        chosen["variants"],
        chosen["seed"],
        device,
        precision,
        inputs.steps,
        inputs.lr,
        inputs.target_id,
    )
    if st.button("Fit", type="primary", icon=":material/play_arrow:", key="gen_fit"):
        result = run_fit(config, chosen, device, precision, inputs)
        if result is None:
            return
        st.session_state["gen_fit_result"] = result
        st.session_state["gen_fit_key"] = key
    result = st.session_state.get("gen_fit_result")
    if result is None or st.session_state.get("gen_fit_key") != key:
        st.info(
            "Press **Fit** to train every variant on the target"
            + (" (settings changed since the last fit)." if result is not None else ".")
        )
        return
    show_fit(result)


# ----------------------------------------------------------------------------- the page


@st.fragment
def generator_body(cfg: state.LayerConfig) -> None:
    """Everything below the title: a fragment, so its widgets rerun only this part."""
    with st.expander("Generator settings", expanded=True, icon=":material/settings:"):
        config, chosen = settings(cfg)
    device, precision, label = device_row()
    state.page_param("gen_mode", "init", state.one_of(MODES))
    mode = st.segmented_control(
        "Mode", MODES, format_func=MODE_LABELS.get, key="gen_mode", required=True
    )
    state.remember("gen_mode")
    try:
        if config is None or label is None:
            return
        if slot_busy():
            st.caption(heavy.busy_caption(WAIT_FOR_SLOT_S))
        if mode == "fit":
            fit_section(config, chosen, device, precision)
        else:
            init_section(config, chosen, device, precision)
    finally:
        state.sync_url()  # a fragment rerun does not reach app.py's sync


st.title("Live generator")
st.caption(
    "One DCGAN-style generator (latent → 4 × 4 → … → image), built in variants that share "
    "everything but the upsampling layer: ConvTranspose2d, resize-convolution (nearest, "
    "bilinear), sub-pixel convolution with ICNR initialisation, and your chosen replacement."
)
# While a fit runs nothing above or in its live pictures changes height: the pictures are square
# (`GeneratorConfig.image_size`), so one loading in the browser keeps its square box instead of
# being 0 px high for a moment, and the progress bar's box keeps its first height (`LiveFit`).
# Drawn with the page, not with the fit: Streamlit loads its html element lazily, so a style
# first sent with the fit's pictures could arrive after them. (Constant text:
# tests/test_security.py.)
st.html(
    "<style>[class*='st-key-gen_live_'] [data-testid='stImage'] img {aspect-ratio: 1 / 1;}"
    ".st-key-gen_fit_progress {min-height: 40px;}</style>"
)
generator_body(state.config())
st.caption(text.cite("odena", "shi", "aitken"))
