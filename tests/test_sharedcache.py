"""SharedCache: one build per key however many threads ask, bounded, failures not kept."""

from __future__ import annotations

import threading
import time

import pytest

from nemlive.dashboard.sharedcache import SharedCache


def test_a_value_is_built_once_and_then_shared() -> None:
    cache = SharedCache(maxsize=4)
    calls: list[int] = []

    def build() -> list[int]:
        calls.append(1)
        return [1, 2, 3]

    first = cache.get("k", build)
    assert cache.get("k", build) is first  # the same object, not a copy
    assert calls == [1] and cache.builds == 1


def test_concurrent_callers_of_a_missing_key_wait_for_one_build() -> None:
    cache = SharedCache()
    started = threading.Event()
    release = threading.Event()
    builds: list[int] = []

    def slow() -> str:
        builds.append(1)
        started.set()
        release.wait(5)
        return "value"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)
    ]
    threads[0].start()
    assert started.wait(5)
    for t in threads[1:]:
        t.start()
    time.sleep(0.1)  # the others are now waiting on the one build
    release.set()
    for t in threads:
        t.join(5)
    assert results == ["value"] * 8 and builds == [1]


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = SharedCache(maxsize=2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: 99)  # a is now the most recent
    cache.get("c", lambda: 3)  # b goes
    assert len(cache) == 2
    assert cache.get("a", lambda: 99) == 1
    assert cache.get("b", lambda: 22) == 22  # rebuilt


def test_a_failed_build_reaches_every_waiter_and_is_not_kept() -> None:
    cache = SharedCache()
    started = threading.Event()
    release = threading.Event()

    def broken() -> int:
        started.set()
        release.wait(5)
        raise ValueError("no data")

    errors: list[BaseException] = []

    def ask() -> None:
        try:
            cache.get("k", broken)
        except ValueError as exc:
            errors.append(exc)

    first = threading.Thread(target=ask)
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=ask)
    second.start()
    time.sleep(0.1)
    release.set()
    first.join(5)
    second.join(5)
    assert len(errors) == 2
    assert cache.get("k", lambda: 7) == 7 and len(cache) == 1


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        SharedCache(maxsize=0)
