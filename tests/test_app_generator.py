"""AppTest: the live generator page renders core's generator variants, fits, and stays bounded."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from app_support import (
    another_session_holds_the_slot,
    assert_clean,
    errors,
    open_page,
    plotly_array,
    run_under_limits,
    titles,
)
from PIL import Image
from tests_paths import ROOT

from core import hosted
from core.generator import measures
from core.generator.config import VARIANT_LABELS, VARIANTS, GeneratorConfig
from core.generator.devices import device_label, pick_device
from core.generator.findings import error_text
from core.generator.readouts import share_text
from core.generator.run import fit, render_at_init
from ui import heavy

# A small, fast generator (2 stages, 8 channels, 2 images) for a 2-core CI machine.
SMALL = {"gen_stages": "2", "gen_ch": "8", "gen_n": "2"}


def small_config(at) -> GeneratorConfig:
    q = at.query_params
    return GeneratorConfig(
        stages=int(q["gen_stages"]),
        base_channels=int(q["gen_ch"]),
        kernel_size=int(q["k"]),
        stride=int(q["s"]),
        padding=int(q["p"]),
        output_padding=int(q["op"]),
        norm=q["gen_norm"],
        activation=q["gen_act"],
        resize_kernel=int(q["gen_rk"]),
        replacement=q["gen_rep"],
    )


def strengths(at) -> list[str]:
    return [m.value for m in at.metric if m.label == "Checkerboard strength"]


def metrics(at, label: str) -> list:
    return [m for m in at.metric if m.label == label]


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_render_at_init_shows_cores_numbers_for_every_variant():
    at = open_page("generator", SMALL)
    assert_clean(at)
    assert titles(at) == ["Live generator"]
    config = small_config(at)
    expected = render_at_init(config, VARIANTS, 2, 0, "cpu")
    assert strengths(at) == [f"{v.checkerboard.strength:.3f}" for v in expected.variants.values()]
    images = list(at.image)
    assert len(images) == 2 * len(VARIANTS)  # image grid + zoomed crop per variant
    device = [i.value for i in at.info if "Running on" in i.value]
    machine = device_label(pick_device("auto")).split(",")[0].split(" (")[0]
    assert len(device) == 1 and device[0].startswith(f"Running on **{machine}")
    # The checkerboard shows: the ConvTranspose2d variant's strength tops the resize-convs'.
    values = {n: v.checkerboard.strength for n, v in expected.variants.items()}
    assert values["convtranspose"] > max(values["resize-nearest"], values["resize-bilinear"])


def test_both_checkerboard_numbers_are_shown_and_explained():
    at = open_page("generator", SMALL)
    assert_clean(at)
    expected = render_at_init(small_config(at), VARIANTS, 2, 0, "cpu")
    energy = metrics(at, "Checkerboard energy")
    assert len(energy) == len(VARIANTS)
    for metric, v in zip(energy, expected.variants.values(), strict=True):
        share = v.checkerboard.energy
        assert metric.value == (f"{share:.2%}" if share >= 0.001 else f"{share:.3%}")
        assert metric.proto.delta.endswith("× white noise")
        assert "white noise of this size gives" in metric.proto.help
    # The help says what is computed, not "share of the output's variance".
    help_text = metrics(at, "Checkerboard strength")[0].proto.help
    assert "constant (all-ones) input" in help_text and "variance across phases" in help_text
    assert "Share of the output's variance" not in help_text
    # The caption gives both causes, with core's numbers for this geometry (k3 s2 by default).
    text = captions(at)
    reference = expected.geometry.strength_reference
    assert "whatever the kernel size" in text
    assert f"{reference.random_weights:.3f}" in text
    assert f"{reference.equal_weights:.3f}" in text and "equal weights" in text
    assert "where kernel_size is not divisible by stride" not in text
    # Which stages' checkerboard frequencies are marked is said, and the scale is shared.
    low, high = expected.spectrum_range
    assert f"from {low:.1f} (dark) to {high:.1f} (bright)" in text
    assert "circles stage 2 (period 2 px)" in text and "diamonds stage 1 (period 4 px)" in text
    spectra = [
        json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if el.key.startswith("init_spectrum_")
    ]
    assert len(spectra) == len(VARIANTS) + 1  # one per variant + the shared colour bar
    for figure in spectra:
        assert figure["data"][0]["zmin"] == pytest.approx(low)
        assert figure["data"][0]["zmax"] == pytest.approx(high)


def test_an_unmeasurable_strength_shows_as_n_a(monkeypatch):
    monkeypatch.setattr(measures, "layer_strength", lambda module, stride: None)
    at = open_page("generator", {**SMALL, "gen_variants": "convtranspose"})
    assert_clean(at)
    assert strengths(at) == ["n/a"]


def test_an_even_kernel_is_not_blamed_on_the_kernel_size():
    at = open_page("generator", {**SMALL, "k": "4", "p": "1", "op": "0"})
    assert_clean(at)
    text = captions(at)
    assert "kernel_size 4 splits evenly over stride 2" in text
    assert "from the random weights alone" in text


def test_changing_settings_rerenders_and_updates_the_url():
    at = open_page("generator", SMALL)
    at.multiselect(key="gen_variants").set_value(["convtranspose", "subpixel-icnr"])
    at.number_input(key="gen_seed").set_value(3)
    at.run()
    assert_clean(at)
    assert at.query_params["gen_variants"] == "convtranspose,subpixel-icnr"
    assert at.query_params["gen_seed"] == "3"
    expected = render_at_init(small_config(at), ["convtranspose", "subpixel-icnr"], 2, 3, "cpu")
    assert strengths(at) == [f"{v.checkerboard.strength:.3f}" for v in expected.variants.values()]


def test_fit_mode_trains_and_reports():
    at = open_page(
        "generator",
        {
            **SMALL,
            "gen_mode": "fit",
            "gen_steps": "4",
            "gen_variants": "convtranspose,resize-nearest",
        },
    )
    assert_clean(at)
    assert any("Press **Fit**" in i.value for i in at.info)
    at.button(key="gen_fit").click().run()
    assert_clean(at)
    assert not errors(at)
    expected = fit(small_config(at), ["convtranspose", "resize-nearest"], None, 4, 0.01, 0, "cpu")
    captions = list(at.image)
    assert len(captions) == 1 + 2 * 2  # target + per variant its final image and a zoomed crop
    assert strengths(at) == [f"{v.checkerboard.strength:.3f}" for v in expected.variants.values()]
    progress = at.get("progress")
    assert progress and progress[-1].value == 100
    assert not at.warning  # finished within the time budget


def test_fit_stops_at_the_time_budget_and_says_so(monkeypatch):
    monkeypatch.setattr(hosted, "FIT_TIME_BUDGET_S", 0.001)
    at = open_page(
        "generator",
        {**SMALL, "gen_mode": "fit", "gen_steps": "200", "gen_variants": "convtranspose"},
    )
    at.button(key="gen_fit").click().run()
    assert_clean(at)
    assert not errors(at)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    assert "time budget of 0.001 s" in warnings[0] and "1 of 200 steps done" in warnings[0]
    assert "1 of 200 steps" in captions(at)


def test_busy_server_text_matches_what_fit_does():
    """While another session holds the heavy-run slot, the page says a Fit waits its turn in the
    queue (it does), not that it is refused."""
    with another_session_holds_the_slot():
        at = open_page("generator", {**SMALL, "gen_mode": "fit"})
    assert_clean(at)
    text = captions(at)
    assert "Runs take turns in arrival order, one per session" in text
    assert f"**Fit** up to {heavy.FIT_WAIT_S:g} s" in text
    assert "refused" not in text
    # A render waits long enough to outlast a fit holding the slot for its whole budget.
    assert f"a render waits up to {hosted.ONE_RUN_WAIT_S:g} s" in text
    assert hosted.ONE_RUN_WAIT_S > hosted.FIT_TIME_BUDGET_S


def test_a_fit_waits_its_turn_showing_its_place_in_the_queue(monkeypatch):
    shown = []

    def waiting_text(what: str, ahead: int, waited: float) -> str:
        shown.append((what, ahead))
        return f"waiting: {what}, {ahead} ahead"

    monkeypatch.setattr(heavy, "waiting_text", waiting_text)
    at = open_page("generator", {**SMALL, "gen_mode": "fit", "gen_steps": "2"})
    with another_session_holds_the_slot(release_after=1.0):
        at.button(key="gen_fit").click().run(timeout=60)
    assert_clean(at)
    assert not errors(at)
    assert ("fit", 1) in shown  # the page said: one run ahead of yours
    assert not [i for i in at.info if i.value.startswith("waiting")]  # cleared once it ran
    assert "2 of 2 steps" in captions(at)


def test_one_heavy_run_at_a_time(monkeypatch):
    monkeypatch.setattr(heavy, "FIT_WAIT_S", 0.5)
    at = open_page("generator", {**SMALL, "gen_mode": "fit", "gen_steps": "2"})
    with another_session_holds_the_slot():
        at.button(key="gen_fit").click().run()
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**run**") and "busy" in messages[0]
    assert "1 run ahead of yours" in messages[0] and "try again" in messages[0]


def test_a_sessions_runs_never_stack(monkeypatch):
    """A click while this session's previous run still runs is refused, not a second run."""
    monkeypatch.setattr(heavy, "session_owner", lambda: "this session")
    at = open_page("generator", {**SMALL, "gen_mode": "fit", "gen_steps": "2"})
    with another_session_holds_the_slot(owner="this session"):
        at.button(key="gen_fit").click().run()
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**run**")
    assert "still running" in messages[0] and "one run per session" in messages[0]
    assert hosted.HEAVY_QUEUE.waiting() == 0


def test_a_render_lines_up_behind_this_sessions_previous_run(monkeypatch):
    """A render the page starts by itself (settings changed) waits for this session's previous
    run to end instead of being refused: the rerun ended that run's script."""
    monkeypatch.setattr(heavy, "session_owner", lambda: "this session")
    with another_session_holds_the_slot(owner="this session", release_after=1.0):
        at = open_page("generator", SMALL)
    assert_clean(at)
    assert not errors(at)
    assert strengths(at)  # rendered once the previous run ended


def test_an_upload_is_decoded_once_per_file(monkeypatch):
    from core.generator import images

    decoded = []
    load_upload = images.load_upload

    def counting_load_upload(data: bytes, size):
        decoded.append(len(data))
        return load_upload(data, size)

    monkeypatch.setattr(images, "load_upload", counting_load_upload)
    buffer = io.BytesIO()
    Image.fromarray(np.full((21, 31, 3), 123, np.uint8)).save(buffer, format="PNG")
    at = open_page("generator", {**SMALL, "gen_mode": "fit"})
    at.file_uploader(key="gen_upload").set_value(("grey.png", buffer.getvalue(), "image/png"))
    at.run()
    at.number_input(key="gen_steps").set_value(3).run()  # a rerun with the file attached
    at.file_uploader(key="gen_upload").set_value(("same.png", buffer.getvalue(), "image/png"))
    at.run()  # the same content under another name
    assert_clean(at)
    assert not errors(at)
    assert decoded == [len(buffer.getvalue())]


def test_upload_is_checked():
    at = open_page("generator", {**SMALL, "gen_mode": "fit"})
    at.file_uploader(key="gen_upload").upload("notes.png", b"not an image", "image/png").run()
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**upload**")

    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(buffer, format="PNG")
    at.file_uploader(key="gen_upload").set_value(("grey.png", buffer.getvalue(), "image/png"))
    at.run()
    assert_clean(at)
    assert not errors(at)


def test_invalid_settings_give_errors_naming_the_parameter():
    at = open_page("generator", {**SMALL, "p": "4"})  # k3 s2 p4 shrinks 4 x 4 to 2 x 2
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**padding**")
    at = open_page("generator", {"gen_stages": "6", "s": "4", "k": "8", "p": "2", "op": "0"})
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**stages**")
    at = open_page("generator", {**SMALL, "op": "3"})  # op 3 >= stride 2: repaired to 1
    assert_clean(at)
    assert not errors(at)
    assert any("`op=3` from the link does not fit this layer" in w.value for w in at.warning)
    at = open_page("generator", {**SMALL, "k": "16", "p": "1", "op": "0"})  # beyond its cap
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and "live generator allows up to" in messages[0]


def test_sidebar_settings_the_generator_does_not_use_are_named():
    at = open_page("generator", {**SMALL, "g": "2", "d": "2"})
    assert_clean(at)
    assert any("dilation and groups are ignored" in w.value for w in at.warning)


def test_url_round_trip():
    query = {
        **SMALL,
        "gen_norm": "instance",
        "gen_act": "silu",
        "gen_rk": "5",
        "gen_variants": "resize-bilinear,custom",
        "gen_rep": "subpixel",
        "gen_seed": "7",
    }
    at = open_page("generator", query)
    assert_clean(at)
    for key, value in query.items():
        assert at.query_params[key] == value
    assert at.selectbox(key="gen_norm").value == "instance"
    again = open_page("generator", at.query_params)
    assert again.query_params == at.query_params
    assert strengths(again) == strengths(at)


# ----------------------------------------------------------------------------- pictures, findings


@pytest.fixture
def media(monkeypatch) -> dict[str, bytes]:
    """The bytes of every media file the page sends, by file id (the name in the image's URL)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    sent: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        sent[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return sent


def shown_pictures(at, media: dict[str, bytes]) -> list[tuple[np.ndarray, str]]:
    """Every picture on the page as the browser gets it: (RGB pixels, caption), checked to be PNG
    (lossless: no JPEG blur over the pixels)."""
    found = []
    for element in at.image:
        for img in element.proto.imgs:
            data = media[img.url.rsplit("/", 1)[1].split(".")[0]]
            assert data[:8] == b"\x89PNG\r\n\x1a\n", img.caption
            found.append((np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), img.caption))
    return found


@pytest.mark.parametrize("n", [3, 6, 8])
def test_picture_grids_have_no_blank_tile_and_pixels_are_whole_squares(media, n):
    at = open_page("generator", {**SMALL, "gen_n": str(n)})
    assert_clean(at)
    result = at.session_state["gen_init_result"]
    pictures = shown_pictures(at, media)
    assert len(pictures) == 2 * len(VARIANTS)  # per variant: its grid and a zoomed crop
    h, w = result.geometry.image_size
    for (grid, caption), (crop, crop_caption), variant in zip(
        pictures[::2], pictures[1::2], result.variants.values(), strict=True
    ):
        columns, zoom = variant.grid_columns, variant.grid_zoom
        assert n % columns == 0, caption  # every row full: no blank tile
        rows = n // columns
        assert f"{n} images, {columns} per row" in caption
        assert grid.shape == (
            zoom * (rows * h + (rows - 1) * 2),
            zoom * (columns * w + (columns - 1) * 2),
            3,
        )
        # Each tile is image i, every pixel a zoom x zoom square (nearest neighbour).
        for i in range(n):
            r, c = divmod(i, columns)
            tile = grid[
                zoom * r * (h + 2) : zoom * (r * (h + 2) + h),
                zoom * c * (w + 2) : zoom * (c * (w + 2) + w),
            ]
            assert np.array_equal(tile[::zoom, ::zoom], variant.images[i])
            assert np.array_equal(
                tile, np.kron(variant.images[i], np.ones((zoom, zoom, 1), np.uint8))
            )
        top, left, ch, cw = variant.crop_box
        z = variant.crop_zoom
        assert z >= 8 and crop.shape == (ch * z, cw * z, 3)
        assert f"shown {z}×" in crop_caption
        assert np.array_equal(crop[::z, ::z], variant.images[0][top : top + ch, left : left + cw])


def leaders(values: dict[str, float], fmt: str) -> str:
    """The labels whose value, as shown with `fmt`, equals the largest, in the page's words
    ("a", "a and b", "a, b and c"), in descending order of value."""
    order = sorted(values, key=lambda k: -values[k])
    top = [k for k in order if format(values[k], fmt) == format(values[order[0]], fmt)]
    return top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]


def measured(at) -> list[str]:
    """The findings the page lists under "Measured here", one per bullet."""
    blocks = [m.value for m in at.markdown if m.value.startswith("**Measured here**")]
    assert len(blocks) == 1
    return [line[2:] for line in blocks[0].splitlines() if line.startswith("- ")]


def test_init_findings_state_the_measured_numbers():
    at = open_page("generator", SMALL)
    assert_clean(at)
    result = at.session_state["gen_init_result"]
    expected = render_at_init(small_config(at), VARIANTS, 2, 0, "cpu")
    for name, variant in expected.variants.items():  # the page's result is core's
        assert variant.checkerboard.strength == result.variants[name].checkerboard.strength
    pictures, layers, replacement = measured(at)
    # Highest first, in the order of the measured energies, each with its number.
    energies = sorted(result.variants.values(), key=lambda v: -v.checkerboard.energy)
    where = [pictures.index(f"{v.label} {share_text(v.checkerboard.energy)}") for v in energies]
    assert where == sorted(where)
    above = [v.label for v in energies if v.checkerboard.energy_vs_noise > 2]
    verdict = pictures.rsplit(". ", 1)[-1]
    assert all(label in verdict for label in above) and (not above) == ("None" in verdict)
    strengths = {v.label: v.checkerboard.strength for v in result.variants.values()}
    assert (
        f"Strongest checkerboard strength at initialisation: {leaders(strengths, '.3f')}, "
        f"{max(strengths.values()):.3f}" in layers
    )
    # "Your replacement" is explained from its build: the kernel it has, the fit's error.
    c = result.replacement
    assert f"Why Your replacement ({c.method}) differs from Resize-conv (nearest)" in replacement
    assert f"relative error {error_text(c.error)}" in replacement
    kernel_differs = c.kernel_size != (c.resize_kernel, c.resize_kernel)
    assert ("its kernel is" in replacement) == kernel_differs
    a, b = c.correlations["convtranspose"], c.correlations["resize-nearest"]
    assert f"correlate {a:.3f} with ConvTranspose2d's and {b:.3f}" in replacement
    assert f"closer to {'ConvTranspose2d' if a > b else 'Resize-conv (nearest)'}'s" in replacement


def test_flat_input_panels_show_cores_numbers_on_one_scale():
    at = open_page("generator", SMALL)
    assert_clean(at)
    result = at.session_state["gen_init_result"]
    stage = result.flat[-1]  # the last stage by default
    assert at.segmented_control(key="init_flat_stage").value == stage.stage
    panels = {
        el.key.removeprefix("init_flat_"): json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if el.key.startswith("init_flat_") and el.key != "init_flat_scale"
    }
    assert list(panels) == list(stage.panels)
    for name, figure in panels.items():
        trace = figure["data"][0]
        assert np.allclose(plotly_array(trace["z"]), stage.panels[name].values)
        assert (trace["zmin"], trace["zmax"]) == (-1.0, 1.0)  # one range for every panel
        assert trace["texttemplate"] == "%{z:.2f}"  # the numbers on it
    sentence = next(m.value for m in at.markdown if m.value.startswith(f"Stage {stage.stage},"))
    assert "ConvTranspose2d (phase means" in sentence and "paints a period-2 grid" in sentence
    assert stage.gridded == ("convtranspose",)
    for name in stage.flat:
        assert f"{VARIANT_LABELS[name]} ({stage.panels[name].high:.2f})" in sentence
    at.segmented_control(key="init_flat_stage").set_value(1).run()
    assert_clean(at)
    assert any(m.value.startswith("Stage 1,") for m in at.markdown)
    assert any("What the checkerboard strength measures" in m.value for m in at.markdown)


def test_fit_findings_state_the_measured_numbers():
    at = open_page("generator", {**SMALL, "gen_mode": "fit", "gen_steps": "12", "gen_ch": "16"})
    intro = captions(at)
    assert "fight its own grid" not in intro  # nothing claimed before it is measured
    at.button(key="gen_fit").click().run()
    assert_clean(at)
    result = at.session_state["gen_fit_result"]
    lines = {line.split("**")[1].split(" ")[0]: line for line in measured(at)}
    psnr = {v.label: v.psnr for v in result.variants.values()}
    best = f"{leaders(psnr, '.1f')}, {max(psnr.values()):.1f} dB PSNR"
    assert f"Closest to the target: {best}" in lines["Fit."]
    strengths = {v.label: v.checkerboard.strength for v in result.variants.values()}
    assert (
        f"Strongest checkerboard strength after the fit: {leaders(strengths, '.3f')}, "
        f"{max(strengths.values()):.3f}" in lines["Layers."]
    )
    target = result.target_checkerboard_energy
    verdict = lines["Pictures."].rsplit(". ", 1)[-1]
    above = [v.label for v in result.variants.values() if v.checkerboard.energy > 2 * target]
    assert all(label in verdict for label in above) and (not above) == ("None" in verdict)
    icnr = result.variants["subpixel-icnr"].checkerboard
    why = [line for line in measured(at) if line.startswith("**Why Sub-pixel")]
    if icnr.strength >= 0.01:
        (text,) = why
        others = [
            v.checkerboard.strength for n, v in result.variants.items() if n != "subpixel-icnr"
        ]
        assert f"strength {icnr.strength:.3f}" in text
        assert ("the highest of all" in text) == (icnr.strength > max(others))
        assert ("the grid shows in its picture" in text) == (icnr.energy > 2 * target)
    else:
        assert not why


# ------------------------------------------------------------------------- the generator's limits

GENERATOR_LIMIT_LINKS = {  # link key -> core.hosted.GENERATOR_LIMITS key
    "gen_steps": "steps",
    "gen_stages": "stages",
    "gen_n": "batch",
}


def test_link_values_above_the_generator_limits_name_the_limit_and_how_to_raise_it():
    above = {
        key: str(hosted.GENERATOR_LIMITS[name].value(hosted.MODE) + 1)
        for key, name in GENERATOR_LIMIT_LINKS.items()
    }
    at = open_page("generator", {**above, "gen_mode": "fit", "gen_ch": "8"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning).replace("\\", "")
    for key, name in GENERATOR_LIMIT_LINKS.items():
        sentence = f"ignored `{key}={above[key]}` from the link: it is above the limit: "
        assert sentence + hosted.cap_note(name) in notices, notices
    assert "DECONV_LAB_LIMITS=local streamlit run app.py" in notices
    assert not errors(at)


@pytest.mark.parametrize(
    ("key", "name"), [("gen_stages", "stages"), ("gen_n", "batch"), ("gen_steps", "steps")]
)
def test_a_typed_value_above_a_generator_limit_is_refused_naming_the_limit(key, name):
    at = open_page("generator", {**SMALL, "gen_mode": "fit"})
    before = at.query_params[key]
    too_many = hosted.GENERATOR_LIMITS[name].value(hosted.MODE) + 1
    at.number_input(key=key).set_value(too_many).run()
    assert_clean(at)
    messages = [m.replace("\\", "") for m in errors(at)]
    assert any(
        m.endswith(f" {too_many} is above the limit: {hosted.cap_note(name)}") for m in messages
    ), messages
    assert "DECONV_LAB_LIMITS=local streamlit run app.py" in " ".join(messages)
    assert at.query_params[key] == before  # the link keeps the last accepted value
    assert "gen_fit" not in [b.key for b in at.button]  # nothing runs on a refused value
    at.number_input(key=key).set_value(2).run()  # back in range: the message goes
    assert_clean(at)
    assert not any("above the limit" in m for m in errors(at))


GENERATOR_LIMITS_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from app_support import open_page
at = open_page("generator", {query!r})
assert not at.exception, [e.value for e in at.exception]
print("WARNINGS", [w.value for w in at.warning])
print("ERRORS", [e.value for e in at.error])
print("VALUES", {{k: at.number_input(key=k).value for k in {keys!r}}})
"""


def generator_page_with_limits(setting: str, query: dict[str, str]) -> str:
    """What the generator page shows for `query` under DECONV_LAB_LIMITS=`setting` (a fresh
    interpreter: the limits are read once, at import)."""
    script = GENERATOR_LIMITS_SCRIPT.format(
        root=str(ROOT),
        tests=str(ROOT / "tests"),
        query=query,
        keys=list(GENERATOR_LIMIT_LINKS),
    )
    return run_under_limits(script, setting).replace("\\\\", "").replace("\\", "")


def test_local_limits_raise_the_generator_boxes_and_the_hosted_demo_names_its_own():
    # Above the hosted caps, within the local ones: accepted locally, refused on the hosted demo.
    query = {"gen_mode": "fit", "gen_ch": "8"}
    query.update(
        {
            key: str(hosted.GENERATOR_LIMITS[name].hosted + 1)
            for key, name in GENERATOR_LIMIT_LINKS.items()
        }
    )
    local = generator_page_with_limits("local", query)
    expected = {key: int(query[key]) for key in GENERATOR_LIMIT_LINKS}
    assert f"VALUES {expected!r}" in local, local
    assert "WARNINGS []" in local and "above the limit" not in local
    hosted_demo = generator_page_with_limits("hosted", query)
    for key, name in GENERATOR_LIMIT_LINKS.items():
        lim = hosted.GENERATOR_LIMITS[name]
        assert f"`{key}={query[key]}` from the link: it is above the limit: " in hosted_demo
        assert f"{lim.hosted:,}{lim.unit} is the hosted demo's limit for {lim.what}" in hosted_demo
        assert f"to allow up to {lim.local:,}{lim.unit}" in hosted_demo
