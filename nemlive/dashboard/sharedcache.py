"""A small cache that every viewer of one dashboard server shares.

The parts of the page (figures, map, charts, tables) depend only on the live state's data
version and on what the viewer selected. Built once per ``(version, selection)`` and shared,
a room of viewers with the same filters costs one build per new interval instead of one per
viewer per refresh.

- **Bounded:** at most ``maxsize`` entries, the least recently used goes first.
- **Thread-safe, one build per key:** sessions run in threads of their own; when several ask
  for the same missing key at once, one builds it and the others wait for its result.
- **Failures are not kept:** a build that raises raises in every caller waiting on it, and the
  next caller tries again.

Values are shared, not copied: callers must treat them as read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Pending:
    """A build in progress: the waiters block on ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SharedCache:
    """``get(key, build)``: the value of ``key``, built once by ``build()`` (see module doc)."""

    def __init__(self, maxsize: int = 128) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, _Pending] = {}
        self.builds = 0  # how many times a value was built (the benchmark and tests read it)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = _Pending()
        assert pending is not None
        if not owner:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        return self._build(key, pending, build)

    def _build(self, key: Hashable, pending: _Pending, build: Callable[[], T]) -> T:
        try:
            value = build()
        except BaseException as exc:
            pending.error = exc
            with self._lock:
                del self._pending[key]
            pending.done.set()
            raise
        pending.value = value
        with self._lock:
            self.builds += 1
            self._values[key] = value
            while len(self._values) > self._maxsize:
                self._values.popitem(last=False)
            del self._pending[key]
        pending.done.set()
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
