"""A cache bounded by bytes, not by entries: least recently used entries go first.

Plain Python (no torch, no Streamlit), thread-safe, one instance shared by every session of a
server process. Each value's size is measured once, when it is stored, by the `sizeof` the cache
was made with (e.g. the bytes of a model's parameters, or `deep_sizeof` of a figure's data); a
value larger than the whole budget is returned but not kept.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.errors import ConfigError

V = TypeVar("V")


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds now, and its hits and misses since it was made."""

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int


class BoundedCache(Generic[V]):
    """Least-recently-used values up to `max_bytes` in all, sized by `sizeof(value)`."""

    def __init__(self, max_bytes: int, sizeof: Callable[[V], int]) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigError("max_bytes", f"max_bytes must be a positive int, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._sizeof = sizeof
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value stored under `key` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[0]

    def put(self, key: Hashable, value: V) -> V:
        """Store `value` under `key`, evicting the least recently used entries to stay within
        the budget; a value larger than the budget is not stored. Returns `value`."""
        size = max(0, int(self._sizeof(value)))
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return value
            while self._entries and self._bytes + size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
            self._entries[key] = (value, size)
            self._bytes += size
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value under `key`, made by `make()` (outside the lock) and stored if missing.
        Two threads missing the same key at once may both make it; one of them is kept."""
        value = self.get(key)
        if value is None:
            value = self.put(key, make())
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                len(self._entries), self._bytes, self.max_bytes, self._hits, self._misses
            )


def memoize(
    max_bytes: int, sizeof: Callable[[Any], int] | None = None
) -> Callable[[Callable[..., V]], Callable[..., V]]:
    """A decorator: `functools.lru_cache` bounded by bytes instead of entries.

    The wrapped function's results are kept in a `BoundedCache` of `max_bytes`, keyed by its
    positional and keyword arguments (which must be hashable), least recently used out first;
    a result of None, or an exception, is not kept. The cache is the wrapper's `cache`
    attribute (its `stats()`, `clear()`).

    Args:
        max_bytes: the budget of all kept results together, as measured by `sizeof`.
        sizeof: the bytes one result holds (default: `deep_sizeof`).

    Returns:
        The decorator.
    """
    measure = deep_sizeof if sizeof is None else sizeof

    def decorate(function: Callable[..., V]) -> Callable[..., V]:
        cache: BoundedCache[V] = BoundedCache(max_bytes, measure)

        @functools.wraps(function)
        def wrapper(*args: Hashable, **kwargs: Hashable) -> V:
            key = (args, tuple(sorted(kwargs.items()))) if kwargs else args
            return cache.get_or_make(key, lambda: function(*args, **kwargs))

        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper

    return decorate


def deep_sizeof(value: Any, _seen: set[int] | None = None) -> int:
    """Bytes held by `value` and what it contains: dicts, lists, tuples, sets, strings, numbers,
    dataclass instances (their fields) and arrays (their buffer, via `nbytes`), each object
    counted once.

    Args:
        value: what to measure.

    Returns:
        Its size in bytes, as `sys.getsizeof` counts them, summed over everything it holds.
    """
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and not isinstance(value, (bytes, bytearray, memoryview)):
        return max(size, nbytes)  # an array that owns its buffer counts it in getsizeof already
    if isinstance(value, dict):
        size += sum(deep_sizeof(k, seen) + deep_sizeof(v, seen) for k, v in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        size += sum(deep_sizeof(item, seen) for item in value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "__dict__"):
            size += sys.getsizeof(value.__dict__)
        size += sum(deep_sizeof(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    return size
