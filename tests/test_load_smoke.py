"""The load-test script itself works: two concurrent browser users, no errors, bounded memory.

The full run (20 users) is `python tests/load/load_test.py --users 20`; this keeps the harness
from rotting. Needs Debian's chromium: skipped without it, unless DECONV_REQUIRE_BROWSER=1
(`browser_support.require_chromium`).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from browser_support import require_chromium
from tests_paths import ROOT

pytestmark = pytest.mark.browser

SCRIPT = ROOT / "tests" / "load" / "load_test.py"


def load_script():
    spec = importlib.util.spec_from_file_location("deconv_load_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_two_concurrent_users_see_no_errors(tmp_path: Path):
    require_chromium()
    script = load_script()
    out = tmp_path / "load.json"
    status = script.main(["--users", "2", "--time-limit", "400", "--json", str(out)])
    summary = json.loads(out.read_text())
    assert status == 0 and summary["errors"] == 0, summary["error_list"]
    assert summary["designer_change_ms"]["n"] == 2 * len(script.DESIGNER_KERNELS)
    assert summary["overlap_change_ms"]["n"] == 2 * len(script.OVERLAP_STRIDES)
    assert summary["fit_s"]["n"] == 2
    # Two sessions of this app fit well inside 2 GiB (a blow-up would show here first).
    assert summary["server_peak_rss_mib"] < 2048
