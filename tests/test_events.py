"""nemlive/events.py: topics and the encode -> decode round trip of the wire schema.

The table of good and bad payloads runs through the dashboard's ingest path in
tests/test_ingest.py; the publisher's fast template is checked against the encoders in
tests/test_replay.py.
"""

from __future__ import annotations

import pytest

from nemlive import events
from nemlive.events import InvalidEvent

BASE = "nem/stream"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        pytest.param("nem/stream/facility/BAYSW", ("facility", "BAYSW"), id="facility"),
        pytest.param(
            "nem/stream/facility/0NG_X1", ("facility", "0NG_X1"), id="zero-and-underscore"
        ),
        pytest.param("nem/stream/market/VIC1", ("market", "VIC1"), id="market"),
        pytest.param("nem/stream/status", ("status", ""), id="status"),
    ],
)
def test_topics_parse(topic: str, expected: tuple[str, str]) -> None:
    assert events.parse_topic(BASE, topic) == expected


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("other/facility/BAYSW", id="other-base"),
        pytest.param("nem/streamX/facility/BAYSW", id="prefix-only"),
        pytest.param("nem/stream/facility/", id="no-id"),
        pytest.param("nem/stream/facility/A/B", id="too-deep"),
        pytest.param("nem/stream/weather/X", id="unknown-kind"),
    ],
)
def test_other_topics_are_refused(topic: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        events.parse_topic(BASE, topic)
    assert err.value.reason == "topic"


def test_topic_builders_and_parser_agree() -> None:
    assert events.parse_topic(BASE, events.build_facility_topic(BASE, "ER01")) == (
        "facility",
        "ER01",
    )
    assert events.parse_topic(BASE, events.build_market_topic(BASE, "SA1")) == ("market", "SA1")
    assert events.parse_topic(BASE, events.build_status_topic(BASE)) == ("status", "")
    assert events.build_subscription(BASE) == "nem/stream/#"


def test_encoded_events_decode_to_the_same_values() -> None:
    ts = "2025-10-15T10:05:00+10:00"
    payload = events.encode_facility_event("BAYSW", ts, 245.7, float("nan"))
    assert payload == (
        b'{"facility_id":"BAYSW","timestamp":"2025-10-15T10:05:00+10:00",'
        b'"power_mw":245.7,"co2_tonnes":null}'
    )
    fac = events.decode_event(BASE, "nem/stream/facility/BAYSW", payload)
    assert isinstance(fac, events.FacilityEvent)
    assert (fac.power_mw, fac.co2_tonnes, events.format_timestamp(fac.timestamp)) == (
        245.7,
        None,
        ts,
    )
    mkt = events.decode_event(
        BASE, "nem/stream/market/VIC1", events.encode_market_event("VIC1", ts, -40.5, 5142.0)
    )
    assert isinstance(mkt, events.MarketEvent)
    assert (mkt.price_dmwh, mkt.demand_mw) == (-40.5, 5142.0)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        pytest.param(
            "nem/stream/facility/OTHER",
            events.encode_facility_event("BAYSW", "2025-10-15T10:05:00+10:00", 1.0, 1.0),
            id="facility",
        ),
        pytest.param(
            "nem/stream/market/SA1",
            events.encode_market_event("VIC1", "2025-10-15T10:05:00+10:00", 1.0, 1.0),
            id="market",
        ),
    ],
)
def test_an_id_that_differs_from_its_topic_is_refused(topic: str, payload: bytes) -> None:
    with pytest.raises(InvalidEvent) as err:
        events.decode_event(BASE, topic, payload)
    assert err.value.reason == "id_mismatch"


def test_status_round_trip() -> None:
    status = events.StatusEvent(state="online", pass_number=2, row=7, rows=288, sent=99)
    decoded = events.decode_event(BASE, "nem/stream/status", events.encode_status(status))
    assert decoded == status
