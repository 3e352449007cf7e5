"""core.bounded_cache: a cache bounded by bytes (least recently used out first), and
ui.figures.cache, the figures the overlap page shares between sessions."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from core.bounded_cache import BoundedCache, deep_sizeof, memoize
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


def test_memoize_keeps_results_within_its_byte_budget():
    calls = []

    @memoize(100, len)
    def make(n: int, fill: bytes = b"x") -> bytes:
        calls.append(n)
        return fill * n

    assert make(40) == sized(40) and make(40) == sized(40)
    assert calls == [40]  # made once
    assert make(40, fill=b"y") == b"y" * 40  # keyword arguments are part of the key
    assert make(30) == sized(30)  # 40 + 40 + 30 > 100: the least recently used goes
    assert make.cache.stats().bytes <= 100 and make.cache.stats().entries == 2
    make(40)
    assert calls == [40, 40, 30, 40]  # it was the one evicted
    assert make.__name__ == "make"


def test_deep_sizeof_counts_a_dataclass_fields():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Holder:
        text: str
        numbers: tuple[int, ...]

    text = "x" * 10_000
    assert deep_sizeof(Holder(text, (1, 2))) >= deep_sizeof(text) + deep_sizeof((1, 2))


def test_the_replacement_catalog_is_bounded_by_bytes():
    from core.geometry.layer import TransposedConv
    from core.replacements import catalog

    cache = catalog._cached.cache
    assert isinstance(cache, BoundedCache) and cache.max_bytes == catalog.CATALOG_CACHE_BYTES
    layer = TransposedConv.make(512, 256, 31, stride=16, padding=7)
    before = cache.stats().bytes
    found = catalog.list_replacements(layer, 40)
    assert found == list(catalog._cached.__wrapped__(layer, (40, 40)))  # the same results
    kept = cache.stats().bytes - before
    assert kept >= sum(len(r.code) + len(r.weight_code) for r in found)  # measured in full
    assert kept <= cache.max_bytes // 50  # a big layer's entry leaves room for many more


def test_the_chain_caches_are_bounded_by_bytes():
    from core.geometry import chains
    from core.geometry.solver import MAX_DILATION, MAX_KERNEL, MAX_STRIDE

    for cached, budget in [
        (chains._classes, chains.CLASSES_CACHE_BYTES),
        (chains.solve_ends_shared, chains.CHAINS_CACHE_BYTES),
    ]:
        assert isinstance(cached.cache, BoundedCache) and cached.cache.max_bytes == budget
    largest = chains._classes(MAX_KERNEL, MAX_STRIDE, MAX_DILATION)  # the solver's own bounds
    assert deep_sizeof(largest) <= chains.CLASSES_CACHE_BYTES // 4  # several such stay
    answer = chains.solve_ends_shared(7, 28, 2, max_kernel=8)
    assert answer == tuple(chains.solve_ends(7, 28, 2, max_kernel=8))  # the same results
    assert chains.solve_ends_shared(7, 28, 2, max_kernel=8) is answer  # kept


def test_upsample_taps_cache_holds_every_key_within_its_documented_bound():
    from core.replacements import plan

    keys = [(m, s) for m in plan.RESIZE_MODES for s in range(1, plan.MAX_RESIZE_SCALE + 1)]
    assert plan.upsample_taps.cache_info().maxsize == len(keys)
    assert sum(deep_sizeof(plan.upsample_taps(*key)) for key in keys) <= plan.UPSAMPLE_TAPS_BYTES
    for mode, scale in [("nearest", plan.MAX_RESIZE_SCALE + 1), ("nearest", 0), ("area", 2)]:
        with pytest.raises(ConfigError):  # nothing outside the keys above is kept
            plan.upsample_taps(mode, scale)
