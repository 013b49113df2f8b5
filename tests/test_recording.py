"""The recorder's pure core (nemlive.record.recording) and its inbox (nemlive.record.recorderlink.Inbox)."""

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
from nemlive.record.recorderlink import Inbox
from nemlive.record.recording import Inbound, convert_messages, describe_rejects

TS = "2025-10-15T10:05:00+10:00"
EPOCH = 1760486700


def _msg(topic: str, payload: bytes, mid: int = 1) -> Inbound:
    return Inbound(1, mid, 1, topic, payload, time.monotonic())


def test_valid_events_become_readings_in_utc_epoch_seconds() -> None:
    out = convert_messages(
        "nem/stream",
        [
            _msg("nem/stream/facility/BAYSW", encode_facility_event("BAYSW", TS, 245.7, None)),
            _msg("nem/stream/market/SA1", encode_market_event("SA1", TS, -1000.0, 1500.5)),
            _msg("nem/stream/interchange/SA1", encode_interchange_event("SA1", TS, 420.5, None)),
            _msg("nem/stream/status", b'{"state":"online"}'),
        ],
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
    out = convert_messages("nem/stream", [_msg(topic, payload), _msg(topic, payload)])
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
