"""nemlive/common/events.py: topics and the encode -> decode round trip of the wire schema.

The table of good and bad payloads runs through the dashboard's ingest path in
tests/test_ingest.py; the publisher's fast template is checked against the encoders in
tests/test_replaytable.py.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest

from nemlive.common import events
from nemlive.common.events import InvalidEvent
from nemlive.common.nemtime import NEM_TZ

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


@pytest.mark.parametrize(
    ("group", "want"),
    [
        pytest.param("recorders", "$share/recorders/nem/stream/#", id="plain"),
        pytest.param("  rec-a_1 ", "$share/rec-a_1/nem/stream/#", id="stripped"),
        pytest.param("g" * events.SHARE_GROUP_MAX, f"$share/{'g' * 64}/nem/stream/#", id="longest"),
    ],
)
def test_a_shared_subscription_names_the_group_then_the_stream(group: str, want: str) -> None:
    assert events.build_shared_subscription(BASE, group) == want


@pytest.mark.parametrize(
    ("group", "needle"),
    [
        pytest.param("", "needs a name", id="empty"),
        pytest.param("   ", "needs a name", id="blank"),
        pytest.param("a/b", "no '/'", id="slash"),
        pytest.param("a+", "no '/'", id="plus"),
        pytest.param("#", "no '/'", id="hash"),
        pytest.param("a\tb", "control", id="tab"),
        pytest.param("g" * (events.SHARE_GROUP_MAX + 1), "at most 64", id="too-long"),
    ],
)
def test_a_share_group_that_mqtt_forbids_is_refused(group: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        events.build_shared_subscription(BASE, group)


def test_decode_event_at_gives_the_interval_end_it_checked() -> None:
    ts = "2025-10-15T10:05:00+10:00"
    epoch = int(datetime.fromisoformat(ts).timestamp())
    fac, at = events.decode_event_at(
        BASE, "nem/stream/facility/BAYSW", events.encode_facility_event("BAYSW", ts, 1.0, 0.0)
    )
    assert isinstance(fac, events.FacilityEvent) and at == epoch
    _mkt, at = events.decode_event_at(
        BASE, "nem/stream/market/SA1", events.encode_market_event("SA1", ts, 1.0, 1.0)
    )
    assert at == epoch
    status = events.StatusEvent(state="online", client_id="p", pass_number=1)
    assert (
        events.decode_event_at(BASE, "nem/stream/status", events.encode_status(status))[1] is None
    )
    with pytest.raises(InvalidEvent) as err:
        events.decode_event_at(
            BASE,
            "nem/stream/facility/X",
            events.encode_facility_event("X", "2025-10-15T10:07:00+10:00", 1.0, 0.0),
        )
    assert err.value.reason == "off_grid"


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


def test_a_live_status_round_trips_and_a_replays_keeps_its_bytes() -> None:
    live = events.StatusEvent(
        state="live",
        client_id="nemlive-pub-1",
        position="2026-11-30T14:35:00+10:00",
        market_to="2026-11-30T14:35:00+10:00",
        facilities_to="2026-11-30T12:10:00+10:00",
        source="simulator",
    )
    assert events.decode_event(BASE, "nem/stream/status", events.encode_status(live)) == live
    replay = events.StatusEvent(state="online", client_id="c", pass_number=1, row=2, rows=3)
    assert events.encode_status(replay) == (
        b'{"state":"online","client_id":"c","pass_number":1,"position":null,"row":2,"rows":3,'
        b'"sent":0}'
    )
    with pytest.raises(events.InvalidEvent, match="bad_type"):
        events.decode_event(BASE, "nem/stream/status", b'{"state":"live","source":"somewhere"}')


def test_a_nemweb_status_round_trips_with_simulated_and_leaves_it_out_when_unset() -> None:
    sim = events.StatusEvent(state="live", client_id="p", source="nemweb", simulated=True)
    data = events.encode_status(sim)
    assert b'"source":"nemweb","simulated":true' in data
    assert events.decode_event(BASE, "nem/stream/status", data) == sim
    real = events.StatusEvent(state="live", client_id="p", source="nemweb")
    assert b"simulated" not in events.encode_status(real)
    assert events.decode_event(BASE, "nem/stream/status", events.encode_status(real)) == real
    for bad in (b'"yes"', b"1", b'"true"'):
        with pytest.raises(events.InvalidEvent, match="bad_type"):
            events.decode_event(
                BASE, "nem/stream/status", b'{"state":"live","simulated":' + bad + b"}"
            )


def test_status_round_trip() -> None:
    status = events.StatusEvent(state="online", pass_number=2, row=7, rows=288, sent=99)
    decoded = events.decode_event(BASE, "nem/stream/status", events.encode_status(status))
    assert decoded == status


# --- the edges: every bound on both sides, every key, the ends of the calendar --------------

FAC_TOPIC = "nem/stream/facility/BAYSW"
MKT_TOPIC = "nem/stream/market/VIC1"
TS = "2025-10-15T10:05:00+10:00"
BOUNDS = [
    ("facility", "power_mw", events.POWER_MW_BOUNDS),
    ("facility", "co2_tonnes", events.CO2_T_BOUNDS),
    ("market", "price_dmwh", events.PRICE_BOUNDS),
    ("market", "demand_mw", events.DEMAND_MW_BOUNDS),
]


def _payload(kind: str, **override: object) -> bytes:
    import json

    body: dict[str, object] = (
        {"facility_id": "BAYSW", "timestamp": TS, "power_mw": 1.0, "co2_tonnes": 1.0}
        if kind == "facility"
        else {"region_id": "VIC1", "timestamp": TS, "price_dmwh": 1.0, "demand_mw": 1.0}
    )
    body.update(override)
    return json.dumps({k: v for k, v in body.items() if v is not _DROP}).encode()


_DROP = object()


def _decode(kind: str, payload: bytes) -> events.Event:
    return events.decode_event(BASE, FAC_TOPIC if kind == "facility" else MKT_TOPIC, payload)


def test_the_bounds_are_the_physical_ones_the_readme_states() -> None:
    assert events.POWER_MW_BOUNDS == (-5_000.0, 5_000.0)
    assert events.CO2_T_BOUNDS == (0.0, 1_000.0)
    assert events.PRICE_BOUNDS == (-1_000.0, 25_000.0)
    assert events.DEMAND_MW_BOUNDS == (-1_000.0, 20_000.0)


@pytest.mark.parametrize(("kind", "key", "bounds"), BOUNDS, ids=[b[1] for b in BOUNDS])
def test_both_ends_of_every_bound_pass_and_one_step_beyond_is_out_of_range(
    kind: str, key: str, bounds: tuple[float, float]
) -> None:
    lo, hi = bounds
    for value in (lo, hi):
        assert getattr(_decode(kind, _payload(kind, **{key: value})), key) == value
    for value in (lo - 0.001, hi + 0.001, lo - 1e9, hi + 1e9):
        with pytest.raises(InvalidEvent) as err:
            _decode(kind, _payload(kind, **{key: value}))
        assert err.value.reason == "out_of_range", value


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (kind, key)
        for kind, keys in (
            ("facility", ("facility_id", "timestamp", "power_mw", "co2_tonnes")),
            ("market", ("region_id", "timestamp", "price_dmwh", "demand_mw")),
        )
        for key in keys
    ],
)
def test_every_key_is_required_and_null_is_only_for_values(kind: str, key: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        _decode(kind, _payload(kind, **{key: _DROP}))
    assert err.value.reason == "missing_key"
    if key.endswith(("_mw", "_tonnes", "_dmwh")):
        assert getattr(_decode(kind, _payload(kind, **{key: None})), key) is None


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        pytest.param("9999-12-31T23:00:00+00:00", "too_late", id="end-of-calendar"),
        pytest.param("9999-12-31T23:55:00-23:59", "too_late", id="end-with-far-offset"),
        pytest.param("2200-01-01T00:00:00+00:00", "too_late", id="first-too-late"),
        pytest.param("0001-01-01T00:00:00+10:00", "before_nem", id="start-of-calendar"),
        pytest.param("1998-12-12T23:55:00+10:00", "before_nem", id="last-before-nem"),
        pytest.param("1970-01-01T00:00:00+00:00", "before_nem", id="epoch-zero"),
        pytest.param("2025-10-15T10:04:00+10:00", "off_grid", id="one-minute-off"),
        pytest.param("2025-10-15T10:05:01+10:00", "off_grid", id="one-second-off"),
        pytest.param("2025-10-15T10:05:00.5+10:00", "off_grid", id="fraction"),
        pytest.param("2025-10-15T10:05:00+05:17", "off_grid", id="odd-offset"),
        pytest.param("2025-10-15T10:05:00", "naive_timestamp", id="naive"),
    ],
)
def test_timestamps_the_page_cannot_show_or_no_stream_can_carry_are_refused(
    timestamp: str, reason: str
) -> None:
    for kind in ("facility", "market"):
        with pytest.raises(InvalidEvent) as err:
            _decode(kind, _payload(kind, timestamp=timestamp))
        assert err.value.reason == reason


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("1998-12-13T00:00:00+10:00", id="first-nem-day"),
        pytest.param("2199-12-31T23:55:00+00:00", id="last-allowed"),
        pytest.param("2025-10-15T00:05:00Z", id="utc-z"),
        pytest.param("2025-10-15T05:35:00+05:30", id="half-hour-offset-on-grid"),
        pytest.param("2025-10-15T10:05:00-14:00", id="far-negative-offset"),
    ],
)
def test_timestamps_at_the_edges_that_are_real_intervals_pass(timestamp: str) -> None:
    for kind in ("facility", "market"):
        assert _decode(kind, _payload(kind, timestamp=timestamp)).timestamp is not None


def test_a_payload_of_exactly_the_size_limit_passes_and_one_byte_more_is_oversize() -> None:
    body = _payload("facility")
    at_limit = body[:-1] + b" " * (events.MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(at_limit) == events.MAX_PAYLOAD_BYTES
    assert _decode("facility", at_limit).power_mw == 1.0
    with pytest.raises(InvalidEvent) as err:
        _decode("facility", at_limit + b" ")
    assert err.value.reason == "oversize"


@pytest.mark.parametrize("value", [math.inf, -math.inf], ids=["inf", "minus-inf"])
def test_the_encoders_refuse_an_infinite_value_rather_than_write_invalid_json(
    value: float,
) -> None:
    # NaN is "missing" and becomes null; an infinity is a bug upstream, never a message.
    with pytest.raises(ValueError):
        events.encode_facility_event("BAYSW", TS, value, 1.0)
    with pytest.raises(ValueError):
        events.encode_market_event("VIC1", TS, 1.0, value)


@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        pytest.param(
            FAC_TOPIC, _payload("facility", power_mw=1e9), "out_of_range: power_mw", id="range"
        ),
        pytest.param(
            MKT_TOPIC, _payload("market", demand_mw=_DROP), "missing_key: demand_mw", id="missing"
        ),
        pytest.param(MKT_TOPIC, _payload("market", x=1), "extra_key: x", id="extra"),
        pytest.param(
            FAC_TOPIC,
            _payload("facility", power_mw="1"),
            "bad_type: power_mw (float_type)",
            id="type",
        ),
        pytest.param(
            FAC_TOPIC,
            _payload("facility", timestamp="2025-10-15T10:05:00"),
            "naive_timestamp: timestamp",
            id="naive",
        ),
        pytest.param(FAC_TOPIC, b"{nope", "bad_json", id="json"),
        pytest.param(FAC_TOPIC, b"[1]", "not_an_object", id="list"),
        pytest.param(FAC_TOPIC, b" " * 1025, "oversize: 1025 bytes", id="oversize"),
        pytest.param(
            "nem/stream/facility/OTHER",
            _payload("facility"),
            "id_mismatch: facility_id differs from the topic",
            id="facility-id",
        ),
        pytest.param(
            "nem/stream/market/SA1",
            _payload("market"),
            "id_mismatch: region_id differs from the topic",
            id="region-id",
        ),
        pytest.param(
            FAC_TOPIC,
            _payload("facility", timestamp="1990-10-15T10:05:00+10:00"),
            "before_nem: timestamp before 1998-12-13",
            id="before-nem",
        ),
        pytest.param(
            FAC_TOPIC,
            _payload("facility", timestamp="2200-10-15T10:05:00+10:00"),
            "too_late: timestamp in 2200 or later",
            id="too-late",
        ),
        pytest.param(
            FAC_TOPIC,
            _payload("facility", timestamp="2025-10-15T10:04:00+10:00"),
            "off_grid: timestamp not on a 5-minute mark",
            id="off-grid",
        ),
    ],
)
def test_a_refused_message_says_its_reason_and_where(
    topic: str, payload: bytes, message: str
) -> None:
    with pytest.raises(InvalidEvent) as err:
        events.decode_event(BASE, topic, payload)
    assert str(err.value) == message
    reason, _, detail = message.partition(": ")
    assert (err.value.reason, err.value.detail) == (reason, detail)


# --- alerts -----------------------------------------------------------------------------------


def _alert(**changes: object) -> events.AlertEvent:
    at = datetime(2025, 10, 1, 17, 30, tzinfo=NEM_TZ)
    fields: dict[str, object] = {
        "rule": "sa-spike",
        "kind": "price_above",
        "subject": "SA1",
        "state": "firing",
        "since": at,
        "at": at,
        "value": 14500.0,
        "threshold": 300.0,
    }
    return events.AlertEvent(**(fields | changes))


def test_alert_topics_build_and_parse() -> None:
    topic = events.build_alert_topic("nem/stream", "sa-spike", "SA1")
    assert topic == "nem/stream/alert/sa-spike/SA1"
    assert events.parse_alert_topic("nem/stream", topic) == ("sa-spike", "SA1")
    assert events.build_alert_subscription("nem/stream") == "nem/stream/alert/#"
    for bad in ("nem/stream/alert/x", "nem/stream/alert/x/y/z", "nem/stream/market/SA1"):
        with pytest.raises(InvalidEvent):
            events.parse_alert_topic("nem/stream", bad)


def test_alert_topics_are_not_stream_events() -> None:
    with pytest.raises(InvalidEvent, match="topic"):
        events.decode_event("nem/stream", "nem/stream/alert/a/SA1", b"{}")


def test_an_alert_round_trips_in_the_contracts_key_order() -> None:
    alert = _alert()
    payload = events.encode_alert(alert)
    assert list(json.loads(payload)) == [
        "rule",
        "kind",
        "subject",
        "state",
        "since",
        "at",
        "value",
        "threshold",
    ]
    assert b'"since":"2025-10-01T17:30:00+10:00"' in payload
    topic = events.build_alert_topic("nem/stream", "sa-spike", "SA1")
    assert events.decode_alert("nem/stream", topic, payload) == alert
    assert events.decode_alert("nem/stream", topic, b"") is None  # a cleared alert


def test_a_bad_alert_is_refused_by_reason() -> None:
    topic = events.build_alert_topic("nem/stream", "sa-spike", "SA1")
    other = events.encode_alert(_alert(subject="VIC1"))
    with pytest.raises(InvalidEvent) as caught:
        events.decode_alert("nem/stream", topic, other)
    assert caught.value.reason == "id_mismatch"
    with pytest.raises(InvalidEvent) as caught:
        events.decode_alert("nem/stream", topic, b'{"rule":"sa-spike"}')
    assert caught.value.reason == "missing_key"
    with pytest.raises(InvalidEvent) as caught:
        events.decode_alert("nem/stream", topic, b"x" * 2000)
    assert caught.value.reason == "oversize"


def test_the_alerters_sync_marker_is_no_alert_and_no_reject() -> None:
    # The alerter's second connection publishes a token on <base>/alert/.sync/<id> to learn
    # when its retained alerts are all in: every other subscriber of <base>/# sees it.
    from nemlive.common.events import decode_alert

    assert (
        decode_alert("nem/stream", "nem/stream/alert/.sync/nemlive-alerts-out", b"3f2a9c") is None
    )
    with pytest.raises(InvalidEvent):
        decode_alert("nem/stream", "nem/stream/alert/sync/nemlive-alerts-out", b"3f2a9c")
