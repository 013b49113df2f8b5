"""views: the page's parts built once per data version and selection, from real LiveStates."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from nemlive.common import lookups
from nemlive.common.events import MarketEvent, StatusEvent, encode_status
from nemlive.dashboard import changes, charts, history, mapview, views
from nemlive.dashboard.livestate import LiveState
from nemlive.dashboard.sharedcache import SharedCache
from nemlive.dashboard.views import Epoch, Selection, SnapshotClock, epoch_is_due
from tests.support_dashboard import (
    FIRST_TS,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
    write_regions_geojson,
)
from tests.support_state import alert_payload, send_event


@pytest.fixture
def fed(tmp_path: Path) -> tuple[LiveState, dict]:
    """A LiveState fed the 12 intervals of the test CSV, and its facility lookup."""
    facilities = lookups.load_facilities(write_facilities_csv(tmp_path / "f.csv"))
    state = LiveState(facilities.keys(), clock=lambda: FIRST_TS.timestamp() + 3600)
    for topic, payload in read_csv_events(write_consolidate_csv(tmp_path / "c.csv")):
        state.receive("b", f"b/{topic}", payload)
    return state, facilities


def selection(facilities: dict, **kw: object) -> Selection:
    base = Selection(facilities, None, None, None, mapview.MapOptions())
    return replace(base, **kw)  # type: ignore[arg-type]


def mkt(k: int, region: str = "NSW1") -> MarketEvent:
    return MarketEvent(
        region_id=region,
        timestamp=FIRST_TS + timedelta(minutes=5 * k),
        price_dmwh=1.0,
        demand_mw=2.0,
    )  # type: ignore[arg-type]


# --- when a part needs a new snapshot ---------------------------------------------------


def _counters(state: LiveState):  # type: ignore[no-untyped-def]
    return state.snapshot(data=False)


def test_epoch_is_due_first_and_for_another_state(fed: tuple[LiveState, dict]) -> None:
    state, _ = fed
    counters = _counters(state)
    assert epoch_is_due(None, counters, 0.0, 10.0)
    other = Epoch(state.fresh().snapshot(), 0.0)
    assert epoch_is_due(other, counters, 0.0, 10.0)  # a new broker's state: never reused


def test_epoch_waits_for_its_period_while_intervals_come_fast(fed: tuple[LiveState, dict]) -> None:
    state, _ = fed
    epoch = Epoch(state.snapshot(), 100.0)
    assert not epoch_is_due(epoch, _counters(state), 500.0, 10.0)  # same data: never due
    send_event(state, mkt(12))  # a new interval, arriving right after the one before
    counters = _counters(state)
    assert counters.arrival_gap_s is not None and counters.arrival_gap_s < 10
    assert not epoch_is_due(epoch, counters, 109.9, 10.0)
    assert epoch_is_due(epoch, counters, 110.0, 10.0)  # the period is over


def test_epoch_follows_a_new_interval_after_a_long_gap_at_once(tmp_path: Path) -> None:
    now = [FIRST_TS.timestamp()]
    state = LiveState(set(), clock=lambda: now[0])
    send_event(state, mkt(0))
    epoch = Epoch(state.snapshot(), now[0])
    now[0] += 300  # a live stream: the next interval 5 minutes later
    send_event(state, mkt(1))
    assert epoch_is_due(epoch, _counters(state), now[0] + 0.1, 10.0)
    # ... but the rest of that interval, arriving next, waits for the period
    later = Epoch(state.snapshot(), now[0])
    now[0] += 1
    send_event(state, mkt(1, "VIC1"))
    assert not epoch_is_due(later, _counters(state), now[0], 10.0)


def test_snapshot_clock_shares_one_snapshot_per_period(fed: tuple[LiveState, dict]) -> None:
    state, _ = fed
    clock = SnapshotClock(10.0)
    first = clock.current(state, _counters(state), 0.0)
    send_event(state, mkt(12))
    assert clock.current(state, _counters(state), 5.0) is first  # within the period
    assert clock.current(state, _counters(state), 5.0, force=True) is not first  # a full run
    assert clock.taken == 2
    fast = SnapshotClock(0.0)
    a = fast.current(state, _counters(state), 0.0)
    assert fast.current(state, _counters(state), 0.0) is a  # no new data: the same one
    send_event(state, mkt(13))
    assert fast.current(state, _counters(state), 0.0).max_ts > a.max_ts  # type: ignore[operator]


def test_a_flood_of_statuses_rebuilds_no_figures(fed: tuple[LiveState, dict]) -> None:
    """10,000 statuses from as many publishers, read by a page refreshing every 100: the
    data version does not move, no full snapshot is taken, and the figures are built once
    per status mode (replay, then live; back to replay is the first build again), while
    each refresh sees the newest status (the sidebar's line)."""
    state, facilities = fed
    sel = selection(facilities)
    cache, clock = SharedCache(), SnapshotClock(0.0)
    version = state.version

    def refresh(now: float) -> tuple[dict | None, views.FigureView]:
        snap = clock.current(state, _counters(state), now)
        key = views.view_key("figures", snap, sel)
        return snap.publisher_status, cache.get(key, lambda: views.build_figure_view(snap, sel))

    _, first = refresh(0.0)
    for i in range(10_000):
        mode = "live" if i < 5_000 else "online"
        status = StatusEvent(state=mode, client_id=f"forger-{i}", market_to=f"**{i}**")  # type: ignore[arg-type]
        state.receive("b", "b/status", encode_status(status))
        if i % 100 == 99:
            shown, view = refresh(float(i))
            assert shown is not None and shown["market_to"] == f"**{i}**"
            assert (view.caption is not None and "Live:" in view.caption) == (mode == "live")
    assert state.version == version  # no data version moved
    assert clock.taken == 1  # ... so no full snapshot was taken again
    assert cache.builds == 2  # one figure view per mode: replay, live
    assert view is first  # the replay's view, built before the flood, served again


# --- the parts ------------------------------------------------------------------------


def test_figure_view_is_the_figures_of_the_latest_complete_interval(
    fed: tuple[LiveState, dict],
) -> None:
    state, facilities = fed
    snap = state.snapshot()
    sel = selection(facilities)
    view = views.build_figure_view(snap, sel)
    at = charts.select_figure_time(snap.max_ts, snap.prev_ts, snap.market_regions_at_max, 0.0)
    assert view.at_ts == at == snap.max_ts  # every region of the last row came
    expected = charts.compute_figures(snap.facility_history, snap.region_history, facilities, at)
    assert view.figures == expected and view.texts == charts.format_figures(expected)
    assert view.caption is not None and "latest complete interval" in view.caption
    send_event(state, mkt(12))  # a row begun: only NSW1 of it so far
    partial = state.snapshot()
    assert views.build_figure_view(partial, sel).at_ts == snap.max_ts
    assert views.build_figure_view(partial, sel, quiet=True).at_ts == partial.max_ts


def test_each_card_shows_its_change_since_the_interval_before(
    fed: tuple[LiveState, dict],
) -> None:
    """The cards carry each figure's move from the interval before, as ``changes`` words
    and colours it; the wall's band has the same cards in one row."""
    state, facilities = fed
    snap = state.snapshot()
    view = views.build_figure_view(snap, selection(facilities))
    before = charts.compute_figures(
        snap.facility_history, snap.region_history, facilities, snap.max_ts - 300
    )
    want = changes.figure_changes(view.figures, before)
    assert view.changes == want and all(want.values())
    price = want["Price (demand-weighted)"]
    assert price is not None and price.text[0] in "▲▼"
    assert f'data-sense="{price.sense}"' in view.cards_html
    assert html.escape(price.text) in view.cards_html
    assert view.cards_html.count('data-testid="nl-card-change"') == 7
    assert "nl-cols-7" in view.band_html and "nl-cols-4" in view.cards_html


def test_figure_view_waits_for_data_and_shows_a_past_interval(fed: tuple[LiveState, dict]) -> None:
    state, facilities = fed
    empty = views.build_figure_view(state.fresh().snapshot(), selection(facilities))
    assert empty.at_ts is None and empty.caption is None
    snap = state.snapshot()
    at = snap.max_ts - 3 * 300  # type: ignore[operator]
    choice = history.RangeChoice("Yesterday", t0=at - 3600, t1=at + 3600)
    past = views.PastView(choice, snap.facility_history, snap.region_history, at)
    view = views.build_figure_view(views.with_past(snap, past), selection(facilities, past=past))
    assert view.at_ts == at and view.window == (None, None)
    assert view.caption == history.describe_view(choice, at)


def test_a_past_map_shows_the_stored_interchange_at_the_picked_interval(
    fed: tuple[LiveState, dict], tmp_path: Path
) -> None:
    state, facilities = fed
    snap = state.snapshot()
    at = snap.max_ts - 3 * 300  # type: ignore[operator]
    choice = history.RangeChoice("Yesterday", t0=at - 3600, t1=at + 3600)
    flows = {"SA1": [(at - 300, 100.0, 0.0), (at, 420.0, 70.0), (at + 300, 0.0, 900.0)]}
    past = views.PastView(choice, snap.facility_history, snap.region_history, at, flows)
    then = views.with_past(snap, past)
    assert then.interchange_history == flows  # the charts: the whole range
    assert then.interchange_latest == {"SA1": (at, 420.0, 70.0)}  # the map: the picked interval
    regions_fc = json.loads(write_regions_geojson(tmp_path / "r.geojson").read_text())
    deck = views.build_map_view(then, selection(facilities, regions_fc=regions_fc)).deck
    layers = {layer.id: layer for layer in deck.layers}
    assert [d["text"] for d in layers["interchange"].data] == ["SA1 +350 MW"]


def test_keys_differ_by_version_selection_and_quiet(fed: tuple[LiveState, dict]) -> None:
    state, facilities = fed
    snap = state.snapshot()
    every = selection(facilities)
    nsw = replace(every, regions=["NSW1"])
    assert views.view_key("map", snap, every) == views.view_key("map", snap, selection(facilities))
    assert views.view_key("map", snap, every) != views.view_key("map", snap, nsw)
    assert views.view_key("map", snap, every) != views.view_key("charts", snap, every)
    assert views.view_key("figures", snap, every) != views.view_key("figures", snap, every, True)
    send_event(state, mkt(12))
    assert views.view_key("map", state.snapshot(), every) != views.view_key("map", snap, every)
    # the order a viewer picked regions in does not matter
    a = views.selection_key(replace(every, regions=["VIC1", "NSW1"]))
    assert a == views.selection_key(replace(every, regions=["NSW1", "VIC1"]))


def test_chart_specs_share_one_template_per_series_and_carry_their_own_rows(
    fed: tuple[LiveState, dict],
) -> None:
    state, facilities = fed
    snap = state.snapshot()
    sel = selection(facilities)
    before = views._TEMPLATES.builds
    panels = views.build_chart_views(snap, sel, (None, None))
    assert [p.title for p in panels][:2] == [
        "Generation by fuel group",
        "Renewable share by region",
    ]
    assert all(p.spec is not None for p in panels)
    made = views._TEMPLATES.builds - before
    again = views.build_chart_views(snap, sel, (None, snap.max_ts - 300))  # type: ignore[operator]
    assert views._TEMPLATES.builds - before == made  # same series: no new template
    gen, gen2 = panels[0].spec, again[0].spec
    assert gen is not None and gen2 is not None
    assert gen["datasets"][views.DATASET].num_rows > gen2["datasets"][views.DATASET].num_rows
    # the rows are the chart's frame, and the spec names them
    frame, _ = charts.build_fuel_frames(snap.facility_history, facilities)
    assert gen["datasets"][views.DATASET].num_rows == len(frame)
    assert gen["data"] == {"name": views.DATASET}
    # what Streamlit edits in its copy never reaches the shared spec
    page = panels[0].spec_for_page()
    page["encoding"]["color"]["title"] = " "
    del page["datasets"]
    assert gen["encoding"]["color"].get("title") is None and views.DATASET in gen["datasets"]


def test_chart_template_follows_the_series_drawn(fed: tuple[LiveState, dict]) -> None:
    state, facilities = fed
    snap = state.snapshot()
    every = views.build_chart_views(snap, selection(facilities), (None, None))
    nsw = views.build_chart_views(snap, selection(facilities, regions=["NSW1"]), (None, None))
    price_all, price_nsw = every[2].spec, nsw[2].spec
    assert price_all is not None and price_nsw is not None
    assert price_nsw["encoding"]["color"]["scale"]["domain"] == ["NSW1"]
    assert len(price_all["encoding"]["color"]["scale"]["domain"]) == 5


def test_map_view_json_is_made_once(fed: tuple[LiveState, dict], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    state, facilities = fed
    view = views.build_map_view(state.snapshot(), selection(facilities))
    calls: list[int] = []
    monkeypatch.setattr(
        mapview.CompactDeck, "to_json", lambda self: calls.append(1) or "{}", raising=True
    )
    first = view.deck.to_json()
    assert view.deck.to_json() is first and calls == []  # the text made at build time
    assert view.drawn == len(
        mapview.build_facility_rows(state.snapshot().facility_latest, facilities)
    )
    assert view.price_legend is not None


def test_tables_view_is_the_selection_s_recent_events(fed: tuple[LiveState, dict]) -> None:
    state, facilities = fed
    snap = state.snapshot()
    view = views.build_tables_view(snap, selection(facilities, regions=["VIC1"]))
    assert set(view.market["region_id"]) == {"VIC1"}
    assert set(view.facility["region"]) <= {"VIC1"}


def test_visuals_are_behind_for_the_first_data_and_for_slow_new_intervals() -> None:
    now = [FIRST_TS.timestamp()]
    state = LiveState(set(), clock=lambda: now[0])
    assert not views.visuals_behind(_counters(state), None, 10.0)  # nothing to draw yet
    send_event(state, mkt(0))
    assert views.visuals_behind(_counters(state), None, 10.0)  # the first data: draw now
    drawn = state.snapshot().max_ts
    assert not views.visuals_behind(_counters(state), drawn, 10.0)
    now[0] += 3
    send_event(state, mkt(1))  # 3 s after the one before: the timer will do
    assert not views.visuals_behind(_counters(state), drawn, 10.0)
    now[0] += 10
    send_event(state, mkt(2))  # 10 s after the one before: now
    assert views.visuals_behind(_counters(state), drawn, 10.0)
    assert not views.visuals_behind(_counters(state), state.snapshot().max_ts, 10.0)


# --- alerts on the map ----------------------------------------------------------------------


def test_an_alert_redraws_the_live_map_but_not_a_past_one(
    fed: tuple[LiveState, dict], tmp_path: Path
) -> None:
    state, facilities = fed
    regions_fc = json.loads(write_regions_geojson(tmp_path / "r.geojson").read_text())
    live = selection(facilities, regions_fc=regions_fc)
    clock = SnapshotClock(10.0)
    before = clock.current(state, _counters(state), 0.0)
    state.receive("b", "b/alert/price-spike/SA1", alert_payload("price-spike", "SA1"))
    after = clock.current(state, _counters(state), 1.0)  # no new data: the alerts swapped in
    assert [a.subject for a in after.alerts_firing] == ["SA1"] and after.version == before.version
    assert views.view_key("map", after, live) != views.view_key("map", before, live)
    assert views.view_key("charts", after, live) == views.view_key("charts", before, live)
    deck = views.build_map_view(after, live).deck
    regions = next(layer for layer in deck.layers if layer.id == "regions")
    assert {
        f["properties"]["region_id"] for f in regions.data["features"] if f["properties"]["alert"]
    } == {"SA1"}
    snap = state.snapshot()
    at = snap.max_ts
    past = views.PastView(
        history.RangeChoice("Yesterday", t0=at - 3600, t1=at), snap.facility_history,
        snap.region_history, at, {},
    )  # fmt: skip
    then = replace(live, past=past)
    assert views.view_key("map", after, then) == views.view_key("map", before, then)
    deck = views.build_map_view(views.with_past(after, past), then).deck
    regions = next(layer for layer in deck.layers if layer.id == "regions")
    assert not any(f["properties"]["alert"] for f in regions.data["features"])
