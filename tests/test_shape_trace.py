"""Shape tracing of printed models: torch's forward pass (forward hooks on every layer) is the
oracle, on real architectures and on random layer chains."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from model_zoo import (
    Generator,
    NestedGenerator,
    UNetDecoder,
    super_resolution_head,
    vae_decoder,
    volumetric_and_sequence,
)
from torch import nn
from torch_oracle import torch_shapes

from core.converter.model_text import parse_model_text
from core.converter.shape_trace import (
    ASSUMED,
    ERROR,
    KEYWORD_ONLY,
    MISMATCH,
    OK,
    REQUIRED,
    SIGNATURES,
    SKIPPED,
    UNKNOWN,
    UNTRACEABLE,
    trace_shapes,
)
from core.errors import ConfigError

ARCHITECTURES = {
    "dcgan": (lambda: Generator(ngf=16), (2, 100, 1, 1)),
    "vae-decoder": (lambda: vae_decoder(16), (3, 16)),
    "super-resolution": (lambda: super_resolution_head(3), (1, 3, 17, 13)),
    "nested": (NestedGenerator, (2, 32)),
    "1d-3d": (volumetric_and_sequence, (2, 4, 3, 5, 6)),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_traced_shapes_equal_torch_forward(name: str) -> None:
    build, shape = ARCHITECTURES[name]
    model = build().eval()
    trace = trace_shapes(str(model), shape)
    seen, output = torch_shapes(model, torch.randn(shape))
    assert [row.path for row in trace.rows] == list(seen)
    for row in trace.rows:
        assert (row.in_shape, row.out_shape) == seen[row.path], row
        assert row.status in (OK, ASSUMED), row
    assert trace.stopped_at is None and trace.assumed_output_shape == output
    # a custom module's forward is not in the printout: its rows and output are only assumed
    custom = not isinstance(model, nn.Sequential)
    assert trace.certainty == ("assumed" if custom else "proven")
    assert trace.output_shape == (None if custom else output)
    assert all(row.status == (ASSUMED if custom else OK) for row in trace.rows)


def test_unet_decoder_skip_stops_the_trace_with_the_cause_and_the_likely_shape() -> None:
    model = UNetDecoder().eval()
    x = torch.randn(1, 256, 8, 8)
    trace = trace_shapes(str(model), x.shape)
    seen, _ = torch_shapes(model, x, model.skips_for(x))
    # the skip concatenation is not in print(model): no output shape is claimed
    assert trace.output_shape is None and trace.assumed_output_shape is None
    assert trace.certainty == "lost" and trace.stop_kind == "contradiction"
    stop = trace.row(trace.stopped_at)
    assert stop.path == "ups.0.conv.block.0" and stop.status == MISMATCH
    torch_in, _ = seen[stop.path]
    assert torch_in[1] == 2 * stop.in_shape[1]
    assert "concatenation" in trace.stop_reason and "doubled" in trace.stop_reason
    assert trace.suggested_shape == torch_in  # the evidence points to torch's shape
    assert "convert_model" in trace.advice and stop.path in trace.advice
    before = trace.rows[: trace.rows.index(stop)]
    assert all(row.status == ASSUMED and row.out_shape == seen[row.path][1] for row in before)
    after = trace.rows[trace.rows.index(stop) + 1 :]
    assert all(row.status == SKIPPED and row.out_shape is None for row in after)
    assert any("custom module" in note for note in trace.notes)
    assert any("ModuleList" in note for note in trace.notes)


def test_known_shapes_resume_the_trace_after_each_skip() -> None:
    model = UNetDecoder().eval()
    x = torch.randn(1, 256, 8, 8)
    seen, output = torch_shapes(model, x, model.skips_for(x))
    given = {f"ups.{i}.conv.block.0": seen[f"ups.{i}.conv.block.0"][0] for i in range(3)}
    trace = trace_shapes(str(model), x.shape, shapes_at=given)
    assert trace.stopped_at is None and trace.certainty == "assumed"
    assert trace.assumed_output_shape == output and trace.output_shape is None
    assert trace.given == tuple(given)
    for row in trace.rows:
        assert (row.in_shape, row.out_shape) == seen[row.path], row
        assert row.status == ASSUMED
    for path in given:
        assert "you gave" in trace.row(path).note
    with pytest.raises(ConfigError, match="shapes_at") as caught:
        trace_shapes(str(model), x.shape, shapes_at={"nowhere": (1, 2)})
    assert "ups.0.up" in caught.value.message


def test_flat_latent_is_viewed_as_one_by_one_with_a_note() -> None:
    model = Generator(ngf=8).eval()
    trace = trace_shapes(str(model), (2, 100))
    first = trace.rows[0]
    assert first.status == ASSUMED and "z.view(2, 100, 1, 1)" in first.note
    assert all(row.status == ASSUMED for row in trace.rows)  # all rest on the view
    with pytest.raises(RuntimeError):  # torch does refuse the flat latent
        model(torch.randn(2, 100))
    _, output = torch_shapes(model, torch.randn(2, 100, 1, 1))
    assert trace.assumed_output_shape == output and trace.output_shape is None


def test_unknown_layers_keep_the_shape_and_say_so() -> None:
    text = "ConvTranspose2d(8, 4, 4, 2, 1)\nSelfAttention(4, heads=2)\nBatchNorm2d(4)\nTanh()"
    trace = trace_shapes(text, (1, 8, 5, 5))
    unknown = trace.rows[1]
    assert unknown.status == UNKNOWN and unknown.in_shape == unknown.out_shape == (1, 4, 10, 10)
    assert "SelfAttention" in unknown.note and "keep" in unknown.note
    assert trace.assumed_output_shape == (1, 4, 10, 10) and not trace.stopped_on_unknown
    assert trace.output_shape is None  # rests on the assumption that SelfAttention keeps it
    # every row after the assumption says it rests on it: none is "ok"
    assert [row.status for row in trace.rows] == [OK, UNKNOWN, ASSUMED, ASSUMED]
    assert all("assumption at 1" in row.note for row in trace.rows[2:])
    assert not trace.clean


def _children_shapes(model: nn.Sequential, x: torch.Tensor) -> list[tuple[int, ...]]:
    """Output shape of each child of a Sequential (its own children, parametrized or not)."""
    shapes = []
    with torch.no_grad():
        for child in model:
            x = child(x)
            shapes.append(tuple(x.shape))
    return shapes


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.LPPool2d(2, 2), (1, 8, 16, 16)),
        (nn.Fold(output_size=(4, 5), kernel_size=2), (1, 8, 12)),
        (nn.Unfold(kernel_size=2), (1, 2, 4, 4)),
        (nn.Bilinear(4, 4, 2), None),  # name only: two inputs
        (nn.ChannelShuffle(2), None),
        (nn.LazyLinear(3), None),
    ],
)
def test_unknown_layers_named_for_a_shape_change_stop_the_trace(layer, shape) -> None:
    text = f"Identity()\n{layer}\nConvTranspose2d(8, 3, 4, 2, 1)\nTanh()"
    trace = trace_shapes(text, shape or (1, 8, 16, 16))
    statuses = [row.status for row in trace.rows]
    name = type(layer).__name__
    if name == "LPPool2d":  # known now: traced as torch computes it
        x = torch.randn(shape)
        model = nn.Sequential(nn.Identity(), layer, nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh())
        assert [row.out_shape for row in trace.rows] == _children_shapes(model, x)
        assert statuses == [OK] * 4
        return
    if shape is not None:  # the premise: torch changes the shape here
        with torch.no_grad():
            assert (
                tuple(
                    layer(
                        torch.ones(shape, dtype=torch.long)
                        if name == "Embedding"
                        else torch.randn(shape)
                    ).shape
                )
                != shape
            )
    assert statuses == [OK, UNKNOWN, SKIPPED, SKIPPED]
    stop = trace.rows[1]
    assert stop.out_shape is None and name in stop.note and "Identity()" in stop.note
    assert trace.stopped_at == "1" and trace.stopped_on_unknown and trace.output_shape is None


@pytest.mark.parametrize(
    "layer",
    [
        nn.LSTM(8, 16, batch_first=True),
        nn.GRU(8, 16, num_layers=2),
        nn.RNN(8, 4),
        nn.MultiheadAttention(8, 2),
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
        nn.TransformerDecoderLayer(8, 2, 16),
        nn.Embedding(10, 8),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_layers_the_printout_cannot_decide_stop_the_trace_by_name(layer) -> None:
    model = nn.Sequential(nn.Linear(8, 8), layer, nn.ConvTranspose2d(8, 3, 4, 2, 1))
    trace = trace_shapes(str(model), (1, 8))
    name = type(layer).__name__
    assert [row.path for row in trace.rows] == ["0", "1", "2"]  # a block counts as one layer
    assert [row.status for row in trace.rows] == [OK, UNTRACEABLE, SKIPPED]
    assert trace.stopped_at == "1" and trace.stop_kind == "untraceable"
    assert trace.output_shape is None and trace.assumed_output_shape is None
    assert name in trace.stop_reason and "not a layer Deconv Lab knows" not in trace.stop_reason
    assert "convert_model" in trace.advice


def test_a_conv_lppool_conv_transpose_chain_equals_torch() -> None:
    """Conv2d -> LPPool2d(2, 2) -> ConvTranspose2d: torch gives (1, 3, 16, 16), and so does the
    trace (it used to assume LPPool2d kept the shape and say (1, 3, 32, 32), "ok")."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.LPPool2d(2, 2), nn.ConvTranspose2d(8, 3, 4, 2, 1)
    )
    x = torch.randn(1, 3, 16, 16)
    trace = trace_shapes(str(model), x.shape)
    seen, output = torch_shapes(model, x)
    assert output == (1, 3, 16, 16) == trace.output_shape
    for row in trace.rows:
        assert (row.in_shape, row.out_shape) == seen[row.path] and row.status == OK


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("kernel", [1, 2, 3])
@pytest.mark.parametrize("stride", [None, 1, 2])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_lppool_shapes_equal_torch(n: int, kernel: int, stride, ceil_mode: bool) -> None:
    layer = getattr(nn, f"LPPool{n}d")(2, kernel, stride, ceil_mode)
    for shape in [(2, 3, *([7] * n)), (3, *([5] * n)), (1, 2, *([2] * n)), (1, 2, *([1] * n))]:
        trace = trace_shapes(str(nn.Sequential(layer)), shape)
        shapes, refused_at = _run_layers([layer], torch.rand(shape))
        if refused_at is None:
            assert trace.rows[0].out_shape == shapes[0], (layer, shape)
            assert trace.rows[0].status == OK
        else:
            assert trace.rows[0].status == ERROR, (layer, shape, trace.rows[0])


def test_avgpool3d_refuses_an_input_smaller_than_its_kernel_even_with_ceil_mode() -> None:
    """torch's avg_pool3d (and so LPPool3d) checks the unpadded input against the kernel;
    the 1D/2D pools take it with ceil_mode=True."""
    for layer in (
        nn.AvgPool3d(2, ceil_mode=True),
        nn.AvgPool3d(3, padding=1, ceil_mode=True),
        nn.LPPool3d(2, 2, ceil_mode=True),
    ):
        trace = trace_shapes(str(nn.Sequential(layer)), (1, 2, 2, 2, 1))
        _, refused_at = _run_layers([layer], torch.randn(1, 2, 2, 2, 1))
        assert refused_at == 0 and trace.rows[0].status == ERROR
        assert "smaller than the kernel" in trace.rows[0].note
    two_d = nn.LPPool2d(2, 2, ceil_mode=True)
    expected = tuple(two_d(torch.rand(1, 2, 2, 1)).shape)
    assert trace_shapes(str(two_d), (1, 2, 2, 1)).output_shape == expected == (1, 2, 1, 1)


@pytest.mark.parametrize("kind", ["Zero", "Constant", "Reflection", "Replication", "Circular"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_pads_accept_the_inputs_torch_accepts(kind: str, n: int) -> None:
    """ZeroPad/ConstantPad pad the last n dimensions of any input with at least n; the others
    need (C, *n) or (N, C, *n). torch 2.13 is the oracle, ranks 1 to 6."""
    layer = getattr(nn, f"{kind}Pad{n}d")(*((2, 3.5) if kind == "Constant" else (2,)))
    for rank in range(1, 7):
        shape = (4,) * rank
        trace = trace_shapes(str(nn.Sequential(layer)), shape)
        shapes, refused_at = _run_layers([layer], torch.randn(shape))
        row = trace.rows[0]
        if refused_at is None:
            assert row.status == OK and row.out_shape == shapes[0], (layer, shape, row)
        else:
            assert row.status == ERROR, (layer, shape, row)


def test_constant_pad_1d_on_a_4d_input_pads_the_last_dimension() -> None:
    layer = nn.ConstantPad1d(2, 3.5)
    trace = trace_shapes(str(layer), (1, 3, 6, 5))
    assert trace.rows[0].status == OK
    assert trace.output_shape == tuple(layer(torch.randn(1, 3, 6, 5)).shape) == (1, 3, 6, 9)


def test_parametrized_layers_trace_as_the_layers_they_wrap() -> None:
    """spectral_norm / weight_norm (torch.nn.utils.parametrizations) print as
    ParametrizedConvTranspose2d(...) with a `parametrizations` child: traced as the layer."""
    from torch.nn.utils import parametrizations

    model = nn.Sequential(
        nn.Linear(16, 4 * 4 * 4),
        nn.Unflatten(1, (4, 4, 4)),
        parametrizations.spectral_norm(nn.ConvTranspose2d(4, 3, 4, 2, 1)),
        nn.ReLU(),
        parametrizations.weight_norm(nn.Conv2d(3, 3, 3, padding=1)),
        parametrizations.spectral_norm(nn.ConvTranspose2d(3, 2, 4, 2, 1)),
    ).eval()
    x = torch.randn(2, 16)
    trace = trace_shapes(str(model), x.shape)
    assert [row.path for row in trace.rows] == [str(i) for i in range(6)]
    assert [row.out_shape for row in trace.rows] == _children_shapes(model, x)
    assert trace.output_shape == (2, 2, 16, 16)
    assert all(row.status == OK for row in trace.rows)
    assert "_SpectralNorm" in trace.rows[2].note and "_WeightNorm" in trace.rows[4].note
    assert trace.rows[2].type_name == "ConvTranspose2d"


def test_a_spectral_normed_layer_is_traced_like_the_plain_one() -> None:
    from torch.nn.utils import parametrizations

    layer = parametrizations.spectral_norm(nn.ConvTranspose2d(4, 3, 4, 2, 1))
    assert str(layer).startswith("ParametrizedConvTranspose2d(")
    trace = trace_shapes(str(layer), (1, 4, 5, 5))
    with torch.no_grad():
        assert trace.output_shape == tuple(layer(torch.randn(1, 4, 5, 5)).shape) == (1, 3, 10, 10)
    assert [row.path for row in trace.rows] == ["0"]


def test_a_layer_torch_refuses_stops_the_trace_with_the_reason() -> None:
    text = "Conv2d(3, 8, 5)\nConvTranspose2d(8, 4, 3, stride=1, padding=3)\nReLU()\nTanh()"
    trace = trace_shapes(text, (1, 3, 5, 5))
    assert [row.status for row in trace.rows] == [OK, ERROR, SKIPPED, SKIPPED]
    assert trace.stopped_at == "1" and "padding" in trace.stop_reason
    assert trace.output_shape is None
    with pytest.raises(RuntimeError):
        nn.Sequential(nn.Conv2d(3, 8, 5), nn.ConvTranspose2d(8, 4, 3, padding=3))(
            torch.randn(1, 3, 5, 5)
        )


def test_avgpool_ceil_mode_is_not_printed_and_the_row_says_so() -> None:
    model = nn.Sequential(nn.AvgPool2d(3, ceil_mode=True))
    assert "ceil_mode" not in str(model)
    trace = trace_shapes(str(model), (1, 1, 11, 11))
    row = trace.rows[0]
    assert row.status == ASSUMED and "ceil_mode" in row.note
    assert str(tuple(model(torch.randn(1, 1, 11, 11)).shape)) in row.note


@pytest.mark.parametrize(
    "bad", [(), (0, 3), "1, 3", (1,) * 7, (True, 3), (1, 2**30), (1.5, 2), None, [1, "2"]]
)
def test_bad_input_shapes_raise_config_error(bad) -> None:
    with pytest.raises(ConfigError) as info:
        trace_shapes("ReLU()", bad)
    assert info.value.parameter == "input_shape"


def test_as_dict_is_plain_data() -> None:
    trace = trace_shapes("Linear(4, 8)\nUnflatten(1, (2, 2, 2))", [3, 4])
    data = trace.as_dict()
    assert data["output_shape"] == [3, 2, 2, 2]
    assert data["rows"][1] == {
        "path": "1",
        "type": "Unflatten",
        "layer": "Unflatten(1, (2, 2, 2))",
        "in_shape": [3, 8],
        "out_shape": [3, 2, 2, 2],
        "status": OK,
        "note": "",
    }


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_tables_match_torch(name: str) -> None:
    import inspect

    params = inspect.signature(getattr(nn, name).__init__).parameters.values()
    positional = [
        (p.name, REQUIRED if p.default is p.empty else p.default)
        for p in params
        if p.kind == p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "device", "dtype")
    ]
    keyword = [(p.name, p.default) for p in params if p.kind == p.KEYWORD_ONLY]
    if any(p.kind == p.VAR_POSITIONAL for p in params):  # Tanh(*args, **kwargs): no arguments
        positional = []
    # torch 2.13's Hardtanh keeps two deprecated aliases at the end; they are left out here
    positional = [p for p in positional if p[0] not in ("min_value", "max_value")]
    ours = list(SIGNATURES[name])
    assert [n for n, _ in ours] == [n for n, _ in positional]
    for (n, default), (_, expected) in zip(ours, positional, strict=True):
        assert default == expected or (
            isinstance(expected, float) and abs(default - expected) < 1e-12
        ), n
    assert list(KEYWORD_ONLY.get(name, ())) == keyword


# ---------------------------------------------------------------------------------- fuzzing

CHANNELS = st.integers(1, 6)


@st.composite
def layer_chains(draw) -> tuple[tuple[int, int, int, int], list[nn.Module]]:
    """An input shape and a chain of 2D layers: channels usually right, sometimes not."""
    shape = (
        draw(st.integers(1, 2)),
        draw(CHANNELS),
        draw(st.integers(1, 9)),
        draw(st.integers(1, 9)),
    )
    channels = shape[1]
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 5))):
        cin = channels if draw(st.integers(0, 7)) else draw(CHANNELS)
        kind = draw(
            st.sampled_from(
                [
                    "convt",
                    "convt",
                    "conv",
                    "conv",
                    "upsample",
                    "shuffle",
                    "unshuffle",
                    "maxpool",
                    "avgpool",
                    "lppool",
                    "adaptive",
                    "pad",
                    "reflect",
                    "batchnorm",
                    "groupnorm",
                    "instancenorm",
                    "act",
                ]
            )
        )
        if kind in ("convt", "conv"):
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if cin % g == 0]))
            cout = groups * draw(st.integers(1, 3))
            k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
            if kind == "convt":
                op = draw(st.integers(0, max(s, d) - 1))
                layer = nn.ConvTranspose2d(
                    cin, cout, k, s, draw(st.integers(0, 2)), op, groups, dilation=d
                )
            else:
                padding = (
                    draw(st.sampled_from([0, 1, 2, "same"])) if s == 1 else draw(st.integers(0, 2))
                )
                mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
                layer = nn.Conv2d(cin, cout, k, s, padding, d, groups, padding_mode=mode)
            channels = cout
        elif kind == "upsample":
            mode = draw(st.sampled_from(["nearest", "bilinear", "bicubic", "nearest-exact"]))
            if draw(st.booleans()):
                layer = nn.Upsample(
                    size=(draw(st.integers(1, 12)), draw(st.integers(1, 12))), mode=mode
                )
            else:
                scale = draw(st.sampled_from([1, 2, 3, 0.5, 1.5, 2.5, (2, 1.5)]))
                layer = nn.Upsample(scale_factor=scale, mode=mode)
        elif kind == "shuffle":
            r = draw(st.integers(1, 2))
            layer = nn.PixelShuffle(r)
            channels = max(1, channels // (r * r))
        elif kind == "unshuffle":
            r = draw(st.integers(1, 2))
            layer = nn.PixelUnshuffle(r)
            channels *= r * r
        elif kind in ("maxpool", "avgpool"):
            k = draw(st.integers(1, 3))
            stride = draw(st.sampled_from([None, 1, 2, 3]))
            padding = draw(st.integers(0, 1))
            if kind == "maxpool":
                layer = nn.MaxPool2d(
                    k, stride, padding, draw(st.integers(1, 2)), ceil_mode=draw(st.booleans())
                )
            else:  # ceil_mode is not printed for AvgPool (see the dedicated test)
                layer = nn.AvgPool2d(k, stride, padding)
        elif kind == "lppool":
            layer = nn.LPPool2d(
                draw(st.sampled_from([1, 2, 3.5])),
                (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                draw(st.sampled_from([None, 1, 2])),
                draw(st.booleans()),
            )
        elif kind == "adaptive":
            layer = nn.AdaptiveAvgPool2d(
                (draw(st.sampled_from([None, 1, 3])), draw(st.integers(1, 4)))
            )
        elif kind == "pad":
            layer = draw(
                st.sampled_from(
                    [
                        nn.ZeroPad2d(tuple(draw(st.integers(-1, 2)) for _ in range(4))),
                        nn.ConstantPad1d((draw(st.integers(-1, 2)), draw(st.integers(0, 2))), 1.5),
                        nn.ZeroPad1d(draw(st.integers(0, 2))),
                    ]
                )
            )
        elif kind == "reflect":
            layer = draw(st.sampled_from([nn.ReflectionPad2d, nn.ReplicationPad2d]))(
                draw(st.integers(0, 2))
            )
        elif kind == "batchnorm":
            layer = nn.BatchNorm2d(cin)
            channels = cin
        elif kind == "groupnorm":
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if cin % g == 0]))
            layer = nn.GroupNorm(groups, cin)
            channels = cin
        elif kind == "instancenorm":
            layer = nn.InstanceNorm2d(cin, affine=draw(st.booleans()))
        else:
            layer = draw(
                st.sampled_from(
                    [
                        nn.ReLU(),
                        nn.LeakyReLU(0.2),
                        nn.Tanh(),
                        nn.Dropout2d(0.1),
                        nn.PReLU(),
                        nn.Identity(),
                    ]
                )
            )
        layers.append(layer)
    return shape, layers


def _run_layers(layers: list[nn.Module], x: torch.Tensor) -> tuple[list, int | None]:
    """Shapes after each layer, and the index of the first layer torch refuses (or None).
    An output with an empty dimension counts as refused (Deconv Lab treats size < 1 as invalid)."""
    shapes = []
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        for i, layer in enumerate(layers):
            try:
                x = layer.eval()(x)
            except (RuntimeError, ValueError, IndexError):
                return shapes, i
            if 0 in x.shape:
                return shapes, i
            shapes.append(tuple(x.shape))
    return shapes, None


@settings(max_examples=400)
@given(layer_chains())
def test_random_layer_chains_agree_with_torch(chain) -> None:
    shape, layers = chain
    model = nn.Sequential(*layers)
    trace = trace_shapes(str(model), shape)
    shapes, refused_at = _run_layers(layers, torch.randn(shape))
    first_problem = next(
        (i for i, row in enumerate(trace.rows) if row.status in (ERROR, MISMATCH)), None
    )
    assert first_problem == refused_at, (str(model), shape, trace.rows, refused_at)
    for row, torch_shape in zip(trace.rows, shapes, strict=False):
        assert row.out_shape == torch_shape, (str(model), shape, row)


def test_random_parsed_models_never_raise_from_the_trace() -> None:
    texts = [
        "Conv2d('a', 3, 3)",
        "Linear(3)",
        "Upsample()",
        "Upsample(size=2, scale_factor=2)",
        "MaxPool2d(2, stride='x')",
        "Unflatten(1, (-1, -1))",
        "Flatten(5)",
        "PixelShuffle(0)",
        "LayerNorm((3, 4))",
        "ConvTranspose2d(4, 4, 3, padding_mode=reflect)",
        "Conv2d(4, 4, 3, padding=sane)",
        "ZeroPad2d((1, 2, 3))",
        "GLU()",
        "Softmax(1, 2, 3)",
        "BatchNorm2d(4, affine=(1, 2))",
        "Upsample(scale_factor=-2)",
        "AdaptiveAvgPool2d((1, 2, 3))",
        "Tanh(1, 2)",
        "ConvTranspose2d(4, 4, 3, stride=0)",
    ]
    for text in texts:
        trace = trace_shapes(text, (1, 4, 6, 6))
        assert trace.rows[0].status in (ERROR, OK, MISMATCH, ASSUMED), text
        if trace.rows[0].status == ERROR:
            assert trace.rows[0].note and trace.stopped_at == "0"


@settings(max_examples=200)
@given(
    st.text(alphabet="()[],=-.'\n 0123ReLUConvTranspose2dLinearx", max_size=120),
    st.lists(st.integers(1, 20), min_size=1, max_size=5),
)
def test_trace_of_random_text_raises_only_config_error(text: str, shape: list[int]) -> None:
    try:
        parsed = parse_model_text(text)
    except ConfigError:
        return
    trace = trace_shapes(parsed, shape)
    assert len(trace.rows) == len(parsed.leaves())


@pytest.mark.parametrize(
    ("layer", "returns"),
    [
        (nn.RNNCell(4, 6), torch.Tensor),
        (nn.GRUCell(4, 6), torch.Tensor),
        (nn.LSTMCell(4, 6), tuple),
        (nn.GRU(4, 6), tuple),
    ],
)
def test_a_recurrent_stop_says_what_each_recurrent_layer_returns(layer, returns) -> None:
    """The cells RNNCell and GRUCell return one tensor, not a tuple: the stop reason says so."""
    model = nn.Sequential(nn.Linear(4, 4), layer)
    assert isinstance(layer(torch.randn(2, 4)), returns)  # what torch does, as the message says
    trace = trace_shapes(str(model), (2, 4))
    assert trace.stopped_at == "1"
    reason = trace.stop_reason
    assert "RNNCell and GRUCell one hidden-state tensor" in reason
    assert "LSTMCell a tuple (h, c)" in reason
    assert "GRU return a tuple (output, hidden state)" in reason
    assert "it returns a tuple" not in reason
