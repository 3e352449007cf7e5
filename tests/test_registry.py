"""`core.replacements.registry`: every method is one complete record, and every API that takes a
method agrees with it (names, order, exactness, catalog entries, overlap maps, the one check)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import torch
from tests_paths import ROOT
from torch import nn

from core.converter.live import convert_model
from core.converter.text_conversion import convert_text
from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import output_size
from core.overlap.replacement_maps import replacement_overlap, replacement_overlaps
from core.replacements import registry
from core.replacements.catalog import best_replacement, list_replacements
from core.replacements.plan import RESIZE_MODES
from core.replacements.weights import replace_conv_transpose

# Square and non-square strides, padding, output padding, dilation and groups.
LAYERS = [
    TransposedConv.make(4, 6, 4, stride=2, padding=1),
    TransposedConv.make(6, 4, (3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 0)),
    TransposedConv.make(4, 4, 3, stride=2, padding=1, groups=2, dilation=2, bias=False),
]


def test_methods_are_the_records_in_todays_order():
    """The order ranks equal catalog entries and orders every picker: it is behaviour."""
    assert tuple(m.name for m in registry.RECORDS) == registry.METHODS
    assert registry.METHODS == (
        "subpixel",
        "zero-insertion",
        "resize-nearest",
        "resize-bilinear",
        "resize-bicubic",
    )
    assert tuple(m.name for m in registry.RECORDS if m.exact) == registry.EXACT_METHODS
    assert registry.method(registry.STRIDE_ONE_METHOD).exact


@pytest.mark.parametrize("record", registry.RECORDS, ids=registry.METHODS)
def test_every_record_has_all_its_parts(record):
    for text in (record.name, record.label, record.help):
        assert isinstance(text, str) and text.strip() == text and text
    assert "\n" not in record.help
    assert isinstance(record.exact, bool)
    assert callable(record.catalog)
    assert callable(registry.load(record.overlap))
    assert registry.method(record.name) is record
    # exact methods build their module; resize methods are fitted, for a mode the plan knows
    if record.exact:
        assert record.resize_mode is None and callable(registry.load(record.module))
        assert callable(registry.load(record.taps))
    else:
        assert record.resize_mode in RESIZE_MODES and record.module is None
        assert record.taps is None
    assert callable(registry.load(record.pipeline))


@pytest.mark.parametrize("layer", [la for la in LAYERS if max(la.stride) > 1], ids=str)
def test_every_methods_pipeline_reaches_the_layers_output_size(layer):
    from core.replacements.pipelines import CONV_TRANSPOSE, MAX_SHOWN, pipeline

    out = output_size(layer, 5)
    original = pipeline(layer, 5, CONV_TRANSPOSE)
    for name in registry.METHODS:
        view = pipeline(layer, 5, name)
        assert view.method == name and view.stages[-1].size == out
        assert view.output.shape == tuple(min(o, MAX_SHOWN) for o in out)
        if registry.method(name).exact:  # the same computation: the same numbers
            assert (view.output == original.output).all(), name


def test_importing_the_registry_imports_neither_torch_nor_numpy():
    code = (
        "import sys\n"
        "import core.replacements.registry\n"
        "print(sorted({'torch', 'numpy'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("record", registry.RECORDS, ids=registry.METHODS)
def test_exact_flags_agree_with_the_built_module(record):
    """An exact method reproduces the layer (error ~0, same outputs); a resize method fitted to
    a random layer does not (a random kernel is not a resize-conv)."""
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1).double()
    module, error = replace_conv_transpose(layer, record.name)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        expected, got = layer(x), module(x)
    assert got.shape == expected.shape
    if record.exact:
        assert error < 1e-12
        assert torch.allclose(got, expected, rtol=0, atol=1e-12)
    else:
        assert error > 1e-3


@pytest.mark.parametrize("layer", LAYERS, ids=[layer.torch_repr() for layer in LAYERS])
def test_every_methods_catalog_entries_carry_its_name_and_exactness(layer):
    sizes = (5, 4)
    out = output_size(layer, sizes)
    for record in registry.RECORDS:
        entries = record.entries(layer, sizes, out, True)
        assert entries, record.name  # every stride here is 2..3: every method offers one
        for entry in entries:
            assert entry.method == record.name and entry.exact == record.exact
            assert entry.name.startswith(record.label) and entry.output_size == out
        best = best_replacement(layer, record.name, sizes)
        assert best is not None and best in entries
    assert {r.method for r in list_replacements(layer, sizes)} == set(registry.METHODS)


def test_catalog_ranks_equal_entries_in_registry_order():
    """The two exact equivalents of a stride-1 layer tie on every criterion but the method."""
    layer = TransposedConv.make(2, 2, 1)
    assert tuple(r.method for r in list_replacements(layer, 4)) == registry.EXACT_METHODS


@pytest.mark.parametrize("layer", LAYERS, ids=[layer.torch_repr() for layer in LAYERS])
def test_every_methods_overlap_map_has_the_layers_output_size(layer):
    for n in (3, 6):
        out = output_size(layer, n)
        for name in registry.METHODS:
            assert replacement_overlap(name, layer, n).shape == out, name
        maps = replacement_overlaps(layer, n)
        assert tuple(maps) == ("conv-transpose", *registry.METHODS)
        for name in registry.EXACT_METHODS:  # the exact ones compute the layer's own map
            assert (maps[name] == maps["conv-transpose"]).all(), name


@pytest.mark.parametrize("name", ["nope", "", "Subpixel", "resize-lanczos", None, 3, ["subpixel"]])
def test_an_unknown_method_is_refused_naming_the_choices(name):
    with pytest.raises(ConfigError) as info:
        registry.method(name)
    assert info.value.parameter == "method"
    assert all(m in info.value.message for m in registry.METHODS)


def test_every_api_refuses_an_unknown_method_alike():
    """One check for every API that takes a method: the same parameter, the same message."""
    layer = TransposedConv.make(4, 2, 4, stride=2, padding=1)
    torch_layer = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
    calls = [
        lambda: best_replacement(layer, "nope"),
        lambda: replacement_overlap("nope", layer, 4),
        lambda: replace_conv_transpose(torch_layer, "nope"),
        lambda: convert_model(nn.Sequential(torch_layer), "nope"),
        lambda: convert_text("nn.ConvTranspose2d(4, 2, 4, 2, 1)", (1, 4, 4, 4), "nope"),
    ]
    with pytest.raises(ConfigError) as expected:
        registry.method("nope")
    for call in calls:
        with pytest.raises(ConfigError) as info:
            call()
        assert (info.value.parameter, info.value.message) == ("method", expected.value.message)


def test_the_default_method_and_the_generators_resize_variants_come_from_the_registry():
    from core.generator.config import RESIZE_VARIANTS, VARIANTS, GeneratorConfig
    from core.generator.model import build_generator

    assert registry.DEFAULT_METHOD in registry.METHODS
    assert GeneratorConfig().replacement == registry.DEFAULT_METHOD
    assert (
        tuple(r.name for r in registry.RECORDS if r.resize_mode is not None)
        == registry.RESIZE_METHODS
    )
    assert set(RESIZE_VARIANTS) <= set(registry.RESIZE_METHODS) & set(VARIANTS)
    config = GeneratorConfig(stages=1, base_channels=8)
    for name in RESIZE_VARIANTS:  # each variant upsamples with its record's mode
        modes = {m.mode for m in build_generator(config, name, 0).modules() if hasattr(m, "mode")}
        assert modes == {registry.method(name).resize_mode}


@pytest.mark.parametrize(
    "path", ["pages/generator.py", "pages/overlap.py", *sorted(ROOT.glob("core/generator/*.py"))]
)
def test_pages_and_the_generator_spell_no_resize_method_name(path):
    """They read the registry (DEFAULT_METHOD, RESIZE_METHODS, a record's resize_mode) rather
    than spelling a method's name or cutting "resize-" off it. Docstrings may name a method in
    their examples (an example shows what a user would type)."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    spelled = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value.startswith("resize-")
    ]
    assert spelled == []
