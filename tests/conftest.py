"""Shared test settings: hypothesis profiles sized for a 2-core CI machine, and fixtures used by
several test modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
# HYPOTHESIS_PROFILE=thorough: random (not derandomized) examples, THOROUGH_FACTOR times as many
# as each test asks for (tests without their own max_examples get 100 times that factor).
THOROUGH_FACTOR = 10
settings.register_profile(
    "thorough",
    parent=settings.get_profile("default"),
    derandomize=False,
    max_examples=100 * THOROUGH_FACTOR,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(items) -> None:
    """Under the thorough profile, scale the examples of tests that set their own max_examples
    (a test's @settings would otherwise override the profile)."""
    if PROFILE != "thorough":
        return
    scaled = set()
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None or id(test) in scaled or own.max_examples >= 100 * THOROUGH_FACTOR:
            continue
        scaled.add(id(test))
        test._hypothesis_internal_use_settings = settings(
            own, max_examples=own.max_examples * THOROUGH_FACTOR
        )


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tests (`pytestmark = pytest.mark.usefixtures(...)`): their
    tensors are tiny, so one thread is as fast on an idle CPU and far faster on a busy shared one
    (intra-op threads spin-wait); the previous count is restored for the other modules. torch is
    imported here, not at the top, so that torch-free test modules stay torch-free."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
