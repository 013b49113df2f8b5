"""Pure builders of figures, chart frames and charts, checked against a small consolidate.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from nemlive.common import lookups
from nemlive.common.events import REGIONS
from nemlive.common.nemtime import epoch_to_nem_naive
from nemlive.dashboard import charts
from nemlive.dashboard.livestate import LiveState, Snapshot
from tests.support_dashboard import (
    TEST_FACILITIES,
    expected_figures_from_csv,
    fed_state,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
)
from tests.support_state import send

ALL = set(REGIONS)


@pytest.mark.parametrize(
    ("max_ts", "prev_ts", "regions", "quiet", "expected"),
    [
        (None, None, set(), None, None),
        (600, None, set(), 0.0, 600),  # only one timestamp so far
        (600, 300, set(), 0.1, 300),  # row still streaming: the previous one
        (600, 300, {"NSW1", "VIC1"}, 0.1, 300),  # some market events: not yet
        (600, 300, ALL, 0.1, 600),  # every region reported: the row is done
        (600, 300, set(), 5.0, 600),  # quiet for SETTLE_S: nothing more is coming
    ],
    ids=["empty", "first", "streaming", "partial-market", "row-done", "quiet"],
)
def test_select_figure_time(max_ts, prev_ts, regions, quiet, expected) -> None:  # type: ignore[no-untyped-def]
    assert charts.select_figure_time(max_ts, prev_ts, regions, quiet) == expected


@pytest.mark.parametrize(
    ("regions", "groups"),
    [(None, None), ({"VIC1", "QLD1"}, None), (None, {"coal", "solar"}), ({"QLD1"}, {"coal"})],
    ids=["all", "regions", "groups", "both"],
)
def test_figures_equal_the_csv_at_the_last_timestamp(tmp_path: Path, regions, groups) -> None:  # type: ignore[no-untyped-def]
    snap, facilities, csv_path = fed_state(tmp_path)
    at = charts.select_figure_time(snap.max_ts, snap.prev_ts, snap.market_regions_at_max, 0.0)
    assert at == snap.max_ts  # the whole last row arrived, markets included
    fig = charts.compute_figures(
        snap.facility_history, snap.region_history, facilities, at, regions=regions, groups=groups
    )
    want = expected_figures_from_csv(csv_path, regions, groups)
    assert epoch_to_nem_naive(at).isoformat() == want["timestamp"][:19]
    assert fig.generation_mw == pytest.approx(want["generation_mw"])
    assert fig.emissions_t == pytest.approx(want["emissions_t"])
    assert fig.emissions_t_per_h == pytest.approx(want["emissions_t_per_h"])
    assert fig.intensity_t_per_mwh == pytest.approx(want["intensity"])
    assert fig.price_dmwh == pytest.approx(want["price"])
    assert fig.demand_mw == pytest.approx(want["demand_mw"])
    assert fig.renewable_share == pytest.approx(want["renewable_share"])


def test_figures_stay_on_the_complete_row_while_the_next_streams_in(tmp_path: Path) -> None:
    full, facilities, csv_path = fed_state(tmp_path, intervals=12)
    # Stop three facility events into the last row (its 7 facility events, then 5 market events).
    events = read_csv_events(csv_path)
    partial, _, _ = fed_state(tmp_path, intervals=12, upto=len(events) - 5 - 4)
    at = charts.select_figure_time(
        partial.max_ts, partial.prev_ts, partial.market_regions_at_max, 0.1
    )
    assert at == partial.prev_ts and at < partial.max_ts
    fig = charts.compute_figures(partial.facility_history, partial.region_history, facilities, at)
    ref = charts.compute_figures(full.facility_history, full.region_history, facilities, at)
    assert fig == ref  # the previous row is complete, so its figures are final


def test_figures_without_data() -> None:
    fig = charts.compute_figures({}, {}, {}, None)
    assert fig.time is None and fig.generation_mw is None
    assert set(charts.format_figures(fig).values()) == {"–"}


def test_format_figures() -> None:
    fig = charts.Figures(0, 12345.6, 189.44, 2273.28, 0.72319, 70.5, 15018.2, 0.1702, 7, 5)
    assert charts.format_figures(fig) == {
        "Generation": "12,346 MW",
        "Emissions": "189.4 t/5 min",
        "Emissions rate": "2,273 t/h",
        "Intensity": "0.723 t/MWh",
        "Price (demand-weighted)": "$70.50/MWh",
        "Demand": "15,018 MW",
        "Renewable share": "17.0 %",
    }


def test_chart_frames(tmp_path: Path) -> None:
    snap, facilities, _ = fed_state(tmp_path, intervals=12)
    gen, _ = charts.build_fuel_frames(snap.facility_history, facilities)
    assert set(gen.columns) == {"time", "group", "label", "mw"}
    assert gen["time"].nunique() == 12
    assert set(gen["group"]) == {
        "coal",
        "gas",
        "wind",
        "solar",
        "hydro",
    }  # battery charging excluded
    assert (gen["mw"] > 0).all()
    _, emis = charts.build_fuel_frames(snap.facility_history, facilities, groups={"coal"})
    assert len(emis) == 12 and (emis["t"] > 0).all()
    market = charts.build_market_frame(snap.region_history, regions={"SA1", "VIC1"})
    assert len(market) == 24 and set(market["region"]) == {"SA1", "VIC1"}
    # Naive NEM time on the axis: the first interval ends at 10:05 NEM.
    assert str(market["time"].min()) == "2025-10-15 10:05:00"
    for chart in (
        charts.build_generation_chart(gen),
        charts.build_emissions_chart(emis),
        charts.build_region_line_chart(market, "price", "$/MWh"),
    ):
        assert chart.to_dict()["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    # The price tooltip writes a price as the page does: d3's "$" format, its minus first.
    tips = charts.build_region_line_chart(market, "price", "$/MWh").to_dict()["encoding"]["tooltip"]
    assert {"field": "price", "format": "$,.2f", "type": "quantitative"} in tips
    tips = charts.build_region_line_chart(market, "demand", "MW").to_dict()["encoding"]["tooltip"]
    assert {"field": "demand", "format": ",.2f", "type": "quantitative"} in tips


# --- the charts' window: ends at the figure time, without a partly received first interval ---


def _rows_of_events(csv_path: Path) -> list[list[tuple[str, bytes]]]:
    """The CSV's events grouped by row (publisher order: facilities, then markets)."""
    rows: list[list[tuple[str, bytes]]] = []
    last = None
    for suffix, payload in read_csv_events(csv_path):
        ts = json.loads(payload)["timestamp"]
        if ts != last:
            rows.append([])
            last = ts
        rows[-1].append((suffix, payload))
    return rows


def _feed(tmp_path: Path, events: list[tuple[str, bytes]]) -> tuple[Snapshot, dict]:
    facilities = lookups.load_facilities(write_facilities_csv(tmp_path / "f.csv"))
    state = LiveState(facilities.keys())
    for suffix, payload in events:
        assert send(state, f"b/{suffix}", payload) == "stored"
    return state.snapshot(), facilities


def _figure_time(snap: Snapshot, quiet_s: float = 0.1) -> int | None:
    return charts.select_figure_time(snap.max_ts, snap.prev_ts, snap.market_regions_at_max, quiet_s)


def _window_frames(snap: Snapshot, facilities: dict) -> tuple:
    start, end = charts.select_chart_window(snap.facility_history, _figure_time(snap))
    gen, emis = charts.build_fuel_frames(snap.facility_history, facilities, start=start, end=end)
    market = charts.build_market_frame(snap.region_history, start=start, end=end)
    return (start, end), gen, emis, market


def test_charts_end_at_the_figure_time_not_at_the_interval_still_arriving(tmp_path: Path) -> None:
    rows = _rows_of_events(write_consolidate_csv(tmp_path / "c.csv", intervals=12))
    # The last row has streamed 2 of its 7 facility events and none of its market events.
    snap, facilities = _feed(tmp_path, [e for row in rows[:-1] for e in row] + rows[-1][:2])
    at = _figure_time(snap)
    assert at == snap.prev_ts and at < snap.max_ts
    (start, end), gen, emis, market = _window_frames(snap, facilities)
    assert (start, end) == (None, at)
    last = epoch_to_nem_naive(at)
    assert gen["time"].max() == last and emis["time"].max() == last
    assert gen["time"].nunique() == len(emis) == 11 and market["time"].max() == last
    # The right edge equals the headline figures (no cliff) ...
    fig = charts.compute_figures(snap.facility_history, snap.region_history, facilities, at)
    assert emis["t"].iloc[-1] == pytest.approx(fig.emissions_t)
    assert gen[gen["time"] == last]["mw"].sum() == pytest.approx(fig.generation_mw)
    # ... where the unbounded frame drops off at the partial interval.
    _, unbounded = charts.build_fuel_frames(snap.facility_history, facilities)
    assert unbounded["time"].max() == epoch_to_nem_naive(snap.max_ts)
    assert unbounded["t"].iloc[-1] < 0.8 * unbounded["t"].iloc[-2]


@pytest.mark.parametrize(
    ("heads", "kept_from"),
    [
        pytest.param([(2, 7)], 2, id="complete-start"),
        pytest.param([(2, 3)], 3, id="joined-part-way"),
        pytest.param([(1, 1), (2, 3)], 3, id="two-partial-intervals"),
    ],
)
def test_a_partly_received_first_interval_is_left_out(
    tmp_path: Path, heads: list[tuple[int, int]], kept_from: int
) -> None:
    """Row k's first n facility events for each (k, n) in ``heads``, then the later rows whole."""
    rows = _rows_of_events(write_consolidate_csv(tmp_path / "c.csv", intervals=12))
    events: list[tuple[str, bytes]] = []
    for k, n in heads:
        events += [e for e in rows[k] if e[0].startswith("facility/")][:n]
    events += [e for row in rows[heads[-1][0] + 1 :] for e in row]
    snap, facilities = _feed(tmp_path, events)
    (start, end), gen, emis, market = _window_frames(snap, facilities)
    assert end == snap.max_ts  # the whole last row arrived
    times = sorted(set(gen["time"]))
    assert times[0] == emis["time"].min() <= market["time"].min()  # heads carry no markets
    assert times[0].isoformat() == json.loads(rows[kept_from][0][1])["timestamp"][:19]
    assert (start is None) == (kept_from == heads[0][0])
    assert len(times) == len(emis) == 12 - kept_from
    assert times[-1] == epoch_to_nem_naive(end)  # never the interval the figures show


def test_the_interval_still_arriving_never_decides_the_start(tmp_path: Path) -> None:
    rows = _rows_of_events(write_consolidate_csv(tmp_path / "c.csv", intervals=12))
    # Joined part-way through row 5: 2 of its facilities, then row 6 is streaming (5 of 7).
    facility_rows = [[e for e in row if e[0].startswith("facility/")] for row in rows]
    snap, _ = _feed(tmp_path, facility_rows[5][:2] + facility_rows[6][:5])
    at = _figure_time(snap)
    assert at == snap.prev_ts
    assert charts.select_chart_window(snap.facility_history, at) == (None, at)
    assert charts.select_chart_window(snap.facility_history, None) == (None, None)


def test_the_chart_window_never_reaches_back_past_its_span() -> None:
    # A point kept from long before (an old stream, a forged message) must not stretch the axis.
    base = 1_760_000_100 // 300 * 300
    recent = {f"F{i}": [(base + 300 * k, 1.0, 0.0) for k in range(12)] for i in range(5)}
    stray = {**recent, "OLD": [(base - 300 * 100_000, 1.0, 0.0)]}
    end = base + 300 * 11
    assert charts.select_chart_window(recent, end, span=12) == (None, end)
    assert charts.select_chart_window(stray, end, span=12) == (base, end)
    assert charts.select_chart_window(stray, end, span=6) == (base + 300 * 6, end)


# --- each definition of the figures, one behaviour at a time -------------------------------

AT = 1_760_000_100 // 300 * 300


def _one_facility(group: str, mw: float = 100.0) -> tuple[dict, dict]:
    fac = lookups.Facility(f"F_{group}", group, "SA1", -34.0, 138.0, (group,), (group,), 200.0)
    coal = lookups.Facility(
        "F_COAL", "coal", "SA1", -34.0, 138.0, ("coal",), ("coal_black",), 500.0
    )
    history = {fac.facility_id: [(AT, mw, 0.0)], "F_COAL": [(AT, 300.0, 250.0)]}
    return history, {fac.facility_id: fac, "F_COAL": coal}


RENEWABLE = {"bioenergy", "hydro", "wind", "solar"}


@pytest.mark.parametrize("group", list(lookups.FUEL_GROUPS))
def test_each_fuel_groups_place_in_the_renewable_share(group: str) -> None:
    history, facilities = _one_facility(group)
    fig = charts.compute_figures(history, {}, facilities, AT)
    want = 100.0 / 400.0 if group in RENEWABLE else 0.0
    if group == "coal":
        want = 0.0
    assert fig.renewable_share == pytest.approx(want), group
    assert fig.generation_mw == pytest.approx(400.0)


def test_the_renewable_groups_are_exactly_the_readmes() -> None:
    assert set(lookups.RENEWABLE_GROUPS) == RENEWABLE


def test_a_load_counts_in_no_figure_but_its_emissions() -> None:
    history, facilities = _one_facility("battery", mw=-80.0)
    fig = charts.compute_figures(history, {}, facilities, AT)
    assert fig.generation_mw == pytest.approx(300.0) and fig.renewable_share == 0.0
    assert fig.emissions_t == pytest.approx(250.0)


def test_a_missing_price_keeps_its_demand_out_of_the_price_weight() -> None:
    regions = {
        "SA1": [(AT, None, 1_000.0)],  # demand, no price
        "VIC1": [(AT, 50.0, 3_000.0)],
        "NSW1": [(AT, 80.0, 1_000.0)],
    }
    fig = charts.compute_figures({}, regions, {}, AT)
    assert fig.demand_mw == pytest.approx(5_000.0)  # every region's demand counts
    assert fig.price_dmwh == pytest.approx((50 * 3_000 + 80 * 1_000) / 4_000)  # not / 5,000
    alone = charts.compute_figures({}, {"SA1": [(AT, None, 1_000.0)]}, {}, AT)
    assert alone.price_dmwh is None and alone.demand_mw == 1_000.0


def test_zero_or_negative_demand_gives_no_price_weight() -> None:
    regions = {"SA1": [(AT, 500.0, -10.0)], "VIC1": [(AT, 50.0, 0.0)], "NSW1": [(AT, 80.0, 10.0)]}
    fig = charts.compute_figures({}, regions, {}, AT)
    assert fig.price_dmwh == pytest.approx(80.0)
    assert fig.demand_mw == pytest.approx(0.0)


def test_renewable_share_by_region_equals_the_csv(tmp_path: Path) -> None:
    snap, facilities, csv_path = fed_state(tmp_path)
    frame = charts.build_renewable_share_frame(snap.facility_history, facilities)
    # Independently, from the file: positive output of renewable facilities over all positive
    # output, per region and row.
    by_id = {f[0]: f for f in TEST_FACILITIES}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    want = {}
    for row in rows:
        gen: dict[str, float] = {}
        ren: dict[str, float] = {}
        for fid, fac in by_id.items():
            mw = float(row[f"power_{fid}"]) if row[f"power_{fid}"] else 0.0
            if mw > 0:
                gen[fac[2]] = gen.get(fac[2], 0.0) + mw
                if fac[5].split(";")[0] in ("bioenergy", "hydro", "wind", "solar"):
                    ren[fac[2]] = ren.get(fac[2], 0.0) + mw
        for region, total in gen.items():
            want[(row["timestamp"][:16].replace("T", " "), region)] = ren.get(region, 0.0) / total
    got = {
        (t.strftime("%Y-%m-%d %H:%M"), r): s
        for t, r, s in zip(frame["time"], frame["region"], frame["share"], strict=True)
    }
    assert got.keys() == want.keys()
    for key, share in want.items():
        assert got[key] == pytest.approx(share), key
    only_sa = charts.build_renewable_share_frame(snap.facility_history, facilities, regions={"SA1"})
    assert set(only_sa["region"]) == {"SA1"}


# --- the edges of each figure, frame and table -------------------------------------------------

T = 1_760_486_700  # 2025-10-15T10:05:00+10:00


def _fac(fid: str, group: str = "wind", region: str = "SA1") -> lookups.Facility:
    return lookups.Facility(fid, f"{fid} name", region, -34.0, 138.0, (group,), (group,), 100.0)


def test_no_figure_time_means_no_figures_and_no_counts() -> None:
    fig = charts.compute_figures({"A": [(T, 1.0, 1.0)]}, {"SA1": [(T, 1.0, 1.0)]}, {}, None)
    assert fig == charts.Figures(None, None, None, None, None, None, None, None, 0, 0)


def test_figures_count_the_facilities_and_regions_with_a_value_at_their_time() -> None:
    facilities = {"A": _fac("A"), "B": _fac("B", region="VIC1"), "C": _fac("C")}
    history = {
        "C": [(T - 300, 10.0, 2.0)],  # no value at T: the rest still counted
        "GONE": [(T, 50.0, 1.0)],  # not in the lookup: left out, the rest still counted
        "B": [(T, 20.0, None)],
        "A": [(T, 10.0, 2.0)],
    }
    region_history = {
        "QLD1": [(T - 300, 1.0, 1.0)],  # no value at T
        "VIC1": [(T, 40.0, 100.0)],
        "SA1": [(T, 60.0, 300.0)],
    }
    fig = charts.compute_figures(
        history, region_history, facilities, T, regions={"SA1", "VIC1", "QLD1"}
    )
    assert (fig.time, fig.facilities, fig.regions) == (T, 2, 2)
    assert fig.generation_mw == 30.0
    only_sa = charts.compute_figures(history, region_history, facilities, T, regions={"SA1"})
    assert (only_sa.facilities, only_sa.regions, only_sa.price_dmwh) == (1, 1, 60.0)
    # A region left out by the filter does not stop the ones after it.
    assert charts.compute_figures({}, region_history, {}, T, regions={"SA1"}).regions == 1


def test_figures_without_power_or_demand_show_none_not_zero() -> None:
    fig = charts.compute_figures(
        {"A": [(T, None, 3.0)]}, {"SA1": [(T, 80.0, None)]}, {"A": _fac("A")}, T
    )
    assert (fig.generation_mw, fig.demand_mw, fig.price_dmwh) == (None, None, None)
    assert fig.emissions_t == 3.0
    assert fig.intensity_t_per_mwh is None and fig.renewable_share is None


def test_figures_of_a_fraction_of_a_megawatt_are_still_figures() -> None:
    fig = charts.compute_figures(
        {"A": [(T, 0.5, 0.25)], "B": [(T, 0.0, 0.0)]},
        {"SA1": [(T, 80.0, 0.5)], "VIC1": [(T, 1000.0, 0.0)]},
        {"A": _fac("A"), "B": _fac("B", group="coal")},
        T,
    )
    assert fig.generation_mw == 0.5
    assert fig.renewable_share == 1.0
    assert fig.intensity_t_per_mwh == pytest.approx(0.25 / (0.5 / 12))
    # Zero demand weighs nothing: the price is SA1's alone, not pulled towards VIC1's.
    assert fig.price_dmwh == 80.0
    assert fig.demand_mw == 0.5


def test_emissions_with_no_generation_have_no_intensity() -> None:
    fig = charts.compute_figures({"A": [(T, 0.0, 5.0)]}, {}, {"A": _fac("A", group="coal")}, T)
    assert (fig.generation_mw, fig.emissions_t, fig.intensity_t_per_mwh) == (0.0, 5.0, None)


def test_fuel_frames_leave_out_unknown_and_filtered_facilities_and_count_every_megawatt() -> None:
    facilities = {"A": _fac("A"), "B": _fac("B", group="coal", region="VIC1")}
    history = {"GONE": [(T, 9.0, 9.0)], "A": [(T, 0.5, 1.0)], "B": [(T, 30.0, 2.0)]}
    gen, co2 = charts.build_fuel_frames(history, facilities)
    assert gen[["group", "label", "mw"]].values.tolist() == [
        ["coal", "Coal", 30.0],
        ["wind", "Wind", 0.5],
    ]
    assert co2["t"].tolist() == [3.0]
    gen, _ = charts.build_fuel_frames(history, facilities, regions={"SA1"})
    assert gen["group"].tolist() == ["wind"]
    gen, _ = charts.build_fuel_frames(history, facilities, groups={"coal"})
    assert gen["group"].tolist() == ["coal"]


def test_the_market_frame_keeps_the_window_and_missing_values_as_nan() -> None:
    history = {
        "SA1": [(T - 600, 1.0, 10.0), (T - 300, None, 20.0), (T, 3.0, None), (T + 300, 4.0, 40.0)]
    }
    frame = charts.build_market_frame(history, start=T - 300, end=T)
    assert list(frame.columns) == ["time", "region", "price", "demand"]
    assert frame["time"].tolist() == [epoch_to_nem_naive(T - 300), epoch_to_nem_naive(T)]
    assert frame["price"].dtype == "float64" and frame["demand"].dtype == "float64"
    assert frame["price"].isna().tolist() == [True, False] and frame["price"].iloc[1] == 3.0
    assert frame["demand"].iloc[0] == 20.0 and frame["demand"].isna().iloc[1]


def test_the_facility_history_frame_is_time_power_and_emissions_with_nan_for_missing() -> None:
    frame = charts.build_facility_history_frame([(T, 1.5, None), (T + 300, None, 2.5)])
    assert frame["time"].tolist() == [epoch_to_nem_naive(T), epoch_to_nem_naive(T + 300)]
    assert frame["power_mw"].dtype == "float64" and frame["co2_tonnes"].dtype == "float64"
    assert frame["power_mw"].iloc[0] == 1.5 and frame["power_mw"].isna().iloc[1]
    assert frame["co2_tonnes"].isna().iloc[0] and frame["co2_tonnes"].iloc[1] == 2.5


def test_a_value_is_found_only_at_its_own_time() -> None:
    points = [(T - 600, 1.0, 1.0), (T, 2.0, 2.0)]
    assert charts.value_at(points, T) == (T, 2.0, 2.0)
    assert charts.value_at(points, T - 300) is None
    assert charts.value_at(points, T - 600) == (T - 600, 1.0, 1.0)


def test_a_group_outside_the_palette_is_other() -> None:
    assert charts.fuel_group_of(_fac("A", group="unobtainium")) == "other"
    assert charts.fuel_group_of(_fac("A", group="solar")) == "solar"


def test_a_facility_at_zero_megawatts_adds_no_generation_row() -> None:
    gen, co2 = charts.build_fuel_frames({"A": [(T, 0.0, 1.0)]}, {"A": _fac("A", group="coal")})
    assert gen.empty
    assert co2["t"].tolist() == [1.0]
