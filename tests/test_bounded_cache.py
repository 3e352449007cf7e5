"""core.bounded_cache: a cache bounded by bytes (least recently used out first), and
ui.figures.cache, the figures the overlap page shares between sessions."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from core.bounded_cache import BoundedCache, deep_sizeof
from core.errors import ConfigError


def sized(n: int) -> bytes:
    return b"x" * n


def test_evicts_least_recently_used_to_stay_within_the_budget():
    cache = BoundedCache(100, len)
    cache.put("a", sized(40))
    cache.put("b", sized(40))
    assert cache.get("a") == sized(40)  # "a" is now the most recently used
    cache.put("c", sized(40))  # 120 > 100: "b" goes, not "a"
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    stats = cache.stats()
    assert stats.entries == 2 and stats.bytes == 80 <= stats.max_bytes


def test_a_value_larger_than_the_budget_is_returned_not_kept():
    cache = BoundedCache(100, len)
    cache.put("small", sized(10))
    assert cache.put("big", sized(101)) == sized(101)
    assert cache.get("big") is None
    assert cache.get("small") == sized(10)  # nothing evicted for a value that is not kept


def test_replacing_a_key_counts_its_bytes_once():
    cache = BoundedCache(100, len)
    cache.put("a", sized(60))
    cache.put("a", sized(30))
    assert cache.stats().bytes == 30 and cache.stats().entries == 1


def test_get_or_make_makes_once_and_counts_hits_and_misses():
    cache = BoundedCache(1000, len)
    calls = []

    def make() -> bytes:
        calls.append(1)
        return sized(5)

    assert cache.get_or_make("k", make) == sized(5)
    assert cache.get_or_make("k", make) == sized(5)
    assert len(calls) == 1
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_budget_must_be_a_positive_int(bad):
    with pytest.raises(ConfigError) as err:
        BoundedCache(bad, len)
    assert err.value.parameter == "max_bytes"


def test_threads_never_push_it_over_budget():
    cache = BoundedCache(1000, len)
    errors = []

    def worker(offset: int) -> None:
        try:
            for i in range(300):
                cache.get_or_make((offset, i % 40), lambda i=i: sized(10 + i % 90))
                assert cache.stats().bytes <= 1000
        except AssertionError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    stats = cache.stats()
    assert stats.bytes <= 1000
    assert stats.bytes == sum(len(cache.get(k) or b"") for k in list(cache._entries))


def test_deep_sizeof_counts_contents_and_array_buffers_once():
    array = np.zeros(10_000)
    shared = "s" * 1000
    value = {"a": [array, shared], "b": (shared,)}
    size = deep_sizeof(value)
    assert size >= array.nbytes + sys.getsizeof(shared)
    assert size < array.nbytes + 2 * sys.getsizeof(shared)  # the shared string counted once
    view = array[:5000]
    assert deep_sizeof(view) >= view.nbytes


def test_figure_cache_shares_one_figure_per_key():
    from ui.figures.cache import cached_figure, figure_bytes
    from ui.figures.overlap import overlap_bar

    built = []

    def build():
        built.append(1)
        return overlap_bar(np.array([1, 2, 1, 2]), title="test_figure_cache")

    key = ("test_figure_cache", 4)
    first = cached_figure(key, build)
    assert cached_figure(key, build) is first and len(built) == 1
    assert figure_bytes(first) > 0
