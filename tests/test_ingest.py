"""The dashboard's MQTT path: validation of every payload, and a real mosquitto end to end."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.dashboard.ingest import Hub, Ingest
from nemlive.dashboard.livestate import LiveState
from tests.conftest import free_port
from tests.support_dashboard import (
    publish_events,
    publish_raw,
    read_csv_events,
    wait_until,
    write_consolidate_csv,
)
from tests.support_state import send
from tests.support_tls import TlsFiles, make_tls_files, start_tls_broker

BASE = "nem/test"
GOOD_FAC = {
    "facility_id": "TCOAL1",
    "timestamp": "2025-10-15T10:05:00+10:00",
    "power_mw": 245.7,
    "co2_tonnes": 212.48,
}
GOOD_MKT = {
    "region_id": "VIC1",
    "timestamp": "2025-10-15T10:05:00+10:00",
    "price_dmwh": 34.12,
    "demand_mw": 142.0,
}
FAC_TOPIC = f"{BASE}/facility/TCOAL1"
MKT_TOPIC = f"{BASE}/market/VIC1"


def _j(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _with(base: dict, **changes: object) -> bytes:
    return _j({**base, **changes})


def _without(base: dict, key: str) -> bytes:
    return _j({k: v for k, v in base.items() if k != key})


# (id, topic, payload, expected outcome)
CASES = [
    ("facility-good", FAC_TOPIC, _j(GOOD_FAC), "stored"),
    ("market-good", MKT_TOPIC, _j(GOOD_MKT), "stored"),
    ("facility-nulls", FAC_TOPIC, _with(GOOD_FAC, power_mw=None, co2_tonnes=None), "stored"),
    ("utc-offset", FAC_TOPIC, _with(GOOD_FAC, timestamp="2025-10-15T00:05:00Z"), "stored"),
    ("negative-battery", FAC_TOPIC, _with(GOOD_FAC, power_mw=-120.5), "stored"),
    ("status", f"{BASE}/status", _j({"state": "online", "pass_number": 1}), "stored"),
    ("malformed-json", FAC_TOPIC, b'{"facility_id": "TCOAL1",', "bad_json"),
    ("not-utf8", FAC_TOPIC, b"\xff\xfe\x00", "bad_json"),
    ("empty", FAC_TOPIC, b"", "bad_json"),
    ("array", FAC_TOPIC, b"[1, 2]", "not_an_object"),
    ("missing-key", FAC_TOPIC, _without(GOOD_FAC, "co2_tonnes"), "missing_key"),
    ("missing-timestamp", MKT_TOPIC, _without(GOOD_MKT, "timestamp"), "missing_key"),
    ("extra-key", FAC_TOPIC, _with(GOOD_FAC, lat=-38.2), "extra_key"),
    ("power-as-string", FAC_TOPIC, _with(GOOD_FAC, power_mw="245.7"), "bad_type"),
    ("price-as-bool", MKT_TOPIC, _with(GOOD_MKT, price_dmwh=True), "bad_type"),
    ("id-as-number", FAC_TOPIC, _with(GOOD_FAC, facility_id=7), "bad_type"),
    (
        "nan",
        FAC_TOPIC,
        b'{"facility_id":"TCOAL1","timestamp":"2025-10-15T10:05:00+10:00","power_mw":NaN,"co2_tonnes":1}',
        "not_finite",
    ),
    (
        "infinity",
        MKT_TOPIC,
        b'{"region_id":"VIC1","timestamp":"2025-10-15T10:05:00+10:00","price_dmwh":Infinity,"demand_mw":1}',
        "not_finite",
    ),
    ("power-too-high", FAC_TOPIC, _with(GOOD_FAC, power_mw=5000.1), "out_of_range"),
    ("co2-negative", FAC_TOPIC, _with(GOOD_FAC, co2_tonnes=-0.1), "out_of_range"),
    ("price-above-cap", MKT_TOPIC, _with(GOOD_MKT, price_dmwh=25000.5), "out_of_range"),
    ("demand-too-low", MKT_TOPIC, _with(GOOD_MKT, demand_mw=-1000.5), "out_of_range"),
    (
        "naive-timestamp",
        FAC_TOPIC,
        _with(GOOD_FAC, timestamp="2025-10-15T10:05:00"),
        "naive_timestamp",
    ),
    ("not-a-timestamp", FAC_TOPIC, _with(GOOD_FAC, timestamp="yesterday"), "bad_type"),
    ("oversized", FAC_TOPIC, _with(GOOD_FAC, pad="x" * 1100), "oversize"),
    ("html-in-id", f"{BASE}/facility/<b>x<b>", _with(GOOD_FAC, facility_id="<b>x<b>"), "bad_type"),
    (
        "script-in-region",
        f"{BASE}/market/VIC1",
        _with(GOOD_MKT, region_id="<script>alert(1)</script>"),
        "bad_type",
    ),
    ("id-mismatch", f"{BASE}/facility/OTHER", _j(GOOD_FAC), "id_mismatch"),
    ("unknown-topic", f"{BASE}/weather/VIC1", _j(GOOD_MKT), "topic"),
    ("outside-base", "elsewhere/facility/TCOAL1", _j(GOOD_FAC), "topic"),
    ("status-bad-state", f"{BASE}/status", _j({"state": "<img src=x>"}), "bad_type"),
]


@pytest.mark.parametrize(
    ("topic", "payload", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_payload_is_stored_or_counted_by_reason(
    topic: str, payload: bytes, expected: str
) -> None:
    state = LiveState({"TCOAL1"})
    outcome = send(state, topic, payload, base=BASE)
    assert outcome == expected
    snap = state.snapshot()
    assert snap.received == 1
    if expected == "stored":
        assert snap.rejected == 0 and snap.accepted == 1
    else:
        assert snap.rejects_by_reason == {expected: 1}
        assert snap.last_reject_reason == expected
        assert not snap.facility_latest and not snap.region_latest


def _state_and_settings(port: int, topic: str = BASE) -> tuple[LiveState, object]:
    settings = resolve_mqtt_settings({}, host="127.0.0.1", port=port, topic=topic)
    return LiveState(
        {"TCOAL1", "TGAS1", "TWIND1", "TSOLAR1", "TBATT1", "THYDRO1", "TCOAL2"}
    ), settings


@pytest.mark.integration
def test_published_messages_reach_the_state(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state, settings = _state_and_settings(mosquitto.port)
    ingest = Ingest(settings, state).start()  # type: ignore[arg-type]
    try:
        assert wait_until(lambda: state.snapshot(histories=False).status == "connected", 5)
        events = read_csv_events(write_consolidate_csv(tmp_path / "c.csv", intervals=6))
        publish_events(mosquitto.port, BASE, events)
        assert wait_until(lambda: state.snapshot(histories=False).accepted == len(events), 10)
        snap = state.snapshot()
        assert snap.rejected == 0 and snap.duplicates == 0 and snap.unknown_count == 0
        assert set(snap.region_latest) == {"NSW1", "QLD1", "SA1", "TAS1", "VIC1"}
        assert len(snap.facility_history["TCOAL1"]) == 6
        assert ingest.client_id.startswith("nemlive-dash-")
    finally:
        ingest.stop()
    assert state.snapshot(histories=False).status == "stopped"


@pytest.mark.integration
def test_retained_messages_arrive_on_connect_and_repeat_as_duplicates(
    mosquitto, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    events = read_csv_events(write_consolidate_csv(tmp_path / "c.csv", intervals=3))
    publish_events(mosquitto.port, BASE, events, retain=True)
    state, settings = _state_and_settings(mosquitto.port)
    hub = Hub(state, settings)  # type: ignore[arg-type]
    try:
        # One retained message per topic (facilities, markets and interchange of the last row
        # that has them): wait for every one, so that none still on its way counts later.
        retained = len({suffix for suffix, _ in events})
        assert wait_until(lambda: state.snapshot(histories=False).accepted >= retained, 10)
        first = state.snapshot(histories=False)
        assert first.accepted == retained
        hub.connect(settings)  # type: ignore[arg-type]  # Connect / Reconnect with the same settings
        assert wait_until(lambda: state.snapshot(histories=False).duplicates >= first.accepted, 5)
        assert state.snapshot(histories=False).accepted == first.accepted
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.mark.integration
def test_tls_trusts_the_ca_file_from_the_environment(tmp_path: Path, tls_files: TlsFiles) -> None:
    # The broker's certificate is signed by a throwaway CA: only MQTT_CA_FILE makes it trusted
    # (the ingest used to ignore it and check against the system CAs).
    broker = start_tls_broker(tmp_path / "mosquitto", tls_files.ca, tls_files.cert, tls_files.key)
    try:
        env = {"MQTT_TLS": "1", "MQTT_CA_FILE": str(tls_files.ca)}
        settings = resolve_mqtt_settings(env, host="127.0.0.1", port=broker.port, topic=BASE)
        state = LiveState(set())
        ingest = Ingest(settings, state).start()
        try:
            assert wait_until(lambda: state.snapshot(data=False).status == "connected", 10)
        finally:
            ingest.stop()
    finally:
        broker.stop()


def test_a_ca_file_that_is_not_pem_leaves_the_client_down(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    env = {"MQTT_TLS": "1", "MQTT_CA_FILE": str(bad)}
    settings = resolve_mqtt_settings(env, host="127.0.0.1", port=free_port(), topic=BASE)
    state = LiveState(set())
    ingest = Ingest(settings, state).start()
    try:
        snap = state.snapshot(data=False)
        assert snap.status == "down"
        assert "cannot load the CA file" in snap.status_detail
        # Never connects without the TLS that was asked for.
        assert ingest.client._thread is None  # no loop thread was started
    finally:
        ingest.stop()


def _hostile_payloads(n: int, seed: int = 7) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    shapes = [
        lambda: (
            f"{BASE}/facility/TCOAL1",
            bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))),
        ),
        lambda: (
            f"{BASE}/facility/TCOAL1",
            _with(GOOD_FAC, power_mw=rng.choice([1e9, -1e9, "x", None, [], {}]), co2_tonnes=-5),
        ),
        lambda: (f"{BASE}/market/VIC1", _with(GOOD_MKT, extra=rng.random())),
        lambda: (f"{BASE}/facility/TCOAL1", b"x" * rng.randint(1025, 4000)),
        lambda: (f"{BASE}/facility/TCOAL1", _with(GOOD_FAC, timestamp="2025-10-15T10:05:00")),
        lambda: (f"{BASE}/facility/A{rng.randint(0, 9)}", _j(GOOD_FAC)),
        lambda: (
            f"{BASE}/market/VIC1",
            b'{"region_id":"VIC1","timestamp":"2025-10-15T10:05:00+10:00","price_dmwh":NaN,"demand_mw":1}',
        ),
        lambda: (f"{BASE}/nonsense/{rng.randint(0, 99)}", b"{}"),
    ]
    return [rng.choice(shapes)() for _ in range(n)]


@pytest.mark.integration
@pytest.mark.slow
def test_ten_thousand_hostile_payloads_are_all_counted_and_valid_data_still_arrives(
    mosquitto, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    state, settings = _state_and_settings(mosquitto.port)
    ingest = Ingest(settings, state).start()  # type: ignore[arg-type]
    try:
        assert wait_until(lambda: state.snapshot(histories=False).status == "connected", 5)
        hostile = _hostile_payloads(10_000)
        publish_raw(mosquitto.port, hostile)
        assert wait_until(lambda: state.snapshot(histories=False).received >= 10_000, 30)
        snap = state.snapshot(histories=False)
        assert snap.received == 10_000
        assert snap.rejected == 10_000 and snap.accepted == 0
        assert sum(snap.rejects_by_reason.values()) == 10_000
        assert {
            "bad_json",
            "out_of_range",
            "extra_key",
            "oversize",
            "naive_timestamp",
            "topic",
        } <= set(snap.rejects_by_reason)
        assert ingest.is_connected
        events = read_csv_events(write_consolidate_csv(tmp_path / "c.csv", intervals=4))
        publish_events(mosquitto.port, BASE, events, retain=False)
        assert wait_until(lambda: state.snapshot(histories=False).accepted == len(events), 10)
    finally:
        ingest.stop()


@pytest.mark.integration
@pytest.mark.slow
def test_reconnects_within_five_seconds_after_the_broker_restarts(
    mosquitto, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    state, settings = _state_and_settings(mosquitto.port)
    ingest = Ingest(settings, state).start()  # type: ignore[arg-type]
    try:
        assert wait_until(lambda: state.snapshot(histories=False).status == "connected", 5)
        mosquitto.kill()
        assert wait_until(lambda: state.snapshot(histories=False).status == "reconnecting", 5)
        time.sleep(3)  # let the backoff grow to its ceiling
        mosquitto.start()
        back = time.monotonic()
        assert wait_until(lambda: state.snapshot(histories=False).status == "connected", 5), (
            "the dashboard did not reconnect within 5 s of the broker coming back"
        )
        assert time.monotonic() - back <= 5.0
        assert ingest.connects == 2
        # Subscribed again: new data arrives.
        events = read_csv_events(write_consolidate_csv(tmp_path / "c.csv", intervals=2))
        publish_events(mosquitto.port, BASE, events, retain=False)
        assert wait_until(lambda: state.snapshot(histories=False).accepted >= len(events), 10)
    finally:
        ingest.stop()


def test_broker_down_is_reported_and_stop_is_clean(tmp_path: Path) -> None:
    from tests.conftest import free_port

    state, settings = _state_and_settings(free_port())
    ingest = Ingest(settings, state).start()  # type: ignore[arg-type]
    try:
        assert wait_until(lambda: state.snapshot(histories=False).status == "down", 5)
        assert "waiting for broker" in state.snapshot(histories=False).status_detail
    finally:
        ingest.stop()
        ingest.stop()  # idempotent
    assert state.snapshot(histories=False).status == "stopped"
