"""LiveState: dedupe, ordering, bounds, counters and snapshots under a concurrent writer."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from nemlive.common.events import (
    FacilityEvent,
    MarketEvent,
    StatusEvent,
    encode_facility_event,
    encode_interchange_event,
    encode_market_event,
    encode_status,
)
from nemlive.common.nemtime import NEM_TZ
from nemlive.common.timeguard import FUTURE_MARGIN_S, latest_allowed
from nemlive.dashboard.livestate import LiveState
from tests.support_state import count_points, send, send_event

T0 = datetime(2025, 10, 15, 10, 5, tzinfo=NEM_TZ)


def fac(fid: str, k: int, mw: float | None = 100.0, t: float | None = 10.0) -> FacilityEvent:
    return FacilityEvent(
        facility_id=fid, timestamp=T0 + timedelta(minutes=5 * k), power_mw=mw, co2_tonnes=t
    )


def mkt(rid: str, k: int, price: float | None = 50.0, demand: float | None = 1000.0) -> MarketEvent:
    return MarketEvent(
        region_id=rid, timestamp=T0 + timedelta(minutes=5 * k), price_dmwh=price, demand_mw=demand
    )  # type: ignore[arg-type]


def epoch(k: int) -> int:
    return int((T0 + timedelta(minutes=5 * k)).timestamp())


def test_duplicate_id_and_timestamp_is_counted_and_ignored() -> None:
    state = LiveState({"A"})
    assert send_event(state, fac("A", 0, 100.0)) == "stored"
    assert send_event(state, fac("A", 0, 999.0)) == "duplicate"
    assert send_event(state, mkt("VIC1", 0)) == "stored"
    assert send_event(state, mkt("VIC1", 0, 1.0)) == "duplicate"
    snap = state.snapshot()
    assert snap.duplicates == 2
    assert snap.accepted == 2
    assert snap.received == 4
    assert snap.facility_latest["A"] == (epoch(0), 100.0, 10.0)  # the first value is kept


def test_same_timestamp_with_another_offset_is_the_same_event() -> None:
    state = LiveState({"A"})
    send_event(state, fac("A", 0))
    utc = FacilityEvent(
        facility_id="A", timestamp=(T0).astimezone(NEM_TZ.utc), power_mw=1.0, co2_tonnes=None
    )
    assert send_event(state, utc) == "duplicate"


def test_out_of_order_events_are_kept_sorted_and_latest_is_newest() -> None:
    state = LiveState({"A"})
    for k in (3, 1, 4, 0, 2):
        send_event(state, fac("A", k, mw=float(k)))
    snap = state.snapshot()
    assert [p[0] for p in snap.facility_history["A"]] == [epoch(k) for k in range(5)]
    assert snap.facility_latest["A"] == (epoch(4), 4.0, 10.0)
    assert snap.max_ts == epoch(4)
    assert snap.prev_ts == epoch(3)


def test_history_is_bounded_and_older_events_are_stale() -> None:
    state = LiveState({"A"}, history_len=5)
    for k in range(20):
        send_event(state, fac("A", k))
    snap = state.snapshot()
    assert [p[0] for p in snap.facility_history["A"]] == [epoch(k) for k in range(15, 20)]
    assert send_event(state, fac("A", 3)) == "stale"
    assert send_event(state, fac("A", 17)) == "duplicate"
    assert state.snapshot().stale == 1
    # Inside the kept span, a late event is still stored, in its place.
    gappy = LiveState({"A"}, history_len=5)
    for k in (10, 11, 13, 14):
        send_event(gappy, fac("A", k))
    assert send_event(gappy, fac("A", 12, mw=12.0)) == "stored"
    points = gappy.snapshot().facility_history["A"]
    assert [p[0] for p in points] == [epoch(k) for k in range(10, 15)]
    assert points[2] == (epoch(12), 12.0, 10.0)


def test_recent_tables_and_unknown_ids_are_bounded() -> None:
    state = LiveState({"A"}, recent_len=10, max_unknown=3)
    for k in range(50):
        send_event(state, fac("A", k))
        send_event(state, mkt("NSW1", k))
    for i in range(8):
        assert send_event(state, fac(f"U{i}", 0)) == "unknown"
    send_event(state, fac("U0", 1))
    snap = state.snapshot()
    assert len(snap.recent_facility) == 10 and len(snap.recent_market) == 10
    assert snap.recent_facility[-1][1] == "A"  # newest last; unknown ids are not listed
    assert snap.unknown_ids == ["U0", "U1", "U2"] and snap.unknown_count == 3
    assert snap.unknown_overflow and snap.unknown_events == 9


def test_unknown_ids_cost_a_counter_not_a_history() -> None:
    # A hostile stream of invented ids: nothing of theirs is kept but a bounded list of names.
    state = LiveState({"A"}, max_unknown=100)
    for k in range(20):
        for i in range(500):
            assert send_event(state, fac(f"X{i}", k)) == "unknown"
    send_event(state, fac("A", 0))
    snap = state.snapshot()
    assert set(snap.facility_latest) == set(snap.facility_history) == {"A"}
    assert len(snap.unknown_ids) == 100 and snap.unknown_overflow
    assert snap.unknown_events == 10_000 and snap.accepted == 1 and snap.rejected == 0
    assert [r[1] for r in snap.recent_facility] == ["A"]
    assert snap.max_ts == epoch(0)  # invented ids never move the newest interval


def test_the_history_keeps_24_hours_by_default() -> None:
    state = LiveState({"A"})
    for k in range(300):
        send_event(state, fac("A", k))
    points = state.snapshot().facility_history["A"]
    assert len(points) == 288 == 24 * 12
    assert points[0][0] == epoch(300 - 288)


def test_rejects_counted_by_reason_with_the_last_reason() -> None:
    state = LiveState(set())
    bad = {
        "bad_json": b"{not json",
        "out_of_range": encode_facility_event("A", T0.isoformat(), 1e9, 1.0),
    }
    for reason in ("bad_json", "out_of_range", "bad_json"):
        assert send(state, "b/facility/A", bad[reason]) == reason
    snap = state.snapshot()
    assert snap.rejected == 3
    assert snap.rejects_by_reason == {"bad_json": 2, "out_of_range": 1}
    assert snap.last_reject_reason == "bad_json"


def test_market_regions_at_the_newest_timestamp_are_tracked() -> None:
    state = LiveState({"A"})
    send_event(state, mkt("NSW1", 0))
    send_event(state, mkt("VIC1", 0))
    assert state.snapshot().market_regions_at_max == {"NSW1", "VIC1"}
    send_event(state, fac("A", 1))
    snap = state.snapshot()
    assert snap.market_regions_at_max == frozenset()
    assert (snap.max_ts, snap.prev_ts) == (epoch(1), epoch(0))


def test_publisher_status_and_rate() -> None:
    now = [T0.timestamp()]
    state = LiveState(set(), clock=lambda: now[0])
    send_event(state, StatusEvent(state="online", pass_number=2, row=5, rows=10))
    for i in range(100):
        now[0] = T0.timestamp() + i * 0.05  # 20 messages/s for 5 s
        send_event(state, fac("A", i))
    snap = state.snapshot()
    assert snap.publisher_status is not None and snap.publisher_status["state"] == "online"
    assert snap.rate_per_s == pytest.approx(20.0, rel=0.15)
    now[0] += 60
    assert state.snapshot().rate_per_s == 0.0
    assert state.snapshot().last_message_age_s == pytest.approx(60.0)


def test_snapshot_is_a_plain_copy() -> None:
    state = LiveState({"A"})
    send_event(state, fac("A", 0))
    snap = state.snapshot()
    snap.facility_history["A"].clear()
    snap.facility_latest.clear()
    again = state.snapshot()
    assert len(again.facility_history["A"]) == 1 and "A" in again.facility_latest


def test_snapshots_while_another_thread_writes_are_consistent() -> None:
    """A writer thread stores in order; every snapshot must be sorted, bounded and self-consistent."""
    ids = [f"F{i}" for i in range(20)]
    state = LiveState(set(ids), history_len=50)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for k in range(300):
                for fid in ids:
                    send_event(state, fac(fid, k, mw=float(k)))
                send_event(state, mkt("NSW1", k))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    snapshots = 0
    while not done.is_set() or snapshots == 0:
        snap = state.snapshot()
        snapshots += 1
        for fid, points in snap.facility_history.items():
            times = [p[0] for p in points]
            assert times == sorted(times) and len(times) <= 50
            assert snap.facility_latest[fid][0] == times[-1]
        assert snap.accepted + snap.duplicates + snap.rejected + snap.stale == snap.received
    thread.join(timeout=30)
    assert not errors
    final = state.snapshot()
    assert final.received == 300 * 21 and final.accepted == 300 * 21
    assert count_points(final) == 21 * 50  # 20 facilities and NSW1
    assert snapshots > 1


def test_a_counters_only_snapshot_copies_no_data() -> None:
    state = LiveState({"A"})
    send_event(state, fac("A", 0))
    send_event(state, mkt("SA1", 0))
    light = state.snapshot(data=False)
    assert light.received == 2 and light.max_ts == epoch(0)
    assert not light.facility_latest and not light.facility_history and not light.recent_facility


# --- a stream that restarts earlier in time (through the real decode path) ---------------

LATE = datetime(2025, 10, 15, 18, 50, tzinfo=NEM_TZ)


def _send_row(state: LiveState, when: datetime, facilities: tuple[str, ...] = ("A", "B")) -> None:
    ts = when.isoformat()
    for fid in facilities:
        payload = encode_facility_event(fid, ts, 100.0, 10.0)
        assert send(state, f"b/facility/{fid}", payload) == "stored"
    for rid in ("NSW1", "VIC1"):
        payload = encode_market_event(rid, ts, 50.0, 1000.0)
        assert send(state, f"b/market/{rid}", payload) == "stored"


def _send_status(live: LiveState, retained: bool = False, **fields: object) -> None:
    payload = encode_status(StatusEvent(**fields))  # type: ignore[arg-type]
    assert send(live, "b/status", payload, retained) == "stored"


def _state_at_18_50() -> LiveState:
    """Retained messages of an earlier run: rows up to 18:50, then that publisher's last will."""
    state = LiveState({"A", "B"})
    for k in range(3, -1, -1):  # oldest first
        _send_row(state, LATE - timedelta(minutes=5 * k))
    payload = encode_facility_event("A", LATE.isoformat(), 1.0, 1.0)
    assert send(state, "b/facility/A", payload) == "duplicate"
    send(state, "b/facility/A", b"{not json")
    _send_status(state, state="offline", client_id="old-run")
    return state


def test_a_publisher_replaying_from_earlier_clears_the_windows_but_not_the_counters() -> None:
    state = _state_at_18_50()
    before = state.snapshot()
    assert before.max_ts == int(LATE.timestamp()) and before.restarts == 0
    _send_status(state, state="online", client_id="new-run", position="2025-10-15T00:00:00+10:00")
    snap = state.snapshot()
    assert snap.restarts == 1
    assert (snap.max_ts, snap.prev_ts, snap.market_regions_at_max) == (None, None, frozenset())
    assert not snap.facility_latest and not snap.region_latest
    assert not snap.facility_history and not snap.region_history
    assert not snap.recent_facility and not snap.recent_market
    # Counters and the status are kept; the new publisher's status is the one shown.
    assert snap.received == before.received + 1 and snap.accepted == before.accepted + 1
    assert (snap.duplicates, snap.rejected) == (1, 1) and snap.last_reject_reason
    assert snap.publisher_status is not None and snap.publisher_status["client_id"] == "new-run"
    # The replay from 00:00 then fills the windows again, and the figure time follows it.
    start = datetime(2025, 10, 15, 0, 0, tzinfo=NEM_TZ)
    _send_row(state, start)
    _send_row(state, start + timedelta(minutes=5))
    snap = state.snapshot()
    assert snap.max_ts == int((start + timedelta(minutes=5)).timestamp())
    assert snap.prev_ts == int(start.timestamp())
    assert [p[0] for p in snap.facility_history["A"]] == [snap.prev_ts, snap.max_ts]


def test_a_live_publisher_months_after_a_replay_clears_the_replays_windows() -> None:
    state = _state_at_18_50()
    _send_status(state, state="live", client_id="live-1", position="2026-11-30T14:35:00+10:00")
    snap = state.snapshot()
    assert snap.restarts == 1 and snap.max_ts is None and not snap.facility_history


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        pytest.param(
            {"state": "live", "client_id": "live-2", "position": "2025-10-15T18:50:00+10:00"},
            "a restarted live publisher continues at the newest data",
            id="live-restarted",
        ),
        pytest.param(
            {"state": "online", "client_id": "new-run", "position": "2025-10-15T18:55:00+10:00"},
            "a --resume'd publisher continues later",
            id="resume-later",
        ),
        pytest.param(
            {"state": "online", "client_id": "new-run", "position": "2025-10-15T08:50:00+00:00"},
            "the newest timestamp itself, in another offset",
            id="same-time-utc",
        ),
        pytest.param(
            {"state": "online", "client_id": "new-run", "position": "2025-10-15T18:45:00+10:00"},
            "one interval back: the row in flight",
            id="one-interval-back",
        ),
        pytest.param(
            {"state": "cooldown", "client_id": "new-run", "position": "2025-10-15T00:00:00+10:00"},
            "only an online status starts a replay",
            id="not-online",
        ),
        pytest.param(
            {"state": "online", "client_id": "old-run", "position": "2025-10-15T00:00:00+10:00"},
            "the known publisher (a retained status redelivered after newer data)",
            id="same-publisher",
        ),
        pytest.param(
            {"state": "online", "client_id": "new-run", "position": "2025-10-15T00:00:00"},
            "a naive position is not a time",
            id="naive-position",
        ),
        pytest.param(
            {"state": "online", "client_id": "new-run", "position": "row 12"},
            "nor is garbage",
            id="garbage-position",
        ),
        pytest.param({"state": "online", "client_id": "new-run"}, "no position", id="no-position"),
    ],
)
def test_a_status_that_is_not_a_restart_clears_nothing(fields: dict, why: str) -> None:
    state = _state_at_18_50()
    before = state.snapshot()
    _send_status(state, **fields)
    snap = state.snapshot()
    assert snap.restarts == 0, why
    assert (snap.max_ts, snap.prev_ts) == (before.max_ts, before.prev_ts)
    assert snap.facility_history == before.facility_history
    assert snap.region_latest == before.region_latest
    assert snap.recent_facility == before.recent_facility
    assert snap.market_regions_at_max == before.market_regions_at_max == {"NSW1", "VIC1"}


def test_a_restart_before_any_data_clears_nothing() -> None:
    state = LiveState(set())
    _send_status(state, state="online", client_id="x", position="2025-10-15T00:00:00+10:00")
    assert state.snapshot().restarts == 0


def test_a_retained_old_status_never_clears() -> None:
    # On a first connect the broker may replay an earlier run's status after its newer data.
    state = _state_at_18_50()
    before = state.snapshot()
    _send_status(
        state, retained=True, state="online", client_id="old", position="2025-10-15T00:00:00+10:00"
    )
    after = state.snapshot()
    assert after.restarts == before.restarts
    assert after.max_ts == before.max_ts


# --- the inbox: raw messages validated in batches (LiveState.receive) ----------------------


def _raw_row(when: datetime, facilities: tuple[str, ...] = ("A", "B")) -> list[tuple[str, bytes]]:
    ts = when.isoformat()
    return [
        (f"b/facility/{fid}", encode_facility_event(fid, ts, 100.0, 10.0)) for fid in facilities
    ] + [(f"b/market/{rid}", encode_market_event(rid, ts, 50.0, 1000.0)) for rid in ("NSW1",)]


def test_received_messages_wait_for_a_full_batch_and_every_reader_sees_them() -> None:
    state = LiveState({"A", "B"}, batch=4)
    for topic, payload in _raw_row(T0):  # 3 messages: below the batch
        state.receive("b", topic, payload)
    assert state.queued == 3  # queued, not yet validated
    snap = state.snapshot()  # a reader works through the queue first
    assert (snap.received, snap.accepted, snap.max_ts) == (3, 3, epoch(0))
    assert state.queued == 0
    for topic, payload in [*_raw_row(T0 + timedelta(minutes=5)), ("b/facility/A", b"{bad")]:
        state.receive("b", topic, payload)
    assert state.queued == 0  # the fourth message filled the batch: the MQTT thread stored it
    assert state.counts() == (7, 6)
    assert state.snapshot().rejects_by_reason == {"bad_json": 1}


def test_the_inbox_never_holds_a_full_batch() -> None:
    state = LiveState({"A", "B"}, batch=5)
    sizes = []
    for k in range(20):
        for topic, payload in _raw_row(T0 + timedelta(minutes=5 * k)):
            state.receive("b", topic, payload)
            sizes.append(state.queued)
    assert max(sizes) == 4
    assert state.counts() == (60, 60)


def test_queued_messages_are_applied_in_arrival_order_around_a_restart() -> None:
    # A restart status must clear the data queued before it, not the data after it.
    state = LiveState({"A", "B"}, batch=1000)
    for topic, payload in _raw_row(LATE):
        state.receive("b", topic, payload)
    restart = StatusEvent(state="online", client_id="new", position="2025-10-15T00:00:00+10:00")
    state.receive("b", "b/status", encode_status(restart))
    start = datetime(2025, 10, 15, 0, 5, tzinfo=NEM_TZ)
    for topic, payload in _raw_row(start):
        state.receive("b", topic, payload)
    assert state.queued == 7
    snap = state.snapshot()
    assert snap.restarts == 1
    assert snap.max_ts == int(start.timestamp()) and snap.received == 7
    assert [p[0] for p in snap.facility_history["A"]] == [int(start.timestamp())]


def test_a_queued_message_keeps_its_arrival_time() -> None:
    arrived = T0.timestamp() + 7.5
    now = [arrived]
    state = LiveState({"A"}, batch=10, clock=lambda: now[0])
    state.receive("b", "b/facility/A", encode_facility_event("A", T0.isoformat(), 1.0, 1.0))
    now[0] = arrived + 60
    snap = state.snapshot()
    assert snap.last_message_at == arrived and snap.last_message_age_s == 60.0
    assert snap.recent_facility[0][0] == arrived


def test_a_reader_and_the_mqtt_thread_lose_nothing_between_them() -> None:
    ids = tuple(f"F{i}" for i in range(10))
    state = LiveState(set(ids), batch=7)
    done = threading.Event()

    def mqtt_thread() -> None:
        for k in range(200):
            for topic, payload in _raw_row(T0 + timedelta(minutes=5 * k), ids):
                state.receive("b", topic, payload)
        done.set()

    thread = threading.Thread(target=mqtt_thread)
    thread.start()
    while not done.is_set():
        snap = state.snapshot(histories=False)
        assert snap.accepted == snap.received  # nothing half-stored is ever visible
    thread.join(timeout=30)
    final = state.snapshot(histories=False)
    assert final.received == final.accepted == 200 * 11


def test_a_message_that_breaks_the_store_is_counted_and_the_rest_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = LiveState({"A", "B"}, batch=100)
    real_put = state._put_facility

    def put(event: FacilityEvent, now: float) -> str:
        if event.facility_id == "B":
            raise RuntimeError("boom")
        return real_put(event, now)

    monkeypatch.setattr(state, "_put_facility", put)
    for topic, payload in _raw_row(T0):  # A, B (breaks), NSW1
        state.receive("b", topic, payload)
    snap = state.snapshot()  # the page's thread drains: it must not raise
    assert snap.rejects_by_reason == {"internal": 1}
    assert set(snap.facility_latest) == {"A"} and set(snap.region_latest) == {"NSW1"}


# --- hostile traffic: size first, forged futures, restarts as a weapon --------------------


def test_an_oversize_payload_is_counted_before_it_is_queued() -> None:
    state = LiveState({"A"}, batch=1000)
    big = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    for _ in range(60):
        state.receive("b", "b/facility/A", big)
    assert state.queued == 0  # nothing of the 240 MB is held
    state.receive("b", "b/facility/A", b"x" * 1025)
    state.receive("b", "b/facility/A", encode_facility_event("A", T0.isoformat(), 1.0, 1.0))
    assert state.queued == 1
    snap = state.snapshot()
    assert snap.rejects_by_reason == {"oversize": 61} and snap.accepted == 1
    assert snap.received == 62


WEEK = 7 * 24 * 3600
MARGIN = FUTURE_MARGIN_S


@pytest.mark.parametrize("retained", [False, True], ids=["live", "retained"])
def test_an_event_past_the_margin_ahead_of_the_clock_is_future_retained_or_not(
    retained: bool,
) -> None:
    now = T0.timestamp()
    state = LiveState({"A"}, clock=lambda: now)
    edge = int(now) + MARGIN  # on a 5-minute mark: T0 is one, and so is the margin
    assert send(state, "b/facility/A", _at(edge), retained=retained) == "stored"
    assert send(state, "b/facility/A", _at(edge + 300), retained=retained) == "future"
    far = datetime(2199, 12, 31, 23, 55, tzinfo=NEM_TZ)
    assert send(state, "b/market/SA1", _region_at("SA1", far), retained=retained) == "future"
    snap = state.snapshot()
    assert snap.max_ts == edge
    assert snap.rejects_by_reason == {"future": 2}


def test_a_forged_far_future_event_leaves_the_real_window_in_place() -> None:
    now = (T0 + timedelta(hours=3)).timestamp()
    state = LiveState({"A", "B"}, clock=lambda: now)
    for k in range(24):
        send_event(state, fac("A", k))
    far = datetime(2199, 12, 31, 23, 55, tzinfo=NEM_TZ)
    payload = encode_facility_event("A", far.isoformat(), 1.0, 1.0)
    assert send(state, "b/facility/A", payload, retained=True) == "future"
    assert send(state, "b/facility/A", payload) == "future"
    assert send_event(state, fac("A", 24)) == "stored"  # the real stream goes on
    snap = state.snapshot()
    assert snap.max_ts == epoch(24)
    assert len(snap.facility_history["A"]) == 25


def test_the_wall_clock_bounds_a_live_event_when_the_data_is_older() -> None:
    now = T0.timestamp() + 400 * 24 * 3600  # the data is last year's
    state = LiveState({"A"}, clock=lambda: now)
    send_event(state, fac("A", 0))
    # A live stream of today is far ahead of last year's data, but not of the wall clock.
    today = int(now) // 300 * 300
    assert send(state, "b/facility/A", _at(today)) == "stored"
    assert send(state, "b/facility/A", _at(today + MARGIN + 300)) == "future"


def test_a_backfill_skips_a_forged_future_row_of_the_store() -> None:
    now = (T0 + timedelta(hours=2)).timestamp()
    state = LiveState({"A"}, clock=lambda: now)
    far = int(datetime(2199, 12, 31, 23, 55, tzinfo=NEM_TZ).timestamp())
    real = [(epoch(k), 1.0, 1.0) for k in range(12)]
    kept = state.backfill({"A": [*real, (far, 9.0, 9.0)]}, {})
    assert kept == 12
    snap = state.snapshot()
    assert snap.max_ts == epoch(11)
    assert [p[0] for p in snap.facility_history["A"]] == [p[0] for p in real]


def _payload(event: FacilityEvent) -> bytes:
    return encode_facility_event(
        event.facility_id, event.timestamp.isoformat(), event.power_mw, event.co2_tonnes
    )


def _market_payload(k: int) -> bytes:
    return encode_market_event("SA1", (T0 + timedelta(minutes=5 * k)).isoformat(), 1.0, 1.0)


def _at(epoch_s: int) -> bytes:
    when = datetime.fromtimestamp(epoch_s, NEM_TZ).isoformat()
    return encode_facility_event("A", when, 1.0, 1.0)


def _restart(state: LiveState, client_id: str, position: datetime) -> None:
    _send_status(state, state="online", client_id=client_id, position=position.isoformat())


def test_restarts_clear_at_most_once_a_minute() -> None:
    now = [LATE.timestamp() + 10]
    state = LiveState({"A", "B"}, clock=lambda: now[0])
    _send_row(state, LATE)
    _restart(state, "forger-1", T0)
    assert state.snapshot().restarts == 1
    _send_row(state, LATE)
    now[0] += 59
    _restart(state, "forger-2", T0)  # another new id, 59 s later: ignored
    snap = state.snapshot()
    assert snap.restarts == 1 and snap.max_ts == int(LATE.timestamp())
    now[0] += 1
    _restart(state, "forger-3", T0)
    assert state.snapshot().restarts == 2


def test_a_publisher_seen_before_never_clears_even_after_another_one() -> None:
    now = [LATE.timestamp()]
    state = LiveState({"A", "B"}, clock=lambda: now[0])
    _send_status(state, retained=True, state="online", client_id="real", position=T0.isoformat())
    _send_row(state, LATE)
    _send_status(state, state="online", client_id="other", position=LATE.isoformat())
    now[0] += 3600
    _restart(state, "real", T0)  # the real publisher's id, replayed by anyone: no clear
    assert state.snapshot().restarts == 0


def test_a_new_stream_far_ahead_restarts_and_its_data_is_accepted() -> None:
    # Last year's replay on the page, then a live follower starts at today's intervals.
    today = LATE + timedelta(days=400)
    state = LiveState({"A", "B"}, clock=lambda: today.timestamp())
    _send_row(state, LATE)
    _restart(state, "live-follower", today)
    snap = state.snapshot()
    assert snap.restarts == 1 and snap.max_ts is None
    _send_row(state, today)
    snap = state.snapshot()
    assert snap.max_ts == int(today.timestamp())
    assert [p[0] for p in snap.facility_history["A"]] == [snap.max_ts]  # no year-long window


def test_a_forged_restart_ahead_of_the_clock_clears_nothing() -> None:
    now = LATE.timestamp()
    state = LiveState({"A", "B"}, clock=lambda: now)
    _send_row(state, LATE)
    far = datetime(2199, 12, 31, 23, 55, tzinfo=NEM_TZ)
    _restart(state, "forger", far)  # a position past the clock is no stream's
    assert state.snapshot().restarts == 0
    payload = encode_facility_event("A", far.isoformat(), 1.0, 1.0)
    assert send(state, "b/facility/A", payload) == "future"
    _send_row(state, LATE + timedelta(minutes=5))  # the real stream goes on
    assert state.snapshot().max_ts == int((LATE + timedelta(minutes=5)).timestamp())


def test_an_event_older_than_the_window_is_stale_even_in_a_short_history() -> None:
    state = LiveState({"A", "B"}, history_len=12)  # one hour
    _send_row(state, LATE)
    hour_ago = LATE - timedelta(hours=1)
    inside = LATE - timedelta(minutes=55)
    assert send(state, "b/facility/A", _at(int(hour_ago.timestamp()))) == "stale"
    assert send(state, "b/facility/A", _at(int(inside.timestamp()))) == "stored"
    assert send(state, "b/market/NSW1", _region_at("NSW1", hour_ago)) == "stale"
    snap = state.snapshot()
    assert [p[0] for p in snap.facility_history["A"]] == [
        int(inside.timestamp()),
        int(LATE.timestamp()),
    ]
    assert snap.stale == 2


def _region_at(rid: str, when: datetime) -> bytes:
    return encode_market_event(rid, when.isoformat(), 1.0, 1.0)


# --- backfill from the store -------------------------------------------------------------------


def test_backfill_fills_the_window_and_live_events_continue_it_without_double_counting() -> None:
    state = LiveState({"A", "B"})
    fac_hist = {
        "A": [(epoch(k), float(k), 1.0) for k in range(300)],
        "UNKNOWN": [(epoch(k), 1.0, 1.0) for k in range(300)],
    }
    reg_hist = {"NSW1": [(epoch(k), 50.0, 1000.0) for k in range(300)]}
    assert state.backfill(fac_hist, reg_hist) == 2 * 288
    snap = state.snapshot()
    assert len(snap.facility_history["A"]) == 288 and "UNKNOWN" not in snap.facility_history
    assert (snap.max_ts, snap.prev_ts) == (epoch(299), epoch(298))
    assert snap.market_regions_at_max == {"NSW1"}
    assert snap.received == 0 and snap.backfilled == 576 and not snap.recent_facility
    # The live stream then arrives: what the store held is a duplicate, the next is stored.
    assert send_event(state, fac("A", 299)) == "duplicate"
    assert send_event(state, fac("A", 300, mw=300.0)) == "stored"
    snap = state.snapshot()
    assert snap.max_ts == epoch(300) and len(snap.facility_history["A"]) == 288
    assert snap.facility_history["A"][-2:] == [(epoch(299), 299.0, 1.0), (epoch(300), 300.0, 10.0)]


def test_backfill_fills_the_interchange_window_too() -> None:
    state = LiveState({"A"})
    fac_hist = {"A": [(epoch(k), 1.0, 1.0) for k in range(290)]}
    reg_hist = {"SA1": [(epoch(k), 50.0, 1000.0) for k in range(290)]}
    flows = {"SA1": [(epoch(k), 400.0 + k, 0.0) for k in range(290)], "VIC1": []}
    assert state.backfill(fac_hist, reg_hist, flows) == 3 * 288
    snap = state.snapshot()
    assert len(snap.interchange_history["SA1"]) == 288
    assert snap.interchange_history["SA1"][0] == (epoch(2), 402.0, 0.0)
    assert snap.interchange_latest == {"SA1": (epoch(289), 689.0, 0.0)}
    # A live interchange event the store already gave is a duplicate; the next continues.
    assert send(state, "b/interchange/SA1", encode_interchange_event(
        "SA1", (T0 + timedelta(minutes=5 * 289)).isoformat(), 1.0, 1.0
    )) == "duplicate"  # fmt: skip
    assert send(state, "b/interchange/SA1", encode_interchange_event(
        "SA1", (T0 + timedelta(minutes=5 * 290)).isoformat(), 1.0, 2.0
    )) == "stored"  # fmt: skip
    assert state.snapshot().interchange_latest["SA1"] == (epoch(290), 1.0, 2.0)


def test_an_empty_store_backfills_nothing() -> None:
    state = LiveState({"A"})
    assert state.backfill({}, {"NSW1": []}) == 0
    assert state.snapshot().max_ts is None


# --- the edges of each rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bounds",
    [{"history_len": 0}, {"recent_len": 0}, {"batch": 0}, {"max_alerts": 0}],
    ids=["history", "recent", "batch", "alerts"],
)
def test_each_bound_must_be_at_least_one(bounds: dict[str, int]) -> None:
    with pytest.raises(
        ValueError, match=r"^history_len, recent_len, batch and max_alerts must be positive$"
    ):
        LiveState({"A"}, **bounds)


def test_bounds_of_one_keep_one_interval_one_recent_row_and_apply_each_message() -> None:
    state = LiveState({"A"}, history_len=1, recent_len=1, batch=1)
    for k in range(3):
        state.receive("b", "b/facility/A", _payload(fac("A", k)))
        assert state.queued == 0
    snap = state.snapshot()
    assert [p[0] for p in snap.facility_history["A"]] == [epoch(2)]
    assert [row[2] for row in snap.recent_facility] == [epoch(2)]
    assert snap.history_len == 1


def test_a_state_that_has_heard_nothing_says_so() -> None:
    snap = LiveState({"A"}, clock=lambda: 100.0).snapshot()
    assert (snap.status, snap.status_detail, snap.broker, snap.topic) == ("connecting", "", "", "")
    assert snap.last_message_at is None and snap.last_message_age_s is None
    assert snap.publisher_status is None
    assert snap.last_reject_reason == ""
    assert snap.unknown_overflow is False
    assert snap.rate_per_s == 0.0
    assert snap.max_ts is None and snap.prev_ts is None
    assert snap.history_len == 288


def test_the_connection_status_broker_and_topic_reach_the_snapshot() -> None:
    state = LiveState({"A"})
    state.set_status("down", "cannot reach the broker", broker="h:1883", topic="nem/stream")
    snap = state.snapshot(data=False)
    assert (snap.status, snap.status_detail, snap.broker, snap.topic) == (
        "down",
        "cannot reach the broker",
        "h:1883",
        "nem/stream",
    )
    state.set_status("connected")  # the broker and topic stay
    snap = state.snapshot()
    assert (snap.status, snap.status_detail, snap.broker) == ("connected", "", "h:1883")


def test_a_snapshot_without_histories_still_has_the_latest_values() -> None:
    state = LiveState({"A"})
    send_event(state, fac("A", 0))
    send_event(state, mkt("SA1", 0))
    snap = state.snapshot(histories=False)
    assert snap.facility_history == {} and snap.region_history == {}
    assert set(snap.facility_latest) == {"A"} and set(snap.region_latest) == {"SA1"}
    assert len(snap.recent_facility) == 1 and len(snap.recent_market) == 1
    counters = state.snapshot(data=False)
    assert counters.facility_latest == {} and counters.region_latest == {}
    assert counters.recent_facility == [] and counters.recent_market == []
    assert counters.facility_history == {} and counters.region_history == {}


def test_a_payload_of_exactly_the_size_limit_is_queued_not_refused_as_oversize() -> None:
    state = LiveState({"A"})
    body = _payload(fac("A", 0))
    at_limit = body[:-1] + b" " * (1024 - len(body)) + b"}"
    assert send(state, "b/facility/A", at_limit) == "stored"
    assert send(state, "b/facility/A", at_limit + b" ") == "oversize"


def test_a_late_event_inside_the_kept_span_fills_its_gap_in_a_full_history() -> None:
    state = LiveState({"A"}, history_len=3)
    for k in (1, 2, 4):
        assert send_event(state, fac("A", k)) == "stored"
    assert send_event(state, fac("A", 3)) == "stored"  # late, but inside the last 3 intervals
    snap = state.snapshot()
    assert [p[0] for p in snap.facility_history["A"]] == [epoch(2), epoch(3), epoch(4)]
    assert snap.rejects_by_reason == {}


def test_an_older_event_for_another_id_becomes_the_previous_interval() -> None:
    state = LiveState({"A", "B"})
    send_event(state, fac("A", 5))
    send_event(state, fac("B", 4))
    snap = state.snapshot()
    assert (snap.max_ts, snap.prev_ts) == (epoch(5), epoch(4))


def _rate_after(arrivals: list[tuple[float, int]], at: float) -> float:
    """The snapshot's rate at ``at`` after ``n`` messages arrived at each time ``t``."""
    now = [0.0]
    state = LiveState({"A"}, clock=lambda: now[0])
    for t, n in arrivals:
        now[0] = t
        for _ in range(n):
            state.receive("b", "b/facility/A", b"{not json")
    now[0] = at
    return state.snapshot(data=False).rate_per_s


@pytest.mark.parametrize(
    ("arrivals", "at", "rate"),
    [
        pytest.param(
            [(100.0, 100), (105.0, 1)], 105.0, 100 / 5, id="counted-from-the-window-start"
        ),
        pytest.param([(100.0, 1), (110.0, 1)], 110.0, 1 / 10, id="a-sample-10-s-old-counts"),
        pytest.param([(100.0, 5)], 100.5, 4 / 1, id="at-least-one-second"),
        pytest.param([(100.0, 1), (101.0, 10)], 111.0, 9 / 10, id="a-second-later-is-a-sample"),
        pytest.param([(100.0, 1), (101.0, 10)], 111.5, 0.0, id="older-than-10-s-forgotten"),
    ],
)
def test_the_message_rate_is_over_the_last_ten_seconds(
    arrivals: list[tuple[float, int]], at: float, rate: float
) -> None:
    assert _rate_after(arrivals, at) == pytest.approx(rate)


def test_a_restart_position_exactly_a_week_ahead_is_not_a_restart() -> None:
    state = LiveState({"A", "B"}, clock=lambda: (LATE + timedelta(days=8)).timestamp())
    _send_row(state, LATE)
    _restart(state, "ahead", LATE + timedelta(days=7))
    assert state.snapshot().restarts == 0
    _restart(state, "further", LATE + timedelta(days=7, minutes=5))
    assert state.snapshot().restarts == 1


def test_the_last_1024_publishers_are_remembered_and_older_ones_forgotten() -> None:
    now = [LATE.timestamp()]
    state = LiveState({"A", "B"}, clock=lambda: now[0])
    _send_row(state, LATE)
    for i in range(1025):
        _send_status(state, state="offline", client_id=f"p{i}")
    now[0] += 3600
    _restart(state, "p1", T0)  # still remembered: no clear
    assert state.snapshot().restarts == 0
    _restart(state, "p0", T0)  # the oldest was forgotten: a new publisher to the page
    assert state.snapshot().restarts == 1


def test_a_fresh_state_keeps_the_lookup_bounds_and_clock_and_nothing_else() -> None:
    now = [T0.timestamp() + 3600]
    state = LiveState(
        {"A"}, history_len=2, recent_len=1, max_unknown=1, clock=lambda: now[0], batch=3
    )
    send_event(state, fac("A", 0))
    fresh = state.fresh()
    snap = fresh.snapshot()
    assert (snap.received, snap.max_ts, snap.facility_latest) == (0, None, {})
    assert snap.history_len == 2 and snap.taken_at == now[0]
    for k in range(3):
        assert send_event(fresh, fac("A", k)) == "stored"  # A is still known
    for fid in ("X", "Y"):
        send_event(fresh, fac(fid, 3))
    fresh.receive("b", "b/facility/A", _payload(fac("A", 4)))
    assert fresh.queued == 1  # batch 3: one message waits for two more
    for fid in ("X", "Y"):
        fresh.receive("b", f"b/facility/{fid}", _payload(fac(fid, 4)))
    assert fresh.queued == 0  # the third worked through the batch
    snap = fresh.snapshot()
    assert [p[0] for p in snap.facility_history["A"]] == [epoch(2), epoch(4)]  # two intervals
    assert len(snap.recent_facility) == 1
    assert (snap.unknown_ids, snap.unknown_overflow) == (["X"], True)


def test_version_moves_only_when_data_is_applied() -> None:
    state = LiveState({"A"})
    uid, v0 = state.version
    send_event(state, fac("A", 0))
    assert state.version == (uid, v0 + 1)
    assert send_event(state, fac("A", 0)) == "duplicate"  # nothing applied: same version
    assert send_event(state, fac("B", 0)) == "unknown"  # counted only: same version
    assert state.version == (uid, v0 + 1)
    send_event(state, mkt("NSW1", 0))
    assert state.snapshot().version == (uid, v0 + 2)
    assert state.backfill({"A": [(epoch(1), 1.0, 2.0)]}, {}) == 1
    assert state.version == (uid, v0 + 3)
    assert state.fresh().version[0] != uid  # another broker's state never shares a version


def test_version_reads_the_queue_first() -> None:
    state = LiveState({"A"}, batch=100)
    before = state.version
    state.receive(
        "b", "b/facility/A", encode_facility_event("A", fac("A", 0).timestamp.isoformat(), 1.0, 1.0)
    )
    assert state.queued == 1
    assert state.version[1] == before[1] + 1


def test_arrival_gap_is_the_time_between_the_two_newest_intervals() -> None:
    now = [T0.timestamp()]
    state = LiveState({"A"}, clock=lambda: now[0])
    assert send_event(state, mkt("NSW1", 0)) == "stored"
    assert state.snapshot(data=False).arrival_gap_s is None  # one interval: no gap yet
    now[0] += 7.0
    send_event(state, mkt("VIC1", 0))  # the same interval later: not a new one
    now[0] += 300.0
    send_event(state, mkt("NSW1", 1))
    assert state.snapshot(data=False).arrival_gap_s == pytest.approx(307.0)
    now[0] += 1.0
    send_event(state, fac("A", 0))  # an older interval filled in: the gap stays
    now[0] += 2.0
    send_event(state, mkt("NSW1", 2))
    assert state.snapshot(data=False).arrival_gap_s == pytest.approx(3.0)


# --- what mutation testing found untested after the time guard ---------------------------


def _flow(k: int, rid: str = "SA1") -> bytes:
    return encode_interchange_event(rid, (T0 + timedelta(minutes=5 * k)).isoformat(), 1.0, 2.0)


def test_interchange_events_are_kept_without_a_reject_and_their_recent_table_is_bounded() -> None:
    state = LiveState(set(), recent_len=3, clock=lambda: T0.timestamp() + 86_400)
    for k in range(10):
        assert send(state, "b/interchange/SA1", _flow(k)) == "stored"
    snap = state.snapshot()
    assert snap.rejects_by_reason == {} and snap.accepted == 10
    assert snap.interchange_latest == {"SA1": (epoch(9), 1.0, 2.0)}
    assert len(state._recent_interchange) == 3  # bounded, like the other recent tables


def test_a_snapshot_without_data_holds_no_values_of_any_kind() -> None:
    state = LiveState({"A"}, clock=lambda: T0.timestamp() + 86_400)
    send_event(state, fac("A", 0))
    send(state, "b/interchange/SA1", _flow(0))
    bare = state.snapshot(data=False)
    assert (bare.interchange_latest, bare.interchange_history) == ({}, {})
    assert (bare.facility_latest, bare.facility_history) == ({}, {})
    no_hist = state.snapshot(histories=False)
    assert no_hist.interchange_history == {} and no_hist.interchange_latest != {}


def test_each_status_moves_the_status_version_and_not_the_data_version() -> None:
    state = LiveState({"A"})
    fresh = state.snapshot()
    assert fresh.publisher_status is None
    for n in range(1, 4):
        _send_status(state, state="online", client_id="pub", position=T0.isoformat())
        snap = state.snapshot()
        assert snap.status_version == fresh.status_version + n
        assert snap.version == fresh.version
    assert snap.publisher_status is not None and snap.publisher_status["client_id"] == "pub"


def test_backfills_add_up_and_a_point_on_the_guard_is_kept() -> None:
    now = T0.timestamp()
    state = LiveState({"A"}, clock=lambda: now)
    edge = latest_allowed(now)  # exactly the newest the guard allows
    assert state.backfill({"A": [(epoch(0), 1.0, 1.0)]}, {}) == 1
    assert state.backfill({"A": [(epoch(1), 1.0, 1.0), (edge, 2.0, 2.0)]}, {}) == 2
    snap = state.snapshot()
    assert snap.backfilled == 3
    assert snap.max_ts == edge


def test_the_rate_keeps_a_bounded_number_of_samples() -> None:
    now = [T0.timestamp()]
    state = LiveState({"A"}, clock=lambda: now[0])
    for _ in range(200):
        now[0] += 1.0
        send(state, "b/facility/X", b"not json")
    assert len(state._rate_samples) <= 64
