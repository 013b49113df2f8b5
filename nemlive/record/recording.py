"""The recorder's pure core: MQTT messages -> store readings, and reject counts.

Each message is validated with the wire schema's own decoder (``nemlive.common.events``), exactly as
the dashboard validates it. Facility, market and interchange events become readings; the
publisher's status is valid but not history; anything else is counted by its reason and dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from nemlive.common.events import (
    FacilityEvent,
    InterchangeEvent,
    InvalidEvent,
    MarketEvent,
    decode_event,
)
from nemlive.store import Reading, dedupe_readings


@dataclass(frozen=True, slots=True)
class Inbound:
    """One received MQTT message, as the callback hands it over.

    ``generation``: which connection delivered it (an acknowledgement is only valid on the
    connection that received the message). ``arrived``: time.monotonic() on arrival.
    """

    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    arrived: float = 0.0


@dataclass
class Converted:
    """Readings of one batch, deduplicated by (id, ts), and what was dropped or skipped."""

    facility: list[Reading] = field(default_factory=list)
    market: list[Reading] = field(default_factory=list)
    interchange: list[Reading] = field(default_factory=list)
    rejects: Counter[str] = field(default_factory=Counter)
    first_reject: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # reason -> topic, detail
    statuses: int = 0


def convert_messages(base_topic: str, messages: Iterable[Inbound]) -> Converted:
    """Validate ``messages`` and turn the valid data events into readings (ts: UTC epoch s)."""
    out = Converted()
    facility: list[Reading] = []
    market: list[Reading] = []
    interchange: list[Reading] = []
    for msg in messages:
        try:
            event = decode_event(base_topic, msg.topic, msg.payload)
        except InvalidEvent as exc:
            out.rejects[exc.reason] += 1
            out.first_reject.setdefault(exc.reason, (msg.topic, exc.detail))
            continue
        if isinstance(event, FacilityEvent):
            facility.append(
                (
                    event.facility_id,
                    int(event.timestamp.timestamp()),
                    event.power_mw,
                    event.co2_tonnes,
                )
            )
        elif isinstance(event, MarketEvent):
            market.append(
                (
                    event.region_id,
                    int(event.timestamp.timestamp()),
                    event.price_dmwh,
                    event.demand_mw,
                )
            )
        elif isinstance(event, InterchangeEvent):
            interchange.append(
                (
                    event.region_id,
                    int(event.timestamp.timestamp()),
                    event.imports_mw,
                    event.exports_mw,
                )
            )
        else:
            out.statuses += 1
    out.facility = dedupe_readings(facility)
    out.market = dedupe_readings(market)
    out.interchange = dedupe_readings(interchange)
    return out


def describe_rejects(rejects: Counter[str]) -> str:
    """``"3 (bad_json 2, extra_key 1)"``, most frequent first; ``"0"`` when none."""
    total = sum(rejects.values())
    if not total:
        return "0"
    parts = ", ".join(f"{reason} {count}" for reason, count in rejects.most_common())
    return f"{total} ({parts})"
