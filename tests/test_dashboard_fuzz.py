"""A property-based fuzz of the whole page: hostile streams through the real ingest into AppTest.

Hypothesis makes streams of raw MQTT messages that an open broker lets anyone send:
schema-valid events at both ends of every bound and of the calendar, odd offsets, off-grid
times, invented ids by the thousand, restart statuses, garbage and oversize payloads. Each
stream goes through ``LiveState.receive`` (the MQTT callback's path) into the dashboard, run by
Streamlit's AppTest. After every stream the page must show no exception and no part of it may
have failed to draw, and the state must stay inside its stated bound:

    (lookup facilities + 5 regions) x 288 points, 500 + 500 recent rows, 1,000 unknown names,
    and fewer than one batch (256) of raw messages queued.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import streamlit as st
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from nemlive.common import events
from nemlive.common.events import REGIONS, StatusEvent, encode_status
from nemlive.common.lookups import load_facilities
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import (
    DEFAULT_BATCH,
    DEFAULT_HISTORY_LEN,
    DEFAULT_MAX_UNKNOWN,
    LiveState,
)
from tests.conftest import ROOT, free_port
from tests.support_dashboard import (
    FIRST_TS,
    TEST_FACILITIES,
    cards_in,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
    write_regions_geojson,
)

APP = str(ROOT / "dashboard.py")
HUB_KEY = "nemlive_hub"
BASE = "nem/stream"
KNOWN = [row[0] for row in TEST_FACILITIES]
Message = tuple[str, bytes, bool]  # topic, payload, retained

# --- strategies -----------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
CALENDAR_EDGES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1998, 12, 12, 23, 55, tzinfo=timezone(timedelta(hours=10))),
    datetime(1998, 12, 13, tzinfo=timezone(timedelta(hours=10))),
    datetime(2199, 12, 31, 23, 55, tzinfo=UTC),
    datetime(2200, 1, 1, tzinfo=UTC),
    datetime(2262, 4, 11, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 55, tzinfo=timezone(timedelta(hours=-23, minutes=-59))),
]
OFFSETS = hs.sampled_from([0, 10 * 60, -14 * 60, 5 * 60 + 30, 23 * 60 + 59, -(23 * 60 + 59), 17])


@hs.composite
def timestamps(draw: hs.DrawFn) -> str:
    kind = draw(hs.sampled_from(["data", "now", "edge", "off_grid", "far", "naive"]))
    if kind == "edge":
        when = draw(hs.sampled_from(CALENDAR_EDGES))
    elif kind == "far":
        when = draw(
            hs.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
        ).replace(tzinfo=UTC)
    else:
        anchor = FIRST_TS if kind in ("data", "off_grid") else NOW
        steps = draw(hs.integers(-400, 400))
        when = anchor + timedelta(minutes=5 * steps)
        if kind == "off_grid":
            when += timedelta(seconds=draw(hs.integers(1, 299)))
    if kind == "naive":
        return when.replace(tzinfo=None).isoformat()
    try:
        return when.astimezone(timezone(timedelta(minutes=draw(OFFSETS)))).isoformat()
    except OverflowError:  # an offset that pushes a calendar end past year 1 or 9999
        return when.isoformat()


def _bounded_values(bounds: tuple[float, float]) -> hs.SearchStrategy[object]:
    lo, hi = bounds
    return hs.one_of(
        hs.sampled_from([lo, hi, 0.0, -0.0, None, lo - 1e-9, hi + 1e-9, 1e308, -1e308]),
        hs.floats(lo, hi, allow_nan=False),
    )


FACILITY_IDS = hs.one_of(
    hs.sampled_from(KNOWN),
    hs.from_regex(r"\A[A-Z0-9_]{1,12}\Z"),  # invented, valid ids
    hs.sampled_from(["", "A" * 41, "<b>x</b>", "X,Y", "Ü"]),
)


@hs.composite
def facility_messages(draw: hs.DrawFn) -> Message:
    fid = draw(FACILITY_IDS)
    body = {
        "facility_id": fid,
        "timestamp": draw(timestamps()),
        "power_mw": draw(_bounded_values(events.POWER_MW_BOUNDS)),
        "co2_tonnes": draw(_bounded_values(events.CO2_T_BOUNDS)),
    }
    return f"{BASE}/facility/{fid}", json.dumps(body).encode(), draw(hs.booleans())


@hs.composite
def market_messages(draw: hs.DrawFn) -> Message:
    rid = draw(hs.sampled_from([*REGIONS, "WEM", "NSW1 "]))
    body = {
        "region_id": rid,
        "timestamp": draw(timestamps()),
        "price_dmwh": draw(_bounded_values(events.PRICE_BOUNDS)),
        "demand_mw": draw(_bounded_values(events.DEMAND_MW_BOUNDS)),
    }
    return f"{BASE}/market/{rid}", json.dumps(body).encode(), draw(hs.booleans())


@hs.composite
def status_messages(draw: hs.DrawFn) -> Message:
    status = StatusEvent(
        state=draw(hs.sampled_from(["online", "offline", "cooldown", "done"])),
        client_id=draw(hs.sampled_from(["real-pub", "forger"])) + str(draw(hs.integers(0, 5))),
        pass_number=draw(hs.integers(0, 10**9)),
        position=draw(hs.one_of(hs.none(), timestamps())),
        row=draw(hs.integers(0, 10**9)),
        rows=draw(hs.integers(0, 10**9)),
        sent=draw(hs.integers(0, 10**12)),
    )
    return f"{BASE}/status", encode_status(status), draw(hs.booleans())


GARBAGE = hs.tuples(
    hs.sampled_from([f"{BASE}/facility/TCOAL1", f"{BASE}/market/SA1", f"{BASE}/status", "x/y"]),
    hs.one_of(hs.binary(max_size=64), hs.just(b"{" + b" " * 2000 + b"}")),
    hs.booleans(),
)
MESSAGES = hs.one_of(facility_messages(), market_messages(), status_messages(), GARBAGE)


@hs.composite
def invented_id_floods(draw: hs.DrawFn) -> list[Message]:
    start = draw(hs.integers(0, 10**6))
    ts = (FIRST_TS + timedelta(minutes=5 * draw(hs.integers(0, 50)))).isoformat()
    return [
        (
            f"{BASE}/facility/F{start + i}",
            events.encode_facility_event(f"F{start + i}", ts, 1.0, 1.0),
            False,
        )
        for i in range(draw(hs.integers(1, 1500)))
    ]


STREAMS = hs.lists(hs.one_of(MESSAGES.map(lambda m: [m]), invented_id_floods()), max_size=40).map(
    lambda chunks: [m for chunk in chunks for m in chunk]
)

# --- the page -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lookups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    fac = write_facilities_csv(tmp / "facilities.csv")
    reg = write_regions_geojson(tmp / "regions.geojson")
    csv_path = write_consolidate_csv(tmp / "c.csv", intervals=12)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NEMLIVE_FACILITIES", str(fac))
        env.setenv("NEMLIVE_REGIONS", str(reg))
        env.setenv("MQTT_HOST", "127.0.0.1")
        env.setenv("MQTT_PORT", str(free_port()))  # nothing listens there
        yield fac, reg, csv_path
    st.cache_resource.clear()


def _page(lookups: tuple[Path, Path, Path], stream: list[Message]) -> tuple[AppTest, LiveState]:
    fac, _, csv_path = lookups
    facilities = load_facilities(fac)
    state = LiveState(facilities.keys())
    for suffix, payload in read_csv_events(csv_path):  # a real stream underneath
        state.receive(BASE, f"{BASE}/{suffix}", payload)
    for topic, payload, retained in stream:
        state.receive(BASE, topic, payload, retained)
    settings = resolve_mqtt_settings({}, host="127.0.0.1", port=free_port())
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[HUB_KEY] = Hub(state, settings, autostart=False)
    return at, state


def _assert_page_whole(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    broken = [e.value for e in at.error if "could not be drawn" in e.value]
    assert not broken, broken
    assert len(cards_in(at.main)) == 7  # every figure card is there
    assert len(at.get("deck_gl_json_chart")) == 1  # and the map
    assert not at.warning  # the test lookups were loaded


def _assert_bounded(state: LiveState) -> None:
    snap = state.snapshot()
    assert set(snap.facility_history) <= set(KNOWN)
    assert set(snap.region_history) <= set(REGIONS)
    points = sum(map(len, snap.facility_history.values())) + sum(
        map(len, snap.region_history.values())
    )
    assert points <= (len(KNOWN) + len(REGIONS)) * DEFAULT_HISTORY_LEN
    assert len(snap.recent_facility) <= 500 and len(snap.recent_market) <= 500
    assert len(snap.unknown_ids) <= DEFAULT_MAX_UNKNOWN
    assert state.queued < DEFAULT_BATCH
    for table in (snap.facility_latest, snap.region_latest):
        for ts, *_ in table.values():
            assert math.isfinite(ts)


def _message(fid: str, ts: str) -> Message:
    return f"{BASE}/facility/{fid}", events.encode_facility_event(fid, ts, 1.0, 1.0), False


@pytest.mark.slow
@settings(
    max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stream=STREAMS)
@example(stream=[_message("TCOAL1", "9999-12-31T23:00:00+00:00")])  # the page killer
@example(stream=[_message("TCOAL1", "0001-01-01T00:00:00+10:00")])
@example(stream=[_message("TCOAL1", "2199-12-31T23:55:00+00:00")])  # the last allowed
@example(stream=[_message(f"INV{i}", "2025-10-15T10:05:00+10:00") for i in range(5000)])
@example(
    stream=[
        (
            f"{BASE}/status",
            encode_status(StatusEvent(state="online", client_id=f"w{i}", position=p)),
            False,
        )
        for i, p in enumerate(["2025-10-15T10:05:00+10:00", "2199-12-31T23:55:00+00:00"] * 5)
    ]
)
@example(stream=[(f"{BASE}/facility/TCOAL1", b"{" + b" " * (4 << 20) + b"}", False)] * 3)
def test_no_stream_breaks_the_page_or_its_memory_bound(
    lookups: tuple[Path, Path, Path], stream: list[Message]
) -> None:
    at, state = _page(lookups, stream)
    at.run()
    _assert_page_whole(at)
    _assert_bounded(state)
    # Every viewer's choices must survive the same state: another filter, another map option.
    at.multiselect(key="f_regions").set_value(["SA1", "VIC1"]).run()
    at.toggle(key="m_labels").set_value(True).run()
    _assert_page_whole(at)
