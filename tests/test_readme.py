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
