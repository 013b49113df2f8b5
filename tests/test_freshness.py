"""nemlive.dashboard.freshness: a live stream whose facility data lags its prices."""

from __future__ import annotations

from datetime import datetime

import pytest

from nemlive.common.events import (
    REGIONS,
    StatusEvent,
    encode_facility_event,
    encode_market_event,
    encode_status,
)
from nemlive.common.nemtime import NEM_TZ
from nemlive.dashboard import charts, freshness
from nemlive.dashboard.livestate import LiveState
from nemlive.dashboard.status import describe_publisher

STEP = 300
T = int(datetime(2026, 11, 30, 14, 35, tzinfo=NEM_TZ).timestamp())  # the newest price
F = int(datetime(2026, 11, 30, 12, 10, tzinfo=NEM_TZ).timestamp())  # the newest facilities


class Clock:
    def __init__(self) -> None:
        self.now = float(T + 900)

    def __call__(self) -> float:
        return self.now


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, NEM_TZ).isoformat(timespec="seconds")


def market(state: LiveState, ts: int, regions=REGIONS) -> None:
    for r in regions:
        state.receive("b", f"b/market/{r}", encode_market_event(r, iso(ts), 50.0, 1000.0))


def facilities(state: LiveState, ts: int, ids=("A", "B")) -> None:
    for f in ids:
        state.receive("b", f"b/facility/{f}", encode_facility_event(f, iso(ts), 10.0, 1.0))


def status(state: LiveState, **fields: object) -> None:
    event = StatusEvent(state="live", client_id="nemlive-pub-1", **fields)  # type: ignore[arg-type]
    state.receive("b", "b/status", encode_status(event))


def live_state(clock: Clock) -> LiveState:
    state = LiveState(["A", "B"], clock=clock)
    status(state, source="simulator")
    for ts in range(F - 6 * STEP, T + STEP, STEP):
        market(state, ts)
    for ts in range(F - 6 * STEP, F + STEP, STEP):
        facilities(state, ts)
    return state


def test_facilities_behind_the_prices_are_late_not_missing() -> None:
    clock = Clock()
    state = live_state(clock)
    clock.now += 10  # the sweep's last event arrived 10 s ago
    fresh = freshness.assess(state.snapshot())
    assert fresh.live and fresh.simulated and fresh.facilities_behind
    assert (fresh.market_ts, fresh.facility_ts, fresh.figure_ts) == (T, F, F)
    assert freshness.describe_freshness(fresh) == "prices to 14:35, facilities to 12:10 NEM"
    # The figures at that interval count every facility: none is treated as missing.
    snap = state.snapshot()
    fig = charts.compute_figures(
        snap.facility_history, snap.region_history, _known(), fresh.figure_ts
    )
    assert fig.facilities == 2 and fig.regions == 5
    text = freshness.describe_figures(fresh, fig.facilities, fig.regions)
    assert "2026-11-30 12:10 NEM" in text
    assert "newest interval with both prices and facilities" in text
    assert "prices to 14:35, facilities to 12:10 NEM" in text
    assert "Simulated data" in text


def test_while_a_sweep_streams_in_the_figures_stay_on_the_interval_before() -> None:
    clock = Clock()
    state = live_state(clock)
    facilities(state, F + STEP, ids=("A",))  # the sweep's newest row is arriving
    clock.now += 1
    fresh = freshness.assess(state.snapshot())
    assert fresh.facility_ts == F + STEP
    assert fresh.figure_ts == F
    # The whole stream gone quiet (the page's flag) means the sweep is done, too.
    assert freshness.assess(state.snapshot(), quiet=True).figure_ts == F + STEP
    clock.now += charts.SETTLE_S
    assert freshness.assess(state.snapshot()).figure_ts == F + STEP


def test_the_figures_never_pass_the_newest_complete_market_interval() -> None:
    clock = Clock()
    state = LiveState(["A", "B"], clock=clock)
    status(state)
    market(state, T - STEP)
    facilities(state, T)
    market(state, T, regions=REGIONS[:2])  # T's market events are still arriving
    clock.now += 60
    fresh = freshness.assess(state.snapshot())
    assert fresh.figure_ts == T - STEP
    assert not fresh.simulated


@pytest.mark.parametrize(
    ("market_ts", "facility_ts", "prev", "quiet", "expected"),
    [
        pytest.param(None, F, None, 10.0, None, id="no-prices"),
        pytest.param(T, None, None, 10.0, None, id="no-facilities"),
        pytest.param(T, F, F - STEP, 10.0, F, id="quiet-sweep-done"),
        pytest.param(T, F, F - STEP, 1.0, F - STEP, id="sweep-arriving"),
        pytest.param(T, F, None, 1.0, F, id="first-interval"),
        pytest.param(F - STEP, F, F - STEP, 10.0, F - STEP, id="market-behind"),
        pytest.param(T, F, F - STEP, None, F, id="no-arrival-time"),
    ],
)
def test_select_live_figure_time(market_ts, facility_ts, prev, quiet, expected) -> None:  # type: ignore[no-untyped-def]
    assert freshness.select_live_figure_time(market_ts, facility_ts, prev, quiet) == expected


def test_a_replay_keeps_the_replays_rule() -> None:
    clock = Clock()
    state = LiveState(["A", "B"], clock=clock)
    facilities(state, T)
    market(state, T)
    facilities(state, T + STEP)  # the next row streams in
    snap = state.snapshot()
    for quiet in (False, True):
        fresh = freshness.assess(snap, quiet)
        assert not fresh.live
        assert fresh.figure_ts == charts.select_figure_time(
            snap.max_ts, snap.prev_ts, snap.market_regions_at_max, charts.SETTLE_S * quiet
        )
    assert freshness.assess(snap).figure_ts == T
    assert freshness.assess(snap, quiet=True).figure_ts == T + STEP
    assert "Live:" not in freshness.describe_figures(fresh, 2, 5)
    assert (
        freshness.describe_figures(freshness.Freshness(False, False, None, None, None), 0, 0) == ""
    )


def test_dates_are_given_when_the_two_are_on_different_days() -> None:
    fresh = freshness.Freshness(True, False, T, F - 86_400, F - 86_400)
    assert freshness.describe_freshness(fresh) == (
        "prices to 2026-11-30 14:35, facilities to 2026-11-29 12:10 NEM"
    )


def test_the_publisher_line_of_a_live_status() -> None:
    text = describe_publisher(
        {"state": "live", "market_to": iso(T), "facilities_to": iso(F), "source": "simulator"}
    )
    assert (
        text
        == "**live** from the simulator: prices to 2026-11-30 14:35, facilities to 2026-11-30 12:10 NEM"
    )


def _known() -> dict:
    from nemlive.common.lookups import Facility

    return {f: Facility(f, f, "SA1", -34.0, 138.0, ("wind",), ("wind",), 100.0) for f in ("A", "B")}


@pytest.mark.parametrize(
    ("fields", "simulated"),
    [
        ({"source": "simulator"}, True),
        ({"source": "nemweb", "simulated": True}, True),
        ({"source": "nemweb"}, False),
        ({"source": "nemweb", "simulated": False}, False),
        ({"source": "openelectricity"}, False),
        ({"simulated": "true"}, False),  # only the bool the schema allows
        ({}, False),
    ],
)
def test_simulated_is_the_simulator_or_a_simulated_source(fields: dict, simulated: bool) -> None:
    assert freshness.is_simulated({"state": "live", **fields}) is simulated
    assert freshness.is_simulated(None) is False


def test_the_publisher_line_of_a_nemweb_status_names_both_sources() -> None:
    live = {"state": "live", "market_to": iso(T), "facilities_to": iso(T), "source": "nemweb"}
    assert describe_publisher(live).startswith(
        "**live** from AEMO NEMweb (facility list from Open Electricity): prices to"
    )
    assert "simulator's NEMweb face" in describe_publisher(live | {"simulated": True})
