"""The alert rules as a state machine (pure): events and clock ticks in, transitions out.

Two streams are evaluated, each on its own intervals: ``market`` (price and demand rules) and
``facility`` (trips, the renewable share). docs/alerts.md states the semantics; in short:

* **Complete.** A stream holds one open interval, the newest it has seen. It is evaluated
  when an event of a later interval arrives on the same stream, when all five regions have
  reported (market stream only), when the publisher's status
  says a pass ended (``cooldown``, ``offline``, ``done``), or when the stream has been quiet
  for ``settle_s`` seconds (the injected clock).
* **Once.** An event for an interval before the open one (evaluated already, or skipped) is
  counted ``late`` and dropped; a second event of one id in the open interval ``duplicate``.
* **Runs.** A subject fires at the interval that ends ``for_intervals`` consecutive present
  intervals where the condition holds, unless it is firing; it resolves at the interval that
  ends ``clear_intervals`` consecutive present intervals where it does not. A missing value
  neither holds nor fails: the run is neither broken nor extended.
* **Passes.** A status ``online``/``live`` from another publisher (client id) or pass resolves
  every firing subject at the last evaluated interval and starts every subject afresh; so
  does the first status after data whose publisher is unknown, if its position goes back.
* **Rate limit.** At most ``rule.rate_limit`` subjects of one rule fire per interval; the
  others are counted ``rate_limited`` and stay quiet (they fire later if the condition holds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from nemlive.alert.rules import NEM_SUBJECT, Rule, Stream
from nemlive.common import timeguard
from nemlive.common.events import REGIONS, Event, FacilityEvent, MarketEvent, StatusEvent
from nemlive.common.lookups import RENEWABLE_GROUPS
from nemlive.common.nemtime import INTERVAL_S

STREAMS: tuple[Stream, ...] = ("market", "facility")
STORAGE_GROUPS = frozenset({"battery", "pumps"})
PASS_END_STATES = frozenset({"cooldown", "offline", "done"})
DEFAULT_SETTLE_S = 10.0
STATE_VERSION = 1
Values = dict[str, tuple[float | None, float | None]]  # id -> (a, b): price/demand or power


@dataclass(frozen=True)
class Transition:
    """One alert state change; ``since``/``at`` are interval ends in epoch seconds."""

    rule: str
    kind: str
    subject: str
    state: Literal["firing", "resolved"]
    since: int
    at: int
    value: float | None
    threshold: float


@dataclass
class SubjectState:
    hold: int = 0  # consecutive present intervals where the condition held
    clear: int = 0  # ... where it did not, while firing
    firing: bool = False
    since: int = 0


@dataclass
class StreamState:
    evaluated: int | None = None  # the newest interval evaluated (or skipped)
    open_ts: int | None = None  # the interval being gathered
    values: Values = field(default_factory=dict)
    last_event_at: float = 0.0  # clock time of the last event of the open interval
    new_interval_at: float | None = None  # clock time a new interval last began


def condition(rule: Rule, value: float | None) -> bool | None:
    """Whether the rule's condition holds for a value (None: missing)."""
    if value is None:
        return None
    if rule.kind.endswith("_above"):
        return value > rule.threshold
    if rule.kind.endswith("_below"):
        return value < rule.threshold
    raise ValueError(f"condition() does not apply to {rule.kind}")


def renewable_share(values: Values, fuels: Mapping[str, str]) -> float | None:
    """Percent of generation from renewable facilities in one interval (docs/alerts.md).

    Generation is each facility's positive power; storage (battery, pumps) is left out of
    both sides, as are facilities missing from the lookup. None when nothing generated.
    """
    renewable = total = 0.0
    for fid, (power, _co2) in values.items():
        group = fuels.get(fid)
        if group is None or group in STORAGE_GROUPS or power is None or power <= 0:
            continue
        total += power
        if group in RENEWABLE_GROUPS:
            renewable += power
    return 100.0 * renewable / total if total > 0 else None


class Evaluator:
    """See the module docstring. ``fuels``: facility id -> fuel group (the lookup)."""

    def __init__(
        self,
        rules: Iterable[Rule],
        fuels: Mapping[str, str],
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        check_future: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        self.fuels = dict(fuels)
        self.settle_s = settle_s
        self.check_future = check_future
        self.streams = {s: StreamState() for s in STREAMS}
        self.subjects: dict[tuple[str, str], SubjectState] = {}
        self.last_power: dict[str, tuple[int, float]] = {}  # facility -> (interval, MW)
        self.publisher: tuple[str, int] | None = None  # (client_id, pass_number)
        self.counts: Counter[str] = Counter()

    # --- input --------------------------------------------------------------------------

    def receive(self, event: Event, now: float, ts: int | None = None) -> list[Transition]:
        """Take one validated event; the transitions it completes (in interval order).

        ``ts``: the event's interval end in epoch seconds when the caller has it already
        (``decode_event_at``); else it is computed here."""
        kind = type(event)  # the schema's models are final: no subclass to miss
        if kind is FacilityEvent:
            if event.facility_id not in self.fuels:  # type: ignore[union-attr]
                self.counts["unknown"] += 1
                return []
            return self._data("facility", event.facility_id, event, now, ts)  # type: ignore[union-attr, arg-type]
        if kind is MarketEvent:
            return self._data("market", event.region_id, event, now, ts)  # type: ignore[union-attr, arg-type]
        if kind is StatusEvent:
            return self._status(event)  # type: ignore[arg-type]
        self.counts["ignored"] += 1  # interchange: no rule reads it
        return []

    def _data(
        self,
        stream: Stream,
        ident: str,
        event: FacilityEvent | MarketEvent,
        now: float,
        ts: int | None,
    ) -> list[Transition]:
        if ts is None:
            ts = int(event.timestamp.timestamp())
        state = self.streams[stream]
        out: list[Transition] = []
        if ts != state.open_ts:  # most events belong to the open interval: no checks then
            if self.check_future and timeguard.is_future(ts, now):
                self.counts[timeguard.FUTURE_REASON] += 1
                return out
            if (state.open_ts is not None and ts < state.open_ts) or (
                state.evaluated is not None and ts <= state.evaluated
            ):
                self.counts["late"] += 1
                return out
            out += self._complete(stream)
            state.open_ts = ts
            state.new_interval_at = now
            out += self._stale_resolve(stream, ts)
        if ident in state.values:
            self.counts["duplicate"] += 1
            return out
        if stream == "facility":
            state.values[ident] = (event.power_mw, event.co2_tonnes)
        else:
            state.values[ident] = (event.price_dmwh, event.demand_mw)
        state.last_event_at = now
        self.counts["accepted"] += 1
        if stream == "market" and len(state.values) == len(REGIONS):
            out += self._complete(stream)  # every region has reported: nothing more to wait for
        return out

    def _status(self, status: StatusEvent) -> list[Transition]:
        if status.state in PASS_END_STATES:
            return self.flush()
        identity = (status.client_id, status.pass_number)
        if identity == self.publisher or (self.publisher is None and not self._goes_back(status)):
            self.publisher = identity
            return []
        # Another publisher or pass; or the first status after data of no known publisher that
        # goes back before that data (a resumed session's queue can hold a stopped publisher's
        # data without its status, and a new replay starts from its first row).
        out = self.flush()
        self.publisher = identity
        out += self.reset()
        self.counts["passes"] += 1
        return out

    def _goes_back(self, status: StatusEvent) -> bool:
        """Whether the status's position is before the newest interval seen (the same
        publisher's periodic status is at or after it)."""
        seen = [t for s in self.streams.values() for t in (s.open_ts, s.evaluated) if t is not None]
        if not seen or status.position is None:
            return False
        try:
            position = datetime.fromisoformat(status.position).timestamp()
        except ValueError:
            return False
        return position < max(seen)

    def tick(self, now: float) -> list[Transition]:
        """Evaluate the open intervals quiet for ``settle_s``; fire stale streams."""
        out: list[Transition] = []
        for stream, state in self.streams.items():
            if state.open_ts is not None and now - state.last_event_at >= self.settle_s:
                out += self._complete(stream)
        for rule in self.rules:
            if rule.kind == "stream_stale":
                out += self._stale_fire(rule, now)
        return out

    def flush(self) -> list[Transition]:
        """Evaluate every open interval now."""
        out: list[Transition] = []
        for stream in STREAMS:
            out += self._complete(stream)
        return out

    def reset(self) -> list[Transition]:
        """Resolve every firing subject at its stream's last interval; forget every run."""
        out = []
        for (name, subject), st in sorted(self.subjects.items()):
            if st.firing:
                rule = self._rule(name)
                stream = rule.stream or subject
                at = self.streams[stream].evaluated if stream in self.streams else None  # type: ignore[index]
                out.append(_transition(rule, subject, "resolved", st.since, at or st.since, None))
        self.subjects.clear()
        self.last_power.clear()
        self.streams = {s: StreamState() for s in STREAMS}
        return out

    # --- evaluation ---------------------------------------------------------------------

    def _complete(self, stream: Stream) -> list[Transition]:
        state = self.streams[stream]
        if state.open_ts is None:
            return []
        ts, values = state.open_ts, state.values
        state.evaluated, state.open_ts, state.values = ts, None, {}
        out: list[Transition] = []
        for rule in self.rules:
            if rule.stream == stream:
                out += self._apply(rule, ts, self._conditions(rule, ts, values))
        if stream == "facility":
            for fid, (power, _co2) in values.items():
                if power is not None:
                    self.last_power[fid] = (ts, power)
        self.counts["intervals"] += 1
        return out

    def _conditions(
        self, rule: Rule, ts: int, values: Values
    ) -> dict[str, tuple[bool | None, float | None]]:
        """subject -> (condition, value) for one rule at one interval."""
        if rule.kind == "facility_trip":
            return self._trips(rule, ts, values)
        if rule.stream == "facility":
            share = renewable_share(values, self.fuels)
            return {NEM_SUBJECT: (condition(rule, share), share)}
        column = 1 if rule.kind == "demand_above" else 0
        regions = REGIONS if rule.region == "*" else (rule.region,)
        out = {}
        for region in regions:
            value = values.get(region, (None, None))[column]
            out[region] = (condition(rule, value), value)
        return out

    def _trips(
        self, rule: Rule, ts: int, values: Values
    ) -> dict[str, tuple[bool | None, float | None]]:
        out: dict[str, tuple[bool | None, float | None]] = {}
        for fid, group in self.fuels.items():
            if group in rule.exclude_fuels:
                continue
            now = values.get(fid, (None, None))[0]
            before = self.last_power.get(fid)
            if now is None or before is None or before[0] != ts - INTERVAL_S:
                held: bool | None = None
            else:
                held = before[1] >= rule.from_mw and now <= rule.to_mw
            if held or (rule.name, fid) in self.subjects:
                out[fid] = (held, now)
        return out

    def _apply(
        self, rule: Rule, ts: int, conditions: Mapping[str, tuple[bool | None, float | None]]
    ) -> list[Transition]:
        out: list[Transition] = []
        fired = 0
        for subject in sorted(conditions):
            held, value = conditions[subject]
            if held is None:
                continue
            st = self.subjects.setdefault((rule.name, subject), SubjectState())
            if held:
                st.clear = 0
                st.hold += 1
                if not st.firing and st.hold >= rule.for_intervals:
                    if fired >= rule.rate_limit:
                        self.counts["rate_limited"] += 1
                        continue
                    fired += 1
                    st.firing, st.since = True, ts
                    out.append(_transition(rule, subject, "firing", ts, ts, value))
            else:
                st.hold = 0
                if st.firing:
                    st.clear += 1
                    if st.clear >= rule.clear_intervals:
                        st.firing, st.clear = False, 0
                        out.append(_transition(rule, subject, "resolved", st.since, ts, value))
            if not st.firing and not st.hold:
                del self.subjects[(rule.name, subject)]  # nothing to remember
        return out

    # --- stale streams (on the clock) ----------------------------------------------------

    def _newest(self, stream: Stream) -> int | None:
        state = self.streams[stream]
        return state.open_ts if state.open_ts is not None else state.evaluated

    def _stale_fire(self, rule: Rule, now: float) -> list[Transition]:
        out = []
        for stream, state in self.streams.items():
            newest = self._newest(stream)
            if state.new_interval_at is None or newest is None:
                continue  # a stream never seen is not stale: it has not begun
            quiet_min = (now - state.new_interval_at) / 60.0
            st = self.subjects.get((rule.name, stream))
            if quiet_min >= rule.threshold and not (st and st.firing):
                self.subjects[(rule.name, stream)] = SubjectState(firing=True, since=newest)
                out.append(_transition(rule, stream, "firing", newest, newest, quiet_min))
        return out

    def _stale_resolve(self, stream: Stream, ts: int) -> list[Transition]:
        out = []
        for rule in self.rules:
            st = self.subjects.get((rule.name, stream))
            if rule.kind == "stream_stale" and st and st.firing:
                del self.subjects[(rule.name, stream)]
                out.append(_transition(rule, stream, "resolved", st.since, ts, 0.0))
        return out

    # --- state kept across a restart (the shell writes it to the state file) -------------

    def snapshot(self) -> dict[str, object]:
        """What a restarted alerter needs besides its retained alerts: JSON-ready."""
        return {
            "version": STATE_VERSION,
            "publisher": list(self.publisher) if self.publisher else None,
            "evaluated": {s: st.evaluated for s, st in self.streams.items()},
            "subjects": [
                [name, subject, st.hold, st.clear, st.firing, st.since]
                for (name, subject), st in sorted(self.subjects.items())
            ],
            "last_power": {fid: list(v) for fid, v in sorted(self.last_power.items())},
        }

    def restore(self, data: Mapping[str, object], now: float) -> None:
        """Take a snapshot back, all or nothing; ValueError (or KeyError, TypeError,
        AttributeError, IndexError) for one it cannot read.

        Subjects of rules no longer in the file are dropped. Every stream seen before is
        armed for stream_stale from ``now``.
        """
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state version {data.get('version')!r}, not {STATE_VERSION}")
        publisher: list = data["publisher"]  # type: ignore[assignment]
        evaluated: Mapping[str, int | None] = data["evaluated"]  # type: ignore[assignment]
        streams = {}
        for stream in STREAMS:
            ts = evaluated.get(stream)
            streams[stream] = StreamState(
                evaluated=int(ts) if ts is not None else None,
                new_interval_at=now if ts is not None else None,
            )
        names = {r.name for r in self.rules}
        subjects = {
            (str(n), str(s)): SubjectState(int(h), int(c), bool(f), int(since))
            for n, s, h, c, f, since in data["subjects"]  # type: ignore[attr-defined]
            if n in names
        }
        last_power = {
            str(fid): (int(ts), float(mw))
            for fid, (ts, mw) in data["last_power"].items()  # type: ignore[attr-defined]
        }
        self.publisher = (str(publisher[0]), int(publisher[1])) if publisher else None
        self.streams, self.subjects, self.last_power = streams, subjects, last_power

    def adopt_firing(self, firing: Mapping[tuple[str, str], int]) -> None:
        """What the broker's retained alerts say is firing (``(rule, subject) -> since``) wins
        over the state file: alerts announced after it was written are not announced again,
        and those resolved after it are not resolved again."""
        names = {r.name for r in self.rules}
        for key, st in list(self.subjects.items()):
            if st.firing and key not in firing:
                st.firing, st.clear = False, 0
                if not st.hold:
                    del self.subjects[key]
        for key, since in firing.items():
            if key[0] in names:
                st = self.subjects.setdefault(key, SubjectState())
                st.firing, st.since = True, since

    def firing(self) -> dict[tuple[str, str], int]:
        """(rule, subject) -> since, of every firing subject."""
        return {k: st.since for k, st in self.subjects.items() if st.firing}

    def _rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)


def _transition(
    rule: Rule, subject: str, state: Literal["firing", "resolved"], since: int, at: int, value
) -> Transition:
    return Transition(rule.name, rule.kind, subject, state, since, at, value, rule.threshold)
