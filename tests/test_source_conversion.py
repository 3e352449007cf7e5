"""Converting a model's source file: every ConvTranspose2d call rewritten, nothing else touched.

Model files written here from the papers are rewritten for every method; the rewritten files are
executed (they are this test's own files) and their models' outputs compared with the originals'
in torch: same shapes on real inputs for every method, equal outputs for the exact methods once
the weight-transfer snippet has carried the trained weights. Untouched lines stay byte for byte,
the diff applies with `patch`, hostile files fail fast with a clear error, and no user code ever
runs.
"""

from __future__ import annotations

import difflib
import subprocess
import textwrap
import time
import types
from pathlib import Path

import pytest
import torch
from fuzz_support import call_guarded
from hypothesis import given, settings
from hypothesis import strategies as st

from core.converter.source_conversion import (
    COMMENT,
    MAX_NESTING,
    MAX_SOURCE_CHARS,
    MAX_UNARY_CHAIN,
    convert_source,
)
from core.errors import ConfigError
from core.replacements.registry import METHODS

EXACT = ("subpixel", "zero-insertion")
# A hostile or large source is answered within this many seconds (about 1 s measured for a
# 140 KB file on two shared cores; the margin is for a slow CI machine).
SOURCE_LIMIT_S = 3.0

DCGAN = '''\
"""DCGAN generator (Radford et al. 2016), as in the PyTorch tutorial."""
import torch.nn as nn

NZ = 100  # size of the latent vector
NGF = 16  # generator feature maps (64 in the paper)
NC = 3


class Generator(nn.Module):
    def __init__(self, ngf=NGF):
        super().__init__()
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(NZ, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            # state size. (ngf*8) x 4 x 4
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, NC, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


def build():
    return Generator()


INPUT = (2, NZ, 1, 1)
'''

PIX2PIX = '''\
"""pix2pix U-Net generator (Isola et al. 2017): forward() concatenates every skip."""
import torch
from torch import nn


class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, submodule=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost = outermost
        use_bias = True
        downconv = nn.Conv2d(outer_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)  # the innermost has no skip below it
            model = [downrelu, downconv, uprelu, upconv]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                        padding=1, bias=use_bias)
            model = [downrelu, downconv, submodule, uprelu, upconv, nn.InstanceNorm2d(outer_nc)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


def build(ngf=8):
    block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, innermost=True)
    block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
    block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
    return UnetSkipConnectionBlock(3, ngf, submodule=block, outermost=True)


INPUT = (1, 3, 32, 32)
'''

VAE = '''\
"""A convolutional VAE decoder (Kingma & Welling 2014) whose forward() views, with an imported
ConvTranspose2d under another name."""
from torch import nn
from torch.nn import ConvTranspose2d as Deconv

LATENT = 8
KERNEL = (3, 3)


class Decoder(nn.Module):
    def __init__(self, latent=LATENT):
        super().__init__()
        self.fc = nn.Linear(latent, 32 * 4 * 4)
        self.up1 = Deconv(32, 16, KERNEL, stride=2, padding=1, output_padding=1)
        self.up2 = Deconv(16, 8, kernel_size=KERNEL, stride=(2, 2), padding=(1, 1),
                          output_padding=(1, 1))
        self.out = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, z):
        x = self.fc(z).view(-1, 32, 4, 4)
        return self.out(nn.functional.relu(self.up2(nn.functional.relu(self.up1(x)))))


def build():
    return Decoder()


INPUT = (2, LATENT)
'''

CONSTANTS = '''\
"""A generator with module-level constants, `ngf * 8` channels, groups, dilation and
asymmetric layers (spectrogram GANs upsample time and frequency differently)."""
import torch

K = 4
S = 2
P = 1
TIME_FREQ = (3, 5)


class Generator(torch.nn.Module):
    def __init__(self, ngf=8):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.ConvTranspose2d(ngf * 8, ngf * 4, K, S, P),
            torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(ngf * 4, ngf * 4, K, S, P, groups=4),
            torch.nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, stride=2, padding=2, dilation=2,
                                     output_padding=1, groups=2),
            torch.nn.ConvTranspose2d(ngf * 2, 1, TIME_FREQ, stride=(1, 2), padding=(1, 2),
                                     output_padding=(0, 1), bias=False),
        )

    def forward(self, x):
        return self.layers(x)


def build():
    return Generator()


INPUT = (1, 64, 5, 7)
'''

UNRESOLVED = '''\
"""A block whose kernel size is a constructor argument: its geometry is not in the file."""
import torch.nn as nn


class Up(nn.Module):
    def __init__(self, cin, cout, k=4):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, k, 2, 1)
        self.fixed = nn.ConvTranspose2d(cout, cout, 4, 2, 1)

    def forward(self, x):
        return self.fixed(self.up(x))


def build():
    return Up(4, 2)


INPUT = (1, 4, 5, 5)
'''

FILES = {
    "dcgan": DCGAN,
    "pix2pix": PIX2PIX,
    "vae": VAE,
    "constants": CONSTANTS,
    "unresolved": UNRESOLVED,
}


def load(source: str, name: str) -> types.ModuleType:
    """Execute a model file written in this test (or its rewrite) as a module."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # this test's own model files
    return module


def run(model: torch.nn.Module, shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return model.eval()(torch.randn(shape, generator=generator, dtype=torch.float64))


def build(module: types.ModuleType, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return module.build().double()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(FILES))
def test_rewritten_files_build_models_with_the_original_shapes(name: str, method: str) -> None:
    source = FILES[name]
    result = convert_source(source, method)
    original, rewritten = load(source, "original"), load(result.new_source, "rewritten")
    shape = original.INPUT
    before, after = run(build(original), shape), run(build(rewritten), shape)
    assert after.shape == before.shape
    torch_calls = sum(type(m) is torch.nn.ConvTranspose2d for m in build(rewritten).modules())
    assert torch_calls == sum(not call.converted for call in result.calls)


MIXED = UNRESOLVED.replace("Up(4, 2)", "Up(4, 4)")  # the left call's weights fit the helper's


@pytest.mark.parametrize("method", EXACT)
@pytest.mark.parametrize("name", [*FILES, "mixed"])
def test_exact_methods_with_the_weight_snippet_give_equal_outputs(name: str, method: str) -> None:
    """Also for files with a call left as it is (unresolved, mixed): the snippet copies that
    layer unchanged instead of treating it as replaced."""
    source = FILES.get(name, MIXED)
    result = convert_source(source, method)
    assert result.weight_code
    if name in ("unresolved", "mixed"):
        assert [call.converted for call in result.calls] == [False, True]
    else:
        assert result.converted == len(result.calls)
    original, rewritten = load(source, "original"), load(result.new_source, "rewritten")
    trained = build(original, seed=3)  # stands for a trained model
    new = build(rewritten, seed=4)  # fresh weights, to be overwritten
    snippet = load(result.weight_code, "snippet")
    snippet.load_from_original(new, trained)
    expected, got = run(trained, original.INPUT), run(new, original.INPUT)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


def test_resize_methods_have_no_weight_snippet() -> None:
    assert convert_source(DCGAN, "resize-nearest").weight_code == ""


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(FILES))
def test_untouched_lines_are_byte_identical_and_the_diff_applies(
    name: str, method: str, tmp_path: Path
) -> None:
    source = FILES[name]
    result = convert_source(source, method)
    old, new = source.splitlines(keepends=True), result.new_source.splitlines(keepends=True)
    call_lines = {
        line
        for call in result.calls
        if call.converted
        for line in range(call.line, call.line + call.original.count("\n") + 1)
    }
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            changed = set(range(i1 + 1, i2 + 1))
            unconverted = {c.line for c in result.calls if not c.converted}
            assert changed <= call_lines | unconverted, (tag, old[i1:i2])
    (tmp_path / "model.py").write_text(source)
    (tmp_path / "change.diff").write_text(result.diff)
    if result.diff:
        subprocess.run(
            ["patch", "-p0", "-s", "-i", "change.diff"], cwd=tmp_path, check=True, timeout=30
        )
    assert (tmp_path / "model.py").read_text() == result.new_source


def test_channel_arguments_stay_expressions_and_constants_resolve() -> None:
    result = convert_source(DCGAN, "resize-nearest")
    first, second = result.calls[:2]
    assert "ngf * 8" in first.replacement  # the user's expression, not a number
    assert second.replacement.startswith("nn.Sequential(nn.Upsample(scale_factor=2")
    assert "nn.Conv2d(ngf * 8, ngf * 4, kernel_size=3, padding=1, bias=False)" in (
        second.replacement
    )
    assert first.method == "subpixel" and first.exact  # stride 1: exact under resize too
    constants = convert_source(CONSTANTS, "subpixel")
    assert constants.converted == 4
    assert all(call.converted for call in constants.calls)


def test_an_unresolved_geometry_is_left_with_a_comment_on_its_line() -> None:
    result = convert_source(UNRESOLVED, "subpixel")
    up, fixed = result.calls
    assert not up.converted and "kernel_size is `k`" in up.reason
    assert fixed.converted
    (line,) = [line for line in result.new_source.splitlines() if "self.up =" in line]
    assert line.strip().startswith("self.up = nn.ConvTranspose2d(cin, cout, k, 2, 1)")
    assert COMMENT in line


def test_helpers_and_imports_are_inserted_once_after_the_imports() -> None:
    result = convert_source(CONSTANTS, "zero-insertion")
    text = result.new_source
    assert text.count("class ZeroInsertionConvTranspose2d") == 1
    assert text.count("import torch.nn.functional as F") == 1
    assert text.count("from torch import nn") == 1
    assert text.index("class ZeroInsertionConvTranspose2d") < text.index("K = 4")
    assert text.startswith(CONSTANTS.split("import torch")[0])  # the docstring first


def test_padding_mode_other_than_zeros_is_refused_for_that_call() -> None:
    source = "import torch.nn as nn\nup = nn.ConvTranspose2d(4, 4, 3, padding_mode='reflect')\n"
    (call,) = convert_source(source, "subpixel").calls
    assert not call.converted and "padding_mode='reflect'" in call.reason


def test_a_name_that_shadows_a_constant_is_not_resolved() -> None:
    source = textwrap.dedent(
        """\
        import torch.nn as nn
        K = 4
        def make(K=3):
            return nn.ConvTranspose2d(8, 4, K, 2, 1)
        """
    )
    (call,) = convert_source(source, "subpixel").calls
    assert not call.converted and "`K`" in call.reason


def test_a_file_binding_nn_to_something_else_is_refused_plainly() -> None:
    source = "import torch\nimport numpy as nn\nup = torch.nn.ConvTranspose2d(4, 4, 4, 2, 1)\n"
    with pytest.raises(ConfigError, match="binds `nn`"):
        convert_source(source, "resize-nearest")


def test_no_user_code_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = textwrap.dedent(
        f"""\
        import torch.nn as nn
        open({str(marker)!r}, "w").write("the file was run")
        raise SystemExit("the file was imported")
        up = nn.ConvTranspose2d(8, 4, 4, 2, 1)
        """
    )
    result = convert_source(source, "subpixel")
    assert result.converted == 1 and not marker.exists()


HOSTILE = {
    "deep not": "x = " + "not " * 40_000 + "1\n",
    "deep minus": "x = " + "-" * 150_000 + "1\n",
    "deep lambda": "x = " + "lambda: " * 20_000 + "1\n",
    "long chain": "x = " + "1+" * 60_000 + "1\n",
    "deep brackets": "x = " + "(" * 5000 + ")" * 5000 + "\n",
    "deep blocks": "".join("    " * i + "if x:\n" for i in range(200)) + "    " * 200 + "pass\n",
    "huge literal": "x = " + "9" * 100_000 + "\n",
    "1 MB": "x = 1\n" * 180_000,
    "binary": "x = 1\x00\n",
    "syntax": "def f(:\n    pass\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_sources_get_a_clear_error(name: str) -> None:
    source = HOSTILE[name] + "import torch.nn as nn\nup = nn.ConvTranspose2d(4, 4, 4, 2, 1)\n"
    _, error = call_guarded(convert_source, source, "subpixel", limit_s=SOURCE_LIMIT_S)
    assert error is not None and error.parameter == "source"
    if name in ("deep not", "deep minus", "deep lambda"):
        assert f"more than {MAX_UNARY_CHAIN} unary operators" in error.message
        assert error.message.startswith("line 1, column ")
    if name == "long chain":
        assert "nested too deeply" in error.message
    if name == "deep brackets":
        assert f"deeper than {MAX_NESTING}" in error.message and "line 1" in error.message
    if name == "1 MB":
        assert f"{MAX_SOURCE_CHARS:,}" in error.message
    if name == "syntax":
        assert error.message.startswith("line 1, column 7")


def big_file(calls: int) -> str:
    """A valid model file of `calls` Conv2d lines and one ConvTranspose2d (about 29 bytes a
    line), as a generated or a very long model file is."""
    lines = [
        f"        self.c{i} = nn.Conv2d(8, 8, 3)" if i % 2 else f"        c{i} = nn.Conv2d(8, 8, 3)"
        for i in range(calls)
    ]
    return (
        "import torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n" + "\n".join(lines) + "\n"
        "        self.up = nn.ConvTranspose2d(8, 4, 4, 2, 1)  # the one to convert\n"
        + "".join(f"C{i} = nn.Conv2d(1, 1, 1)\n" for i in range(calls // 50))
    )


@pytest.mark.parametrize("calls", [3400, 5000])
def test_a_big_valid_file_is_converted_within_the_limit(calls: int) -> None:
    source = big_file(calls)
    assert 100_000 < len(source) <= MAX_SOURCE_CHARS
    result, error = call_guarded(convert_source, source, "resize-nearest", limit_s=SOURCE_LIMIT_S)
    assert error is None and result.converted == 1
    (call,) = result.calls
    assert call.line == calls + 7 and call.column == 19
    old, new = source.splitlines(), result.new_source.splitlines()
    assert new[: calls + 6] == old[: calls + 6] and new[calls + 7 :] == old[calls + 7 :]
    assert new[calls + 6] == (
        '        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), '
        "nn.Conv2d(8, 4, kernel_size=3, padding=1))  # the one to convert"
    )


LINES_KEPT = """\
'''Docstring.'''
import torch.nn as nn
K = 4  # a constant
a = 1; b = [
    2,   # odd spacing kept
]
x = 1 + \\
    2
if a: c = 3
up = nn.ConvTranspose2d(4, 4, K, 2, 1)   ; d = 5
for i in range(2):
    e = i
# a trailing comment
"""


def test_lines_between_calls_come_back_byte_for_byte() -> None:
    """Lines without a call are set aside before LibCST parses the file and put back after:
    comments, blank lines, semicolons, continuations and docstrings come back as they were."""
    result = convert_source(LINES_KEPT, "resize-nearest")
    assert result.converted == 1 and result.calls[0].line == 10
    old, new = LINES_KEPT.splitlines(), result.new_source.splitlines()
    assert new[:9] == old[:9] and new[10:] == old[10:]
    assert new[9].endswith("   ; d = 5") and "nn.Upsample(" in new[9]


USERS_HELPER = """\
import torch
from torch import nn


class SubPixelConvTranspose2d(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)

    def forward(self, x):
        return nn.functional.pixel_shuffle(self.conv(x), 2)


def build():
    return nn.Sequential(SubPixelConvTranspose2d(4), nn.ConvTranspose2d(4, 4, 4, 2, 1))


INPUT = (1, 4, 5, 5)
"""


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", [*FILES, "mixed", "lines kept", "user's helper"])
def test_setting_lines_aside_changes_nothing(name: str, method: str) -> None:
    """The result with lines set aside equals LibCST's over the whole file."""
    import ast

    from core.converter.source_conversion import _pruned, _rewrite

    source = {**FILES, "mixed": MIXED, "lines kept": LINES_KEPT, "user's helper": USERS_HELPER}[
        name
    ]
    pruned, pairs = _pruned(source, ast.parse(source))
    assert pairs and all(original not in pruned for _, original in pairs)  # set aside
    whole, calls = _rewrite(source, ast.parse(source), method)
    result = convert_source(source, method)
    assert result.new_source == whole and result.calls == calls


def test_a_users_class_named_like_the_helper_keeps_its_name() -> None:
    """ESPCN code often defines its own SubPixelConvTranspose2d: the helper takes another name."""
    result = convert_source(USERS_HELPER, "subpixel")
    assert result.converted == 1
    assert "SubPixelConvTranspose2d_2(nn.Conv2d(" in result.new_source
    assert result.new_source.count("class SubPixelConvTranspose2d(") == 1
    assert result.new_source.count("class SubPixelConvTranspose2d_2(") == 1
    original, rewritten = load(USERS_HELPER, "original"), load(result.new_source, "rewritten")
    trained, new = build(original, seed=3), build(rewritten, seed=4)
    load(result.weight_code, "snippet").load_from_original(new, trained)
    expected, got = run(trained, original.INPUT), run(new, original.INPUT)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("for m in [nn.ConvTranspose2d(4, 4, k, 2, 1)]:", "    print(m)"),
        ("if nn.ConvTranspose2d(4, 4, k, 2, 1):", "    pass"),
        ("with nn.ConvTranspose2d(4, 4, k, 2, 1) as m:", "    y = 1"),
        ("def f(up=nn.ConvTranspose2d(4, 4, k, 2, 1)):", "    return up"),
        ("for m in [nn.ConvTranspose2d(4, 4, k, 2, 1)]: print(m)", ""),
    ],
)
def test_a_comment_for_a_call_in_a_header_goes_above_the_header(header: str, body: str) -> None:
    source = f"import torch.nn as nn\nk = 4\nk = 3\n{header}\n{body}\nz = 2\n"
    result = convert_source(source, "subpixel")
    (call,) = result.calls
    assert not call.converted and "kernel_size is `k`" in call.reason
    lines = result.new_source.splitlines()
    at = lines.index(header)
    assert lines[at - 1].startswith(COMMENT) and "kernel_size is `k`" in lines[at - 1]
    assert result.new_source.count(COMMENT) == 1
    assert result.new_source.replace(lines[at - 1] + "\n", "") == source


@pytest.mark.parametrize("module", ["torch.nn", "torch.nn.modules", "torch.nn.modules.conv"])
def test_a_star_import_of_torch_nn_brings_conv_transpose2d(module: str) -> None:
    source = f"from {module} import *\nup = ConvTranspose2d(4, 4, 4, 2, 1)\n"
    result = convert_source(source, "subpixel")
    assert result.converted == 1 and len(result.calls) == 1
    x = torch.randn(1, 4, 5, 5)
    expected = load(source, "star_original").up(x).shape
    assert load(result.new_source, "star").up(x).shape == expected
    shadowed = f"from {module} import *\n\ndef f(ConvTranspose2d):\n    return ConvTranspose2d(4)\n"
    assert convert_source(shadowed, "subpixel").calls == ()
    without = "from torch.optim import *\nup = ConvTranspose2d(4, 4, 4, 2, 1)\n"
    assert convert_source(without, "subpixel").calls == ()


def test_bad_methods_are_refused() -> None:
    with pytest.raises(ConfigError, match="method must be one of"):
        convert_source(DCGAN, "bilinear")


@settings(max_examples=25, deadline=None)
@given(
    k=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    groups=st.sampled_from([1, 2]),
    method=st.sampled_from(METHODS),
    data=st.data(),
)
def test_random_layers_in_source_keep_torchs_shape(k, s, p, d, groups, method, data) -> None:
    op = tuple(data.draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d, strict=True))
    layer = torch.nn.ConvTranspose2d(4, 2 * groups, k, s, p, op, groups, True, d)
    size = (data.draw(st.integers(3, 6)), data.draw(st.integers(3, 6)))
    x = torch.randn(1, 4, *size, dtype=torch.float64)
    try:
        expected = layer.double()(x)
    except RuntimeError:
        return  # torch refuses this size: nothing to compare
    if expected.numel() == 0:
        return
    source = f"import torch.nn as nn\nch = 2\nlayer = nn.ConvTranspose2d(4, ch * {groups}, {k}, {s}, {p}, {op}, {groups}, True, {d})\n"  # noqa: E501
    result = convert_source(source, method)
    (call,) = result.calls
    if not call.converted:
        assert "stride" in call.reason  # a resize method beyond its strides
        return
    rewritten = load(result.new_source, "random")
    with torch.no_grad():
        got = rewritten.layer.double()(x)
    assert got.shape == expected.shape


# ----------------------------------------------------------------------------- command line


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    import os
    import sys

    from tests_paths import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "core", "convert-source", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_prints_a_diff_that_patch_applies(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(UNRESOLVED)
    run = _cli("model.py", "--method", "resize-nearest", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("--- model.py\n+++ model.py\n")
    assert "1 of 2 ConvTranspose2d calls rewritten" in run.stderr
    assert "model.py:8:19: not converted: kernel_size is `k`" in run.stderr
    (tmp_path / "change.diff").write_text(run.stdout)
    subprocess.run(["patch", "-p0", "-s", "-i", "change.diff"], cwd=tmp_path, check=True)
    expected = convert_source(UNRESOLVED, "resize-nearest").new_source
    assert (tmp_path / "model.py").read_text() == expected


def test_the_cli_writes_in_place_and_prints_the_weight_code(tmp_path: Path) -> None:
    (tmp_path / "gen.py").write_text(DCGAN)
    run = _cli("gen.py", "--method", "subpixel", "--write", cwd=tmp_path)
    assert run.returncode == 0 and "gen.py rewritten." in run.stdout
    assert (tmp_path / "gen.py").read_text() == convert_source(DCGAN, "subpixel").new_source
    (tmp_path / "fresh.py").write_text(DCGAN)
    weights = _cli("fresh.py", "--method", "zero-insertion", "--weight-code", cwd=tmp_path)
    assert weights.stdout == convert_source(DCGAN, "zero-insertion").weight_code
    resize = _cli("fresh.py", "--method", "resize-nearest", "--weight-code", cwd=tmp_path)
    assert "fitted, not copied" in resize.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.py", "--method", "subpixel"), "no file 'missing.py'"),
        (("model.py", "--method", "bilinear"), "invalid choice: 'bilinear'"),
        (("broken.py", "--method", "subpixel"), "broken.py: line 1, column 7: "),
        (("deep.py", "--method", "subpixel"), f"deep.py: line 1, column {4 * 65 + 1}: more than"),
        (("minus.py", "--method", "subpixel"), "minus.py: line 1, column 69: more than 64 unary"),
    ],
)
def test_the_cli_refuses_bad_input_in_one_line(args, message, tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(DCGAN)
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "deep.py").write_text("x = " + "not " * 40_000 + "1\n")
    (tmp_path / "minus.py").write_text("x = " + "-" * 150_000 + "1\n")
    began = time.perf_counter()
    run = _cli(*args, cwd=tmp_path)
    assert time.perf_counter() - began < SOURCE_LIMIT_S + 5  # the interpreter's start included
    assert run.returncode == 2 and run.stdout == ""
    assert message in run.stderr and run.stderr.count("\n") == 1
