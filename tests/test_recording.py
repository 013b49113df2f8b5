"""The recorder's pure core (nemlive.record.recording) and its inbox (nemlive.record.subscriber.Inbox)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from nemlive.common.events import (
    encode_facility_event,
    encode_interchange_event,
    encode_market_event,
)
from nemlive.common.timeguard import FUTURE_MARGIN_S
from nemlive.record.recording import (
    Admission,
    Inbound,
    UnknownIds,
    convert_messages,
    describe_rejects,
)
from nemlive.record.subscriber import INBOX_FULL, Inbox
from nemlive.store import AlertRecord

TS = "2025-10-15T10:05:00+10:00"
EPOCH = 1760486700
NOW = EPOCH + 600.0  # the wall clock of most tests: ten minutes after the interval ended


def _msg(topic: str, payload: bytes, mid: int = 1, qos: int = 1, generation: int = 1) -> Inbound:
    return Inbound(generation, mid, qos, topic, payload, time.monotonic())


def _facility(ident: str, ts: str = TS) -> Inbound:
    return _msg(f"nem/stream/facility/{ident}", encode_facility_event(ident, ts, 1.0, 0.5))


def test_valid_events_become_readings_in_utc_epoch_seconds() -> None:
    out = convert_messages(
        "nem/stream",
        [
            _msg("nem/stream/facility/BAYSW", encode_facility_event("BAYSW", TS, 245.7, None)),
            _msg("nem/stream/market/SA1", encode_market_event("SA1", TS, -1000.0, 1500.5)),
            _msg("nem/stream/interchange/SA1", encode_interchange_event("SA1", TS, 420.5, None)),
            _msg("nem/stream/status", b'{"state":"online"}'),
        ],
        NOW,
    )
    assert out.facility == [("BAYSW", EPOCH, 245.7, None)]
    assert out.market == [("SA1", EPOCH, -1000.0, 1500.5)]
    assert out.interchange == [("SA1", EPOCH, 420.5, None)]
    assert (out.statuses, out.rejects) == (1, Counter())


def test_a_key_seen_twice_in_a_batch_keeps_the_later_values() -> None:
    out = convert_messages(
        "nem/stream",
        [
            _msg("nem/stream/facility/A", encode_facility_event("A", TS, 1.0, 1.0)),
            _msg("nem/stream/facility/A", encode_facility_event("A", TS, 2.0, None)),
            _msg("nem/stream/interchange/TAS1", encode_interchange_event("TAS1", TS, 1.0, 2.0)),
            _msg("nem/stream/interchange/TAS1", encode_interchange_event("TAS1", TS, 3.0, 0.0)),
        ],
        NOW,
    )
    assert out.facility == [("A", EPOCH, 2.0, None)]
    assert out.interchange == [("TAS1", EPOCH, 3.0, 0.0)]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("nem/stream/facility/A", b"{", "bad_json"),
        ("nem/stream/facility/A", b"[]", "not_an_object"),
        ("other/facility/A", encode_facility_event("A", TS, 1.0, 1.0), "topic"),
        ("nem/stream/facility/B", encode_facility_event("A", TS, 1.0, 1.0), "id_mismatch"),
        ("nem/stream/market/XX1", encode_market_event("XX1", TS, 1.0, 1.0), "bad_type"),
        (
            "nem/stream/facility/A",
            json.dumps({"facility_id": "A", "timestamp": TS, "power_mw": 1.0}).encode(),
            "missing_key",
        ),
        ("nem/stream/facility/A", b" " * 2000, "oversize"),
    ],
    ids=["bad-json", "array", "foreign-topic", "id-mismatch", "unknown-region", "missing", "big"],
)
def test_invalid_messages_are_counted_by_reason_and_dropped(
    topic: str, payload: bytes, reason: str
) -> None:
    out = convert_messages("nem/stream", [_msg(topic, payload), _msg(topic, payload)], NOW)
    assert (out.facility, out.market, out.interchange) == ([], [], [])
    assert out.rejects == Counter({reason: 2})
    assert out.first_reject[reason][0] == topic


def test_describe_rejects() -> None:
    assert describe_rejects(Counter()) == "0"
    assert describe_rejects(Counter(bad_json=1, oversize=3)) == "4 (oversize 3, bad_json 1)"


def test_inbox_gives_a_full_batch_at_once_and_a_partial_one_after_max_wait() -> None:
    inbox, stop = Inbox(), threading.Event()
    for i in range(7):
        inbox.put(_msg("t", b"", mid=i))
    started = time.monotonic()
    assert [m.mid for m in inbox.take(5, 10.0, stop)] == [0, 1, 2, 3, 4]
    assert time.monotonic() - started < 1.0
    assert [m.mid for m in inbox.take(5, 0.2, stop)] == [5, 6]
    assert time.monotonic() - started >= 0.2 - 0.05


def test_inbox_wakes_when_a_batch_fills_and_returns_on_stop() -> None:
    inbox, stop = Inbox(), threading.Event()
    got: list[int] = []

    def take() -> None:
        got.extend(m.mid for m in inbox.take(3, 30.0, stop))

    worker = threading.Thread(target=take)
    worker.start()
    for i in range(3):
        inbox.put(_msg("t", b"", mid=i))
    worker.join(timeout=5)
    assert got == [0, 1, 2]
    stop.set()
    assert inbox.take(3, 30.0, stop) == []


# --- the future guard and the lookup ---------------------------------------------------------


def test_an_interval_ahead_of_the_clock_is_rejected_as_future() -> None:
    at_margin = EPOCH - FUTURE_MARGIN_S  # the clock for which TS is exactly at the margin
    batch = [
        _facility("BAYSW"),
        _msg("nem/stream/market/SA1", encode_market_event("SA1", TS, 1.0, 1.0)),
        _msg("nem/stream/interchange/SA1", encode_interchange_event("SA1", TS, 1.0, 1.0)),
        _facility("BAYSW", "2199-01-01T10:00:00+10:00"),
        _msg("nem/stream/status", b'{"state":"online"}'),  # not data: no time to test
    ]
    out = convert_messages("nem/stream", batch, at_margin)
    assert (len(out.facility), len(out.market), len(out.interchange)) == (1, 1, 1)
    assert out.rejects == Counter(future=1) and out.statuses == 1
    assert out.first_reject["future"][1] == "ends 2199-01-01 10:00 NEM time, ahead of the clock"
    early = convert_messages("nem/stream", batch, at_margin - 1)  # one second earlier
    assert (early.facility, early.market, early.interchange) == ([], [], [])
    assert early.rejects == Counter(future=4) and early.statuses == 1


def test_only_the_lookups_facilities_and_the_regions_admitted_are_recorded() -> None:
    admission = Admission(frozenset({"BAYSW"}), frozenset({"SA1"}))
    batch = [
        _facility("BAYSW"),
        _facility("X1"),
        _facility("X2"),
        _facility("X1", "2025-10-15T10:10:00+10:00"),
        _msg("nem/stream/market/SA1", encode_market_event("SA1", TS, 1.0, 1.0)),
        _msg("nem/stream/market/VIC1", encode_market_event("VIC1", TS, 1.0, 1.0)),
        _msg("nem/stream/interchange/VIC1", encode_interchange_event("VIC1", TS, 1.0, 1.0)),
    ]
    out = convert_messages("nem/stream", batch, NOW, admission)
    assert out.facility == [("BAYSW", EPOCH, 1.0, 0.5)]
    assert out.market == [("SA1", EPOCH, 1.0, 1.0)] and out.interchange == []
    assert out.rejects == Counter(unknown=5)
    assert out.unknown_ids == ["X1", "X2", "VIC1"]
    assert out.first_reject["unknown"][0] == "nem/stream/facility/X1"
    everything = convert_messages("nem/stream", batch, NOW)  # the default: --record-all
    assert len(everything.facility) == 4 and not everything.rejects


def test_unknown_ids_keep_the_first_names_up_to_the_bound() -> None:
    unknown = UnknownIds(max_names=3)
    unknown.add(["A", "B", "A"])
    assert (list(unknown.names), unknown.overflow, unknown.describe()) == (
        ["A", "B"],
        False,
        "2 ids: A, B",
    )
    unknown.add(f"Z{i}" for i in range(10_000))
    assert list(unknown.names) == ["A", "B", "Z0"] and unknown.overflow
    assert unknown.describe(shown=2) == "3+ ids: A, B and 1 more"


# --- the inbox's bound -----------------------------------------------------------------------


def test_qos_0_past_its_cap_is_dropped_and_counted_and_qos_1_never() -> None:
    inbox, stop = Inbox(qos1_max=5, qos0_max=3), threading.Event()
    assert inbox.bound == 8
    for i in range(10):
        inbox.put(_msg("t", b"", mid=i, qos=0))
    for i in range(5):
        assert inbox.put(_msg("t", b"", mid=100 + i, qos=1))
    assert len(inbox) == 8 and inbox.dropped() == Counter({INBOX_FULL: 7})
    assert [m.mid for m in inbox.take(2, 0.0, stop)] == [0, 1]  # room for two QoS 0 again
    assert inbox.put(_msg("t", b"", mid=10, qos=0)) and inbox.put(_msg("t", b"", mid=11, qos=0))
    assert not inbox.put(_msg("t", b"", mid=12, qos=0))
    assert inbox.peak == 8 == len(inbox)
    assert inbox.dropped()[INBOX_FULL] == 8


def test_a_resumed_session_forgets_the_qos_1_copies_the_broker_sends_again() -> None:
    inbox, stop = Inbox(), threading.Event()
    for i in range(3):
        inbox.put(_msg("t", b"", mid=i, qos=1, generation=1))
    inbox.put(_msg("t", b"", mid=9, qos=0, generation=1))  # QoS 0 is never sent again: kept
    inbox.put(_msg("t", b"", mid=1, qos=1, generation=2))
    assert inbox.forget_resent(2) == 3
    assert [(m.mid, m.generation) for m in inbox.take(10, 0.0, stop)] == [(9, 1), (1, 2)]


# --- alerts ----------------------------------------------------------------------------------


def _alert(
    rule: str = "sa-spike", subject: str = "SA1", state: str = "firing", **kw: object
) -> Inbound:
    fields = {
        "rule": rule,
        "kind": "price_above",
        "subject": subject,
        "state": state,
        "since": TS,
        "at": TS,
        "value": 15000.0,
        "threshold": 300.0,
    } | kw
    return _msg(f"nem/stream/alert/{rule}/{subject}", json.dumps(fields).encode())


def test_alerts_become_rows_once_each_and_a_cleared_alert_is_no_event() -> None:
    out = convert_messages(
        "nem/stream",
        [
            _alert(),
            _alert(),  # the retained copy and the live message: one event
            _alert(state="resolved", at="2025-10-15T10:10:00+10:00", value=None),
            _msg("nem/stream/alert/sa-spike/SA1", b""),  # the retained alert cleared
        ],
        NOW + 300,
    )
    head = ("sa-spike", "price_above", "SA1")
    assert out.alerts == [
        AlertRecord(*head, "firing", EPOCH, EPOCH, 15000.0, 300.0, int(NOW + 300)),
        AlertRecord(*head, "resolved", EPOCH, EPOCH + 300, None, 300.0, int(NOW + 300)),
    ]
    assert (out.cleared, out.rejects, out.facility) == (1, Counter(), [])


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (_msg("nem/stream/alert/sa-spike/SA1", b"{"), "bad_json"),
        (_msg("nem/stream/alert/sa-spike", b"{}"), "topic"),
        (_msg("nem/stream/alert/other/SA1", _alert().payload), "id_mismatch"),
        (_alert(state="exploded"), "bad_type"),
        (_alert(value=float("nan")), "not_finite"),
        (_alert(extra=1), "extra_key"),
        (_msg("nem/stream/alert/sa-spike/SA1", b" " * 2000), "oversize"),
        (_alert(at="2199-01-01T10:00:00+10:00"), "future"),
    ],
    ids=["bad-json", "short-topic", "mismatch", "state", "nan", "extra", "big", "future"],
)
def test_hostile_alerts_are_counted_by_reason_and_never_as_topic(msg: Inbound, reason: str) -> None:
    out = convert_messages("nem/stream", [msg], NOW)
    assert out.alerts == [] and out.cleared == 0
    assert out.rejects == Counter({reason: 1})
