"""Benchmark one dashboard refresh with 500 facilities and a full 24-hour window.

    .venv/bin/python bench/render.py [--repeats 15] [--apptest 5]

Fills a LiveState through the real decode path with 500 invented facilities x 288 intervals
(plus the five regions), then times what one refresh does on the server: snapshot, figure
time and figures, map rows, deck + its JSON, the four chart frames and their Vega-Lite specs,
and the two tables. Prints the median (target <= 200 ms) and the deck JSON size (target
<= 150 KB), then the median wall time of a whole AppTest script run on the same state.
Region polygons: data/regions.geojson when present, else simple boxes.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from nemlive.common import lookups
from nemlive.common.events import REGIONS, encode_facility_event, encode_market_event
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.common.nemtime import NEM_TZ
from nemlive.dashboard import (
    charts,
    mapview,
    tables,
)
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import LiveState

N_FACILITIES = 500
INTERVALS = 288
GROUP_WEIGHTS = {
    "coal": 4,
    "gas": 8,
    "distillate": 3,
    "bioenergy": 2,
    "hydro": 6,
    "pumps": 1,
    "wind": 10,
    "solar": 14,
    "battery": 8,
    "other": 1,
}
REGION_BOX = {
    "NSW1": (148, -36, 153, -29),
    "QLD1": (145, -28, 153, -17),
    "SA1": (135, -38, 140, -30),
    "TAS1": (145, -43, 148, -41),
    "VIC1": (141, -38.5, 149, -34),
}


def write_lookup(path: Path, rng: random.Random) -> dict[str, tuple[str, float]]:
    """Invented facilities: id -> (group, base MW)."""
    out: dict[str, tuple[str, float]] = {}
    groups = list(GROUP_WEIGHTS)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(lookups.FACILITIES_HEADER)
        for i in range(N_FACILITIES):
            fid = f"BENCH{i:03d}"
            group = rng.choices(groups, weights=list(GROUP_WEIGHTS.values()))[0]
            region = rng.choice(REGIONS)
            x0, y0, x1, y1 = REGION_BOX[region]
            cap = round(rng.uniform(5, 2800 if group == "coal" else 600), 1)
            w.writerow(
                [
                    fid,
                    f"Bench facility {i} & co",
                    region,
                    round(rng.uniform(y0, y1), 4),
                    round(rng.uniform(x0, x1), 4),
                    group,
                    group,
                    cap,
                ]
            )
            out[fid] = (group, cap * 0.6)
    return out


def fill_state(
    facilities: dict[str, lookups.Facility], plan: dict[str, tuple[str, float]], rng: random.Random
) -> LiveState:
    state = LiveState(facilities.keys())
    t0 = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)
    for k in range(INTERVALS):
        ts = (t0 + timedelta(minutes=5 * k)).isoformat(timespec="seconds")
        for fid, (group, base) in plan.items():
            mw = round(
                base * rng.uniform(0.5, 1.1) * (-0.5 if group == "battery" and k % 3 == 0 else 1), 3
            )
            t = round(max(mw, 0) * 0.08, 4) if group in ("coal", "gas", "distillate") else None
            state.receive("b", f"b/facility/{fid}", encode_facility_event(fid, ts, mw, t))
        for r in REGIONS:
            state.receive(
                "b",
                f"b/market/{r}",
                encode_market_event(
                    r, ts, round(rng.uniform(-50, 300), 2), round(rng.uniform(1000, 9000), 1)
                ),
            )
    state.snapshot(data=False)  # works through the inbox
    return state


def to_vega_lite(chart: object) -> dict:
    """What st.altair_chart does with a chart (its data as Arrow), else Altair's to_dict."""
    try:
        from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
    except ImportError:  # a private helper: fall back to the (slower) public path
        return chart.to_dict()  # type: ignore[attr-defined]
    return _convert_altair_to_vega_lite_spec(chart)  # type: ignore[arg-type]


def one_refresh(state: LiveState, facilities: dict, regions_fc: dict) -> int:
    """Everything render_live computes, without Streamlit; returns the deck JSON size in bytes."""
    snap = state.snapshot()
    at = charts.select_figure_time(
        snap.max_ts, snap.prev_ts, snap.market_regions_at_max, snap.last_message_age_s
    )
    fig = charts.compute_figures(snap.facility_history, snap.region_history, facilities, at)
    charts.format_figures(fig)
    rows = mapview.build_facility_rows(snap.facility_latest, facilities)
    deck_json = mapview.build_deck(rows, regions_fc, mapview.MapOptions(labels=True)).to_json()
    gen, emis = charts.build_fuel_frames(snap.facility_history, facilities)
    market = charts.build_market_frame(snap.region_history)
    for chart in (
        charts.build_generation_chart(gen),
        charts.build_emissions_chart(emis),
        charts.build_region_line_chart(market, "price", "$/MWh"),
        charts.build_region_line_chart(market, "demand", "MW"),
    ):
        to_vega_lite(chart)
    tables.build_recent_facility_table(snap.recent_facility, facilities).to_csv(index=False)
    tables.build_recent_market_table(snap.recent_market).to_csv(index=False)
    return len(deck_json.encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--apptest", type=int, default=5, help="AppTest runs (0 = skip)")
    args = parser.parse_args(argv)
    rng = random.Random(5339)
    with tempfile.TemporaryDirectory() as tmp:
        fac_path = Path(tmp) / "facilities.csv"
        plan = write_lookup(fac_path, rng)
        facilities = lookups.load_facilities(fac_path)
        real_regions = ROOT / "data" / "regions.geojson"
        if real_regions.exists():
            regions_path = real_regions
        else:
            from support_dashboard import write_regions_geojson

            regions_path = write_regions_geojson(Path(tmp) / "regions.geojson")
        regions_fc = mapview.simplify_regions(lookups.load_regions(regions_path))
        t = time.perf_counter()
        state = fill_state(facilities, plan, rng)
        snap = state.snapshot()
        print(
            f"state: {len(snap.facility_history)} facilities x {len(next(iter(snap.facility_history.values())))} intervals, filled in {time.perf_counter() - t:.1f} s"
        )
        times, size = [], 0
        for _ in range(args.repeats):
            t = time.perf_counter()
            size = one_refresh(state, facilities, regions_fc)
            times.append(time.perf_counter() - t)
        med = statistics.median(times) * 1000
        print(
            f"one refresh (server-side builders): median {med:.0f} ms over {args.repeats} (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); target <= 200 ms"
        )
        print(
            f"deck JSON: {size / 1024:.1f} KB with {len(snap.facility_latest)} facilities and {regions_path.name}; target <= 150 KB"
        )
        ok = med <= 200 and size <= 150 * 1024
        if args.apptest:
            from streamlit.testing.v1 import AppTest

            os.environ.update(
                NEMLIVE_FACILITIES=str(fac_path),
                NEMLIVE_REGIONS=str(regions_path),
                MQTT_HOST="127.0.0.1",
                MQTT_PORT="9",
            )
            hub = Hub(state, resolve_mqtt_settings({}, host="127.0.0.1", port=9), autostart=False)
            runs = []
            for _ in range(args.apptest):
                at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
                at.session_state["nemlive_hub"] = hub
                t = time.perf_counter()
                at.run()
                runs.append(time.perf_counter() - t)
                if at.exception:
                    print(f"AppTest raised: {at.exception[0].message}")
                    return 1
            print(
                f"whole script run (AppTest, incl. Streamlit's own work): median {statistics.median(runs) * 1000:.0f} ms over {args.apptest}"
            )
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
