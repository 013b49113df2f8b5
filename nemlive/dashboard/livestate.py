"""LiveState: what the dashboard knows about the stream, shared by the MQTT thread and the page.

The paho loop thread is the only writer (``receive``, ``set_status``); Streamlit script runs are
readers (``snapshot``, ``counts``). Every method takes the one lock, except ``receive``'s append
to the inbox of raw messages; ``snapshot`` returns plain copies (dicts, lists, tuples of numbers
and strings) so the page renders outside the lock.

Bounds, so memory stays flat however long the dashboard runs:

* ``history_len`` (default 288 = 24 hours of 5-minute intervals) values per facility and per
  region. An event older than that before the newest data is ignored as ``stale``.
* Histories only for the facilities of the lookup table and the five regions, so the number
  of series is set by the lookup. A facility id the lookup does not know is never drawn, so its
  events cost a counter and, for the first ``max_unknown`` (default 1,000) ids, a name: no
  value is kept (a hostile stream of invented ids cannot grow the state).
* ``recent_len`` (default 500) rows in each of the recent facility and market event tables.
* ``batch`` (default 256) raw messages waiting in the inbox, each at most
  ``MAX_PAYLOAD_BYTES``: ``receive`` drops a larger one before it is queued.
* Alerts (``<base>/alert/<rule>/<subject>``, docs/alerts.md), read from the bus, never
  evaluated here: at most ``max_alerts`` (default 1,000) firing ones by (rule, subject), the
  rest of a flood counted as ``alert_overflow`` and dropped, and the last ``RESOLVED_LEN`` (50)
  resolved. Each message is validated with ``decode_alert``; an invalid one is counted by its
  reason, never as ``topic``. A ``resolved`` message, or an empty payload (the alerter clearing
  its retained alert), ends a firing one.

**Timestamps ahead of the clock.** The wire schema bounds every timestamp to what the page can
show (``nemlive.common.events.check_interval_time``). On top of that, a data event whose interval
ends more than ``timeguard.FUTURE_MARGIN_S`` after the wall clock is rejected as ``future``,
retained or not (``nemlive.common.timeguard``, the rule the recorder and the store's reads share):
a NEM interval is published once it has ended, so such an event can only be forged, and one
would otherwise move the newest timestamp and push every real value out of the window. A replay
that loops ahead of the clock starts again from its file's own times (``nemlive.publish``).

**Timestamps behind the window.** Only the last ``history_len`` intervals before the newest data
are kept, so an event older than that is ``stale`` even while its history is not full: an old
point cannot stretch the charts' time axis back by months.

Timestamps are stored as integer epoch seconds (UTC); the page formats them in NEM time.

**A stream that restarts elsewhere in time.** Retained messages of an earlier run can leave the
state at a later timestamp than a newly started publisher that replays from the beginning, and a
new stream (another file, or a live follower) can start far ahead. When a live publisher status
``online`` (or ``live``, a publisher following the present) arrives whose ``position`` is more than one interval (``INTERVAL_S``) before the newest
data timestamp, or more than ``FUTURE_LIMIT_S`` after it, the data windows are cleared (latest
values, histories, recent tables, newest/previous timestamps, market tracking) and ``restarts`` is
counted; the counters and the status are kept. A ``--resume``d publisher continues where it was
and clears nothing. Because anyone who can publish on the topic can send a status, a restart
needs a ``client_id`` never seen before (one publisher process never goes back in time, so an
older position from it is only a retained status delivered after newer data on a reconnect), and
clears the windows at most once per ``RESTART_MIN_GAP_S`` (60 s). The ids seen are kept up to
``MAX_SEEN_PUBLISHERS``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from nemlive.common.events import (
    MAX_PAYLOAD_BYTES,
    FacilityEvent,
    InterchangeEvent,
    InvalidEvent,
    MarketEvent,
    StatusEvent,
    decode_alert,
    decode_event,
)
from nemlive.common.nemtime import INTERVAL_S
from nemlive.common.timeguard import FUTURE_MARGIN_S, FUTURE_REASON, is_future, latest_allowed
from nemlive.store.rows import AlertRecord

log = logging.getLogger(__name__)

DEFAULT_HISTORY_LEN = 288  # 24 h of 5-minute intervals
DEFAULT_RECENT_LEN = 500
DEFAULT_MAX_UNKNOWN = 1_000
RATE_WINDOW_S = 10.0
FUTURE_LIMIT_S = 7 * 24 * 3600  # a restart this far ahead of the data starts a new stream
RESTART_MIN_GAP_S = 60.0  # at most one restart clear a minute, whoever sends statuses
MAX_SEEN_PUBLISHERS = 1_024
Recent = tuple[float, str, int, float | None, float | None]  # (arrival, id, ts, a, b)
_STATE_IDS = itertools.count(1)  # tells apart the states of one process (a new broker's)
DEFAULT_BATCH = 256  # raw messages queued before the MQTT thread validates them (see receive)
DEFAULT_MAX_ALERTS = 1_000  # firing alerts kept; a forged flood beyond is counted, not kept
RESOLVED_LEN = 50  # resolved alerts kept, newest last

IngestStatus = Literal["connecting", "connected", "reconnecting", "down", "stopped"]
Applied = Literal["stored", "duplicate", "stale", "unknown", "future"]

# One stored value: (epoch seconds, first value, second value); None = no data.
Point = tuple[int, float | None, float | None]


@dataclass(frozen=True)
class Snapshot:
    """A plain copy of LiveState at one instant. Histories are sorted by time, oldest first.

    ``facility_latest``/``region_latest``: id -> Point of the newest timestamp seen for that id.
    ``facility_history``/``region_history``: id -> list of Points (power MW, t CO2-e) or
    (price $/MWh, demand MW). ``recent_facility``/``recent_market``: newest last, tuples of
    (arrival epoch s, id, epoch s, value1, value2).
    """

    taken_at: float
    status: IngestStatus
    status_detail: str
    broker: str
    topic: str
    received: int
    accepted: int
    rejected: int
    duplicates: int
    stale: int
    rejects_by_reason: dict[str, int]
    last_reject_reason: str
    unknown_ids: list[str]  # the first ``max_unknown`` facility ids missing from the lookup
    unknown_overflow: bool  # more unknown ids came than are listed
    unknown_events: int  # events of unknown ids (valid, counted, not kept)
    rate_per_s: float
    last_message_at: float | None
    publisher_status: dict[str, object] | None
    facility_latest: dict[str, Point]
    region_latest: dict[str, Point]
    facility_history: dict[str, list[Point]]
    region_history: dict[str, list[Point]]
    recent_facility: list[tuple[float, str, int, float | None, float | None]]
    recent_market: list[tuple[float, str, int, float | None, float | None]]
    max_ts: int | None
    prev_ts: int | None
    market_regions_at_max: frozenset[str]
    history_len: int = DEFAULT_HISTORY_LEN
    interchange_history: dict[str, list[Point]] = field(default_factory=dict)  # region ->
    # (ts, imports MW, exports MW): what flowed in and out over its interconnectors
    interchange_latest: dict[str, Point] = field(default_factory=dict)  # region -> its newest
    restarts: int = 0  # times the stream restarted earlier in time (data windows cleared)
    version: tuple[int, int] = (0, 0)  # (state, data version): moves whenever data is applied
    status_version: int = 0  # moves with every publisher status (the data version does not)
    arrival_gap_s: float | None = None  # seconds between the arrivals of the two newest intervals
    backfilled: int = 0  # points filled in from the store when the server started
    # Alerts from the bus (AlertRecord: received_at the arrival, epoch s), newest first.
    alerts_firing: list[AlertRecord] = field(default_factory=list)
    alerts_resolved: list[AlertRecord] = field(default_factory=list)  # the last RESOLVED_LEN
    alert_overflow: int = 0  # firing alerts dropped past ``max_alerts``
    alert_version: int = 0  # moves with every change of the alerts kept

    @property
    def unknown_count(self) -> int:
        """Distinct unknown facility ids listed (a lower bound when ``unknown_overflow``)."""
        return len(self.unknown_ids)

    @property
    def last_message_age_s(self) -> float | None:
        """Seconds since the last message arrived (any topic, valid or not)."""
        return (
            None if self.last_message_at is None else max(0.0, self.taken_at - self.last_message_at)
        )


@dataclass
class _Series:
    """Points of one id keyed by epoch seconds; kept sorted, at most ``bound`` entries.

    Values are the Point tuples themselves, so a snapshot copies them with one C-level list().
    """

    bound: int
    values: dict[int, Point] = field(default_factory=dict)
    last_ts: int | None = None

    def add(self, ts: int, a: float | None, b: float | None) -> Applied:
        values = self.values
        if ts in values:
            return "duplicate"
        if self.last_ts is None or ts > self.last_ts:
            values[ts] = (ts, a, b)
            self.last_ts = ts
        else:
            if len(values) >= self.bound and ts < next(iter(values)):
                return "stale"
            values[ts] = (ts, a, b)
            # Out of order (e.g. retained messages after a reconnect): keep the dict sorted.
            self.values = values = dict(sorted(values.items()))
        while len(values) > self.bound:
            del values[next(iter(values))]
        return "stored"

    def latest(self) -> Point | None:
        return None if self.last_ts is None else self.values[self.last_ts]

    def points(self) -> list[Point]:
        return list(self.values.values())


class AlertBoard:
    """The alerts read from the bus: the firing ones by (rule, subject), at most
    ``max_firing`` (the rest of a flood counted in ``overflow``), and the last
    ``RESOLVED_LEN`` resolved. ``version`` moves with every change. Not thread-safe: LiveState
    holds its lock."""

    def __init__(self, max_firing: int = DEFAULT_MAX_ALERTS) -> None:
        self.max_firing = max_firing
        self.firing: dict[tuple[str, str], AlertRecord] = {}
        self.resolved: deque[AlertRecord] = deque(maxlen=RESOLVED_LEN)
        self.overflow = 0
        self.version = 0

    def put(self, record: AlertRecord) -> Literal["stored", "duplicate", "overflow"]:
        key = (record.rule, record.subject)
        if record.state == "resolved":
            self.firing.pop(key, None)
            if any(r.key == record.key for r in self.resolved):  # its retained copy
                return "duplicate"
            self.resolved.append(record)
            self.version += 1
            return "stored"
        held = self.firing.get(key)
        if held is not None and held[:8] == record[:8]:  # all but received_at
            return "duplicate"
        if held is None and len(self.firing) >= self.max_firing:
            self.overflow += 1
            return "overflow"
        self.firing[key] = record
        self.version += 1
        return "stored"

    def clear(self, rule: str, subject: str) -> None:
        """An empty retained payload: the alert of (rule, subject) no longer fires."""
        if self.firing.pop((rule, subject), None) is not None:
            self.version += 1

    def firing_newest_first(self) -> list[AlertRecord]:
        return sorted(self.firing.values(), key=lambda r: (r.at, r.received_at), reverse=True)


def _latest_of(table: Mapping[str, _Series]) -> dict[str, Point]:
    """id -> its newest point, for the series that hold one."""
    return {k: p for k, s in table.items() if (p := s.latest()) is not None}


class LiveState:
    """Thread-safe store of the latest values and bounded histories (see the module doc)."""

    def __init__(
        self,
        known_facilities: Collection[str],
        *,
        history_len: int = DEFAULT_HISTORY_LEN,
        recent_len: int = DEFAULT_RECENT_LEN,
        max_unknown: int = DEFAULT_MAX_UNKNOWN,
        clock: Callable[[], float] = time.time,
        batch: int = DEFAULT_BATCH,
        max_alerts: int = DEFAULT_MAX_ALERTS,
    ) -> None:
        if history_len < 1 or recent_len < 1 or batch < 1 or max_alerts < 1:
            raise ValueError("history_len, recent_len, batch and max_alerts must be positive")
        self._lock = threading.Lock()
        self._uid = next(_STATE_IDS)
        self._version = 0  # moves whenever data is applied (shared page parts key on it)
        self._status_version = 0  # moves with every publisher status, which is not data
        self._advanced_at: float | None = None  # when the newest interval first arrived
        self._arrival_gap_s: float | None = None  # ... and how long after the one before
        self._known = frozenset(known_facilities)
        self._history_len = history_len
        self._window_s = history_len * INTERVAL_S  # the span the histories keep
        self._max_unknown = max_unknown
        self._clock = clock
        self._facilities: dict[str, _Series] = {}
        self._regions: dict[str, _Series] = {}
        self._interchange: dict[str, _Series] = {}  # region -> (imports MW, exports MW)
        self._recent_interchange: deque[Recent] = deque(maxlen=recent_len)
        self._recent_facility: deque[Recent] = deque(maxlen=recent_len)
        self._recent_market: deque[Recent] = deque(maxlen=recent_len)
        self._received = 0
        self._accepted = 0
        self._duplicates = 0
        self._stale = 0
        self._rejects: Counter[str] = Counter()
        self._last_reason = ""
        self._unknown: dict[str, None] = {}
        self._unknown_overflow = False
        self._unknown_events = 0
        self._backfilled = 0  # points filled in from the store (not messages)
        self._last_message_at: float | None = None
        self._rate_samples: deque[tuple[float, int]] = deque(maxlen=64)
        self._status: IngestStatus = "connecting"
        self._status_detail = ""
        self._broker = ""
        self._topic = ""
        self._publisher: dict[str, object] | None = None
        self._max_ts: int | None = None
        self._prev_ts: int | None = None
        self._market_at_max: set[str] = set()
        self._restarts = 0
        self._last_restart_at: float | None = None
        self._seen_publishers: dict[str, None] = {}  # insertion-ordered, bounded
        # Raw messages not yet validated: (arrival time, base topic, topic, payload, retained).
        self._inbox: deque[tuple[float, str, str, bytes, bool]] = deque()
        self._batch = batch
        self._settings = (recent_len, max_unknown)
        self._alerts = AlertBoard(max_alerts)

    def fresh(self) -> LiveState:
        """An empty LiveState with this one's lookup, bounds and clock (a new broker's)."""
        recent_len, max_unknown = self._settings
        return LiveState(
            self._known,
            history_len=self._history_len,
            recent_len=recent_len,
            max_unknown=max_unknown,
            clock=self._clock,
            batch=self._batch,
            max_alerts=self._alerts.max_firing,
        )

    # --- writers (the MQTT thread) ------------------------------------------------------

    def receive(self, base_topic: str, topic: str, payload: bytes, retained: bool = False) -> None:
        """Queue one raw MQTT message for validation and storage: the paho callback.

        The queue is worked through in order, in one go under the lock, when it holds
        ``batch`` messages, and by every reader first (``snapshot``, ``counts``), so the page
        never sees it and a status is applied after the data that came before it. Working in
        batches rather than between two network reads keeps the validator and the windows in
        the CPU caches: on the ingest benchmark that is worth about 15% of the rate. Each
        message keeps its arrival time. Appending to a deque needs no lock.
        """
        if len(payload) > MAX_PAYLOAD_BYTES:
            # Before anything is queued: a flood of large payloads costs a counter, no memory.
            with self._lock:
                self._count_arrival(self._clock())
                self._reject("oversize")
            return
        inbox = self._inbox
        inbox.append((self._clock(), base_topic, topic, payload, retained))
        if len(inbox) >= self._batch:
            with self._lock:
                self._drain()

    def backfill(
        self,
        facility_history: Mapping[str, Sequence[Point]],
        region_history: Mapping[str, Sequence[Point]],
        interchange_history: Mapping[str, Sequence[Point]] | None = None,
    ) -> int:
        """Fill the windows from recorded history (the store) before the stream starts.

        Points go where live events would (facilities of the lookup, the regions' market and
        interchange; the last ``history_len`` intervals before the newest), so a live event
        for an ``(id, ts)`` already here is a duplicate, and one after it continues the window
        without a gap. They count as no message: ``received`` and the recent tables stay as
        they are. Returns the points kept.
        """
        interchange_history = interchange_history or {}
        with self._lock:
            self._drain()
            ceiling = latest_allowed(self._clock())  # a store may hold a forged future row
            newest = max(
                (
                    ts
                    for table in (facility_history, region_history, interchange_history)
                    for points in table.values()
                    for ts, _, _ in points
                    if ts <= ceiling
                ),
                default=None,
            )
            if newest is None:
                return 0
            floor = newest - self._window_s
            kept = 0
            for table, source in (
                (self._facilities, {k: v for k, v in facility_history.items() if k in self._known}),
                (self._regions, region_history),
                (self._interchange, interchange_history),
            ):
                for ident, points in source.items():
                    series = table.setdefault(ident, _Series(self._history_len))
                    kept += sum(
                        series.add(ts, a, b) == "stored"
                        for ts, a, b in points
                        if floor < ts <= newest
                    )
            self._backfilled += kept
            self._version += 1
            self._reset_newest()
            return kept

    def _reset_newest(self) -> None:
        """Newest and previous timestamps, and market regions at the newest, from the series."""
        stamps = {
            ts
            for table in (self._facilities, self._regions, self._interchange)
            for s in table.values()
            for ts in s.values
        }
        ordered = sorted(stamps)
        self._max_ts = ordered[-1] if ordered else None
        self._prev_ts = ordered[-2] if len(ordered) > 1 else None
        self._market_at_max = {r for r, s in self._regions.items() if self._max_ts in s.values}

    @property
    def version(self) -> tuple[int, int]:
        """(this state, its data version): equal versions hold equal data, so the parts of
        the page built from them can be shared by every viewer. Applies the queue first.

        A publisher status is not data: it moves the snapshot's ``status_version`` only (a
        restart it causes clears the windows, and that moves this version)."""
        with self._lock:
            self._drain()
            return self._uid, self._version

    @property
    def known_facilities(self) -> frozenset[str]:
        """The lookup's facility ids: the only ones with a history (and the only ones read
        from a store)."""
        return self._known

    @property
    def history_span_s(self) -> int:
        """Seconds of data the windows keep (``history_len`` intervals)."""
        return self._window_s

    @property
    def queued(self) -> int:
        """Raw messages received but not yet validated (at most ``batch - 1``)."""
        return len(self._inbox)

    def _drain(self) -> None:
        # Caller holds the lock. Only this method takes from the inbox. Whichever thread
        # drains (paho's or a page's), one message that breaks the store must not break it:
        # it is counted as "internal" and logged, and the rest are stored.
        inbox, take = self._inbox, self._take
        for _ in range(len(inbox)):
            item = inbox.popleft()
            try:
                take(*item)
            except Exception:
                self._reject("internal")
                log.exception("could not store a message on %s", item[2])

    def _take(self, now: float, base: str, topic: str, payload: bytes, retained: bool) -> str:
        # Caller holds the lock. Runs for every message, so helper calls are kept few.
        self._count_arrival(now)
        try:
            if topic.startswith(base + "/alert/"):  # is_alert_topic, inline: it runs per message
                return self._put_alert(base, topic, payload, now)
            event = decode_event(base, topic, payload)
        except InvalidEvent as exc:
            self._reject(exc.reason)
            return exc.reason
        kind = type(event)
        if kind is FacilityEvent:
            return self._put_facility(event, now)  # type: ignore[arg-type]
        if kind is MarketEvent:
            return self._put_market(event, now)  # type: ignore[arg-type]
        if kind is InterchangeEvent:
            return self._put(
                self._interchange,
                self._recent_interchange,
                event.region_id,  # type: ignore[union-attr]
                int(event.timestamp.timestamp()),  # type: ignore[union-attr]
                event.imports_mw,  # type: ignore[union-attr]
                event.exports_mw,  # type: ignore[union-attr]
                now,
            )
        self._put_status(event, retained, now)  # type: ignore[arg-type]
        return "stored"

    def _count_arrival(self, now: float) -> None:
        # Caller holds the lock.
        self._received += 1
        self._last_message_at = now
        samples = self._rate_samples
        if not samples or now - samples[-1][0] >= 1.0:
            samples.append((now, self._received))

    def _reject(self, reason: str) -> None:
        self._rejects[reason] += 1
        self._last_reason = reason

    def _put(
        self,
        table: dict[str, _Series],
        recent: deque[tuple[float, str, int, float | None, float | None]],
        ident: str,
        ts: int,
        a: float | None,
        b: float | None,
        now: float,
    ) -> Applied:
        """Store one value in its series, count it, and on success add it to the recent
        table and move the newest/previous timestamps. Caller holds the lock and has checked
        that ``ident`` may have a series (a known facility or a region)."""
        max_ts = self._max_ts
        if ts > now + FUTURE_MARGIN_S:  # timeguard.is_future, inline: it runs per message
            self._reject(FUTURE_REASON)
            return "future"
        if max_ts is not None and ts <= max_ts - self._window_s:
            self._stale += 1
            return "stale"
        series = table.get(ident)
        if series is None:
            series = table[ident] = _Series(self._history_len)
        outcome = series.add(ts, a, b)
        if outcome == "stored":
            self._accepted += 1
            self._version += 1
            recent.append((now, ident, ts, a, b))
            if max_ts is None or ts > max_ts:
                self._prev_ts, self._max_ts = max_ts, ts
                self._market_at_max = set()
                if self._advanced_at is not None:
                    self._arrival_gap_s = now - self._advanced_at
                self._advanced_at = now
            elif ts < max_ts and (self._prev_ts is None or ts > self._prev_ts):
                self._prev_ts = ts
        elif outcome == "duplicate":
            self._duplicates += 1
        else:
            self._stale += 1
        return outcome

    def _put_facility(self, event: FacilityEvent, now: float) -> Applied:
        # Caller holds the lock and has counted the arrival.
        ident = event.facility_id
        if ident not in self._known:
            self._unknown_events += 1
            if ident not in self._unknown:
                if len(self._unknown) < self._max_unknown:
                    self._unknown[ident] = None
                else:
                    # Past the bound names are not kept, so ids are no longer told apart.
                    self._unknown_overflow = True
            return "unknown"
        return self._put(
            self._facilities,
            self._recent_facility,
            ident,
            int(event.timestamp.timestamp()),
            event.power_mw,
            event.co2_tonnes,
            now,
        )

    def _put_market(self, event: MarketEvent, now: float) -> Applied:
        # Caller holds the lock and has counted the arrival.
        ident = event.region_id
        ts = int(event.timestamp.timestamp())
        outcome = self._put(
            self._regions,
            self._recent_market,
            ident,
            ts,
            event.price_dmwh,
            event.demand_mw,
            now,
        )
        if outcome == "stored" and ts == self._max_ts:
            self._market_at_max.add(ident)
        return outcome

    def _put_alert(self, base: str, topic: str, payload: bytes, now: float) -> str:
        """Keep one alert message (module doc: the bounds). Caller holds the lock and has
        counted the arrival; an invalid one raises InvalidEvent."""
        alert = decode_alert(base, topic, payload)
        if alert is None:  # the retained alert cleared: whatever it said is over
            rule, subject = topic[len(base) + len("/alert/") :].split("/")
            self._alerts.clear(rule, subject)
            self._accepted += 1
            return "stored"
        at = int(alert.at.timestamp())
        if is_future(at, now):
            self._reject(FUTURE_REASON)
            return "future"
        record = AlertRecord.of(alert, now)
        outcome = self._alerts.put(record)
        if outcome == "duplicate":
            self._duplicates += 1
        elif outcome == "stored":
            self._accepted += 1
        return outcome

    def _put_status(self, event: StatusEvent, retained: bool, now: float) -> bool:
        # Caller holds the lock and has counted the arrival.
        self._accepted += 1
        # Not the data version: anyone who can publish can send statuses by the thousand,
        # and each would rebuild every shared part of every page. The parts that tell the
        # status read it from the snapshot (views.status_mode).
        self._status_version += 1
        self._publisher = event.model_dump(mode="json")
        seen = self._seen_publishers
        client_id = event.client_id
        first_sight = bool(client_id) and client_id not in seen
        if first_sight:
            seen[client_id] = None
            if len(seen) > MAX_SEEN_PUBLISHERS:
                del seen[next(iter(seen))]
        if (
            retained
            or not first_sight
            or event.state not in ("online", "live")
            or self._max_ts is None
        ):
            return False
        position = parse_position(event.position)
        if position is None or is_future(position, now):
            return False
        if self._max_ts - INTERVAL_S <= position <= self._max_ts + FUTURE_LIMIT_S:
            return False
        last = self._last_restart_at
        if last is not None and now - last < RESTART_MIN_GAP_S:
            return False
        self._clear_data()
        self._restarts += 1
        self._last_restart_at = now
        return True

    def _clear_data(self) -> None:
        # Caller holds the lock. Counters, unknown ids, the status and the publisher are kept.
        self._version += 1
        self._advanced_at = self._arrival_gap_s = None
        self._facilities = {}
        self._regions = {}
        self._interchange = {}
        self._recent_interchange.clear()
        self._recent_facility.clear()
        self._recent_market.clear()
        self._max_ts = None
        self._prev_ts = None
        self._market_at_max = set()

    def set_status(
        self,
        status: IngestStatus,
        detail: str = "",
        *,
        broker: str | None = None,
        topic: str | None = None,
    ) -> None:
        with self._lock:
            self._status = status
            self._status_detail = detail
            if broker is not None:
                self._broker = broker
            if topic is not None:
                self._topic = topic

    # --- readers (script runs) ----------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(received, accepted) without copying anything: cheap enough to poll."""
        with self._lock:
            self._drain()
            return self._received, self._accepted

    def _rate(self, now: float) -> float:
        recent = [(t, n) for t, n in self._rate_samples if now - t <= RATE_WINDOW_S]
        if not recent:
            return 0.0
        t0, n0 = recent[0]
        span = max(now - t0, 1.0)
        return (self._received - n0) / span

    def snapshot(self, *, histories: bool = True, data: bool = True) -> Snapshot:
        """A plain copy of everything, taken under the lock (see Snapshot).

        ``histories=False`` leaves the histories empty; ``data=False`` also the latest values
        and recent tables (the status panel needs only counters: cheap every 2 s).
        """
        histories = histories and data
        with self._lock:
            self._drain()
            now = self._clock()
            fac_latest = _latest_of(self._facilities) if data else {}
            reg_latest = _latest_of(self._regions) if data else {}
            fac_hist = {k: s.points() for k, s in self._facilities.items()} if histories else {}
            reg_hist = {k: s.points() for k, s in self._regions.items()} if histories else {}
            flow_hist = {k: s.points() for k, s in self._interchange.items()} if histories else {}
            flow_latest = _latest_of(self._interchange) if data else {}
            return Snapshot(
                taken_at=now,
                status=self._status,
                status_detail=self._status_detail,
                broker=self._broker,
                topic=self._topic,
                received=self._received,
                accepted=self._accepted,
                rejected=sum(self._rejects.values()),
                duplicates=self._duplicates,
                stale=self._stale,
                rejects_by_reason=dict(self._rejects),
                last_reject_reason=self._last_reason,
                unknown_ids=list(self._unknown),
                unknown_overflow=self._unknown_overflow,
                unknown_events=self._unknown_events,
                rate_per_s=self._rate(now),
                last_message_at=self._last_message_at,
                publisher_status=dict(self._publisher) if self._publisher else None,
                facility_latest=fac_latest,
                region_latest=reg_latest,
                facility_history=fac_hist,
                region_history=reg_hist,
                interchange_history=flow_hist,
                interchange_latest=flow_latest,
                recent_facility=list(self._recent_facility) if data else [],
                recent_market=list(self._recent_market) if data else [],
                max_ts=self._max_ts,
                prev_ts=self._prev_ts,
                market_regions_at_max=frozenset(self._market_at_max),
                history_len=self._history_len,
                restarts=self._restarts,
                backfilled=self._backfilled,
                version=(self._uid, self._version),
                status_version=self._status_version,
                arrival_gap_s=self._arrival_gap_s,
                alerts_firing=self._alerts.firing_newest_first(),
                alerts_resolved=list(reversed(self._alerts.resolved)),
                alert_overflow=self._alerts.overflow,
                alert_version=self._alerts.version,
            )


def parse_position(position: str | None) -> int | None:
    """A status ``position`` (ISO 8601 with its offset) -> epoch s; None if absent or unusable.

    The wire schema only bounds its length, so a naive or malformed value is ignored here.
    """
    if not position:
        return None
    try:
        when = datetime.fromisoformat(position)
    except ValueError:
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        return None
    return int(when.timestamp())
