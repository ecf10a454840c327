"""A small thread-safe LRU that builds each value once, even under concurrent requests."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceCache(Generic[K, V]):
    """``get(key, build)``: the cached value, or ``build()`` run by exactly one caller.

    Callers asking for a key that is being built wait for that build instead of starting
    their own; different keys build in parallel. At most ``size`` values are kept.
    """

    def __init__(self, size: int) -> None:
        self._values: OrderedDict[K, V] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._building: dict[K, threading.Lock] = {}

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = build()
            with self._lock:
                self._values[key] = value
                while len(self._values) > self._size:
                    self._values.popitem(last=False)
                self._building.pop(key, None)
        return value
