"""The recorder's pure core: MQTT messages -> store readings, and reject counts.

Each message is validated with the wire schema's own decoder (``nemlive.common.events``), exactly as
the dashboard validates it. Facility, market and interchange events become readings; the
publisher's status is valid but not history; anything else is counted by its reason and dropped.
Two more rules keep one forged message or a flood out of the store:

* ``future``: an interval ending more than ``timeguard.FUTURE_MARGIN_S`` after the clock
  (``nemlive.common.timeguard``); one such reading would otherwise become the store's newest.
* Alerts (``<base>/alert/<rule>/<subject>``, docs/alerts.md) are validated with
  ``decode_alert`` and become :class:`AlertRecord` rows; an empty payload (a cleared retained
  alert) is no event and is only counted (``Converted.cleared``).
* ``unknown``: a facility missing from the lookup table, or a region other than the five
  (:class:`Admission`); invented ids would otherwise add rows without end. Their names, up to a
  bound, are kept by :class:`UnknownIds` so the operator can see what was left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from nemlive.common import nemtime, timeguard
from nemlive.common.events import (
    REGIONS,
    FacilityEvent,
    InterchangeEvent,
    InvalidEvent,
    MarketEvent,
    decode_alert,
    decode_event,
    is_alert_topic,
)
from nemlive.store import AlertRecord, Reading, dedupe_alerts, dedupe_readings

UNKNOWN_REASON = "unknown"
MAX_UNKNOWN_NAMES = 1_000  # distinct unknown ids kept by name; beyond, only counted


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
    alerts: list[AlertRecord] = field(default_factory=list)
    statuses: int = 0
    cleared: int = 0  # empty alert payloads: a retained alert cleared, no event
    unknown_ids: list[str] = field(default_factory=list)  # distinct, in arrival order

    def reject(self, reason: str, topic: str, detail: str) -> None:
        self.rejects[reason] += 1
        self.first_reject.setdefault(reason, (topic, detail))


@dataclass(frozen=True)
class Admission:
    """The ids whose readings are recorded: the lookup's facilities and the five regions.

    ``facilities`` None records every facility id (``--record-all``). Regions are always the
    five: the wire schema refuses any other.
    """

    facilities: frozenset[str] | None
    regions: frozenset[str] = frozenset(REGIONS)

    def admits_facility(self, facility_id: str) -> bool:
        return self.facilities is None or facility_id in self.facilities

    def admits_region(self, region_id: str) -> bool:
        return region_id in self.regions


ADMIT_ALL = Admission(facilities=None)


def _to_reading(event: FacilityEvent | MarketEvent | InterchangeEvent) -> Reading:
    ts = int(event.timestamp.timestamp())
    if isinstance(event, FacilityEvent):
        return (event.facility_id, ts, event.power_mw, event.co2_tonnes)
    if isinstance(event, MarketEvent):
        return (event.region_id, ts, event.price_dmwh, event.demand_mw)
    return (event.region_id, ts, event.imports_mw, event.exports_mw)


def _alert_record(base_topic: str, msg: Inbound, now: float, out: Converted) -> None:
    """Validate one alert message into ``out``: a row, a cleared count or a reject."""
    try:
        alert = decode_alert(base_topic, msg.topic, msg.payload)
    except InvalidEvent as exc:
        out.reject(exc.reason, msg.topic, exc.detail)
        return
    if alert is None:
        out.cleared += 1
        return
    at = int(alert.at.timestamp())
    if timeguard.is_future(at, now):
        when = nemtime.format_nem_epoch(at)
        out.reject(timeguard.FUTURE_REASON, msg.topic, f"at {when} NEM time, ahead of the clock")
        return
    out.alerts.append(AlertRecord.of(alert, now))


def convert_messages(
    base_topic: str,
    messages: Iterable[Inbound],
    now: float,
    admission: Admission = ADMIT_ALL,
) -> Converted:
    """Validate ``messages`` and turn the valid data events into readings (ts: UTC epoch s).

    ``now``: the wall clock (epoch s); a data event whose interval ends more than
    ``timeguard.FUTURE_MARGIN_S`` after it is rejected as ``future``. A data event of an id
    ``admission`` does not admit is rejected as ``unknown`` and its id listed in
    ``unknown_ids``. Status events are not data and pass neither test. Alert messages
    become ``alerts`` (received at ``now``; one per key), rejected as ``future`` when their
    ``at`` is ahead of the clock.
    """
    out = Converted()
    kinds: dict[type, list[Reading]] = {FacilityEvent: [], MarketEvent: [], InterchangeEvent: []}
    unknown: dict[str, None] = {}
    for msg in messages:
        if is_alert_topic(base_topic, msg.topic):
            _alert_record(base_topic, msg, now, out)
            continue
        try:
            event = decode_event(base_topic, msg.topic, msg.payload)
        except InvalidEvent as exc:
            out.reject(exc.reason, msg.topic, exc.detail)
            continue
        if not isinstance(event, FacilityEvent | MarketEvent | InterchangeEvent):
            out.statuses += 1
            continue
        reading = _to_reading(event)
        if timeguard.is_future(reading[1], now):
            when = nemtime.format_nem_epoch(reading[1])
            out.reject(
                timeguard.FUTURE_REASON, msg.topic, f"ends {when} NEM time, ahead of the clock"
            )
            continue
        admitted = (
            admission.admits_facility(reading[0])
            if isinstance(event, FacilityEvent)
            else admission.admits_region(reading[0])
        )
        if not admitted:
            out.reject(UNKNOWN_REASON, msg.topic, "not in the lookup table")
            unknown[reading[0]] = None
            continue
        kinds[type(event)].append(reading)
    out.facility = dedupe_readings(kinds[FacilityEvent])
    out.market = dedupe_readings(kinds[MarketEvent])
    out.interchange = dedupe_readings(kinds[InterchangeEvent])
    out.alerts = dedupe_alerts(out.alerts)
    out.unknown_ids = list(unknown)
    return out


@dataclass
class UnknownIds:
    """The first ``max_names`` distinct unknown ids by name, and whether more came."""

    max_names: int = MAX_UNKNOWN_NAMES
    names: dict[str, None] = field(default_factory=dict)
    overflow: bool = False

    def add(self, ids: Iterable[str]) -> None:
        for ident in ids:
            if ident in self.names:
                continue
            if len(self.names) < self.max_names:
                self.names[ident] = None
            else:
                # Past the bound names are not kept, so ids are no longer told apart.
                self.overflow = True

    def count_text(self) -> str:
        """``"3"``, or ``"1,000+"`` when more distinct ids came than are kept."""
        return f"{len(self.names):,}" + ("+" if self.overflow else "")

    def describe(self, shown: int = 20) -> str:
        """``"3 ids: A, B, C"``; past ``shown`` names ``"1,000+ ids: A, B, ... and 980 more"``
        (``+``: more distinct ids came than are kept)."""
        count = self.count_text()
        listed = list(self.names)
        text = ", ".join(listed[:shown])
        if len(listed) > shown:
            text += f" and {len(listed) - shown:,} more"
        return f"{count} ids: {text}"


def describe_rejects(rejects: Counter[str]) -> str:
    """``"3 (bad_json 2, extra_key 1)"``, most frequent first; ``"0"`` when none."""
    total = sum(rejects.values())
    if not total:
        return "0"
    parts = ", ".join(f"{reason} {count}" for reason, count in rejects.most_common())
    return f"{total} ({parts})"
