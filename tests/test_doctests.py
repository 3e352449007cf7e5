"""The examples in core's docstrings run, and every public name documents itself with one.

- Every module of core/ whose source holds a `>>>` example runs all its doctests (doctest's own
  finder and runner, the module's globals, no option flags: what `python -m doctest` would do);
  one failing example fails the test and shows the doctest report.
- Every name in `core.__all__` (the ones in LEFT_FOR_LATER excepted) and every name in
  ALSO_PUBLIC has a docstring in the house style (Google style): an "Args:" or "Returns:"
  section and an "Example:" with `>>>` lines. A new public name without one fails here.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import time

import pytest
from tests_paths import ROOT

import core

# Public names exempted from the docstring rule: none (every public name has its example).
LEFT_FOR_LATER: frozenset[str] = frozenset()

# Public functions a user reaches directly in a core module, beyond `core.__all__`:
# (module, dotted attribute path).
ALSO_PUBLIC = (
    ("core.parsing", "parse_int"),
    ("core.parsing", "parse_ints"),
    ("core.replacements.registry", "method"),
    ("core.geometry.layer", "TransposedConv.make"),
    ("core.geometry.layer", "TransposedConv.from_module"),
    ("core.overlap.replacement_maps", "replacement_overlap"),
)

SECONDS_PER_MODULE = 20  # every example is a tiny layer or tensor: each module takes ~1 s


def modules_with_examples() -> list[str]:
    """Dotted names of the core modules whose source holds a `>>>` line (read, not imported)."""
    names = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        if path.name == "__main__.py" or "__pycache__" in path.parts:
            continue
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = modules_with_examples()


def test_the_modules_with_examples_are_found():
    # The modules whose public functions carry the package's examples, at the least.
    for name in ("core.geometry.output_size", "core.replacements.weights", "core.parsing"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    module = importlib.import_module(name)
    report = io.StringIO()
    runner = doctest.DocTestRunner(verbose=False)
    started = time.perf_counter()
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"{name} has `>>>` lines but no doctest was found in it"
    assert results.failed == 0, report.getvalue()
    assert time.perf_counter() - started < SECONDS_PER_MODULE, f"{name}'s examples are slow"


def public_objects() -> list[tuple[str, object]]:
    found = [(name, getattr(core, name)) for name in core.__all__ if name not in LEFT_FOR_LATER]
    for module, path in ALSO_PUBLIC:
        obj = importlib.import_module(module)
        for part in path.split("."):
            obj = getattr(obj, part)
        found.append((f"{module}.{path}", obj))
    return found


def test_left_for_later_names_are_still_public():
    assert set(core.__all__) >= LEFT_FOR_LATER


PUBLIC = public_objects()


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_name_has_a_house_style_docstring(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert "Args:" in doc or "Returns:" in doc, f"{name}: no Args:/Returns: section"
    assert "Example:" in doc and ">>>" in doc, f"{name}: no Example: with >>> lines"
    defined_in = inspect.getmodule(obj)
    assert defined_in is not None and defined_in.__name__ in MODULES, (
        f"{name}: its example is not run (module {getattr(defined_in, '__name__', '?')})"
    )
