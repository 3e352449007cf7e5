"""Live generator: the same DCGAN-style generator with each upsampling layer, side by side."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from core.errors import ConfigError
from core.generator.config import (
    ACTIVATIONS,
    DEFAULT_FIT_STEPS,
    DEFAULT_LR,
    NORMS,
    PRECISIONS,
    REPLACEMENT_METHODS,
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
from core.generator.images import load_upload
from core.generator.model import build_generator
from core.generator.run import fit, render_at_init, strength_reference
from core.generator.spectra import SPECTRUM_LOW_PERCENTILE
from core.hosted import (
    FIT_TIME_BUDGET_S,
    MAX_BATCH,
    MAX_CHANNELS,
    MAX_RESOLUTION,
    MAX_STAGES,
    MAX_STEPS,
    heavy_run_slot,
    slot_busy,
)
from ui import routing, state, text
from ui.figures import generator as charts
from ui.figures.style import PLOTLY_CONFIG

routing.require_router()

CHANNEL_CHOICES = [c for c in (8, 16, 32, 64, 128, 256) if c <= MAX_CHANNELS]
MODES = ("init", "fit")
MODE_LABELS = {"init": "At initialisation", "fit": "Fit a target image"}
WAIT_FOR_SLOT_S = 10.0  # how long a render waits for another session's heavy run


@st.cache_resource(max_entries=48, show_spinner=False)
def cached_model(config_items: tuple[tuple[str, Any], ...], variant: str, seed: int, device: str):
    """One generator variant on one device (e.g. "cpu", "cuda:0"), built once per configuration
    and device and shared by all sessions: the device is in the key, so no session moves a
    model another one is using."""
    model = build_generator(GeneratorConfig(**dict(config_items)), variant, seed)
    return model.to(device)


@st.cache_resource(show_spinner=False)
def device_names() -> list[str]:
    return ["auto", *available_devices()]


def parse_variants(raw: str) -> list[str]:
    chosen = [v for v in raw.split(",") if v]
    if not chosen or any(v not in VARIANTS for v in chosen):
        raise ValueError(f"use a comma-separated subset of {', '.join(VARIANTS)}")
    return chosen


def settings(cfg: state.LayerConfig) -> tuple[GeneratorConfig | None, dict[str, Any]]:
    """Draw the generator's own settings; return its validated config (or None) and the rest."""
    layer_axis = (cfg.kernel_size[1], cfg.stride[1], cfg.padding[1], cfg.output_padding[1])
    st.markdown(
        f"Every stage upsamples with the sidebar's layer, square: kernel_size "
        f"{layer_axis[0]}, stride {layer_axis[1]}, padding {layer_axis[2]}, output_padding "
        f"{layer_axis[3]} (or a replacement of the same output size), starting from 4 × 4."
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

    params = [
        ("gen_stages", 4, state.bounded_int(1, MAX_STAGES)),
        ("gen_ch", 64, state.bounded_int(CHANNEL_CHOICES[0], CHANNEL_CHOICES[-1])),
        ("gen_norm", "batch", state.one_of(NORMS)),
        ("gen_act", "relu", state.one_of(ACTIVATIONS)),
        ("gen_rk", 3, state.bounded_int(1, 7)),
        ("gen_rep", "resize-nearest", state.one_of(REPLACEMENT_METHODS)),
        ("gen_n", 8, state.bounded_int(1, MAX_BATCH)),
        ("gen_seed", 0, state.bounded_int(0, 2**31 - 1)),
    ]
    for key, default, parse in params:
        state.page_param(key, default, parse)
    state.page_param("gen_variants", list(VARIANTS), parse_variants)

    a, b, c, d = st.columns(4)
    stages = a.number_input(
        "Upsampling stages",
        1,
        MAX_STAGES,
        key="gen_stages",
        help="Each stage applies the upsampling layer once after 4 × 4.",
    )
    channels = b.selectbox(
        "Base channels",
        CHANNEL_CHOICES,
        key="gen_ch",
        help="Channels after the stem; they halve every stage (floor 8).",
    )
    n_images = c.number_input("Images per variant", 1, MAX_BATCH, key="gen_n")
    seed = d.number_input(
        "Seed",
        0,
        2**31 - 1,
        key="gen_seed",
        help="Same seed, same weights and latents: results repeat.",
    )
    a, b, c, d = st.columns(4)
    norm = a.selectbox("Normalisation", NORMS, key="gen_norm")
    activation = b.selectbox("Activation", ACTIVATIONS, key="gen_act")
    resize_kernel = c.number_input(
        "Resize-conv kernel",
        1,
        7,
        key="gen_rk",
        help="Kernel of the Conv2d in the resize-conv and sub-pixel variants.",
    )
    replacement = d.selectbox(
        "“Your replacement” method",
        REPLACEMENT_METHODS,
        key="gen_rep",
        help="The custom variant: this replacement of the very same "
        "seeded ConvTranspose2d (core.replacements.weights.replace_conv_transpose).",
    )
    variants = st.multiselect(
        "Variants", VARIANTS, key="gen_variants", format_func=VARIANT_LABELS.get
    )
    for key, _, _ in params:
        state.remember(key)
    state.remember("gen_variants", ",".join)

    chosen: dict[str, Any] = {
        "variants": tuple(variants),
        "n_images": int(n_images),
        "seed": int(seed),
    }
    try:
        config = GeneratorConfig(
            stages=int(stages),
            base_channels=int(channels),
            kernel_size=layer_axis[0],
            stride=layer_axis[1],
            padding=layer_axis[2],
            output_padding=layer_axis[3],
            norm=norm,
            activation=activation,
            resize_kernel=int(resize_kernel),
            replacement=replacement,
        )
        if not variants:
            raise ConfigError("variants", "pick at least one variant to compare")
    except ConfigError as err:
        state.show_error(err)
        return None, chosen
    st.caption(
        f"Image size {text.size(config.image_size)} px · sizes per stage "
        f"{' → '.join(map(str, config.sizes))} · channels {' → '.join(map(str, config.channels))}"
        f" · caps for the hosted demo: {MAX_STAGES} stages, {MAX_CHANNELS} channels, "
        f"{MAX_BATCH} images, {MAX_STEPS} fit steps, {MAX_RESOLUTION} px images."
    )
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


STRENGTH_HELP = (
    "Largest over the upsampling stages of this number for the stage's layer: feed it a "
    "constant (all-ones) input, average each output channel's interior response over each of "
    "the stride × stride output phases (the pixels sharing row mod stride and column mod "
    "stride), then take sqrt(mean over channels of the variance across phases ÷ mean square of "
    "the phase averages). 0: the layer answers a constant with a constant; about "
    "sqrt(1 − 1/stride²) (0.866 for stride 2): the phase averages scatter around zero, as with "
    "random weights. It measures the layer, not the images."
)


def energy_help(result: dict[str, Any]) -> str:
    baseline = result["checkerboard_energy_baseline"]
    stride = result["config"]["stride"]
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


def times(ratio: float) -> str:
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}"


def energy_text(energy: float) -> str:
    return f"{energy:.2%}" if energy >= 0.001 else f"{energy:.3%}"


def variant_columns(result: dict[str, Any], key: str) -> None:
    """Checkerboard numbers, images, zoomed crop and spectrum per variant, side by side."""
    names = list(result["variants"])
    columns = st.columns(len(names))
    zrange = result["spectrum_range"]
    stages, stride = result["config"]["stages"], result["config"]["stride"]
    for col, name in zip(columns, names, strict=True):
        v = result["variants"][name]
        with col:
            st.markdown(f"**{v['label']}**")
            strength = v["checkerboard_strength"]
            st.metric(
                "Checkerboard strength",
                "n/a" if strength is None else f"{strength:.3f}",
                help=STRENGTH_HELP
                + ("" if strength is not None else " n/a: this layer could not be probed."),
            )
            ratio = v.get("checkerboard_energy_vs_noise")
            st.metric(
                "Checkerboard energy",
                energy_text(v["checkerboard_energy"]) if stride > 1 else "n/a",
                delta=None if ratio is None else f"{times(ratio)} × white noise",
                delta_color="off",
                delta_arrow="off",
                help=energy_help(result),
            )
            image = v.get("grid", v.get("final_image"))
            st.image(
                image,
                caption="images (contrast-stretched)"
                if "grid" in v
                else f"final image · PSNR {v['psnr']:.1f} dB",
            )
            if "crop" in v:
                st.image(v["crop"], caption="centre crop of image 1, enlarged")
            st.plotly_chart(
                charts.spectrum_figure(
                    v["spectrum"],
                    result["frequency_y"],
                    result["frequency_x"],
                    result["marks"],
                    title="power spectrum",
                    height=220,
                    zrange=zrange,
                    stages=stages,
                    axis_titles=False,
                ),
                width="stretch",
                key=f"{key}_spectrum_{name}",
                config=PLOTLY_CONFIG,
            )
    st.plotly_chart(
        charts.colour_scale_figure(zrange),
        width="stretch",
        key=f"{key}_spectrum_scale",
        config={**PLOTLY_CONFIG, "displayModeBar": False},
    )
    st.caption(spectrum_caption(result))


def spectrum_caption(result: dict[str, Any]) -> str:
    """What the spectra show and which stages' checkerboard frequencies are marked."""
    low, high = result["spectrum_range"]
    n = result.get("n_images", 1)
    over = f"mean power over the {n} images" if n > 1 else "power of the image"
    shapes = ("circles", "diamonds", "small squares")
    marked = [e for e in result["stage_periods"] if e["marked"]]
    unmarked = [e for e in result["stage_periods"] if not e["marked"]]
    if result["config"]["stride"] == 1:
        marks = "Stride 1: there are no checkerboard frequencies to mark."
    else:
        parts = [
            f"{shapes[min(e['order'], 3) - 1]} stage {e['stage']} (period {e['period']} px)"
            for e in marked
        ]
        marks = (
            "Red marks: the checkerboard frequencies (multiples of 1/period cycles per pixel) "
            "where each stage's period-stride pattern lands in the image: " + "; ".join(parts) + "."
        )
        if unmarked:
            side = min(result["image_size"])
            marks += (
                " Not marked: stage"
                + ("s " if len(unmarked) > 1 else " ")
                + ", ".join(f"{e['stage']} (period {e['period']} px)" for e in unmarked)
                + (
                    ": marks that close together would cover the panel; in a ConvTranspose2d "
                    "spectrum these show as a finer grid of bright dots."
                    if any(e["period"] <= side for e in unmarked)
                    else ": the period is longer than the image."
                )
            )
    return (
        f"Spectra: log10 of the {over} (mean removed, Hann window) against the "
        "horizontal and vertical frequency, −½ to ½ cycles per pixel, zero frequency in the "
        "centre and left blank. One colour scale for every panel, from "
        f"{low:.1f} (dark) to {high:.1f} (bright), so equal colours mean equal power; the "
        f"weakest {SPECTRUM_LOW_PERCENTILE:g} % of all panels' bins are drawn dark too. "
        f"{marks}"
    )


def run_key(*parts: Any) -> str:
    """A short fingerprint of what a run depends on (to reuse its result)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def init_section(
    config: GeneratorConfig, chosen: dict[str, Any], device: str, precision: str
) -> None:
    reference = strength_reference(config)
    k, s = config.kernel_size, config.stride
    if s == 1:
        why = "With stride 1 there is no upsampling and no checkerboard to see."
    else:
        uneven = (
            f"kernel_size {k} splits unevenly over stride {s}, so the phases also get different "
            "numbers of taps: a second pattern that shows once the weights share a non-zero "
            "mean, as trained weights often do (strength "
            f"{reference['equal_weights']:.3f} with equal weights), not at zero-mean "
            "initialisation"
            if reference["equal_weights"] > 0
            else f"kernel_size {k} splits evenly over stride {s} (equal weights would give "
            "strength 0): the pattern here comes from the random weights alone"
        )
        why = (
            "Random weights, no training. Any ConvTranspose2d with stride > 1 prints a "
            f"period-{s} grid at initialisation: each of the {s} × {s} output phases (pixels "
            f"sharing row and column mod {s}) sums its own kernel taps, so random weights give "
            "every phase a different response whatever the kernel size (strength about "
            f"{reference['random_weights']:.3f} = sqrt(1 − 1/{s}²) for zero-mean random "
            f"weights). Here {uneven}. Its spectrum has power at the marked checkerboard "
            "frequencies (Odena et al. 2016). Resize-convolutions and sub-pixel convolution "
            "with ICNR initialisation (Aitken et al. 2017) start clean: every phase sees the "
            "same taps."
        )
    st.caption(why)
    key = run_key(config, chosen, device, precision)
    if st.session_state.get("gen_init_key") != key:
        on = str(pick_device(device))
        models = {
            v: cached_model(tuple(config.to_dict().items()), v, chosen["seed"], on)
            for v in chosen["variants"]
        }
        try:
            with st.spinner("Rendering…"), heavy_run_slot(timeout=WAIT_FOR_SLOT_S):
                result = render_at_init(
                    config,
                    chosen["variants"],
                    chosen["n_images"],
                    chosen["seed"],
                    device,
                    precision=precision,
                    models=models,
                )
        except ConfigError as err:
            state.show_error(err)
            return
        st.session_state["gen_init_result"] = result
        st.session_state["gen_init_key"] = key
    result = st.session_state["gen_init_result"]
    batch = result.get("batch_statistics")
    st.caption(
        f"{result['n_images']} images per variant, {text.size(result['image_size'])} px, "
        f"seed {result['seed']}, on {result['device_label']} in "
        f"{result['seconds']:.2f} s."
        + (
            f" Batch norm takes its statistics from a fixed batch of {batch} latents, of "
            f"which the first {result['n_images']} are shown and measured: an image does not "
            "change when you change how many are shown."
            if batch
            else ""
        )
    )
    variant_columns(result, "init")


def fit_section(
    config: GeneratorConfig, chosen: dict[str, Any], device: str, precision: str
) -> None:
    st.caption(
        "Deep-image-prior style: each variant is trained (Adam, MSE) to reproduce the target "
        "from one fixed latent. Watch the ConvTranspose2d variant fight its own grid while the "
        "resize-convolutions converge to smooth images. On this hosted demo a fit stops after "
        f"{FIT_TIME_BUDGET_S:g} s (every variant then has the same number of steps done), and "
        "one fit runs at a time on the server."
    )
    state.page_param(
        "gen_steps", min(DEFAULT_FIT_STEPS, MAX_STEPS), state.bounded_int(1, MAX_STEPS)
    )
    left, middle, right = st.columns(3)
    steps = left.number_input(
        "Steps", 1, MAX_STEPS, key="gen_steps", help=f"Capped at {MAX_STEPS} for the hosted demo."
    )
    state.remember("gen_steps")
    lr = middle.number_input("Learning rate", 1e-4, 1.0, DEFAULT_LR, format="%.4f", key="gen_lr")
    upload = right.file_uploader(
        "Target image (PNG or JPEG; default: drawn in code)",
        type=["png", "jpg", "jpeg"],
        key="gen_upload",
    )
    target = None
    target_id: Any = "default"
    if upload is not None:
        try:
            target = load_upload(upload.getvalue(), config.image_size)
        except ConfigError as err:
            state.show_error(err)
            return
        target_id = (upload.name, upload.size, upload.file_id)
    key = run_key(
        config,
        chosen["variants"],
        chosen["seed"],
        device,
        precision,
        int(steps),
        float(lr),
        target_id,
    )
    clicked = st.button("Fit", type="primary", icon=":material/play_arrow:", key="gen_fit")
    if clicked:
        progress = st.progress(0.0, text="Starting…")
        frames = st.columns(len(chosen["variants"]))
        slots = [col.empty() for col in frames]
        labels = VARIANT_LABELS
        curve = st.empty()

        def on_block(fraction: float, images: dict, losses: dict) -> None:
            done = len(next(iter(losses.values()), []))
            progress.progress(
                fraction, text=f"Training… step {done} of {int(steps)} ({fraction:.0%})"
            )
            for slot, (name, image) in zip(slots, images.items(), strict=False):
                slot.image(image, caption=labels[name])
            curve.plotly_chart(
                charts.loss_figure(losses, labels), width="stretch", config=PLOTLY_CONFIG
            )

        try:
            with heavy_run_slot(timeout=0):
                result = fit(
                    config,
                    chosen["variants"],
                    target,
                    int(steps),
                    float(lr),
                    chosen["seed"],
                    device,
                    on_block,
                    precision=precision,
                    time_budget=FIT_TIME_BUDGET_S,
                )
        except ConfigError as err:
            progress.empty()
            state.show_error(err)
            return
        progress.progress(
            result["steps_done"] / result["steps"],
            text=f"Done in {result['seconds']:.1f} s on {result['device_label']}: "
            f"{result['steps_done']} of {result['steps']} steps.",
        )
        for slot in slots:
            slot.empty()
        curve.empty()
        st.session_state["gen_fit_result"] = result
        st.session_state["gen_fit_key"] = key
    result = st.session_state.get("gen_fit_result")
    if result is None or st.session_state.get("gen_fit_key") != key:
        st.info(
            "Press **Fit** to train every variant on the target"
            + (" (settings changed since the last fit)." if result is not None else ".")
        )
        return
    if result["stopped_for_time"]:
        st.warning(
            f"Stopped at the hosted demo's time budget of {result['time_budget']:g} s: "
            f"{result['steps_done']} of {result['steps']} steps done for every variant. For a "
            "full run use fewer steps, stages or channels (or run the app locally).",
            icon=":material/timer:",
        )
    left, right = st.columns([1, 3])
    with left:
        st.image(result["target"], caption="target")
        st.plotly_chart(
            charts.spectrum_figure(
                result["target_spectrum"],
                result["frequency_y"],
                result["frequency_x"],
                result["marks"],
                title="target spectrum (log)",
                height=260,
                zrange=result["spectrum_range"],
                stages=result["config"]["stages"],
            ),
            width="stretch",
            key="fit_target_spectrum",
            config=PLOTLY_CONFIG,
        )
    with right:
        losses = {name: v["losses"] for name, v in result["variants"].items()}
        st.plotly_chart(
            charts.loss_figure(losses, VARIANT_LABELS),
            width="stretch",
            key="fit_losses",
            config=PLOTLY_CONFIG,
        )
    st.caption(
        f"{result['steps_done']} of {result['steps']} steps, lr {result['lr']:g}, seed "
        f"{result['seed']}, on {result['device_label']} in {result['seconds']:.1f} s. Target "
        f"checkerboard energy {energy_text(result['target_checkerboard_energy'])}."
    )
    variant_columns(result, "fit")


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
            st.caption(
                "Another generator run is in progress on this server. A render waits up to "
                f"{WAIT_FOR_SLOT_S:g} s for it; **Fit** is refused while it runs (a fit ends "
                f"within about {FIT_TIME_BUDGET_S:g} s): press it again then."
            )
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
generator_body(state.config())
st.caption(text.cite("odena", "shi", "aitken"))
