"""The README's test command is exactly what CI runs."""

from __future__ import annotations

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
    assert namespace["err"] >= 0 and namespace["report"].count == 2
