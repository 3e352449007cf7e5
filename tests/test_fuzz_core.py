"""Fuzzing core's public API: hostile numbers and wrong types give ConfigError and nothing else.

Every call runs under `call_guarded` (a hang guard; any exception other than a ConfigError that
names its parameter fails the test). Valid-but-huge inputs run in a fresh interpreter under an
address-space limit (`run_bounded`) and must be refused by a cap or served with bounded memory.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from fuzz_support import (
    any_ints,
    call_guarded,
    hostile,
    huge_ints,
    junk_scalars,
    run_bounded,
    small_or,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import core
import core.checkerboard as artifacts
import core.converter.live as convert
import core.converter.model_text as model_text
import core.converter.text_conversion as conversion
import core.generator.images as images
import core.generator.run as generator
import core.hosted as hosted
import core.overlap.counts as overlap
import core.presets as presets
import core.replacements.weights as weights
from core.errors import ConfigError
from core.geometry.layer import MAX_DIM, TransposedConv
from core.geometry.output_size import input_size_for, output_size, output_steps

# ----------------------------------------------------------------------------- strategies

arg = small_or(hostile)
positive = small_or(hostile, 1, 6)


@st.composite
def valid_layers(draw, ndim: int | None = None) -> TransposedConv:
    """Layers torch accepts (small), for fuzzing the other arguments."""
    ndim = ndim or draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    per_axis = [
        (
            draw(st.integers(1, 5)),  # kernel
            s := draw(st.integers(1, 4)),
            draw(st.integers(0, 3)),  # padding
            d := draw(st.integers(1, 2)),
            draw(st.integers(0, max(s, d) - 1)),  # output_padding
        )
        for _ in range(ndim)
    ]
    k, s, p, d, op = (tuple(v) for v in zip(*per_axis, strict=True))
    return TransposedConv.make(
        groups * draw(st.integers(1, 3)),
        groups * draw(st.integers(1, 3)),
        k,
        s,
        p,
        op,
        groups,
        draw(st.booleans()),
        d,
        ndim,
    )


@st.composite
def extreme_layers(draw, ndim: int | None = None) -> TransposedConv:
    """Layers torch accepts with values up to core's ceiling (MAX_DIM): huge strides, kernels,
    dilations, padding and channels, where work that grows with a value would show as a hang."""
    ndim = ndim or draw(st.integers(1, 3))
    big = st.one_of(
        st.integers(1, 8), st.integers(1, MAX_DIM), st.sampled_from([33, 4096, MAX_DIM])
    )
    per_axis = []
    for _ in range(ndim):
        k, s, d = draw(big), draw(big), draw(st.one_of(st.integers(1, 3), big))
        p = draw(st.one_of(st.integers(0, 3), st.integers(0, min(d * (k - 1), MAX_DIM))))
        per_axis.append((k, s, p, d, draw(st.integers(0, max(s, d) - 1))))
    k, s, p, d, op = (tuple(v) for v in zip(*per_axis, strict=True))
    channels = st.one_of(st.integers(1, 4), st.sampled_from([MAX_DIM]))
    return TransposedConv.make(draw(channels), draw(channels), k, s, p, op, 1, True, d, ndim)


any_layers = st.one_of(valid_layers(), extreme_layers())


# ----------------------------------------------------------------------------- layer, sizes


@given(
    in_channels=positive,
    out_channels=positive,
    kernel_size=positive,
    stride=positive,
    padding=arg,
    output_padding=arg,
    groups=positive,
    bias=st.one_of(st.booleans(), junk_scalars, hostile),
    dilation=positive,
    ndim=st.one_of(st.sampled_from([1, 2, 3]), hostile),
)
@settings(max_examples=250)
def test_make_gives_a_layer_or_config_error(**kwargs):
    layer, error = call_guarded(TransposedConv.make, **kwargs)
    if error is None:
        assert isinstance(layer, TransposedConv)
        layer.validate()
        assert all(abs(v) <= MAX_DIM for v in (*layer.kernel_size, *layer.padding))


@given(layer=any_layers, size=st.one_of(positive, hostile))
@settings(max_examples=300)
def test_output_size_steps_and_inverse(layer, size):
    out, error = call_guarded(output_size, layer, size)
    steps, steps_error = call_guarded(output_steps, layer, size)
    assert (error is None) == (steps_error is None)
    if error is None:
        assert tuple(s.output for s in steps) == out
        back, _ = call_guarded(input_size_for, layer, out)
        if max(out) <= MAX_DIM:
            assert back == tuple(s.input for s in steps)
    call_guarded(input_size_for, layer, size)


@given(
    sizes=st.one_of(
        st.lists(positive, min_size=0, max_size=70),
        st.lists(st.integers(1, 1 << 16), min_size=2, max_size=64),
        hostile,
    ),
    max_kernel=st.one_of(st.integers(1, 16), hostile),
    max_stride=st.one_of(st.integers(1, 16), hostile),
    max_dilation=st.one_of(st.integers(1, 4), hostile),
)
@settings(max_examples=200)
def test_solve_chain(sizes, max_kernel, max_stride, max_dilation):
    bounds = {"max_kernel": max_kernel, "max_stride": max_stride, "max_dilation": max_dilation}
    found, _ = call_guarded(core.solve_chain, sizes, **bounds)
    for solution in (found or [])[:20]:  # every configuration found really maps each size
        layer = TransposedConv.make(
            1,
            1,
            solution.kernel_size,
            solution.stride,
            solution.padding,
            solution.output_padding,
            dilation=solution.dilation,
        )
        for size, following in itertools.pairwise(sizes):
            assert output_size(layer, (size, size)) == (following, following), solution
    if isinstance(sizes, list) and len(sizes) >= 2:
        call_guarded(core.solve, sizes[0], sizes[-1], **bounds)


@given(
    filters=positive,
    kernel_size=positive,
    strides=positive,
    padding=st.one_of(st.sampled_from(["valid", "same"]), hostile),
    output_padding=st.one_of(st.none(), arg),
    dilation_rate=positive,
    in_channels=positive,
    input_size=st.one_of(st.none(), positive, hostile),
    use_bias=st.one_of(st.booleans(), hostile),
)
@settings(max_examples=150)
def test_from_keras(**kwargs):
    translation, error = call_guarded(core.from_keras, **kwargs)
    if error is None:
        assert isinstance(translation.code(), str)


# ------------------------------------------------------------------- overlap, replacements


@given(
    layer=st.one_of(any_layers, hostile),
    size=st.one_of(st.integers(1, 12), hostile),
)
@settings(max_examples=200)
def test_overlap_functions(layer, size):
    result, error = call_guarded(overlap.overlap_map, layer, size)
    if error is None:
        assert result.shape == output_size(layer, size)
    call_guarded(overlap.stack_overlap, [layer, layer], size)
    call_guarded(overlap.stack_overlap, layer, size)
    if isinstance(layer, TransposedConv):
        call_guarded(overlap.overlap_profile, layer.axes[0], size)
        call_guarded(overlap.overlap_summary, layer, size, max_cells=size)
    else:
        call_guarded(overlap.overlap_profile, layer, 4)


@given(layers=st.lists(st.one_of(valid_layers(ndim=2), hostile), max_size=40), size=positive)
@settings(max_examples=100)
def test_stack_overlap_lists(layers, size):
    call_guarded(overlap.stack_overlap, layers, size)


@given(layer=st.one_of(any_layers, hostile), size=st.one_of(positive, hostile))
@settings(max_examples=200)
def test_list_replacements(layer, size):
    found, error = call_guarded(core.list_replacements, layer, size)
    if error is None:
        assert found and all(isinstance(r.as_dict(), dict) for r in found)


@pytest.mark.parametrize("name", ["replace_conv_transpose", "fuse_resize_conv"])
@given(first=hostile, second=st.one_of(st.sampled_from(["subpixel", "resize-nearest"]), hostile))
@settings(max_examples=40)
def test_weights_functions_refuse_junk(name, first, second):
    call_guarded(getattr(weights, name), first, second)


# ----------------------------------------------------------------------------- pasted model text

tokens = st.sampled_from(
    [
        "ConvTranspose2d",
        "nn.ConvTranspose2d",
        "Sequential",
        "Linear",
        "(",
        ")",
        "[",
        "]",
        ",",
        "=",
        "-",
        "+",
        "x",
        "4",
        "2**62",
        "9" * 50,
        "1e400",
        "0.5",
        "kernel_size",
        "stride",
        "(0):",
        "(0-3):",
        "(x); import os; os.system('rm -rf /'):",
        "'s'",
        '"',
        "'",
        "\n",
        "  ",
        "# c",
        "True",
        "None",
        "nan",
        "inf",
        "torch.Size",
        "é",
        "🙂",
        "\\",
    ]
)
model_texts = st.one_of(
    st.text(max_size=200),
    st.lists(tokens, max_size=60).map(" ".join),
    st.lists(tokens, max_size=60).map("".join),
    st.binary(max_size=100),
    hostile,
)


@given(text=model_texts)
@settings(max_examples=500)
def test_parse_model_text(text):
    tree, error = call_guarded(model_text.parse_model_text, text)
    if error is None:
        assert all(layer.as_dict() for layer in tree.walk())


methods = st.one_of(
    st.sampled_from(["subpixel", "zero-insertion", "resize-nearest", "resize-bicubic"]), hostile
)


@given(
    text=st.one_of(model_texts, st.sampled_from(["ConvTranspose2d(8, 4, 4, 2, 1)"])),
    input_shape=st.one_of(
        st.sampled_from([(1, 8, 4, 4), (1, 100, 1, 1), [2, 8, 3, 3]]),
        st.lists(st.one_of(st.integers(0, 9), huge_ints), max_size=7),
        hostile,
    ),
    method=methods,
)
@settings(max_examples=150)
def test_convert_text(text, input_shape, method):
    result, error = call_guarded(conversion.convert_text, text, input_shape, method)
    if error is None:
        compile(result.code, "<converted>", "exec")  # parses; never executed here


@given(model=hostile, method=methods)
@settings(max_examples=60)
def test_convert_model_refuses_non_modules(model, method):
    call_guarded(convert.convert_model, model, method)
    call_guarded(convert.fuse_model, model)


@given(key=st.one_of(st.sampled_from(["dcgan", "x4", ""]), hostile))
@settings(max_examples=60)
def test_presets_lookup(key):
    call_guarded(presets.preset, key)
    call_guarded(presets.article_case, key)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 100_000,
        "Sequential(" * 5_000 + ")" * 5_000,
        "[" * 5_000 + "]" * 5_000,
        "Linear(1, 2)\n" * 15_000,
        "x" * 199_999,
        "(0-99999999): 100000000 x Linear(1, 2)",
        "A(" + "1," * 70 + ")",
        "A(" + "9" * 10_000 + ")",
        "'" + "a" * 100_000,
        "a" * 300_000,
    ],
    ids=lambda t: f"{t[:12]!r}x{len(t)}",
)
def test_parse_model_text_extremes(text):
    call_guarded(model_text.parse_model_text, text)


# ----------------------------------------------------------------------------- live generator


gen_fields = {
    "stages": st.one_of(st.integers(1, 3), hostile),
    "base_channels": st.one_of(st.integers(1, 16), hostile),
    "latent_dim": st.one_of(st.integers(1, 16), hostile),
    "kernel_size": small_or(hostile, 1, 6),
    "stride": small_or(hostile, 1, 4),
    "padding": small_or(hostile, 0, 3),
    "output_padding": small_or(hostile, 0, 2),
    "norm": st.one_of(st.sampled_from(["batch", "instance", "none"]), hostile),
    "activation": st.one_of(st.sampled_from(["relu", "silu"]), hostile),
    "stem": st.one_of(st.sampled_from(["linear", "convtranspose"]), hostile),
    "output": st.one_of(st.sampled_from(["tanh", "none"]), hostile),
    "image_channels": st.one_of(st.sampled_from([1, 3]), hostile),
    "resize_kernel": small_or(hostile, 1, 5),
    "replacement": st.one_of(st.sampled_from(["subpixel", "resize-nearest"]), hostile),
}


@given(fields=st.fixed_dictionaries({}, optional=gen_fields))
@settings(max_examples=300)
def test_generator_config(fields):
    config, error = call_guarded(generator.GeneratorConfig, **fields)
    if error is None:
        assert config.image_size[0] <= generator.MAX_RESOLUTION


@given(
    options=st.fixed_dictionaries(
        {},
        optional={
            "variants": st.one_of(st.sampled_from(["convtranspose", ("subpixel-icnr",)]), hostile),
            "n_images": small_or(hostile, 1, 3),
            "seed": st.one_of(st.integers(0, 5), hostile),
            "device": st.one_of(st.sampled_from(["cpu", "auto", "cuda:7", "tpu"]), hostile),
            "precision": st.one_of(st.sampled_from(["auto", "float32", "bfloat16"]), hostile),
            "crop_size": small_or(hostile, 1, 8),
            "zoom": small_or(hostile, 1, 4),
            "columns": st.one_of(st.none(), small_or(hostile, 1, 4)),
            "models": st.one_of(st.none(), hostile),
        },
    )
)
@settings(max_examples=60)
def test_render_at_init_options(options):
    config = generator.GeneratorConfig(stages=1, base_channels=8, latent_dim=8)
    options.setdefault("variants", ("convtranspose",))
    options.setdefault("device", "cpu")
    result, error = call_guarded(generator.render_at_init, config, **options)
    if error is None:
        assert result.variants


@given(
    options=st.fixed_dictionaries(
        {},
        optional={
            "steps": small_or(hostile, 1, 3),
            "lr": st.one_of(st.sampled_from([0.01, 1, 0.5]), hostile),
            "callback_every": st.one_of(st.none(), small_or(hostile, 1, 3)),
            "target_image": st.one_of(st.none(), hostile),
            "callback": st.one_of(st.none(), hostile),
            "seed": st.one_of(st.integers(0, 5), hostile),
        },
    )
)
@settings(max_examples=40)
def test_fit_options(options):
    config = generator.GeneratorConfig(stages=1, base_channels=8, latent_dim=8)
    options.setdefault("steps", 1)
    call_guarded(generator.fit, config, ("convtranspose",), device="cpu", **options)


@given(timeout=st.one_of(st.floats(0, 0.01), hostile))
@settings(max_examples=100)
def test_heavy_run_slot_timeout(timeout):

    def enter() -> None:
        with hosted.heavy_run_slot(timeout):
            pass

    call_guarded(enter)


# ----------------------------------------------------------------------------- images, spectra


@given(data=st.one_of(st.binary(max_size=64), hostile), size=st.one_of(positive, hostile))
@settings(max_examples=200)
def test_load_upload_junk(data, size):
    call_guarded(images.load_upload, data, size)


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@given(cut=st.integers(0, 400), flip=st.integers(0, 400), value=st.integers(0, 255))
@settings(max_examples=150)
def test_load_upload_corrupted_png(cut, flip, value):
    from PIL import Image

    data = bytearray(_png(Image.new("RGB", (20, 12), (10, 200, 30))))
    data[min(flip, len(data) - 1)] = value
    image, _ = call_guarded(images.load_upload, bytes(data[: len(data) - cut]), 8)
    if image is not None:
        assert image.shape == (8, 8, 3) and image.dtype == np.uint8


arrays = st.one_of(
    hostile,
    st.sampled_from(
        [
            np.zeros((0, 4, 3)),
            np.zeros((4, 4, 2)),
            np.full((4, 4, 3), np.nan),
            np.full((4, 4), np.inf),
            np.zeros((4, 4, 3), dtype=complex),
            np.zeros((4, 4, 3), dtype=bool),
            np.zeros((4, 4, 3), dtype=object),
            np.array([["a"]]),
            np.zeros((2, 2, 2, 2)),
            np.zeros((5, 7, 4), dtype=np.uint16),
            np.ones((3, 3, 1), dtype=np.float16),
        ]
    ),
)


@given(image=arrays, size=st.one_of(positive, hostile))
@settings(max_examples=150)
def test_prepare_target_and_default(image, size):
    call_guarded(images.prepare_target, image, size)
    call_guarded(images.default_target, size)


@given(
    size=st.one_of(st.tuples(positive, positive), positive, hostile),
    stride=st.one_of(positive, huge_ints, st.tuples(positive, huge_ints), hostile),
)
@settings(max_examples=150)
def test_checkerboard_helpers_refuse_junk_and_huge_strides(size, stride):
    call_guarded(artifacts.checkerboard_frequencies, stride)
    call_guarded(artifacts.checkerboard_mask, size, stride)
    call_guarded(artifacts.checkerboard_energy_baseline, size, stride)


# ----------------------------------------------------------------------------- memory bounds

MIB = 1 << 20


def test_huge_valid_overlap_is_refused_not_allocated():
    """input_size 10**6 with overlap maps: a cap refuses it; nothing near its size is allocated."""
    result = run_bounded(
        """
        from core.errors import ConfigError
        from core.geometry.layer import TransposedConv
        from core.overlap.counts import overlap_map, overlap_summary, stack_overlap
        layer = TransposedConv.make(64, 64, 16, 8, 0, 0)
        refused = []
        for call in (
            lambda: overlap_map(layer, 10**6),
            lambda: overlap_map(layer, (1, 10**6)),
            lambda: stack_overlap([layer] * 32, 1000),
            lambda: overlap_summary(layer, 10**6),
        ):
            try:
                call()
                refused.append(False)
            except ConfigError:
                refused.append(True)
        report(refused=refused, peak=_hwm())
        """,
        limit_bytes=2 << 30,
    )
    assert result["returncode"] == 0, result["stderr"]
    assert result["refused"][:3] == [True, True, True]
    assert result["peak"] < 512 * MIB, f"peak RSS {result['peak'] / MIB:.0f} MiB"


@pytest.mark.parametrize(
    "argv",
    [
        ["--kernel-size", "16", "--stride", "8", "--in-channels", "1048576"],
        ["--kernel-size", "1", "--stride", "1048576"],  # one pixel spread over a million
        ["--kernel-size", "64", "--stride", "33", "--padding", "1048576"],
    ],
    ids=["channels", "stride", "padding"],
)
def test_cli_report_for_huge_input_is_bounded(argv):
    """The CLI's report of an extreme layer on the largest legal input stays within memory."""
    result = run_bounded(
        f"""
        import contextlib, io
        from core.cli import main
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main({argv!r} + ["--input-size", "1048576", "1048576", "--json"])
        report(status=status, stderr=err.getvalue(), out_chars=len(out.getvalue()), peak=_hwm())
        """,
        limit_bytes=3 << 30,
    )
    assert result["returncode"] == 0, result["stderr"]
    assert result["status"] in (0, 2), result
    assert result["out_chars"] < 50 * MIB
    assert result["peak"] < 1024 * MIB, f"peak RSS {result['peak'] / MIB:.0f} MiB"


def test_model_text_at_the_caps_is_bounded():
    result = run_bounded(
        """
        from core.errors import ConfigError
        from core.converter.model_text import parse_model_text
        base = _hwm()
        texts = [
            "Sequential(\\n  (0-9998): 9999 x Linear(1, 2)\\n)",
            "Linear(1, 2)\\n" * 15_000,
            "A(" + "(1, " * 60 + "1" + ")" * 60 + ")",
        ]
        for text in texts:
            try:
                parse_model_text(text)
            except ConfigError:
                pass
        report(growth=_hwm() - base)
        """,
        limit_bytes=2 << 30,
    )
    assert result["returncode"] == 0, result["stderr"]
    assert result["growth"] < 256 * MIB, f"grew {result['growth'] / MIB:.0f} MiB"


def test_non_config_errors_are_reported_not_swallowed():
    """The guard itself: a stray exception fails, a ConfigError naming its parameter passes."""
    with pytest.raises(AssertionError, match="only ConfigError"):
        call_guarded(int, "x")
    _, error = call_guarded(TransposedConv.make, 1, 1, 0)
    assert isinstance(error, ConfigError) and error.parameter == "kernel_size"


@given(value=any_ints)
@settings(max_examples=50)
def test_any_int_kernel(value):
    layer, error = call_guarded(TransposedConv.make, 1, 1, value)
    assert (error is None) == (1 <= value <= MAX_DIM), (value, error)
    if error is None:
        assert layer.kernel_size == (value, value)
