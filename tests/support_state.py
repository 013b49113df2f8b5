"""Feed a LiveState through its public path and tell what became of each message.

A message goes in as the MQTT callback sends it (``LiveState.receive``) and is read back with a
counters-only snapshot, which works through the inbox first. The outcome is read off the
counters: ``stored``, ``duplicate``, ``stale``, ``unknown`` or the reject reason.
"""

from __future__ import annotations

import json

from nemlive.common.events import (
    FacilityEvent,
    MarketEvent,
    StatusEvent,
    encode_facility_event,
    encode_market_event,
    encode_status,
    format_timestamp,
)
from nemlive.dashboard.livestate import LiveState, Snapshot


def send(
    state: LiveState, topic: str, payload: bytes, retained: bool = False, base: str = "b"
) -> str:
    """Receive one raw message and return its outcome."""
    before = state.snapshot(data=False)
    state.receive(base, topic, payload, retained)
    return outcome(before, state.snapshot(data=False))


def send_event(
    state: LiveState,
    event: FacilityEvent | MarketEvent | StatusEvent,
    retained: bool = False,
    base: str = "b",
) -> str:
    """Encode a validated event as the publisher would, receive it, return its outcome."""
    if isinstance(event, FacilityEvent):
        topic = f"{base}/facility/{event.facility_id}"
        payload = encode_facility_event(
            event.facility_id, format_timestamp(event.timestamp), event.power_mw, event.co2_tonnes
        )
    elif isinstance(event, MarketEvent):
        topic = f"{base}/market/{event.region_id}"
        payload = encode_market_event(
            event.region_id, format_timestamp(event.timestamp), event.price_dmwh, event.demand_mw
        )
    else:
        topic, payload = f"{base}/status", encode_status(event)
    return send(state, topic, payload, retained, base)


def outcome(before: Snapshot, after: Snapshot) -> str:
    """What one message did, from the counters before and after it."""
    if after.accepted > before.accepted:
        return "stored"
    if after.duplicates > before.duplicates:
        return "duplicate"
    if after.stale > before.stale:
        return "stale"
    if after.unknown_events > before.unknown_events:
        return "unknown"
    grown = [
        reason
        for reason, n in after.rejects_by_reason.items()
        if n > before.rejects_by_reason.get(reason, 0)
    ]
    if len(grown) == 1:
        return grown[0]
    raise AssertionError(f"no single outcome: {before} -> {after}")


def count_points(snapshot: Snapshot) -> int:
    """Stored points across every facility and region history."""
    return sum(map(len, snapshot.facility_history.values())) + sum(
        map(len, snapshot.region_history.values())
    )


def alert_payload(
    rule: str = "sa-spike",
    subject: str = "SA1",
    state: str = "firing",
    *,
    since: str = "2025-10-15T10:05:00+10:00",
    at: str = "2025-10-15T10:05:00+10:00",
    value: float | None = 15000.0,
    threshold: float = 300.0,
    kind: str = "price_above",
) -> bytes:
    """An alert message's payload as the alerter publishes it (docs/alerts.md)."""
    return json.dumps(
        {
            "rule": rule,
            "kind": kind,
            "subject": subject,
            "state": state,
            "since": since,
            "at": at,
            "value": value,
            "threshold": threshold,
        }
    ).encode()
