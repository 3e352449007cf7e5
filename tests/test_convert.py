"""Model conversion: live models (convert_model, fuse_model, with core.replacements.weights) and
pasted texts (convert_text, with core.replacements). torch is the oracle: outputs, shapes, and
the generated code run by exec."""

from __future__ import annotations

import ast
import copy
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from model_zoo import (
    Generator,
    NestedGenerator,
    UNetDecoder,
    run_code,
    seeded,
    super_resolution_head,
    vae_decoder,
)
from torch import nn
from torch_oracle import torch_shapes

from core.converter.examples import ARTICLE_GENERATOR, DCGAN_GENERATOR, EXAMPLES, UNET_DECODER
from core.converter.live import convert_model, fuse_model
from core.converter.model_text import parse_model_text
from core.converter.shape_trace import KNOWN_LAYERS, MISMATCH, transposed_conv
from core.converter.text_conversion import convert_text
from core.errors import ConfigError
from core.replacements.registry import EXACT_METHODS, METHODS

TOLERANCE = 1e-9  # float64


class SkipGenerator(nn.Module):
    """ConvTranspose2d layers everywhere torch can hold them: a shared layer used twice, a
    ModuleDict entry with a dash in its name, a ModuleList, a plain attribute, a nested block."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.ConvTranspose2d(6, 6, 3, 1, 1)
        self.stem = nn.Sequential(self.shared, nn.ReLU(), self.shared)
        self.ups = nn.ModuleDict({"to-8": nn.ConvTranspose2d(6, 4, 4, 2, 1, groups=2)})
        self.more = nn.ModuleList([nn.ConvTranspose2d(4, 4, 3, 2, 1, output_padding=1, dilation=1)])
        self.block = nn.Sequential(
            nn.Sequential(nn.ConvTranspose2d(4, 3, (3, 5), (2, 3), (0, 2), bias=False))
        )
        self.attribute = nn.ConvTranspose2d(3, 2, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ups["to-8"](self.stem(x))
        return self.attribute(self.block(self.more[0](x)))


class UNetWithSkips(UNetDecoder):
    """The U-Net decoder with its skips built in, so that it takes one input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, [s.to(x.dtype) for s in self.skips_for(x)])


LIVE_MODELS = {
    "dcgan": (lambda: Generator(ngf=8), (2, 100, 1, 1)),
    "unet": (lambda: UNetWithSkips((32, 16, 8, 4)), (1, 32, 4, 4)),
    "vae": (lambda: vae_decoder(8), (2, 8)),
    "nested": (NestedGenerator, (2, 32)),
    "skips": (SkipGenerator, (2, 6, 5, 4)),
}


def conv_transpose_paths(model: nn.Module, stride_one: bool | None = None) -> set[str]:
    """Paths of ConvTranspose2d layers (only those with stride 1, or only the others)."""
    return {
        path
        for path, m in model.named_modules(remove_duplicate=False)
        if isinstance(m, nn.ConvTranspose2d)
        and (stride_one is None or stride_one == (tuple(m.stride) == (1, 1)))
    }


# ---------------------------------------------------------------------------------- live


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(LIVE_MODELS))
def test_convert_model_keeps_shapes_and_exact_methods_keep_outputs(name: str, method: str) -> None:
    build, shape = LIVE_MODELS[name]
    model = seeded(build())
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(shape, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
    converted, report = convert_model(model, method)
    with torch.no_grad():
        got = converted(x)
    assert got.shape == expected.shape
    assert not conv_transpose_paths(converted)
    reported = {p for row in report.rows for p in (row.path, *row.also_at)}
    assert reported == conv_transpose_paths(model)
    assert report.complete and report.method == method and not report.kept
    # stride 1 is an ordinary convolution: a resize method rewrites it exactly (sub-pixel)
    stride_one = conv_transpose_paths(model, stride_one=True)
    for row in report.rows:
        assert row.before.startswith("ConvTranspose2d(") and row.after
        used = method if method in EXACT_METHODS or row.path not in stride_one else "subpixel"
        assert row.method == used and row.exact == (used in EXACT_METHODS)
        assert ("ordinary convolution" in row.note) == (used != method)
        # a least-squares fit is a projection: its error is at most the layer's own norm
        assert 0 <= row.relative_error <= 1 + 1e-9
        if row.exact:
            assert row.relative_error < 1e-12
    if method in EXACT_METHODS:
        torch.testing.assert_close(got, expected, rtol=0, atol=TOLERANCE)
        assert report.max_relative_error < 1e-12
    # the original is untouched
    assert conv_transpose_paths(model)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    with torch.no_grad():
        assert torch.equal(model(x), expected)


def test_shared_layer_is_replaced_once_and_stays_shared() -> None:
    model = seeded(SkipGenerator())
    converted, report = convert_model(model, "subpixel")
    assert converted.shared is converted.stem[0] is converted.stem[2]
    row = next(r for r in report.rows if r.path == "shared")
    assert set(row.also_at) == {"stem.0", "stem.2"}
    assert len(report.rows) == 5


def test_converting_a_bare_layer_returns_its_replacement() -> None:
    layer = seeded(nn.ConvTranspose2d(3, 2, 4, 2, 1))
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    new, report = convert_model(layer, "zero-insertion")
    assert not isinstance(new, nn.ConvTranspose2d)
    assert [r.path for r in report.rows] == [""]
    torch.testing.assert_close(new(x), layer(x), rtol=0, atol=TOLERANCE)


def test_subclasses_are_left_alone_and_reported() -> None:
    class Custom(nn.ConvTranspose2d):
        def forward(self, x, output_size=None):
            return super().forward(x) * 2

    model = nn.Sequential(Custom(2, 2, 4, 2, 1), nn.ConvTranspose2d(2, 2, 4, 2, 1))
    converted, report = convert_model(model, "subpixel")
    assert isinstance(converted[0], Custom) and not isinstance(converted[1], nn.ConvTranspose2d)
    assert [s.path for s in report.skipped] == ["0"] and not report.complete
    assert "subclasses" in report.skipped[0].reason


def test_train_mode_dtype_and_report_dict() -> None:
    model = nn.Sequential(nn.ConvTranspose2d(2, 2, 4, 2, 1)).train()
    converted, report = convert_model(model, "resize-bilinear")
    assert converted.training and converted[0].training
    assert all(p.dtype == torch.float32 for p in converted.parameters())
    data = report.as_dict()
    assert data["count"] == 1 and data["rows"][0]["method"] == "resize-bilinear"
    assert data["rows"][0]["exact"] is False and data["rows"][0]["relative_error"] > 0


@pytest.mark.parametrize("method", ["nearest", "", None, "resize-lanczos", 3])
def test_bad_method_is_refused(method) -> None:
    with pytest.raises(ConfigError) as info:
        convert_model(nn.ConvTranspose2d(1, 1, 2, 2), method)
    assert info.value.parameter == "method"


def test_non_modules_are_refused() -> None:
    for bad in (None, "model", [nn.ReLU()]):
        with pytest.raises(ConfigError):
            convert_model(bad, "subpixel")  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            fuse_model(bad)  # type: ignore[arg-type]


def test_a_traversal_stand_in_sees_every_layer() -> None:
    calls = []

    def stand_in(layer: nn.ConvTranspose2d, method: str) -> tuple[nn.Module, float]:
        calls.append(layer)
        return nn.Identity(), 0.5

    model = SkipGenerator()
    converted, report = convert_model(model, "subpixel", replace=stand_in)
    assert len(calls) == 5 and report.max_relative_error == 0.5
    assert isinstance(converted.ups["to-8"], nn.Identity)


def _spectral_generator() -> nn.Module:
    """A GAN generator with spectral-normed transposed convolutions (torch's parametrize API),
    a stride-1 one included, and one old-style (hook-based) spectral norm."""
    from torch.nn.utils import parametrizations

    return nn.Sequential(
        parametrizations.spectral_norm(nn.ConvTranspose2d(8, 6, 4, 1, 0)),
        nn.ReLU(),
        parametrizations.spectral_norm(nn.ConvTranspose2d(6, 4, 4, 2, 1)),
        nn.ReLU(),
        nn.utils.spectral_norm(nn.ConvTranspose2d(4, 3, 4, 2, 1)),
        parametrizations.spectral_norm(nn.Conv2d(3, 3, 3, padding=1)),
        nn.Tanh(),
    )


@pytest.mark.parametrize("method", METHODS)
def test_spectral_normed_transposed_convs_are_converted_with_the_norm_folded(method) -> None:
    from torch.nn.utils import parametrize

    model = seeded(_spectral_generator())
    x = torch.randn(2, 8, 1, 1, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
        model(x)  # eval mode: the spectral norm's power iteration does not move
        assert torch.equal(model(x), expected)
    converted, report = convert_model(model, method)
    with torch.no_grad():
        got = converted(x)
    assert got.shape == expected.shape == (2, 3, 16, 16)
    assert [row.path for row in report.rows] == ["0", "2", "4"]
    assert not report.skipped and not report.kept and report.complete
    for row in report.rows:
        if row.path in ("0", "2"):
            assert row.before.startswith("ParametrizedConvTranspose2d(")
            assert "folded into the weights" in row.note and "_SpectralNorm" in row.note
    first = report.rows[0]  # stride 1: rewritten exactly whatever the method
    assert first.exact and first.relative_error < 1e-12
    assert first.method == (method if method in EXACT_METHODS else "subpixel")
    if method in EXACT_METHODS:
        torch.testing.assert_close(got, expected, rtol=0, atol=TOLERANCE)
    assert parametrize.is_parametrized(converted[5])  # the Conv2d keeps its spectral norm
    assert parametrize.is_parametrized(model[0]) and parametrize.is_parametrized(model[2])
    with torch.no_grad():
        assert torch.equal(model(x), expected)  # the original is untouched


def test_a_bare_parametrized_layer_is_converted_in_train_mode_too() -> None:
    from torch.nn.utils import parametrizations

    layer = seeded(parametrizations.spectral_norm(nn.ConvTranspose2d(3, 2, 4, 2, 1)))
    layer.train()
    new, report = convert_model(layer, "zero-insertion")
    assert new.training and [r.path for r in report.rows] == [""]
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(new(x), layer.eval()(x), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("method", METHODS)
def test_stride_one_layers_are_rewritten_exactly_alike_by_both_paths(method) -> None:
    """A stride-1 ConvTranspose2d is an ordinary convolution. The live path used to make it
    Upsample(scale_factor=1.0) + Conv2d under a resize method and call it not exact (relative
    error 0.0) while the text path kept it: now both rewrite it exactly (sub-pixel: a Conv2d),
    report it exact, and say why."""
    model = seeded(
        nn.Sequential(nn.ConvTranspose2d(4, 4, 3, 1, 1), nn.ConvTranspose2d(4, 2, 4, 2, 1))
    )
    converted, report = convert_model(model, method)
    text = convert_text(str(model), (1, 4, 5, 5), method)
    assert [row.path for row in report.rows] == ["0", "1"]
    assert [row.path for row in text.rows if row.replaced] == ["0", "1"]
    for live, row in zip(report.rows, text.rows, strict=True):
        assert (live.method, live.exact) == (row.method, row.exact), live.path
        assert live.note == row.note
    first = report.rows[0]
    assert first.exact and first.relative_error < 1e-12
    if method in EXACT_METHODS:
        assert first.method == method and not first.note
    else:
        assert first.method == "subpixel" and "ordinary convolution" in first.note
        assert not report.rows[1].exact and report.rows[1].method == method
        assert "Upsample" not in repr(converted[0])
    x = torch.randn(1, 4, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(converted[0](x), model[0](x), rtol=0, atol=TOLERANCE)


def test_conv_transpose_1d_and_3d_are_kept_and_say_why() -> None:
    model = nn.Sequential(
        nn.ConvTranspose1d(4, 4, 4, 2, 1),
        nn.Unflatten(2, (2, 5)),
        nn.ConvTranspose2d(4, 2, 4, 2, 1),
        nn.Unflatten(1, (1, 2)),
        nn.ConvTranspose3d(1, 1, 3, 2, 1),
    )
    x = torch.randn(1, 4, 5)
    with torch.no_grad():
        expected = model(x)
    converted, report = convert_model(model, "subpixel")
    assert [r.path for r in report.rows] == ["2"] and report.complete
    assert [(k.path, "ConvTranspose2d only" in k.reason) for k in report.kept] == [
        ("0", True),
        ("4", True),
    ]
    assert converted(x).shape == expected.shape
    text = convert_text(str(model), x.shape, "subpixel")
    assert [row.replaced for row in text.rows] == [False, False, True, False, False]
    for i in (0, 4):
        assert "ConvTranspose2d only" in text.rows[i].note
        assert text.rows[i].note == report.kept[i // 4].reason


def test_progress_counts_every_distinct_transposed_conv_in_order() -> None:
    """progress(done, total, path) after each layer: a shared layer once (its first path), kept
    and skipped layers too, so that done reaches total; the paths are the report's."""
    calls: list[tuple[int, int, str]] = []
    model = seeded(SkipGenerator())
    _, report = convert_model(model, "resize-bilinear", progress=lambda *args: calls.append(args))
    assert {row.path for row in report.rows} == {
        "shared",
        "ups.to-8",
        "more.0",
        "block.0.0",
        "attribute",
    }
    assert calls == [(i + 1, 5, row.path) for i, row in enumerate(report.rows)]

    class Custom(nn.ConvTranspose2d):
        pass

    calls.clear()
    mixed = nn.Sequential(
        nn.ConvTranspose1d(4, 4, 4, 2, 1),
        nn.Unflatten(2, (2, 5)),
        Custom(4, 4, 4, 2, 1),
        nn.ConvTranspose2d(4, 2, 4, 2, 1),
    )
    _, report = convert_model(mixed, "subpixel", progress=lambda *args: calls.append(args))
    assert (len(report.kept), len(report.skipped), len(report.rows)) == (1, 1, 1)
    assert calls == [(1, 3, "0"), (2, 3, "2"), (3, 3, "3")]

    calls.clear()
    convert_model(
        nn.ConvTranspose2d(2, 2, 4, 2, 1), "subpixel", progress=lambda *a: calls.append(a)
    )
    assert calls == [(1, 1, "")]
    calls.clear()
    convert_model(
        nn.Sequential(nn.Conv2d(2, 2, 3)), "subpixel", progress=lambda *a: calls.append(a)
    )
    assert calls == []


def test_progress_is_called_as_each_layer_is_done_and_can_stop_the_conversion() -> None:
    """Each call comes after that layer's replacement and before the next one's; an exception
    from progress stops the conversion and leaves the model as it was."""
    events: list[str] = []

    def stand_in(layer: nn.ConvTranspose2d, method: str) -> tuple[nn.Module, float]:
        events.append(f"replace {layer.in_channels}")
        return nn.Identity(), 0.0

    def progress(done: int, total: int, path: str) -> None:
        events.append(f"progress {done}/{total} {path}")
        if done == 2:
            raise KeyboardInterrupt

    model = nn.Sequential(
        nn.ConvTranspose2d(3, 2, 4, 2, 1),
        nn.ConvTranspose2d(2, 5, 4, 2, 1),
        nn.ConvTranspose2d(5, 1, 4, 2, 1),
    )
    with pytest.raises(KeyboardInterrupt):
        convert_model(model, "subpixel", replace=stand_in, progress=progress)
    assert events == ["replace 3", "progress 1/3 0", "replace 2", "progress 2/3 1"]
    assert all(type(m) is nn.ConvTranspose2d for m in model)


@pytest.mark.parametrize("progress", ["bar", 3, [print]])
def test_a_progress_that_is_not_callable_is_refused(progress) -> None:
    with pytest.raises(ConfigError) as info:
        convert_model(nn.ConvTranspose2d(1, 1, 2, 2), "subpixel", progress=progress)
    assert info.value.parameter == "progress"
    assert type(progress).__name__ in info.value.message


# ---------------------------------------------------------------------------------- fusion


class ResizeGenerator(nn.Module):
    """Resize-convolutions (Odena et al. 2016) at several levels, plus pairs that cannot fuse."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU()
        )
        self.body = nn.Sequential(
            nn.Sequential(
                nn.Upsample(scale_factor=(2, 3), mode="nearest"),
                nn.Conv2d(6, 6, 3, padding=(2, 0), dilation=2, groups=2),
            ),
            nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Conv2d(6, 4, 3, padding=1),
            nn.Upsample(size=(30, 40)),
            nn.Conv2d(4, 4, 3),
            nn.Upsample(scale_factor=3),
            nn.Conv2d(4, 3, 3, padding="same"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(x))


def test_fuse_model_is_exact_and_keeps_names() -> None:
    model = seeded(ResizeGenerator())
    x = torch.randn(2, 4, 3, 2, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
    fused, report = fuse_model(model)
    with torch.no_grad():
        got = fused(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=TOLERANCE)
    assert [(r.upsample_path, r.conv_path) for r in report.rows] == [
        ("stem.0", "stem.1"),
        ("body.0.0", "body.0.1"),
        ("body.5", "body.6"),
    ]
    assert [s.path for s in report.skipped] == ["body.3"]  # size= upsampling cannot fuse
    assert list(fused.body._modules) == ["0", "1", "2", "3", "4", "5"]
    assert isinstance(fused.stem[0], nn.ConvTranspose2d) and isinstance(fused.stem[1], nn.ReLU)
    # untouched original
    assert isinstance(model.stem[0], nn.Upsample) and len(model.body) == 7


def test_fused_layers_are_resize_convs_the_fit_recovers_exactly() -> None:
    model = seeded(nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 5, 3, padding=1)))
    fused, _ = fuse_model(model)
    back, report = convert_model(fused, "resize-nearest")
    assert report.max_relative_error < 1e-9
    x = torch.randn(1, 3, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=TOLERANCE)


# ---------------------------------------------------------------------------------- text


TEXT_MODELS = {
    "dcgan": (lambda: Generator(ngf=8), (2, 100, 1, 1)),
    "vae": (lambda: vae_decoder(8), (2, 8)),
    "super-resolution": (lambda: super_resolution_head(2), (1, 3, 7, 5)),
    "nested": (NestedGenerator, (2, 32)),
    "article": (None, (1, 256, 8, 8)),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(TEXT_MODELS))
def test_converted_text_code_runs_with_the_original_shape(name: str, method: str) -> None:
    build, shape = TEXT_MODELS[name]
    text = ARTICLE_GENERATOR if build is None else str(build())
    result = convert_text(text, shape, method)
    ast.parse(result.code)
    model = run_code(result.code).eval()
    with torch.no_grad():
        output = model(torch.randn(shape))
    # a custom module's forward is not in the printout: its output is assumed, not claimed
    assert tuple(output.shape) == result.trace.assumed_output_shape
    assert result.output_shape in (None, tuple(output.shape))
    if build is not None:
        _, original = torch_shapes(build().eval(), torch.randn(shape))
        assert tuple(output.shape) == original
    leaves = {leaf.path: leaf for leaf in parse_model_text(text).leaves()}
    strided = {
        path
        for path, leaf in leaves.items()
        if leaf.type_name == "ConvTranspose2d" and max(transposed_conv(leaf).stride) > 1
    }
    all_transposed = {p for p, leaf in leaves.items() if leaf.type_name == "ConvTranspose2d"}
    replaced = {row.path for row in result.rows if row.replaced}
    assert replaced == all_transposed
    for row in result.rows:
        assert row.out_shape_after == row.out_shape_before, row
        if row.replaced:  # stride 1 is rewritten exactly (sub-pixel) under a resize method
            used = method if method in EXACT_METHODS or row.path in strided else "subpixel"
            assert row.method == used and row.exact == (used in EXACT_METHODS)
    remaining = sum(isinstance(m, nn.ConvTranspose2d) for m in model.modules())
    assert remaining == len(all_transposed - replaced)


def test_text_code_keeps_the_names_of_the_original() -> None:
    model = NestedGenerator()
    result = convert_text(str(model), (1, 32), "subpixel")
    converted = run_code(result.code)
    kept = {k for k in model.state_dict() if ".up." not in k}
    assert kept <= set(converted.state_dict())


def test_stride_one_layers_get_the_exact_equivalent_under_a_resize_method() -> None:
    result = convert_text(DCGAN_GENERATOR, (1, 100, 1, 1), "resize-nearest")
    first = result.rows[0]
    assert first.replaced and first.method == "subpixel" and first.exact
    assert "stride 1" in first.note and "ordinary convolution" in first.note
    assert result.replaced == 5
    assert "# stride 1: an ordinary convolution" in result.code
    model = run_code(result.code)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in model.modules())


@pytest.mark.parametrize("method", METHODS)
def test_a_flat_latent_gets_the_replacement_for_the_shape_the_layer_computes(method) -> None:
    """(N, 100) is traced as (N, 100, 1, 1): the replacement is the one for a 1x1 input (it was
    chosen for a 2x100 "image" and ended at (2, 512, 5, 103))."""
    model = Generator(ngf=8).eval()
    result = convert_text(DCGAN_GENERATOR, (2, 100), method)
    assert result.output_shape is None  # the view is an assumption
    assert result.trace.assumed_output_shape == (2, 3, 64, 64)
    for row in result.rows:
        assert row.out_shape_after == row.out_shape_before, row
    first = result.rows[0]
    assert first.out_shape_before == (2, 512, 4, 4) and "z.view(2, 100, 1, 1)" in first.note
    assert "reshape it to (2, 100, 1, 1)" in result.code
    assert first.replaced and first.exact  # stride 1: exact under every method
    assert result.replaced == 5
    converted = run_code(convert_text(str(model), (2, 100), method).code).eval()
    with torch.no_grad():
        assert tuple(converted(torch.randn(2, 100, 1, 1)).shape) == (2, 3, 64, 64)


def test_a_replacement_of_another_size_is_never_written(monkeypatch) -> None:
    """The safety net behind list_replacements: a replacement whose output size differs from
    the traced one keeps the layer, says so, and writes no replacement."""
    import dataclasses

    import core.replacements.catalog as replacements

    real = replacements.best_replacement

    def wrong_size(layer, method, sizes=None):
        return dataclasses.replace(real(layer, method, sizes), output_size=(1, 1))

    monkeypatch.setattr(replacements, "best_replacement", wrong_size)
    result = convert_text(ARTICLE_GENERATOR, (1, 256, 8, 8), "subpixel")
    assert result.replaced == 0
    assert all(
        "Deconv Lab bug" in row.note for row in result.rows if row.type_name.startswith("ConvT")
    )
    assert "replaced_" not in result.code


def test_huge_strides_say_why_no_resize_convolution_is_offered() -> None:
    result = convert_text("ConvTranspose2d(4, 4, 3, stride=65536)", (1, 4, 2, 2), "resize-nearest")
    note = result.rows[0].note
    assert not result.rows[0].replaced
    assert "strides up to 32" in note and "stride 1" not in note
    _, report = convert_model(nn.ConvTranspose2d(4, 4, 3, stride=40), "resize-nearest")
    assert not report.rows and "32" in report.skipped[0].reason
    exact = convert_text("ConvTranspose2d(4, 4, 3, stride=65536)", (1, 4, 2, 2), "subpixel")
    assert exact.replaced == 1


def test_spectral_normed_generator_text_is_traced_and_converted() -> None:
    model = _spectral_generator().eval()
    x = torch.randn(2, 8, 1, 1)
    result = convert_text(str(model), x.shape, "resize-nearest")
    with torch.no_grad():
        assert result.output_shape == tuple(model(x).shape) == (2, 3, 16, 16)
    assert [row.replaced for row in result.rows] == [True, False, True, False, True, False, False]
    for i in (0, 2):
        assert "_SpectralNorm" in result.rows[i].note and "not carried" in result.rows[i].note
    assert "stride 1" in result.rows[0].note
    assert "_SpectralNorm" in result.rows[5].note and not result.rows[5].replaced
    converted = run_code(result.code)
    from torch.nn.utils import parametrize

    assert parametrize.is_parametrized(converted[5])  # kept, with its spectral norm
    assert "# its parametrization in the original (_SpectralNorm) is not carried" in result.code
    with torch.no_grad():
        assert tuple(converted(x).shape) == (2, 3, 16, 16)


def test_max_layers_refuses_big_models_before_tracing() -> None:
    text = "G(\n (0-9998): 9999 x ConvTranspose2d(4, 4, 3, 1, 1)\n)"
    start = time.process_time()
    with pytest.raises(ConfigError) as info:
        convert_text(text, (1, 4, 8, 8), "subpixel", max_layers=500)
    assert time.process_time() - start < 2.0
    assert info.value.parameter == "text"
    assert "9,999 layers" in info.value.message and "at most 500" in info.value.message
    assert "convert_model" in info.value.message
    assert (
        convert_text(
            text.replace("9998", "499").replace("9999", "500"),
            (1, 4, 8, 8),
            "subpixel",
            max_layers=500,
        ).replaced
        == 500
    )


def test_unknown_shape_changing_layers_stop_the_conversion_and_say_so() -> None:
    text = "\n".join(
        [
            "ConvTranspose2d(8, 8, 4, 2, 1)",
            "LPPool2d(2, 2)",
            "MyUpsample(2)",
            "ConvTranspose2d(8, 3, 4, 2, 1)",
        ]
    )
    result = convert_text(text, (1, 8, 4, 4), "subpixel")
    assert [row.status for row in result.rows] == ["ok", "ok", "unknown", "skipped"]
    # the layer after the stop is rewritten from its own arguments, without shapes
    assert [row.replaced for row in result.rows] == [True, False, False, True]
    assert result.rows[3].out_shape_after is None and "no shape" in result.rows[3].note
    assert result.trace.stopped_on_unknown and "MyUpsample" in result.rows[2].note
    assert "not a layer Deconv Lab knows" in result.rows[2].note and "stopped at 2" in result.code
    run_code(result.code)


def test_unet_text_stops_at_the_first_skip_and_still_writes_every_replacement() -> None:
    result = convert_text(UNET_DECODER, (1, 256, 8, 8), "subpixel")
    assert result.replaced == 3 and result.output_shape is None
    assert [row.path for row in result.rows if row.status == MISMATCH] == ["ups.0.conv.block.0"]
    assert "the printout does not show" in result.code and "nn.Sequential containers" in result.code
    ast.parse(result.code)
    model = run_code(result.code)
    for i, channels in enumerate((256, 128, 64)):
        up = model.ups[i].up  # each replaced layer, usable on its own
        size = 8 * 2**i
        assert tuple(up(torch.randn(1, channels, size, size)).shape) == (
            1,
            channels // 2,
            2 * size,
            2 * size,
        )


def test_examples_are_what_torch_prints() -> None:
    assert str(Generator()) + "\n" == DCGAN_GENERATOR
    assert str(UNetDecoder()) + "\n" == UNET_DECODER
    for key, example in EXAMPLES.items():
        result = convert_text(example.text, example.input_shape, "subpixel")
        model = run_code(result.code)
        if key == "unet":  # its skips are not in the printout
            assert result.trace.stopped_at is not None and result.output_shape is None
        else:
            shape = result.trace.assumed_output_shape
            assert tuple(model(torch.randn(example.input_shape)).shape) == shape


def test_article_example_shows_the_articles_wrong_size() -> None:
    """The article's Upsample(2) + Conv2d(k=4, p=1) rewrite of its generator ends at 57x57."""
    wrong = nn.Sequential(
        *[
            m
            for c in (256, 128, 64)
            for m in (nn.Upsample(scale_factor=2), nn.Conv2d(c, max(3, c // 2), 4, padding=1))
        ]
    )
    assert tuple(wrong(torch.randn(1, 256, 8, 8)).shape[-2:]) == (57, 57)
    result = convert_text(ARTICLE_GENERATOR, (1, 256, 8, 8), "resize-nearest")
    assert result.output_shape == (1, 3, 64, 64) and "57x57" in ARTICLE_GENERATOR
    assert result.replaced == 3


@pytest.mark.parametrize("name", sorted(KNOWN_LAYERS))
def test_every_known_layer_round_trips_through_print_and_code(name: str) -> None:
    """Build each known layer with non-default arguments, print, convert, exec: same repr."""
    examples = {
        "Linear": nn.Linear(3, 5, bias=False),
        "Flatten": nn.Flatten(2, 3),
        "Unflatten": nn.Unflatten(1, (2, 3)),
        "GroupNorm": nn.GroupNorm(2, 4, eps=1e-3),
        "LayerNorm": nn.LayerNorm((4, 5), elementwise_affine=False),
        "Upsample": nn.Upsample(scale_factor=(2.0, 1.5), mode="bicubic"),
        "UpsamplingNearest2d": nn.UpsamplingNearest2d(scale_factor=2),
        "UpsamplingBilinear2d": nn.UpsamplingBilinear2d(size=(3, 4)),
        "PixelShuffle": nn.PixelShuffle(3),
        "PixelUnshuffle": nn.PixelUnshuffle(2),
        "Threshold": nn.Threshold(0.5, -1.0),
        "Softmax": nn.Softmax(dim=2),
        "LogSoftmax": nn.LogSoftmax(1),
        "Softmin": nn.Softmin(0),
        "GLU": nn.GLU(1),
        "PReLU": nn.PReLU(4),
        "Hardtanh": nn.Hardtanh(-3.0, 3.0),
        "GELU": nn.GELU("tanh"),
        "RReLU": nn.RReLU(0.1, 0.2),
        "Softplus": nn.Softplus(2.0, 10.0),
        "LeakyReLU": nn.LeakyReLU(0.3, True),
        "MaxUnpool1d": nn.MaxUnpool1d(3, 2, 1),
        "MaxUnpool2d": nn.MaxUnpool2d((3, 2), 2, 1),
        "MaxUnpool3d": nn.MaxUnpool3d(2),
    }
    module_type = getattr(nn, name)
    if name in examples:
        module = examples[name]
    elif name.startswith(("ConvTranspose", "Conv")):
        n = int(name[-2])
        extra = (
            {"output_padding": 1}
            if name.startswith("ConvTranspose")
            else {"padding_mode": "reflect"}
        )
        module = module_type(4, 6, 3, stride=2, padding=1, groups=2, bias=False, **extra)
        assert n in (1, 2, 3)
    elif name.startswith(("BatchNorm", "InstanceNorm")):
        module = module_type(4, eps=1e-3, momentum=None, affine=name.startswith("Instance"))
    elif name.startswith("MaxPool"):
        module = module_type(3, 2, 1, dilation=2, ceil_mode=True)
    elif name.startswith("AvgPool"):
        module = module_type(3, 2, 1, count_include_pad=False)
    elif name.startswith("LPPool"):
        module = module_type(1.5, 3, 2, ceil_mode=True)
    elif name.startswith("Adaptive"):
        module = module_type(5)
    elif name.startswith("ConstantPad"):
        module = module_type(2, 1.5)
    elif name.endswith(("Pad1d", "Pad2d", "Pad3d")):
        module = module_type(2)
    elif name.startswith(("Dropout", "AlphaDropout", "FeatureAlphaDropout")):
        module = module_type(0.25)
    elif name in ("ELU", "CELU"):
        module = module_type(0.5)
    elif name in ("Softshrink", "Hardshrink"):
        module = module_type(0.25)
    else:
        module = module_type()
    # A 5-D input: torch refuses a 2D layer at once, so even a ConvTranspose2d is not
    # replaced and every layer is written back as parsed.
    result = convert_text(str(module), (2, 4, 6, 6, 6), "zero-insertion")
    assert result.replaced == 0
    rebuilt = run_code(result.code)
    assert str(rebuilt) == str(nn.Sequential(module)), result.code


# ---------------------------------------------------------------------------------- safety


def _names_and_strings(code: str) -> tuple[set[str], set[str]]:
    tree = ast.parse(code)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    strings = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    return names, strings


def test_user_text_never_reaches_code() -> None:
    text = """Evil(
      (0): ConvTranspose2d(3, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))
      (x): __import__(cmd='os.system("echo pwned")')
      (y): Upsample(scale_factor=2.0, mode='nearest"); __import__("os").system("echo pwned')
      (z): Linear(in_features=3, out_features=3, bias=os_system)
      (w-1): ReLU()
      (a;import_os): ReLU()
      (ä): Tanh()
    )"""
    result = convert_text(text, (1, 3, 4, 4), "subpixel")
    assert result.replaced == 1
    assert "pwned" not in result.code and "os.system" not in result.code
    assert "os_system" not in result.code and "import_os" not in result.code
    assert "ä" not in result.code and '"child5"' in result.code and '"child6"' in result.code
    names, strings = _names_and_strings(result.code)
    assert strings <= {"x", "y", "z", "0", "w-1", "child5", "child6"} | {
        s for s in strings if s.startswith(("Exact stand-in", "Converted by"))
    }
    assert "__import__" not in names
    run_code(result.code)  # runs, and does nothing but build modules


@settings(max_examples=150)
@given(
    st.text(
        alphabet="()[],=-.'\"\n :_0123456789xReLUConvTranspose2dLinearSequential", max_size=160
    ),
    st.sampled_from(METHODS),
)
def test_convert_text_of_random_text_raises_config_error_or_compiles(
    text: str, method: str
) -> None:
    try:
        result = convert_text(text, (1, 3, 8, 8), method)
    except ConfigError as error:
        assert str(error)
        return
    ast.parse(result.code)
    names, _ = _names_and_strings(result.code)
    assert "__import__" not in names and "eval" not in names and "exec" not in names


@pytest.mark.parametrize(
    "text", ["ReLU(" * 10_000, "x" * 300_000, "Linear(" + "9" * 5000 + ")", "\x00\x01\x02 binary"]
)
def test_convert_text_fails_fast_on_hostile_input(text: str) -> None:
    start = time.process_time()
    with pytest.raises(ConfigError):
        convert_text(text, (1, 3, 8, 8), "subpixel")
    assert time.process_time() - start < 2.0  # CPU seconds: a guard against hangs


def test_convert_text_refuses_bad_method_and_shape() -> None:
    with pytest.raises(ConfigError) as info:
        convert_text(ARTICLE_GENERATOR, (1, 256, 8, 8), "deconv")
    assert info.value.parameter == "method"
    with pytest.raises(ConfigError) as info:
        convert_text(ARTICLE_GENERATOR, (1, 0, 8, 8), "subpixel")
    assert info.value.parameter == "input_shape"


def test_text_conversion_as_dict() -> None:
    result = convert_text(ARTICLE_GENERATOR, [1, 256, 8, 8], "zero-insertion")
    data = result.as_dict()
    assert data["replaced"] == 3 and data["output_shape"] == [1, 3, 64, 64]
    assert data["rows"][0]["method"] == "zero-insertion" and data["rows"][0]["exact"] is True
    assert data["rows"][1]["method"] is None and data["code"] == result.code
