"""The dependency rule of README's "Project layout", checked on the sources (ast) and at runtime.

- core/ imports neither streamlit nor plotly, nor anything from ui/ or pages/; ui/ imports
  nothing from pages/.
- The torch-free part of core (TORCH_FREE) imports no torch: not directly, not through another
  core module it imports (at the top or inside a function), and not through a package's
  `__init__`, which importing a submodule runs.
- core/geometry/ imports no numpy, by the same rule.
- ui/ imports no torch: the pages that need torch import it themselves; the charts, the shared
  state and the texts do not need it.
- pages/ and app.py may import everything.

The scan follows static imports (`import x`, `from x import y`, at any depth, outside
`if TYPE_CHECKING:`); core/__init__.py's lazy names are imported by string on first use and are
checked at runtime instead: a fresh interpreter that imports the torch-free modules has no torch.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from tests_paths import ROOT

PACKAGES = ("core", "ui", "pages")

TORCH_FREE = (
    "core/geometry/",
    "core/overlap/",
    "core/converter/model_text.py",
    "core/converter/shape_trace.py",
    "core/converter/text_conversion.py",
    "core/converter/examples.py",
    "core/replacements/registry.py",
    "core/replacements/plan.py",
    "core/replacements/catalog.py",
    "core/replacements/codegen.py",
    "core/parsing.py",
    "core/presets.py",
    "core/report.py",
    "core/cli.py",
    "core/hosted.py",
    "core/limits.py",
    "core/bounded_cache.py",
)

# (where, what it may not import, why): `where` is a path prefix under the repository root.
RULES = [
    ("core/", "streamlit", "core is the engine: the UI is in ui/ and pages/"),
    ("core/", "plotly", "charts belong to ui/figures/"),
    ("core/", "ui", "core must not depend on the app"),
    ("core/", "pages", "core must not depend on the app"),
    ("ui/", "pages", "pages use ui/, not the other way round"),
    ("ui/", "torch", "the charts, the shared state and the texts need no torch"),
    ("core/geometry/", "numpy", "geometry is plain Python"),
    *(
        (prefix, "torch", "the CLI and the light pages answer without torch")
        for prefix in TORCH_FREE
    ),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def module_paths() -> dict[str, Path]:
    """Every module of core/, ui/ and pages/ by its dotted name."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        else:
            yield from _import_nodes(node)


def _with_parents(name: str) -> list[str]:
    """'core.geometry.layer' -> ['core', 'core.geometry', 'core.geometry.layer']: importing a
    module runs its packages' __init__ first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def direct_imports(name: str) -> frozenset[str]:
    """What the module `name` imports: dotted names, resolved to modules of this repository
    where they are one (`from core.geometry import layer` is core.geometry.layer)."""
    path = module_paths()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            child = f"{base}.{alias.name}"
            found.add(child if child in module_paths() else base)
    return frozenset(
        parent for item in found for parent in _with_parents(item) if parent in module_paths()
    ) | frozenset(item for item in found if item.split(".")[0] not in PACKAGES)


def forbidden_chain(start: str, banned: str) -> list[str] | None:
    """The shortest import chain from module `start` to `banned` (a top-level package name:
    torch, numpy, streamlit, or one of this repository's packages), following this repository's
    modules; None if there is none. Importing `start` runs its packages' __init__ too."""
    roots = [name for name in _with_parents(start) if name in module_paths()]
    seen = set(roots)
    todo = deque([name] for name in reversed(roots))
    while todo:
        chain = todo.popleft()
        for imported in sorted(direct_imports(chain[-1])):
            if imported.split(".")[0] == banned:
                return [*chain, imported]
            if imported in module_paths() and imported not in seen:
                seen.add(imported)
                todo.append([*chain, imported])
    return None


def modules_under(prefix: str) -> list[str]:
    return [
        name
        for name, path in module_paths().items()
        if str(path.relative_to(ROOT)).startswith(prefix)
    ]


def test_every_rule_names_existing_modules():
    for prefix, _, _ in RULES:
        assert modules_under(prefix), f"{prefix} matches no module: update the rule"


@pytest.mark.parametrize(("prefix", "banned", "why"), RULES, ids=lambda v: str(v)[:40])
def test_dependency_rule(prefix, banned, why):
    broken = {}
    for name in modules_under(prefix):
        chain = forbidden_chain(name, banned)
        if chain is not None:
            broken[name] = " -> ".join(chain)
    assert not broken, f"{prefix} may not import {banned} ({why}):\n" + "\n".join(broken.values())


def test_the_scan_sees_imports_at_any_depth_and_through_packages():
    """The scanner on this repository's own modules: a lazy import inside a function counts
    (core.report imports core.replacements.catalog in a function), a submodule import runs its
    package (core.geometry.layer pulls in core/__init__.py), and a real torch user is caught."""
    assert "core.replacements.catalog" in direct_imports("core.report")
    assert forbidden_chain("core.geometry.layer", "torch") is None
    chain = forbidden_chain("core.converter.live", "torch")
    assert chain is not None and chain[-1].split(".")[0] == "torch"
    assert forbidden_chain("pages.generator", "torch") is not None
    chain = forbidden_chain("ui.state", "core")  # a package's own name counts, too
    assert chain is not None and chain[0] == "ui.state" and chain[-1].startswith("core")


def _runtime_report(torch_free: list[str], geometry: list[str], everything: list[str]) -> dict:
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "report = {}\n"
        f"for name in {geometry!r}:\n"
        "    importlib.import_module(name)\n"
        "report['numpy after geometry'] = 'numpy' in sys.modules\n"
        "import core, core.cli\n"
        f"for name in {torch_free!r}:\n"
        "    importlib.import_module(name)\n"
        "report['torch after the torch-free modules'] = 'torch' in sys.modules\n"
        f"for name in {everything!r}:\n"
        "    importlib.import_module(name)\n"
        "report['torch after all of core'] = 'torch' in sys.modules\n"
        "report['streamlit or plotly after all of core'] = sorted(\n"
        "    m for m in ('streamlit', 'plotly') if m in sys.modules)\n"
        "print(json.dumps(report))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_a_fresh_interpreter_imports_the_torch_free_modules_without_torch():
    torch_free = sorted({name for prefix in TORCH_FREE for name in modules_under(prefix)})
    report = _runtime_report(
        torch_free,
        modules_under("core/geometry/"),
        [name for name in modules_under("core/") if name != "core.__main__"],  # it runs the CLI
    )
    assert report == {
        "numpy after geometry": False,
        "torch after the torch-free modules": False,
        "torch after all of core": True,  # the check itself: the torch users were imported
        "streamlit or plotly after all of core": [],
    }
