"""nemlive.common.retry: the delays, the loop, the stop and the state log (no sleeping)."""

from __future__ import annotations

import threading

import pytest

from nemlive.common.retry import (
    Backoff,
    RetryStopped,
    StateLog,
    call_with_retries,
    wait_on,
)


class Waits:
    """Records the waits asked for instead of waiting; says "stop" at wait number ``stop_at``."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls: list[float] = []
        self.stop_at = stop_at

    def __call__(self, seconds: float) -> bool:
        self.calls.append(seconds)
        return len(self.calls) == self.stop_at


class Flaky:
    """Fails with ``error`` ``failures`` times, then returns "done"."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or OSError("down")
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        pytest.param(Backoff(0.5, 8.0), [0.5, 1.0, 2.0, 4.0, 8.0, 8.0], id="doubling-capped"),
        pytest.param(Backoff(0.5, 30.0), [0.5, 1, 2, 4, 8, 16, 30, 30], id="cap-not-a-step"),
        pytest.param(Backoff(1.0, 100.0, factor=3.0), [1, 3, 9, 27, 81, 100], id="factor-3"),
        pytest.param(Backoff(0.0, 5.0), [0.0, 0.0], id="zero"),
    ],
)
def test_delays_grow_by_the_factor_up_to_the_maximum(
    backoff: Backoff, expected: list[float]
) -> None:
    assert [backoff.delay(n) for n in range(len(expected))] == expected


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        pytest.param(0.0, [0.5, 1.0, 2.0, 2.5], id="least"),
        pytest.param(0.5, [0.75, 1.5, 3.0, 3.75], id="middle"),
        pytest.param(1.0, [1.0, 2.0, 4.0, 5.0], id="most"),
    ],
)
def test_jitter_draws_a_share_of_each_delay(draw: float, expected: list[float]) -> None:
    backoff = Backoff(1.0, 5.0, jitter=0.5)
    assert [backoff.delay(n, lambda: draw) for n in range(4)] == expected


def test_no_jitter_draws_nothing() -> None:
    def never() -> float:
        raise AssertionError("drawn")

    assert Backoff(1.0, 5.0).delay(2, never) == 4.0


def test_thousands_of_retries_stay_at_the_maximum() -> None:
    assert Backoff(0.5, 30.0).delay(5_000) == 30.0


def test_a_success_after_failures_returns_its_result_and_reports_each_retry() -> None:
    waits, seen = Waits(), []
    result = call_with_retries(
        Flaky(3), Backoff(0.5, 8.0), retry_on=OSError, wait=waits, on_retry=seen.append
    )
    assert result == "done"
    assert waits.calls == [0.5, 1.0, 2.0]
    assert [(f.number, f.delay, str(f.error)) for f in seen] == [
        (1, 0.5, "down"),
        (2, 1.0, "down"),
        (3, 2.0, "down"),
    ]


def test_the_last_error_is_raised_when_the_tries_run_out() -> None:
    attempt, waits = Flaky(10), Waits()
    with pytest.raises(OSError, match="down"):
        call_with_retries(attempt, Backoff(0.5, 8.0), retry_on=OSError, wait=waits, tries=3)
    assert attempt.calls == 3
    assert waits.calls == [0.5, 1.0]  # no wait after the last try


def test_a_stop_during_a_wait_ends_the_retries() -> None:
    attempt = Flaky(10)
    with pytest.raises(RetryStopped):
        call_with_retries(attempt, Backoff(0.5, 8.0), retry_on=OSError, wait=Waits(stop_at=2))
    assert attempt.calls == 2


def test_an_error_not_retried_is_raised_at_once() -> None:
    attempt, waits = Flaky(1, ValueError("refused")), Waits()
    with pytest.raises(ValueError, match="refused"):
        call_with_retries(attempt, Backoff(0.5, 8.0), retry_on=OSError, wait=waits)
    assert (attempt.calls, waits.calls) == (1, [])


def test_a_server_delay_replaces_the_backoff_and_may_give_up() -> None:
    class Busy(OSError):
        def __init__(self, after: float | None) -> None:
            super().__init__("busy")
            self.after = after

    errors = iter([Busy(7.0), Busy(None), Busy(900.0)])

    def attempt() -> str:
        raise next(errors)

    def server_delay(error: BaseException) -> float | None:
        after = error.after  # type: ignore[attr-defined]
        if after is not None and after > 300:
            raise RuntimeError("asks for too long")
        return after

    waits = Waits()
    with pytest.raises(RuntimeError, match="too long"):
        call_with_retries(
            attempt,
            Backoff(1.0, 60.0, jitter=0.5),
            retry_on=OSError,
            wait=waits,
            server_delay=server_delay,
            draw=lambda: 1.0,
        )
    assert waits.calls == [7.0, 2.0]  # the server's 7 s, then the second step of the backoff


def test_wait_on_an_event_returns_at_once_when_stopped() -> None:
    stop = threading.Event()
    stop.set()
    assert wait_on(stop)(3600.0) is True


def test_the_state_log_says_each_change_once() -> None:
    state = StateLog()
    assert [state.enter(k) for k in ("down", "down", "full", "full", "down")] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert state.leave() is True
    assert state.leave() is False
