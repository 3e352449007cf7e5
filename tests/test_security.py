"""Security checks for the hosted demo.

1. A static scan (ast) of every Python source outside tests/ for calls that run or unpickle data
   (eval, exec, compile, __import__, pickle/marshal/shelve/dill loads, torch.load without
   weights_only=True, numpy.load with allow_pickle=True, yaml.load without a safe loader), shell
   commands (os.system, os.popen, subprocess with shell=True) and HTML rendered from non-constant
   text (unsafe_allow_html=True, st.html, components.html). tests/ is excluded: the tests exec
   generated code on purpose. The scanner is tested on snippets that must be flagged.
2. `.streamlit/config.toml`: XSRF protection on, small upload cap, no usage stats, no tracebacks.
3. Uploads: capped in bytes and pixels, type-checked by content (not by name), and a tiny PNG
   that declares a huge image cannot make the server allocate hundreds of MiB.
4. Generated code (replacement snippets, Keras translations, converted models) holds only what
   the user's numbers make: parsed with ast, it uses only allowed imports, free names and
   callees, and none of the hostile names or labels fed in.
5. No file is written outside a temporary directory while the app's pages run (AppTest) or core
   produces code: an audit hook records every open-for-writing, rename, remove and mkdir.
"""

from __future__ import annotations

import ast
import io
import math
import os
import struct
import sys
import tempfile
import threading
import tomllib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fuzz_support import app_page_files, call_guarded, run_bounded
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_paths import ROOT

import core.converter.text_conversion as conversion
import core.generator.images as images
import core.replacements.catalog as replacements
from core.errors import ConfigError
from core.geometry.layer import TransposedConv

MIB = 1 << 20

# ----------------------------------------------------------------------------- 1. static scan

SKIP_DIRS = {"tests", ".git", ".venv", "venv", "__pycache__", "node_modules", ".hypothesis"}

# Always refused, by fully qualified name.
FORBIDDEN_CALLS = {
    "builtins.eval": "eval runs text as code",
    "builtins.exec": "exec runs text as code",
    "builtins.compile": "compile turns text into code",
    "builtins.__import__": "__import__ imports a module named by data",
    "pickle.load": "unpickling runs code",
    "pickle.loads": "unpickling runs code",
    "pickle.Unpickler": "unpickling runs code",
    "_pickle.load": "unpickling runs code",
    "_pickle.loads": "unpickling runs code",
    "dill.load": "unpickling runs code",
    "dill.loads": "unpickling runs code",
    "cloudpickle.load": "unpickling runs code",
    "cloudpickle.loads": "unpickling runs code",
    "joblib.load": "unpickling runs code",
    "marshal.load": "marshal loads code objects",
    "marshal.loads": "marshal loads code objects",
    "shelve.open": "shelve unpickles",
    "pandas.read_pickle": "unpickling runs code",
    "yaml.unsafe_load": "unsafe YAML constructs objects",
    "os.system": "runs a shell command",
    "os.popen": "runs a shell command",
    "subprocess.getoutput": "runs a shell command",
    "subprocess.getstatusoutput": "runs a shell command",
    "pty.spawn": "runs a command",
    "code.interact": "opens an interpreter",
}
SHELL_CALLS = {f"subprocess.{n}" for n in ("run", "call", "check_call", "check_output", "Popen")}
HTML_CALLS = {"streamlit.html", "streamlit.components.v1.html", "streamlit.components.v1.iframe"}


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant_text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


class _Scanner(ast.NodeVisitor):
    """Collect forbidden calls; names are resolved through the module's imports."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.aliases: dict[str, str] = {}
        self.findings: list[str] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.aliases[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def resolve(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        if node.id in self.aliases:
            base = self.aliases[node.id]
        elif not parts and node.id in {"eval", "exec", "compile", "__import__"}:
            base = f"builtins.{node.id}"
        elif node.id == "builtins":
            base = "builtins"
        else:
            return None
        return ".".join([base, *reversed(parts)])

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(f"{self.filename}:{node.lineno}: {what}")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.resolve(node.func)
        if name in FORBIDDEN_CALLS:
            self.flag(node, f"{name}: {FORBIDDEN_CALLS[name]}")
        elif name == "torch.load" and not _is_true(_keyword(node, "weights_only")):
            self.flag(node, "torch.load without weights_only=True unpickles arbitrary objects")
        elif name == "numpy.load" and _is_true(_keyword(node, "allow_pickle")):
            self.flag(node, "numpy.load with allow_pickle=True unpickles")
        elif name == "yaml.load":
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if not (loader is not None and "Safe" in ast.unparse(loader)):
                self.flag(node, "yaml.load without a SafeLoader")
        elif name and (name in SHELL_CALLS or name.startswith("asyncio.create_subprocess_shell")):
            if _is_true(_keyword(node, "shell")) or "shell" in name:
                self.flag(node, f"{name} with shell=True")
        elif (
            name
            and name.split(".")[0] == "os"
            and name.split(".")[-1].startswith(("exec", "spawn"))
        ):
            self.flag(node, f"{name} runs a command")
        if name in HTML_CALLS and not (node.args and _is_constant_text(node.args[0])):
            self.flag(node, f"{name} renders HTML built from non-constant text")
        if _is_true(_keyword(node, "unsafe_allow_html")) and not (
            node.args and _is_constant_text(node.args[0])
        ):
            self.flag(node, "unsafe_allow_html=True with non-constant text (HTML injection)")
        self.generic_visit(node)


def scan_source(source: str, filename: str = "<snippet>") -> list[str]:
    """Findings for one module's source: 'file:line: what'."""
    scanner = _Scanner(filename)
    tree = ast.parse(source, filename)
    # Imports first (wherever they are), so a call above a function-level import resolves too.
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            scanner.visit(node)
    scanner.visit(tree)
    return scanner.findings


def python_sources() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if not SKIP_DIRS.intersection(relative.parts[:-1]):
            yield path


def test_sources_are_scanned():
    names = {str(p.relative_to(ROOT)) for p in python_sources()}
    assert "app.py" in names and "core/geometry/layer.py" in names and "core/cli.py" in names
    assert not any(n.startswith("tests/") for n in names)


def test_no_code_execution_unpickling_shell_or_raw_html_in_sources():
    findings = []
    for path in python_sources():
        findings += scan_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize(
    "snippet",
    [
        "eval(text)",
        "exec(code, {})",
        "compile(src, 'f', 'exec')",
        "__import__(name)",
        "import builtins\nbuiltins.eval(x)",
        "import pickle\npickle.loads(data)",
        "from pickle import load\nload(f)",
        "import pickle as p\np.Unpickler(f).load()",
        "import torch\ntorch.load(path)",
        "import torch\ntorch.load(path, weights_only=False)",
        "from torch import load as L\nL(path)",
        "import numpy as np\nnp.load(f, allow_pickle=True)",
        "import yaml\nyaml.load(text)",
        "import os\nos.system(cmd)",
        "import os\nos.execvp('sh', [])",
        "import subprocess\nsubprocess.run(cmd, shell=True)",
        "import subprocess as sp\nsp.Popen(cmd, shell=True)",
        "import subprocess\nsubprocess.getoutput(cmd)",
        "import streamlit as st\nst.markdown(f'<b>{name}</b>', unsafe_allow_html=True)",
        "import streamlit as st\nst.sidebar.write(label, unsafe_allow_html=True)",
        "import streamlit as st\nst.html(user_text)",
        "import streamlit.components.v1 as components\ncomponents.html(page)",
        "def f():\n    import marshal\n    return marshal.loads(b)",
    ],
)
def test_scanner_flags(snippet):
    assert scan_source(snippet), f"not flagged: {snippet!r}"


@pytest.mark.parametrize(
    "snippet",
    [
        "model.eval()",
        "import torch\ntorch.load(path, weights_only=True)",
        "import numpy as np\nnp.load(f)",
        "import subprocess\nsubprocess.run(['python', '-m', 'core'], check=True)",
        "import streamlit as st\nst.markdown('<div></div>', unsafe_allow_html=True)",
        "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
        "import re\nre.compile('x')",
        "from PIL import Image\nImage.open(buffer)",
    ],
)
def test_scanner_allows(snippet):
    assert not scan_source(snippet), scan_source(snippet)


def _calls_named(attribute: str) -> Iterator[tuple[Path, ast.Call]]:
    for path in python_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute
            ):
                yield path, node


# What each uploader may accept: target images (decoded by Pillow, size-checked first) and a
# model's Python source (parsed by LibCST after the bounds of core.converter.source_conversion,
# never run or imported: tests/test_source_conversion.py proves no user code runs).
UPLOAD_KINDS = {
    "pages/generator.py": {"png", "jpg", "jpeg"},
    "ui/source_view.py": {"py"},
}


def test_file_uploaders_accept_only_the_kinds_they_read_safely():
    uploaders = list(_calls_named("file_uploader"))
    found = {str(path.relative_to(ROOT)) for path, _ in uploaders}
    assert found == set(UPLOAD_KINDS), f"uploaders in {sorted(found)}: review each new one"
    for path, call in uploaders:
        kinds = _keyword(call, "type")
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        assert kinds is not None, f"{where}: file_uploader without type= accepts any file"
        values = ast.literal_eval(kinds)
        values = [values] if isinstance(values, str) else list(values)
        allowed = UPLOAD_KINDS[str(path.relative_to(ROOT))]
        assert values and {v.lower().lstrip(".") for v in values} <= allowed, where
        assert not _is_true(_keyword(call, "accept_multiple_files")), where


# ----------------------------------------------------------------------------- 2. configuration


def streamlit_config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))


def test_streamlit_config_is_hardened():
    config = streamlit_config()
    server = config.get("server", {})
    assert server.get("enableXsrfProtection") is True
    assert server.get("enableCORS", True) is True
    upload_mb = server.get("maxUploadSize")
    assert isinstance(upload_mb, int) and 1 <= upload_mb <= 10, upload_mb
    assert server.get("maxMessageSize", 200) <= 200
    assert config.get("browser", {}).get("gatherUsageStats") is False
    assert config.get("client", {}).get("showErrorDetails") in ("type", "none", False)
    assert server.get("runOnSave", False) is False


MAGIC_SILENT = (ast.Call, ast.Yield, ast.YieldFrom, ast.Await)  # magic never writes these


def _magic_bodies(node: ast.AST) -> Iterator[tuple[ast.AST, list[ast.stmt]]]:
    """(parent, statements) of every block magic rewrites, as streamlit's magic.py walks them:
    the module, function, with, loop, try and if bodies and match cases, and the methods of a
    class (not the class body itself)."""
    blocks = [("body", "orelse", "finalbody")] if not isinstance(node, ast.ClassDef) else []
    for names in blocks:
        for name in names:
            body = getattr(node, name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield node, body
                for statement in body:
                    yield from _magic_bodies(statement)
    for handler in getattr(node, "handlers", []):
        yield from _magic_bodies(handler)
    for case in getattr(node, "cases", []):
        yield from _magic_bodies(case)
    if isinstance(node, ast.ClassDef):
        for method in node.body:
            if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from _magic_bodies(method)


def magic_writes(source: str) -> list[int]:
    """Lines of the statements Streamlit's magic would show with st.write: bare expressions that
    are not calls, docstrings, yields or awaits (streamlit/runtime/scriptrunner/magic.py)."""
    lines = []
    for parent, body in _magic_bodies(ast.parse(source)):
        for index, statement in enumerate(body):
            if not isinstance(statement, ast.Expr):
                continue
            value = statement.value
            docstring = (
                index == 0
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and isinstance(parent, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef))
            )
            if not (docstring or isinstance(value, MAGIC_SILENT)):
                lines.append(statement.lineno)
    return sorted(set(lines))


def test_magic_stays_on_and_no_page_uses_it():
    """runner.magicEnabled is left at Streamlit's default, True: magic only ever writes a bare
    expression statement of a page script, and no page script has one (a stray variable that
    holds a link's text would otherwise appear on the page), so every element comes from an
    explicit st call. A page that needs magic off, or on, must say so here."""
    assert streamlit_config().get("runner", {}).get("magicEnabled", True) is True
    scripts = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    found = {str(p.relative_to(ROOT)): magic_writes(p.read_text(encoding="utf-8")) for p in scripts}
    assert len(found) > 1 and not any(found.values()), found
    assert magic_writes("x = 1\nx\n") == [2] and magic_writes('"""Doc."""\nf(x)\n') == []
    assert magic_writes('class A:\n    """Doc."""\n    def f(self):\n        x\n') == [4]
    assert magic_writes("try:\n    pass\nexcept E:\n    y\n") == [4]


def test_streamlit_upload_cap_is_within_core_cap():
    upload_mb = streamlit_config()["server"]["maxUploadSize"]
    assert upload_mb * MIB <= images.MAX_UPLOAD_BYTES


# ----------------------------------------------------------------------------- 3. uploads


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body))
    return struct.pack(">I", len(body)) + kind + body + crc


def lying_png(width: int, height: int, payload: bytes = b"\x00" * 1000) -> bytes:
    """A PNG whose header declares width x height RGB pixels, with little data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(payload))
        + _png_chunk(b"IEND", b"")
    )


def _png(mode: str, size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("size", [(100_000, 100_000), (2**31 - 1, 1), (6000, 6000)])
def test_png_that_lies_about_its_size_is_refused_before_decoding(size):
    assert math.prod(size) > images.MAX_UPLOAD_PIXELS
    _, error = call_guarded(images.load_upload, lying_png(*size), 64)
    assert error is not None and error.parameter == "upload"


def test_png_with_truncated_data_is_refused():
    _, error = call_guarded(images.load_upload, lying_png(64, 64, b"\x00" * 10), 64)
    assert error is not None and error.parameter == "upload"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
        b"PK\x03\x04" + b"\x00" * 100,
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'></svg>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"BM" + b"\x00" * 60,
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0" + b"\x00" * 10,
        b"#!/bin/sh\nrm -rf /\n",
        b"\x00" * 100,
    ],
    ids=["pdf", "zip", "svg", "gif", "bmp", "png-signature-only", "jpeg-header-only", "sh", "nul"],
)
def test_upload_type_is_checked_by_content(data):
    """What the file is decides, not its name: a PDF renamed .png is still refused."""
    _, error = call_guarded(images.load_upload, data, 64)
    assert error is not None and error.parameter == "upload"


def test_upload_over_the_byte_cap_is_refused_before_decoding():
    data = _png("RGB", (8, 8))
    data += b"\x00" * (images.MAX_UPLOAD_BYTES + 1 - len(data))
    _, error = call_guarded(images.load_upload, data, 64)
    assert error is not None and "MiB" in error.message


def test_valid_small_upload_is_accepted():
    image, error = call_guarded(images.load_upload, _png("RGBA", (40, 30)), 16)
    assert error is None and image.shape == (16, 16, 3)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "I;16", "P"])
def test_png_bomb_decodes_within_bounded_memory(mode):
    """A small PNG (zlib packs zeros about 1000:1) that declares the largest accepted pixel count
    must not make the server allocate more than a bounded amount to decode it."""
    result = run_bounded(
        f"""
        import io, math
        from PIL import Image
        from core.errors import ConfigError
        from core.generator.images import MAX_UPLOAD_PIXELS, load_upload
        side = math.isqrt(MAX_UPLOAD_PIXELS)
        buffer = io.BytesIO()
        Image.new({mode!r}, (side, side)).save(buffer, "PNG", compress_level=9)
        data = buffer.getvalue()
        base = _hwm()
        try:
            outcome = list(load_upload(data, 64).shape)
        except ConfigError as exc:
            outcome = str(exc)
        report(bytes=len(data), outcome=outcome, growth=_hwm() - base)
        """,
        limit_bytes=4 << 30,
    )
    assert result["returncode"] == 0, result["stderr"]
    assert result["growth"] < 256 * MIB, (
        f"a {result['bytes'] / 1024:.0f} KiB {mode} PNG made the decoder grow by "
        f"{result['growth'] / MIB:.0f} MiB"
    )


# ----------------------------------------------------------------------------- 4. generated code

ALLOWED_IMPORTS = {
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "collections",
    "math",
    "__future__",
    "typing",
}
# Names generated code may use without defining them.
ALLOWED_FREE_NAMES = {
    "torch",
    "nn",
    "F",
    "math",
    "OrderedDict",
    "super",
    "float",
    "int",
    "tuple",
    "range",
    "len",
    "isinstance",
    "enumerate",
    "zip",
    "min",
    "max",
    "abs",
    "any",
    "sum",
    "list",
    "dict",
    "round",
    "sorted",
    "print",  # a fitted weight transfer reports its fit error
    "original",  # the user's trained layer, in weight-transfer snippets
    "model",
    "annotations",
}
ALLOWED_NODES = (
    ast.Module, ast.Expr, ast.Import, ast.ImportFrom, ast.alias, ast.Assign, ast.AugAssign,
    ast.AnnAssign, ast.Name, ast.Attribute, ast.Call, ast.keyword, ast.Constant, ast.Tuple,
    ast.List, ast.UnaryOp, ast.BinOp, ast.Subscript, ast.Slice, ast.With, ast.withitem,
    ast.ClassDef, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Load, ast.Store,
    ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.MatMult,
    ast.Pow, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.If, ast.Pass,
    ast.For, ast.Starred,
)  # fmt: skip
PAYLOAD_MARKERS = ("import os", "os.system", "rm -rf", "__import__", "subprocess", '");')


def assert_generated_code_is_clean(code: str, origin: str) -> None:
    """Only allowed syntax, imports, free names and attributes; no user payload anywhere."""
    tree = ast.parse(code)
    defined = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    defined |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    for node in ast.walk(tree):
        where = f"{origin}: line {getattr(node, 'lineno', '?')}"
        assert isinstance(node, ALLOWED_NODES), f"{where}: {type(node).__name__} in generated code"
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS, f"{where}: {ast.unparse(node)}"
        if isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS and not node.level, f"{where}: {node.module}"
            defined |= {a.asname or a.name for a in node.names}
        if isinstance(node, ast.Import):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, ast.Attribute):
            dunder = node.attr.startswith("__") and node.attr != "__init__"
            assert not dunder, f"{where}: attribute {node.attr}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            assert node.id in defined | ALLOWED_FREE_NAMES, (
                f"{origin}: line {node.lineno}: free name {node.id!r} in generated code"
            )
    lowered = code.lower()
    for marker in PAYLOAD_MARKERS:
        assert marker not in lowered, f"{origin}: user payload {marker!r} reached the code"


@st.composite
def layers_2d(draw) -> TransposedConv:
    groups = draw(st.sampled_from([1, 1, 2]))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return TransposedConv.make(
        groups * draw(st.integers(1, 4)),
        groups * draw(st.integers(1, 4)),
        (draw(st.integers(1, 6)), draw(st.integers(1, 6))),
        s,
        (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True)),
        groups,
        draw(st.booleans()),
        d,
    )


@given(layer=layers_2d(), size=st.integers(1, 9))
@settings(max_examples=60)
def test_replacement_code_is_built_from_numbers(layer, size):
    try:
        found = replacements.list_replacements(layer, size)
    except ConfigError:
        return
    for r in found:
        for code in (r.code, getattr(r, "weight_code", "")):
            if code:
                assert_generated_code_is_clean(code, f"{r.name} of {layer.torch_repr()}")


@given(
    filters=st.integers(1, 64),
    kernel=st.integers(1, 7),
    strides=st.integers(1, 4),
    padding=st.sampled_from(["valid", "same"]),
    in_channels=st.integers(1, 64),
)
@settings(max_examples=40)
def test_keras_code_is_built_from_numbers(filters, kernel, strides, padding, in_channels):
    from core.geometry.keras import from_keras

    translation = from_keras(filters, kernel, strides, padding, in_channels=in_channels)
    assert_generated_code_is_clean(translation.code(), "keras translation")


HOSTILE_LINES = [
    "(x;__import__): ReLU(inplace=True)",
    "(class): ReLU()",
    "(__class__): ReLU()",
    "(__init__): os.system('rm -rf /')",
    "(evil\u2028x): ReLU()",
    "(🙂): Tanh()",
    "(m-n): ReLU()",
    "(None): ReLU()",
    "(a): os.system(1)",
    "(b): subprocess.Popen(2)",
    "(c): Conv2d(64, 64, 3, padding='same\"); import os #')",
    "(d): Upsample(scale_factor=2.0, mode='nearest\"); import os; (\"')",
    "(e): Conv2d(64, 64, 3, __import__=1)",
    "(f): Conv2d(64, 64, kernel_size=3, device='cuda:0\"); import os #')",
    "(g): Evil(64, 64, 'x\"); import os #')",
    "(h): ConvTranspose2d(64, 64, 4, 2, 1, padding_mode='\"); import os #')",
    "(i): Linear(in_features=64, out_features=64, bias='False\"); import os #')",
    "(j): nn.Module.__subclasses__(1)",
    "(k): LeakyReLU(negative_slope=nan)",
    "(l): Dropout(p=inf)",
    "(m): torch.nn.modules.evil.Thing(1)",
    "(n): Conv2d(64, 64, 3, dtype=torch.float16, padding_mode=zeros)",
]


@pytest.mark.parametrize("method", ["subpixel", "resize-nearest"])
@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_converted_model_code_holds_no_user_text(line, method):
    text = (
        "Generator(\n  (main): Sequential(\n"
        "    (0): ConvTranspose2d(100, 64, kernel_size=(4, 4), stride=(1, 1), bias=False)\n"
        f"    {line}\n"
        "    (9): ConvTranspose2d(64, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))\n"
        "  )\n)"
    )
    result, error = call_guarded(conversion.convert_text, text, (1, 100, 1, 1), method)
    if error is not None:
        return  # refused with a clear message: nothing generated
    assert_generated_code_is_clean(result.code, f"convert_text with {line!r}")


def test_generated_code_checker_catches_injection():
    bad = [
        "import os\nos.system('x')",
        "from torch import nn\nx = nn.Conv2d(1, 1, 1)\n__import__('os')",
        "x = torch.nn.Module.__subclasses__()",
        "exec('1')",
        "lambda: 1",
        "x = [i for i in range(3)]",
        "model = nn.Sequential(nn.Identity())  # import os",
        "model = Evil(1)",
    ]
    for code in bad:
        with pytest.raises(AssertionError):
            assert_generated_code_is_clean(code, "snippet")


# ----------------------------------------------------------------------------- 5. file writes

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# event -> (index of the path argument, index of its dir_fd argument or None), per
# https://docs.python.org/3/library/audit_events.html
_PATH_EVENTS = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.truncate": ((0, None),),
    "os.symlink": ((1, 2),),
    "os.link": ((1, 3),),
    "shutil.copyfile": ((1, None),),
    "shutil.copytree": ((1, None),),
    "shutil.rmtree": ((0, 1),),
    "shutil.move": ((0, None), (1, None)),
}
_recording: list[list[tuple[str, str]]] = []
_hook_lock = threading.Lock()
_hook_installed = False


def _absolute(path: object, dir_fd: object) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    path = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if isinstance(dir_fd, int) and not os.path.isabs(path):
        try:
            return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        except OSError:
            return f"<fd {dir_fd}>/{path}"
    return os.path.abspath(path)


def _audit(event: str, args: tuple) -> None:
    if not _recording:
        return
    found: list[str | None] = []
    if event == "open":
        target, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writes:
            found.append(_absolute(target, None))
    for path_index, fd_index in _PATH_EVENTS.get(event, ()):
        if path_index < len(args):
            dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
            found.append(_absolute(args[path_index], dir_fd))
    _recording[-1].extend((event, path) for path in found if path is not None)


@contextmanager
def recorded_writes() -> Iterator[list[tuple[str, str]]]:
    """Every (event, absolute path) written, renamed, removed or created inside the block."""
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # permanent for the process; idle unless recording
            _hook_installed = True
    found: list[tuple[str, str]] = []
    _recording.append(found)
    try:
        yield found
    finally:
        _recording.pop()


def outside_temp(writes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    temp = os.path.realpath(tempfile.gettempdir())
    return [
        (event, path)
        for event, path in writes
        if not os.path.realpath(path).startswith(temp + os.sep)
        and "__pycache__" not in path  # the interpreter's own bytecode cache
        and path != os.devnull
    ]


def test_write_recorder_sees_writes():
    with recorded_writes() as writes, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "a.txt").write_text("x")
        os.rename(Path(tmp, "a.txt"), Path(tmp, "b.txt"))
    assert any(p.endswith("a.txt") for _, p in writes) and any(
        p.endswith("b.txt") for _, p in writes
    )
    assert not outside_temp(writes)


def test_core_writes_no_files():
    from core.cli import main

    with recorded_writes() as writes:
        for argv in (
            ["--kernel-size", "4", "--stride", "2", "--padding", "1", "--json"],
            ["solve", "4", "8", "16"],
            ["keras", "--filters", "3", "--in-channels", "4", "--kernel-size", "3"],
        ):
            with io.StringIO() as sink:
                stdout, sys.stdout = sys.stdout, sink
                try:
                    main(argv)
                finally:
                    sys.stdout = stdout
    assert not outside_temp(writes), outside_temp(writes)


@pytest.mark.parametrize("page", app_page_files())
def test_app_pages_write_no_files(page):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    with recorded_writes() as writes:
        at.run()
        at.switch_page(page)
        at.run()
        for button in at.button:  # the page's actions too (downloads, runs), once each
            if not button.disabled:
                button.click()
                at.run()
                break
    assert not at.exception, [e.value for e in at.exception]
    assert not outside_temp(writes), f"{page} wrote outside the temp dir: {outside_temp(writes)}"
