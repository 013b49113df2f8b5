"""Test helpers for the dashboard: small invented lookups, a small consolidate.csv, a publisher.

The facility ids, names and coordinates here are made up for the tests (nothing is copied from
the recorded OE responses). One facility has HTML in its name to check escaping end to end.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from nemlive.common import lookups
from nemlive.common.events import (
    QOS,
    REGIONS,
    build_facility_topic,
    build_market_topic,
    encode_facility_event,
    encode_interchange_event,
    encode_market_event,
)
from nemlive.common.nemtime import NEM_TZ
from nemlive.dashboard import charts
from nemlive.dashboard.livestate import LiveState, Snapshot
from tests.support_state import send

# facility_id, name, region, lat, lon, fuel_groups, fuel_techs, capacity, base MW, t/MWh
TEST_FACILITIES = [
    ("TCOAL1", "Test Coal One", "NSW1", -32.4, 150.9, "coal", "coal_black", 2000.0, 1500.0, 0.9),
    (
        "TGAS1",
        "Test Gas <b>&amp; Co</b>",
        "VIC1",
        -38.0,
        145.2,
        "gas",
        "gas_ccgt",
        500.0,
        300.0,
        0.45,
    ),
    ("TWIND1", "Test Wind Farm", "SA1", -33.8, 138.6, "wind", "wind", 300.0, 120.0, 0.0),
    (
        "TSOLAR1",
        "Test Solar Park",
        "QLD1",
        -27.5,
        151.9,
        "solar",
        "solar_utility",
        250.0,
        180.0,
        0.0,
    ),
    ("TBATT1", "Test Battery", "VIC1", -37.8, 144.4, "battery", "battery", 300.0, -80.0, 0.0),
    ("THYDRO1", "Test Hydro", "TAS1", -42.0, 146.5, "hydro", "hydro", 400.0, 220.0, 0.0),
    (
        "TCOAL2",
        "Test Coal Two",
        "QLD1",
        -23.9,
        151.1,
        "coal;gas",
        "coal_black;gas_ocgt",
        1400.0,
        900.0,
        0.95,
    ),
]
# Rough boxes in the right places: good enough for a map of made-up facilities.
REGION_BOXES = {
    "NSW1": (141.0, -37.5, 153.6, -28.2),
    "QLD1": (138.0, -29.0, 153.5, -10.7),
    "SA1": (129.0, -38.1, 141.0, -26.0),
    "TAS1": (144.6, -43.6, 148.5, -39.6),
    "VIC1": (141.0, -39.2, 150.0, -34.0),
}
FIRST_TS = datetime(2025, 10, 15, 10, 5, tzinfo=NEM_TZ)


def write_facilities_csv(path: Path, rows: Iterable[tuple] = TEST_FACILITIES) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(lookups.FACILITIES_HEADER)
        for fid, name, region, lat, lon, groups, techs, cap, *_ in rows:
            w.writerow([fid, name, region, lat, lon, groups, techs, cap])
    return path


def write_regions_geojson(path: Path) -> Path:
    features = []
    for rid, (x0, y0, x1, y1) in REGION_BOXES.items():
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features.append(
            {
                "type": "Feature",
                "properties": {"region_id": rid, "name": rid},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def facility_value(i: int, k: int, base: float, factor: float) -> tuple[float | None, float | None]:
    """Deterministic (MW, t) of facility number ``i`` at interval ``k``; some cells missing."""
    if i == 3 and k % 4 == 1:  # the solar park has a gap now and then
        return None, None
    mw = round(base * (1 + 0.1 * math.sin(k / 3 + i)), 3)
    t = round(max(mw, 0) * factor / 12, 4) if factor else None
    return mw, t


def market_value(j: int, k: int) -> tuple[float, float]:
    return round(60 + 40 * math.sin(k / 5 + j) + 10 * j, 2), round(
        1500 + 900 * j + 300 * math.cos(k / 7), 1
    )


def interchange_value(j: int, k: int) -> tuple[float, float]:
    """(imports MW, exports MW) of region ``j`` at interval ``k``."""
    return round(150.0 * j + 7.5 * k, 1), round(300.0 - 40.0 * j + 3.0 * k, 1)


def write_consolidate_csv(path: Path, intervals: int = 12) -> Path:
    """A small consolidate.csv following docs/contracts.md §2 for TEST_FACILITIES and the five regions."""
    codes = sorted(f[0] for f in TEST_FACILITIES)
    info = {f[0]: (i, f[8], f[9]) for i, f in enumerate(TEST_FACILITIES)}
    header = ["timestamp"] + [f"power_{c}" for c in codes] + [f"emissions_{c}" for c in codes]
    header += [f"price_{r}" for r in REGIONS] + [f"demand_{r}" for r in REGIONS]
    header += [f"imports_{r}" for r in REGIONS] + [f"exports_{r}" for r in REGIONS]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for k in range(intervals):
            ts = (FIRST_TS + timedelta(minutes=5 * k)).isoformat(timespec="seconds")
            vals = {c: facility_value(*info[c][:1], k, *info[c][1:]) for c in codes}
            row: list[object] = [ts]
            row += ["" if vals[c][0] is None else vals[c][0] for c in codes]
            row += ["" if vals[c][1] is None else vals[c][1] for c in codes]
            mk = [market_value(j, k) for j in range(len(REGIONS))]
            row += [m[0] for m in mk] + [m[1] for m in mk]
            flows = [interchange_value(j, k) for j in range(len(REGIONS))]
            row += [f[0] for f in flows] + [f[1] for f in flows]
            w.writerow(row)
    return path


def read_csv_events(path: Path) -> list[tuple[str, bytes]]:
    """(topic suffix kind/id, payload) in publisher order: per row, facilities, then
    interchange, then markets."""
    out: list[tuple[str, bytes]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        fac = [c.split("_", 1)[1] for c in cols if c.startswith("power_")]
        reg = [c.split("_", 1)[1] for c in cols if c.startswith("price_")]
        for row in reader:
            ts = row["timestamp"]
            for f in fac:
                p, e = row[f"power_{f}"], row[f"emissions_{f}"]
                if p == "" and e == "":
                    continue
                out.append(
                    (
                        f"facility/{f}",
                        encode_facility_event(
                            f, ts, float(p) if p else None, float(e) if e else None
                        ),
                    )
                )
            for r in reg:
                i, e = row.get(f"imports_{r}", ""), row.get(f"exports_{r}", "")
                if i or e:
                    out.append(
                        (
                            f"interchange/{r}",
                            encode_interchange_event(
                                r, ts, float(i) if i else None, float(e) if e else None
                            ),
                        )
                    )
            for r in reg:
                p, d = row[f"price_{r}"], row[f"demand_{r}"]
                out.append(
                    (
                        f"market/{r}",
                        encode_market_event(
                            r, ts, float(p) if p else None, float(d) if d else None
                        ),
                    )
                )
    return out


def expected_figures_from_csv(
    path: Path,
    regions: set[str] | None = None,
    groups: set[str] | None = None,
    facilities: Iterable[tuple] = TEST_FACILITIES,
    row: int = -1,
) -> dict:
    """The headline figures at the CSV's row ``row`` (the last by default), straight from the file.

    Deliberately independent of nemlive.dashboard.charts: generation = sum of positive power, emissions =
    sum, price = demand-weighted mean, renewable = bioenergy/hydro/wind/solar share.
    ``facilities``: rows shaped like TEST_FACILITIES (id, name, region, lat, lon, groups, ...).
    """
    lookup = {f[0]: f for f in facilities}
    with open(path, newline="", encoding="utf-8") as fh:
        last = list(csv.DictReader(fh))[row]
    gen = ren = co2 = 0.0
    for col, val in last.items():
        if not col.startswith("power_"):
            continue
        fid = col.split("_", 1)[1]
        f = lookup[fid]
        group = f[5].split(";")[0]
        if (regions and f[2] not in regions) or (groups and group not in groups):
            continue
        mw = float(val) if val else 0.0
        if mw > 0:
            gen += mw
            ren += mw if group in ("bioenergy", "hydro", "wind", "solar") else 0.0
        e = last[f"emissions_{fid}"]
        co2 += float(e) if e else 0.0
    dem = pw = 0.0
    for r in REGIONS:
        if regions and r not in regions:
            continue
        p, d = float(last[f"price_{r}"]), float(last[f"demand_{r}"])
        dem += d
        pw += p * d
    return {
        "timestamp": last["timestamp"],
        "generation_mw": gen,
        "emissions_t": co2,
        "emissions_t_per_h": co2 * 12,
        "intensity": co2 / (gen * 5 / 60),
        "price": pw / dem,
        "demand_mw": dem,
        "renewable_share": ren / gen,
    }


def expected_figure_texts(
    path: Path,
    regions: set[str] | None = None,
    facilities: Iterable[tuple] = TEST_FACILITIES,
    row: int = -1,
) -> dict[str, str]:
    """The figures' display texts (label -> text) at the CSV's row ``row``, from the file."""
    want = expected_figures_from_csv(path, regions, facilities=facilities, row=row)
    return charts.format_figures(
        charts.Figures(
            0,
            want["generation_mw"],
            want["emissions_t"],
            want["emissions_t_per_h"],
            want["intensity"],
            want["price"],
            want["demand_mw"],
            want["renewable_share"],
            0,
            0,
        )
    )


def publish_events(
    port: int,
    base: str,
    events: list[tuple[str, bytes]],
    *,
    retain: bool = True,
    host: str = "127.0.0.1",
) -> None:
    """Publish ``events`` with QoS 1 from a fresh paho client and wait for every ack."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.time_ns()}"
    )
    client.max_inflight_messages_set(100)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [
            client.publish(f"{base}/{suffix}", payload, qos=QOS, retain=retain)
            for suffix, payload in events
        ]
        for info in infos:
            info.wait_for_publish(timeout=30)
            if not info.is_published():
                raise TimeoutError("a test message was not acknowledged within 30 s")
    finally:
        client.disconnect()
        client.loop_stop()


def publish_raw(port: int, items: list[tuple[str, bytes]], host: str = "127.0.0.1") -> None:
    """Publish (full topic, payload) pairs, QoS 1, not retained, waiting for every ack."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"test-raw-{time.time_ns()}"
    )
    client.max_inflight_messages_set(100)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=QOS) for topic, payload in items]
        for info in infos:
            info.wait_for_publish(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()


def facility_topic(base: str, fid: str) -> str:
    return build_facility_topic(base, fid)


def market_topic(base: str, rid: str) -> str:
    return build_market_topic(base, rid)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def write_store_from_csv(csv_path: Path, db_path: Path | None, url: str = "") -> str:
    """A store holding every value of ``csv_path``, written as the recorder would: SQLite at
    ``db_path``, or the store at ``url``; returns its URL."""
    from nemlive.common.columns import parse_column
    from nemlive.store import open_store

    readings: dict[str, list] = {"facility": [], "market": [], "interchange": []}
    kinds = {"power": "facility", "price": "market", "imports": "interchange"}
    second = {"power": "emissions", "price": "demand", "imports": "exports"}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for line in csv.DictReader(fh):
            ts = int(datetime.fromisoformat(line["timestamp"]).timestamp())
            for column in line:
                metric, code = parse_column(column) if column != "timestamp" else ("", "")
                if metric in kinds:
                    a, b = line[column], line[f"{second[metric]}_{code}"]
                    if a or b:  # what the publisher sends: a pair with a value
                        readings[kinds[metric]].append(
                            (code, ts, float(a) if a else None, float(b) if b else None)
                        )
    url = url or f"sqlite:///{db_path}"
    with open_store(url) as store:
        store.write(readings["facility"], readings["market"], readings["interchange"])
    return url


CARD = re.compile(
    r'data-testid="nl-card-label">(?P<label>.*?)</div>'
    r'<div class="nl-card-value" data-testid="nl-card-value">(?P<value>.*?)</div>'
)


def cards_in(block) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Label -> value of the figure cards in an AppTest block (``at.main``, ``at.sidebar``)."""
    found: dict[str, str] = {}
    for element in block.get("html"):
        for m in CARD.finditer(element.proto.body):
            found[html.unescape(m["label"])] = html.unescape(m["value"])
    return found


def fed_state(
    tmp_path: Path, intervals: int = 12, upto: int | None = None
) -> tuple[Snapshot, dict, Path]:
    """A snapshot of a LiveState fed the first ``upto`` events of a small consolidate.csv of
    ``intervals`` rows, the test lookup, and the CSV's path."""
    facilities = lookups.load_facilities(write_facilities_csv(tmp_path / "f.csv"))
    csv_path = write_consolidate_csv(tmp_path / "c.csv", intervals=intervals)
    state = LiveState(facilities.keys())
    events = read_csv_events(csv_path)
    for suffix, payload in events[:upto]:
        assert send(state, f"b/{suffix}", payload) == "stored"
    return state.snapshot(), facilities, csv_path
