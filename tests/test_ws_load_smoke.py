"""The websocket load driver works: two simulated users for a few seconds, no errors.

The capacity run is `python tests/load/ws_load.py --users 50,100,200` (README, "Load"); this
keeps the driver and its protocol client (`tests/load/ws_client.py`) from rotting. No browser.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from tests_paths import ROOT

SCRIPT = ROOT / "tests" / "load" / "ws_load.py"


def load_script():
    spec = importlib.util.spec_from_file_location("deconv_ws_load", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_two_simulated_users_see_no_errors(tmp_path: Path):
    script = load_script()
    out = tmp_path / "ws_load.json"
    argv = ["--users", "2", "--duration", "4", "--think", "0.5", "--ramp", "1"]
    status = script.main([*argv, "--no-warm-generator", "--json", str(out)])
    summary = json.loads(out.read_text())
    (level,) = summary["levels"]
    assert status == 0 and level["errors"] == 0, level["error_list"]
    assert level["users"] == 2 and level["changes"] >= 2  # both users changed the kernel size
    assert level["change_p95_ms"] is not None and level["server_rss_peak_mib"] > 0
    assert 0 <= summary["capacity_users"] <= 2
