"""LiveState's alerts: read from the bus, bounded, hostile ones counted by reason."""

from __future__ import annotations

import pytest

from nemlive.dashboard.livestate import RESOLVED_LEN, LiveState
from nemlive.store import AlertRecord
from tests.support_state import alert_payload, send

TOPIC = "b/alert/sa-spike/SA1"
SINCE = 1760486700  # 2025-10-15T10:05:00+10:00
AT2 = "2025-10-15T10:10:00+10:00"


def test_a_retained_firing_alert_is_kept_until_resolved() -> None:
    state = LiveState(set(), clock=lambda: SINCE + 900.0)
    assert send(state, TOPIC, alert_payload(), retained=True) == "stored"
    assert send(state, TOPIC, alert_payload()) == "duplicate"  # the live copy of it
    snap = state.snapshot(data=False)
    assert snap.alerts_firing == [
        AlertRecord(
            "sa-spike", "price_above", "SA1", "firing", SINCE, SINCE, 15000.0, 300.0, SINCE + 900
        )
    ]
    version = snap.alert_version
    assert send(state, TOPIC, alert_payload("sa-spike", "SA1", "resolved", at=AT2)) == "stored"
    assert send(state, TOPIC, b"", retained=True) == "stored"  # the retained one cleared
    snap = state.snapshot(data=False)
    assert snap.alerts_firing == []
    assert [(r.state, r.at) for r in snap.alerts_resolved] == [("resolved", SINCE + 300)]
    assert snap.alert_version > version and snap.rejected == 0


def test_an_empty_retained_payload_ends_a_firing_alert() -> None:
    state = LiveState(set(), clock=lambda: SINCE + 900.0)
    send(state, TOPIC, alert_payload())
    send(state, TOPIC, b"", retained=True)
    assert state.snapshot(data=False).alerts_firing == []


def test_firing_alerts_are_listed_newest_first_and_updated_in_place() -> None:
    ticks = iter(range(10_000))
    state = LiveState(set(), clock=lambda: SINCE + 900.0 + next(ticks))
    send(state, TOPIC, alert_payload(at=AT2))
    send(state, "b/alert/trip/BAYSW", alert_payload("trip", "BAYSW", kind="facility_trip"))
    assert [r.subject for r in state.snapshot(data=False).alerts_firing] == ["SA1", "BAYSW"]
    send(state, "b/alert/trip/BAYSW", alert_payload("trip", "BAYSW", at=AT2, value=1.0))
    firing = state.snapshot(data=False).alerts_firing
    assert [(r.subject, r.at, r.value) for r in firing] == [
        ("BAYSW", SINCE + 300, 1.0),  # the same `at`, received later
        ("SA1", SINCE + 300, 15000.0),
    ]


def test_a_forged_flood_of_alerts_keeps_at_most_the_bound_and_counts_the_rest() -> None:
    state = LiveState(set(), clock=lambda: SINCE + 900.0, max_alerts=10, batch=64)
    for i in range(500):
        state.receive("b", f"b/alert/flood/F{i}", alert_payload("flood", f"F{i}"))
    for i in range(200):
        state.receive(
            "b", f"b/alert/flood/R{i}", alert_payload("flood", f"R{i}", "resolved", value=None)
        )
    snap = state.snapshot(data=False)
    assert len(snap.alerts_firing) == 10 and snap.alert_overflow == 490
    assert len(snap.alerts_resolved) == RESOLVED_LEN
    assert snap.alerts_resolved[0].subject == "R199"  # newest first
    # A held alert is still updated, and a freed place is taken again.
    send(state, "b/alert/flood/F0", b"")
    assert send(state, "b/alert/flood/NEW", alert_payload("flood", "NEW")) == "stored"
    assert len(state.snapshot(data=False).alerts_firing) == 10


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"{", "bad_json"),
        (TOPIC, b"[]", "not_an_object"),
        ("b/alert/sa-spike", alert_payload(), "topic"),
        ("b/alert/sa-spike/SA1/x", alert_payload(), "topic"),
        ("b/alert/other/SA1", alert_payload(), "id_mismatch"),
        (TOPIC, alert_payload(state="burning"), "bad_type"),
        (TOPIC, alert_payload(at="2025-10-15T10:05:00"), "naive_timestamp"),
        (TOPIC, alert_payload(at="2199-01-01T10:00:00+10:00"), "future"),
        (TOPIC, alert_payload().replace(b'"value": 15000.0', b'"value": NaN'), "not_finite"),
        (TOPIC, alert_payload()[:-1] + b',"html":"<b>x</b>"}', "extra_key"),
        (TOPIC, b" " * 5000, "oversize"),
        (
            "b/alert/<script>/SA1",
            alert_payload("<script>"),
            "bad_type",
        ),
    ],
    ids=[
        "bad-json",
        "array",
        "short-topic",
        "long-topic",
        "mismatch",
        "state",
        "naive",
        "future",
        "nan",
        "extra",
        "big",
        "script-rule",
    ],
)
def test_hostile_alerts_are_counted_by_reason_and_keep_nothing(
    topic: str, payload: bytes, reason: str
) -> None:
    state = LiveState(set(), clock=lambda: SINCE + 900.0)
    assert send(state, topic, payload) == reason
    snap = state.snapshot(data=False)
    assert snap.rejects_by_reason == {reason: 1}
    assert snap.alerts_firing == [] and snap.alerts_resolved == []
