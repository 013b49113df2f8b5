"""The alerter's shell without a broker: hostile traffic counted by reason, the state file,
and recovery when the state file is older than the retained alerts."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nemlive.alert import AlertService, Evaluator, Rule, Transition, WebhookSink
from nemlive.alert.service import Inbound, to_alert
from nemlive.common.errors import NemLiveError
from nemlive.common.events import encode_alert, encode_facility_event, encode_market_event
from nemlive.common.mqttconfig import MqttSettings
from nemlive.common.nemtime import NEM_TZ

T0 = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)
BASE = "nem/stream"


class FakeOutlet:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, payload))

    def close(self) -> None:
        pass


def service(tmp_path: Path, rules: list[Rule], fuels: dict[str, str] | None = None) -> AlertService:
    svc = AlertService(
        MqttSettings(), "test-alerts", Evaluator(rules, fuels or {}), tmp_path / "state.json"
    )
    svc.outlet = FakeOutlet()  # type: ignore[assignment]
    svc._held = None  # recovered: evaluate at once
    return svc


def msg(topic: str, payload: bytes, retain: bool = False) -> Inbound:
    return Inbound(0, 0, 0, topic, payload, retain)  # QoS 0: nothing to acknowledge


def ts(i: int) -> str:
    return (T0 + timedelta(minutes=5 * i)).isoformat()


def price(i: int, region: str, value: float) -> Inbound:
    return msg(f"{BASE}/market/{region}", encode_market_event(region, ts(i), value, 5000.0))


HOT = Rule("hot", "price_above", 300.0, region="SA1")


def test_hostile_traffic_is_counted_by_reason_and_never_evaluated(tmp_path: Path) -> None:
    svc = service(tmp_path, [HOT])
    for m in [
        msg(f"{BASE}/market/SA1", b"{not json"),
        msg(f"{BASE}/market/SA1", encode_market_event("VIC1", ts(0), 900.0, 1.0)),
        msg(f"{BASE}/nope/SA1", b"{}"),
        msg(f"{BASE}/market/SA1", b'{"region_id":"SA1"}'),
        msg(f"{BASE}/market/SA1", encode_market_event("SA1", ts(0), 900.0, 1.0), retain=True),
        msg(
            f"{BASE}/market/SA1", encode_market_event("SA1", "2199-01-01T00:00:00+10:00", 9.0, 1.0)
        ),
        msg(f"{BASE}/alert/hot/SA1", b"forged"),
    ]:
        svc.handle(m)
    assert dict(svc.rejects) == {
        "bad_json": 1,
        "id_mismatch": 1,
        "topic": 1,
        "missing_key": 1,
    }
    assert svc.evaluator.counts["retained"] == 1 and svc.evaluator.counts["future"] == 1
    assert svc.outlet.sent == []  # type: ignore[attr-defined]


def test_an_alert_is_published_retained_then_resolved_and_cleared(tmp_path: Path) -> None:
    svc = service(tmp_path, [HOT])
    for i, value in enumerate([900.0, 10.0, 10.0]):
        svc.handle(price(i, "SA1", value))
    svc.emit(svc.evaluator.flush())
    sent = svc.outlet.sent  # type: ignore[attr-defined]
    topic = f"{BASE}/alert/hot/SA1"
    assert [t for t, _ in sent] == [topic] * 3
    assert json.loads(sent[0][1])["state"] == "firing"
    assert json.loads(sent[1][1]) == {
        "rule": "hot",
        "kind": "price_above",
        "subject": "SA1",
        "state": "resolved",
        "since": "2025-10-01T00:05:00+10:00",
        "at": "2025-10-01T00:10:00+10:00",
        "value": 10.0,
        "threshold": 300.0,
    }
    assert sent[2][1] == b""  # the retained message cleared
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["evaluated"]["market"] == int((T0 + timedelta(minutes=5)).timestamp())


def test_a_state_file_older_than_the_retained_alerts_announces_nothing_twice(
    tmp_path: Path,
) -> None:
    """Killed after the alert went out, before the state file said so: the restarted alerter
    evaluates that interval again (the broker resends it) and stays quiet."""
    first = service(tmp_path, [HOT])
    first.handle(price(0, "SA1", 10.0))
    first.emit(first.evaluator.flush())
    first.persist()
    old_state = (tmp_path / "state.json").read_bytes()
    first.handle(price(1, "SA1", 900.0))
    transitions = first.evaluator.flush()
    assert [t.state for t in transitions] == ["firing"]
    retained = {f"{BASE}/alert/hot/SA1": to_alert(transitions[0])}
    (tmp_path / "state.json").write_bytes(old_state)  # the kill: the file never moved on

    second = service(tmp_path, [HOT])
    second.evaluator.restore(json.loads(old_state), 0.0)
    second._adopt(retained)
    second.handle(price(1, "SA1", 900.0))
    second.handle(price(2, "SA1", 10.0))
    second.emit(second.evaluator.flush())
    sent = [json.loads(p) for _, p in second.outlet.sent if p]  # type: ignore[attr-defined]
    assert [(a["state"], a["since"], a["at"]) for a in sent] == [
        ("resolved", ts(1), ts(2)),
    ]


def test_a_retained_resolved_alert_is_cleared_at_start(tmp_path: Path) -> None:
    svc = service(tmp_path, [HOT])
    alert = to_alert(
        Transition("hot", "price_above", "SA1", "resolved", 1759240200, 1759240500, 1.0, 300.0)
    )
    svc._adopt({f"{BASE}/alert/hot/SA1": alert})
    assert svc.outlet.sent == [(f"{BASE}/alert/hot/SA1", b"")]  # type: ignore[attr-defined]
    assert svc.evaluator.firing() == {}
    assert encode_alert(alert)  # and it is a valid payload


def test_a_forged_flood_of_trips_is_rate_limited(tmp_path: Path) -> None:
    fuels = {f"F{n:03d}": "coal" for n in range(100)}
    svc = service(tmp_path, [Rule("trip", "facility_trip", 5.0, rate_limit=5)], fuels)
    for i, mw in ((0, 500.0), (1, 0.0)):
        for fid in fuels:
            svc.handle(msg(f"{BASE}/facility/{fid}", encode_facility_event(fid, ts(i), mw, 0.0)))
    svc.emit(svc.evaluator.flush())
    firing = [p for _, p in svc.outlet.sent if p and b'"firing"' in p]  # type: ignore[attr-defined]
    assert len(firing) == 5 and svc.evaluator.counts["rate_limited"] == 95


def test_an_unreadable_state_file_says_what_to_do(tmp_path: Path) -> None:
    svc = service(tmp_path, [HOT])
    (tmp_path / "state.json").write_text('{"version": 1, "evaluated": 3}')
    with pytest.raises(NemLiveError, match="delete it to start afresh") as caught:
        svc.recover()
    assert caught.value.exit_code == 1


def test_a_webhook_that_never_answers_never_delays_the_evaluation(tmp_path: Path) -> None:
    gate = threading.Event()

    def stuck(url: str, body: bytes, content_type: str, timeout: float) -> None:
        gate.wait()  # a webhook that hangs until the test lets it go

    sink = WebhookSink("http://127.0.0.1:9/hook", post=stuck, max_queued=10).start()
    svc = service(tmp_path, [HOT])
    svc.sinks = (sink,)
    evaluated = threading.Event()

    def feed() -> None:
        for i in range(200):  # 100 firings and 100 resolutions
            svc.handle(price(i, "SA1", 900.0 if i % 2 == 0 else 10.0))
        evaluated.set()

    threading.Thread(target=feed, daemon=True).start()
    # Every interval is evaluated while the webhook is still stuck: a wait on it would never end.
    finished = evaluated.wait(120)
    gate.set()
    sink.stop()
    assert finished, "the evaluation waited on a webhook that never answers"
    assert svc.published == {"firing": 100, "resolved": 99}
    assert sink.counts["dropped"] == 199 - 10  # the ten newest wait (the oldest in flight)


def test_the_retained_alerts_of_a_removed_rule_are_cleared(tmp_path: Path) -> None:
    svc = service(tmp_path, [HOT])
    gone = Transition("gone", "price_above", "SA1", "firing", 1759240200, 1759240200, 1.0, 9.0)
    svc._adopt({f"{BASE}/alert/gone/SA1": to_alert(gone)})
    assert svc.outlet.sent == [(f"{BASE}/alert/gone/SA1", b"")]  # type: ignore[attr-defined]
    assert svc.evaluator.firing() == {}


class FakeClient:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)


def test_messages_are_acknowledged_once_their_interval_is_evaluated_and_written(
    tmp_path: Path,
) -> None:
    svc = service(tmp_path, [HOT])
    fake = FakeClient()
    svc.client = fake  # type: ignore[assignment]
    mid = iter(range(1, 100))

    def qos1(i: int, region: str) -> Inbound:
        m = price(i, region, 50.0)
        return m._replace(mid=next(mid), qos=1)

    for region in ("NSW1", "QLD1"):  # interval 0 stays open
        svc.handle(qos1(0, region))
    svc.handle(qos1(0, "SA1")._replace(payload=b"{bad"))  # rejected: acknowledged at once
    svc.handle(qos1(-1, "VIC1"))  # late: acknowledged at the next write
    svc.handle(msg(f"{BASE}/market/VIC1", b"{}")._replace(qos=1, mid=99, generation=-1))
    assert fake.acked == [3]
    svc.persist()
    assert fake.acked == [3, 4]  # the open interval's two wait; another session's never
    for region in ("SA1", "VIC1", "TAS1"):  # the five regions complete interval 0
        svc.handle(qos1(0, region))
    svc.handle(qos1(1, "NSW1"))  # opens interval 1
    assert fake.acked == [3, 4]
    svc.persist()
    assert sorted(fake.acked) == [1, 2, 3, 4, 5, 6, 7]
    assert json.loads(svc.state_path.read_text())  # written before
    svc.evaluator.flush()
    svc.persist()
    assert sorted(fake.acked) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_the_clock_s_state_write_runs_outside_the_lock_then_acknowledges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nemlive.alert.service as service_module

    svc = service(tmp_path, [HOT])
    fake = FakeClient()
    svc.client = fake  # type: ignore[assignment]
    svc.handle(price(0, "SA1", 50.0)._replace(mid=7, qos=1))
    svc.handle(price(-1, "SA1", 50.0)._replace(mid=8, qos=1))  # late: acknowledged next write
    writes: list[bool] = []
    real_write = service_module.write_files_atomically

    def write(files):  # type: ignore[no-untyped-def]
        free = svc._lock.acquire(blocking=False)  # paho's thread could evaluate meanwhile
        if free:
            svc._lock.release()
        writes.append(free)
        assert fake.acked == []  # nothing acknowledged before the file says so
        real_write(files)

    monkeypatch.setattr(service_module, "write_files_atomically", write)
    svc._last_persist = 0.0
    svc._tick()
    assert writes == [True] and fake.acked == [8]  # 7's interval is still open
    assert json.loads(svc.state_path.read_text())["version"] == 1
    svc._tick()  # nothing new since: no write
    assert writes == [True]
