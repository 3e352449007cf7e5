"""The model-text parser: torch's own `print(model)` output is the oracle for structure and values;
hostile pastes must fail fast with a ConfigError that says where and what was expected."""

from __future__ import annotations

import os
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_paths import ROOT
from torch import nn

from core.converter.model_text import (
    MAX_DEPTH,
    MAX_LAYERS,
    MAX_TEXT_CHARS,
    ModelTextError,
    ParsedLayer,
    parse_model_text,
)
from core.errors import ConfigError

# CPU seconds (process_time, so a busy machine does not count): a guard against hangs and
# runaway work, not a benchmark; the worst accepted input takes about 0.3 s here.
HANG_GUARD_S = 2.0


class Block(nn.Module):
    """A custom module with every container kind inside."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False)
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(4)] + [nn.ReLU()])
        self.heads = nn.ModuleDict({"a": nn.ReLU(), "b-c": nn.Tanh()})
        self.empty = nn.Sequential()


class Zoo(nn.Module):
    """One of (nearly) every layer the tracer knows, with non-default arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False),
            nn.BatchNorm2d(64, eps=1e-3, momentum=None),
            nn.ReLU(True),
            Block(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Upsample(size=(3, 4), mode="bilinear", align_corners=False),
            nn.Upsample(scale_factor=(2.0, 1.5)),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Unflatten(1, (64, 4, 4)),
            nn.Unflatten(1, torch.Size([2, 5])),
            nn.Flatten(0, -1),
            nn.PixelShuffle(2),
            nn.PixelUnshuffle(3),
            nn.Dropout2d(p=0.25),
            nn.GroupNorm(4, 64),
            nn.LayerNorm([64, 8, 8]),
            nn.InstanceNorm2d(3, affine=True),
            nn.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn.AvgPool2d(3, stride=2, padding=1),
            nn.AdaptiveAvgPool2d((None, 7)),
            nn.ZeroPad2d((1, 0, -1, 2)),
            nn.ReflectionPad2d(1),
            nn.ConstantPad2d(2, 3.5),
            nn.Conv2d(3, 3, 3, padding="same"),
            nn.Conv2d(3, 6, 3, padding=2, dilation=2, groups=3, padding_mode="reflect"),
            nn.ConvTranspose1d(3, 3, 3),
            nn.ConvTranspose3d(3, 3, (3, 2, 1), stride=2, output_padding=(1, 0, 0)),
            nn.PReLU(3),
            nn.ELU(alpha=0.5),
            nn.GELU(approximate="tanh"),
            nn.Softplus(beta=2),
            nn.Hardtanh(-2.0, 2.0),
            nn.Threshold(0.1, 20),
            nn.Softmax(dim=1),
            nn.Linear(10, 20, bias=False),
            nn.Identity(),
            nn.SiLU(),
            nn.Sigmoid(),
            nn.Tanh(),
            nn.LeakyReLU(1e-20),
        )
        self.head = nn.Linear(2, 2)


def structure(model: nn.Module) -> list[tuple[str, str]]:
    return [(path, type(m).__name__) for path, m in model.named_modules()]


def parsed_structure(root: ParsedLayer) -> list[tuple[str, str]]:
    return [(layer.path, layer.type_name) for layer in root.walk()]


# ---------------------------------------------------------------------------------- print(model)


@pytest.mark.parametrize(
    "model", [Zoo(), Block(), nn.Sequential(nn.Linear(1, 1))], ids=["zoo", "block", "one"]
)
def test_print_model_structure_matches_named_modules(model: nn.Module) -> None:
    root = parse_model_text(str(model))
    assert parsed_structure(root) == structure(model)


def test_repeats_expand_to_torch_names() -> None:
    model = Block()
    assert "(0-3): 4 x Linear" in str(model)  # torch compresses ModuleList repeats
    root = parse_model_text(str(model))
    leaves = {leaf.path: leaf for leaf in root.leaves()}
    for i in range(4):
        assert leaves[f"layers.{i}"].kwargs == {"in_features": 3, "out_features": 3, "bias": True}
    assert "heads.b-c" in leaves


def test_values_come_back_as_torch_holds_them() -> None:
    model = Zoo()
    root = parse_model_text(str(model))
    layers = dict(model.named_modules())
    for leaf in root.leaves():
        module = layers[leaf.path]
        for name, value in leaf.kwargs.items():
            if name in ("unflattened_size", "normalized_shape"):
                assert value == tuple(getattr(module, name))
            elif name == "padding" and isinstance(value, str):
                assert value == module.padding
            elif hasattr(module, name) and name not in ("bias",):
                expected = getattr(module, name)
                assert value == (tuple(expected) if isinstance(expected, list) else expected), (
                    leaf.path,
                    name,
                )
    conv_t = next(leaf for leaf in root.leaves() if leaf.path == "main.0")
    assert conv_t.args == (100, 64)
    assert conv_t.kwargs == {"kernel_size": (4, 4), "stride": (1, 1), "bias": False}
    norm = next(leaf for leaf in root.leaves() if leaf.path == "main.1")
    assert norm.kwargs["momentum"] is None and norm.kwargs["eps"] == 1e-3
    shapes = [leaf for leaf in root.leaves() if leaf.type_name == "Unflatten"]
    assert shapes[1].kwargs["unflattened_size"] == (2, 5)  # torch.Size([2, 5])


def test_plain_list_and_code_style() -> None:
    text = """
    # my generator
    nn.ConvTranspose2d(64, 32, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)),
    torch.nn.BatchNorm2d(32),
    nn.LeakyReLU(negative_slope=-0.5, inplace=True),
    ReLU()
    nn.Upsample(scale_factor=2.5, mode='bilinear'), nn.Tanh()
    """
    root = parse_model_text(text)
    assert root.synthetic and root.type_name == "Sequential"
    assert [(c.path, c.type_name) for c in root.children] == [
        ("0", "ConvTranspose2d"),
        ("1", "BatchNorm2d"),
        ("2", "LeakyReLU"),
        ("3", "ReLU"),
        ("4", "Upsample"),
        ("5", "Tanh"),
    ]
    assert root.children[2].kwargs == {"negative_slope": -0.5, "inplace": True}
    assert root.children[4].kwargs == {"scale_factor": 2.5, "mode": "bilinear"}
    assert root.children[0].line == 3 and root.children[0].column == 5


def test_a_single_layer_is_a_list_of_one_and_a_container_is_the_root() -> None:
    one = parse_model_text("ConvTranspose2d(1, 2, 3)")
    assert one.synthetic and [c.path for c in one.children] == ["0"]
    seq = parse_model_text(
        "model = nn.Sequential(nn.Linear(100, 512), nn.ReLU(), nn.Sequential("
        "nn.Unflatten(1, (32, 4, 4))))"
    )
    assert not seq.synthetic
    assert parsed_structure(seq) == [
        ("", "Sequential"),
        ("0", "Linear"),
        ("1", "ReLU"),
        ("2", "Sequential"),
        ("2.0", "Unflatten"),
    ]


def test_value_forms() -> None:
    root = parse_model_text(
        "Foo(-3, +2, 1e-05, .5, 3., -inf, inf, True, False, None, same, 'a b', \"c\", (1,), (), "
        "[1, [2, 3]], (4), torch.Size([2]), dotted.name, x=((1, 2), (3, 4)))"
    )
    leaf = root.children[0]
    assert leaf.args == (
        -3,
        2,
        1e-05,
        0.5,
        3.0,
        float("-inf"),
        float("inf"),
        True,
        False,
        None,
        "same",
        "a b",
        "c",
        (1,),
        (),
        (1, (2, 3)),
        4,
        (2,),
        "dotted.name",
    )
    assert leaf.kwargs == {"x": ((1, 2), (3, 4))}
    assert isinstance(leaf.args[0], int) and isinstance(leaf.args[4], float)


def test_custom_module_with_arguments_and_children() -> None:
    text = "BatchNormAct2d(\n  64, eps=1e-05\n  (drop): Identity()\n  (act): ReLU(inplace=True)\n)"
    root = parse_model_text(text)
    assert root.args == (64,) and root.kwargs == {"eps": 1e-05}
    assert [c.path for c in root.children] == ["drop", "act"]
    assert root.is_container and [leaf.path for leaf in root.leaves()] == ["drop", "act"]


def test_as_dict_and_text() -> None:
    root = parse_model_text("(up): ConvTranspose2d(8, 4, kernel_size=(4, 4), bias=False)")
    leaf = root.children[0]
    assert leaf.text == "ConvTranspose2d(8, 4, kernel_size=(4, 4), bias=False)"
    data = root.as_dict()
    assert data["children"][0]["path"] == "up" and data["children"][0]["args"] == [8, 4]


class OddKeys(nn.Module):
    """ModuleDict keys torch allows that are not identifiers, and parametrized layers."""

    def __init__(self) -> None:
        super().__init__()
        from torch.nn.utils import parametrizations

        self.heads = nn.ModuleDict(
            {
                key: nn.Sequential(nn.Linear(2, 2), nn.ReLU())
                for key in ("a b", "a:b", "a,b", "a'b", "[x]", "x=1", "ä", "0-3")
            }
        )
        self.up = parametrizations.spectral_norm(nn.ConvTranspose2d(4, 3, 4, 2, 1))
        self.both = parametrizations.spectral_norm(parametrizations.weight_norm(nn.Conv2d(3, 3, 3)))
        self.block = parametrizations.spectral_norm(nn.Linear(3, 3))


def test_module_dict_keys_torch_allows_are_read() -> None:
    model = OddKeys()
    root = parse_model_text(str(model))
    expected = [
        (path, name.removeprefix("Parametrized"))
        for path, name in structure(model)
        if ".parametrizations" not in path
    ]
    assert parsed_structure(root) == expected
    assert [c.name for c in root.children[0].children] == list(model.heads)


def test_parametrized_layers_are_read_as_the_layers_they_wrap() -> None:
    root = parse_model_text(str(OddKeys()))
    leaves = {leaf.path: leaf for leaf in root.leaves()}
    up = leaves["up"]
    assert up.type_name == "ConvTranspose2d" and not up.is_container
    assert up.parametrizations == (("weight", ("_SpectralNorm",)),)
    assert up.printed_type == "ParametrizedConvTranspose2d"
    assert up.kwargs == {"kernel_size": (4, 4), "stride": (2, 2), "padding": (1, 1)}
    assert leaves["both"].parametrizations == (("weight", ("_WeightNorm", "_SpectralNorm")),)
    assert leaves["both"].parametrization_text == "weight: _WeightNorm, _SpectralNorm"
    assert up.as_dict()["parametrizations"] == {"weight": ["_SpectralNorm"]}
    # a single parametrized layer is a list of one, like any single layer
    single = parse_model_text(str(OddKeys().up))
    assert single.synthetic and [(c.path, c.type_name) for c in single.children] == [
        ("0", "ConvTranspose2d")
    ]
    # a "Parametrized" name without torch's parametrizations child is left as it is
    other = parse_model_text("ParametrizedThing(\n  (conv): Conv2d(1, 1, 1)\n)")
    assert other.type_name == "ParametrizedThing" and other.is_container


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ModuleDict(\n  (a(b)): ReLU()\n)", "Rename the module"),
        ("Linear(\u0663, 4)", "not an ASCII digit"),
        ("Linear(1\u0663, 4)", "not an ASCII digit"),
        ("Linear(\uff11, 4)", "not an ASCII digit"),  # fullwidth 1
        ("Linear(1_000, 4)", "without '_' separators"),
        ("Upsample(scale_factor=1_0.5)", "without '_' separators"),
        ("(\u0660-\u0663): 4 x ReLU()", "index range"),
    ],
)
def test_names_and_numbers_that_cannot_be_read_say_why(text: str, fragment: str) -> None:
    error = _error(text)
    assert fragment in str(error), str(error)


def test_only_ascii_digits_make_numbers() -> None:
    assert parse_model_text("Linear(10, 4)").children[0].args == (10, 4)
    # a child name may hold any digits: it is a name, not a number
    root = parse_model_text("ModuleDict(\n  (\u0663): ReLU()\n)")
    assert [c.name for c in root.children] == ["\u0663"]


# ---------------------------------------------------------------------------------- errors


def _error(text: str) -> ModelTextError:
    start = time.process_time()
    with pytest.raises(ConfigError) as info:
        parse_model_text(text)
    assert time.process_time() - start < HANG_GUARD_S
    assert str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("Sequential(\n  (0): ReLU()\n", 3, 1, "ends inside Sequential("),
        ("Linear(3 4)", 1, 10, "',' or ')'"),
        ("Linear(3, 4", 1, 12, "Was the paste cut off"),
        ("ReLU()\nLinear(in_features=3, in_features=4)", 2, 23, "given twice"),
        ("Linear(in_features=3, 4)", 1, 23, "positional argument after keyword"),
        ("(0-3): 5 x Linear(1, 1)", 1, 1, "holds 4 layers but the count says 5"),
        ("Foo(\n (a): ReLU()\n (a): Tanh()\n)", 3, 2, "appears twice"),
        ("Foo(x='abc)", 1, 7, "unterminated string"),
        ("Foo(1) @", 1, 8, "unexpected character '@'"),
        ("Foo(1) Bar(2)", 1, 8, "a new line or ','"),
        ("ReLU", 1, 5, "'(' after ReLU"),
        ("Foo(,)", 1, 5, "an argument or ')'"),
        ("Foo(x=Bar())", 1, 7, "not a call"),
        ("Linear(99999999999, 3)", 1, 8, "too large"),
        ("Upsample(scale_factor=1e400)", 1, 23, "too large"),
        ("Foo(-x)", 1, 6, "a number after '-'"),
        ("", 1, 1, "nothing to read"),
        ("   \n\n# only a comment\n", 1, 1, "nothing to read"),
    ],
)
def test_errors_name_line_column_and_what_was_expected(text, line, column, fragment) -> None:
    error = _error(text)
    assert isinstance(error, ModelTextError)
    assert (error.line, error.column) == (line, column), str(error)
    assert fragment in str(error)
    assert str(error).startswith(f"line {line}, column {column}: ")
    assert error.parameter == "text"


def _hostile_texts() -> dict[str, str | bytes]:
    printed = str(Zoo())
    return {
        "truncated": printed[: len(printed) // 2],
        "huge number": "Linear(" + "9" * 100_000 + ", 3)",
        "deep calls": "Sequential(" * 10_000,
        "deep tuples": "Foo(" + "(" * 10_000,
        "deep lists": "Foo(" + "[" * 10_000,
        "one megabyte": "ReLU()\n" * 150_000,
        "random bytes": os.urandom(200_000).decode("latin-1"),
        "binary bytes": bytes(range(256)) * 100,
        "many commas": "Foo(1" + ",1" * 99_000 + ")",
        "many layers": "\n".join(["nn.ReLU()"] * 19_000),
        "many repeats": "Foo(\n (0-9999): 10000 x Bar(\n (0-9999): 10000 x Linear(1, 1)\n)\n)",
        "long string": "Foo('" + "a" * 150_000 + "')",
        "long name": "A" * 150_000 + "()",
        "only parentheses": "(" * 150_000,
        "nul": "ReLU()\x00",
        "not utf-8": b"\xff\xfe ReLU()",
    }


@pytest.mark.parametrize("name", list(_hostile_texts()))
def test_hostile_pastes_fail_fast_with_a_clear_error(name: str) -> None:
    text = _hostile_texts()[name]
    start = time.process_time()
    with pytest.raises(ConfigError) as info:
        parse_model_text(text)  # type: ignore[arg-type]
    assert time.process_time() - start < HANG_GUARD_S
    message = str(info.value)
    assert 10 < len(message) < 400, message


def test_caps_are_stated_in_the_messages() -> None:
    assert f"{MAX_TEXT_CHARS:,}" in str(_error("x" * (MAX_TEXT_CHARS + 1)))
    assert str(MAX_DEPTH) in str(_error("Foo(" * (MAX_DEPTH + 5)))
    assert str(MAX_LAYERS) in str(_error("\n".join(["ReLU()"] * (MAX_LAYERS + 1))))
    assert "binary" in str(_error("ReLU()\n\x07"))


def test_the_largest_allowed_text_parses_quickly() -> None:
    block = str(Zoo()) + "\n"
    text = block * (MAX_TEXT_CHARS // len(block))
    start = time.process_time()
    root = parse_model_text(text)
    assert time.process_time() - start < HANG_GUARD_S
    assert len(root.children) == MAX_TEXT_CHARS // len(block)


def test_non_text_input_is_refused() -> None:
    for value in (None, 3, ["ReLU()"]):
        with pytest.raises(ConfigError):
            parse_model_text(value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- fuzzing

_SEED = str(Zoo())


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_random_text_parses_or_raises_config_error(text: str) -> None:
    try:
        root = parse_model_text(text)
    except ConfigError as error:
        assert str(error)
    else:
        assert isinstance(root, ParsedLayer)


@settings(max_examples=300)
@given(st.text(alphabet="()[],=:-+.'\"\n xabc019_eE", max_size=200))
def test_random_grammar_soup_parses_or_raises_config_error(text: str) -> None:
    try:
        parse_model_text(text)
    except ConfigError as error:
        assert str(error)


@settings(max_examples=300)
@given(st.integers(0, len(_SEED)), st.integers(0, 40), st.text(max_size=5))
def test_mutated_prints_parse_or_raise_config_error(start: int, length: int, insert: str) -> None:
    text = _SEED[:start] + insert + _SEED[start + length :]
    try:
        root = parse_model_text(text)
    except ConfigError as error:
        assert str(error)
    else:
        assert root.leaves() or root.is_container


@settings(max_examples=100)
@given(st.binary(max_size=2000))
def test_random_bytes_raise_config_error_or_parse(data: bytes) -> None:
    try:
        parse_model_text(data)  # type: ignore[arg-type]
    except ConfigError as error:
        assert str(error)


def test_a_repeated_parametrization_step_is_not_expanded_into_memory():
    """'(0-2999999): 3000000 x _SpectralNorm()' is no print of torch's: it is parsed as layers
    (and refused by the layer cap at once), never unrolled into a list of 3 million names."""
    text = (
        "G(\n  (0): ParametrizedConvTranspose2d(\n"
        "    4, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)\n"
        "    (parametrizations): ModuleDict(\n      (weight): ParametrizationList(\n"
        "        (0-2999999): 3000000 x _SpectralNorm()\n      )\n    )\n  )\n)"
    )
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="layers"):
        parse_model_text(text)
    assert time.perf_counter() - started < 2.0  # a hang guard, far above the milliseconds taken


def test_no_pattern_of_the_parser_uses_backslash_d() -> None:
    """The file's own rule: digits are ASCII [0-9] (\\d also matches digits such as '٣')."""
    source = (ROOT / "core" / "converter" / "model_text.py").read_text(encoding="utf-8")
    code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    offending = [line.strip() for line in code if "\\d" in line]
    assert not offending, offending
