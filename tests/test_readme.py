"""The README's test command is exactly what CI runs."""

from __future__ import annotations

from tests_paths import ROOT


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.split("# BEGIN README TEST COMMAND\n")[1].split("\n# END README TEST COMMAND")[0]
    readme = (ROOT / "README.md").read_text()
    assert command.strip() in readme
