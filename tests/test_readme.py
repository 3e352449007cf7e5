"""The README's test command is exactly what CI runs."""

from __future__ import annotations

import pytest
from tests_paths import ROOT


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.split("# BEGIN README TEST COMMAND\n")[1].split("\n# END README TEST COMMAND")[0]
    readme = (ROOT / "README.md").read_text()
    assert command.strip() in readme


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(block, namespace)  # the README's own example, as a reader would paste it
    assert namespace["output_size"](namespace["layer"], (16, 16)) == (32, 32)
    assert namespace["report"].count == 2
    # The exact method reproduces the layer (float64 probes: ~1e-15); the resize one is a fit,
    # and its error is the one core measures for that layer, neither 0 nor invented.
    assert namespace["exact_err"] < 1e-6
    _, again = namespace["replace_conv_transpose"](namespace["original"], "resize-nearest")
    assert namespace["resize_err"] == pytest.approx(again, rel=1e-9)
    assert 0.01 < namespace["resize_err"] < 1  # a stride-2 k4 layer is not a resize-conv


def test_the_layout_table_names_every_part_of_core_and_the_test_folders():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Project layout\n")[1].split("\n## ")[0]
    named = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            named.update(part.strip("`") for part in row.split(" | ")[0][2:].split(", "))
    parts = [
        f"core/{p.name}/" if p.is_dir() else f"core/{p.name}"
        for p in (ROOT / "core").iterdir()
        if p.name not in ("__init__.py", "__pycache__") and (p.is_dir() or p.suffix == ".py")
    ]
    parts += [
        f"tests/{p.name}/" for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("*.py"))
    ]
    missing = sorted(p for p in parts if p not in named)
    assert not missing, f"README's Project layout table leaves out {missing}"
