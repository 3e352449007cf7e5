"""The websocket load driver works: two simulated users for a few seconds, no errors.

The capacity run is `python tests/load/ws_load.py --users 50,100,200` (README, "Load"); this
keeps the driver and its protocol client (`tests/load/ws_client.py`) from rotting. No browser.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
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


def level(users: int, errors: int = 0, p95_ms: float | None = 100.0) -> dict:
    return {"users": users, "errors": errors, "change_p95_ms": p95_ms}


def test_the_capacity_is_capped_by_the_first_failing_level():
    """A smaller level that failed caps the capacity, even if a larger one passed."""
    capacity = load_script().capacity_users
    assert capacity([level(50), level(100), level(200)], 1.0) == 200
    assert capacity([level(200), level(100, errors=1), level(50)], 1.0) == 50
    assert capacity([level(50), level(100, p95_ms=1500.0), level(200)], 1.0) == 50
    assert capacity([level(50, p95_ms=None), level(100)], 1.0) == 0


@pytest.mark.parametrize("users", ["1_0", "１２", "+3", "50,abc", "0", "401"])
def test_users_are_read_strictly(users: str, capsys):
    with pytest.raises(SystemExit):
        load_script().parse_args(["--users", users])
    assert "--users" in capsys.readouterr().err


def test_the_load_scripts_share_one_percentile():
    """ws_load reports its percentiles with process_stats's (interpolated, None for none)."""
    script = load_script()
    import process_stats

    assert script.percentile is process_stats.percentile
    assert script.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert script.percentile([], 0.95) is None
