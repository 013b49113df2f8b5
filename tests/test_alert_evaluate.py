"""The evaluator against a direct reference implementation of docs/alerts.md's semantics.

The reference below is written from the rules, not from the evaluator: events in arrival
order; an event for an interval before the newest seen is late; the first value of an id in
an interval counts; every interval is evaluated in time order; a subject fires when its last
``for_intervals`` present values all hold and it is not firing, resolves when its last
``clear_intervals`` present values all fail; a missing value is skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from nemlive.alert.evaluate import Evaluator, Transition, renewable_share
from nemlive.alert.rules import Rule, parse_rules
from nemlive.common.events import REGIONS, FacilityEvent, MarketEvent, StatusEvent
from nemlive.common.nemtime import NEM_TZ

T0 = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)
E0 = int(T0.timestamp())
NOW = 2_000_000_000.0  # a wall clock after every interval here


def ts(i: int) -> datetime:
    return T0 + timedelta(minutes=5 * i)


def market(i: int, region: str, price: float | None, demand: float | None = 5000.0):
    return MarketEvent(region_id=region, timestamp=ts(i), price_dmwh=price, demand_mw=demand)


def facility(i: int, fid: str, power: float | None):
    return FacilityEvent(facility_id=fid, timestamp=ts(i), power_mw=power, co2_tonnes=None)


def run(ev: Evaluator, events, flush: bool = True) -> list[Transition]:
    out: list[Transition] = []
    for event in events:
        out += ev.receive(event, NOW)
    if flush:
        out += ev.flush()
    return out


def key(t: Transition) -> tuple:
    return (t.rule, t.subject, t.state, t.since, t.at)


# --- the reference ----------------------------------------------------------------------------


def reference_intervals(events: list[tuple[int, str, float | None]]) -> dict[int, dict]:
    """interval -> {id: value} as evaluated: late events out, the first of each id kept."""
    newest = None
    out: dict[int, dict] = {}
    for i, ident, value in events:
        if newest is not None and i < newest:
            continue
        newest = i
        out.setdefault(i, {}).setdefault(ident, value)
    return out


def reference_runs(
    conditions: list[tuple[int, str, bool | None]], rule: Rule
) -> list[tuple[str, str, int, int]]:
    """(subject, state, since, at) from per-interval conditions, in interval order."""
    history: dict[str, list[bool]] = {}
    firing: dict[str, int] = {}
    out = []
    for i, subject, held in conditions:
        if held is None:
            continue
        past = history.setdefault(subject, [])
        past.append(held)
        at = E0 + 300 * i
        if subject not in firing and len(past) >= rule.for_intervals:
            if all(past[-rule.for_intervals :]):
                firing[subject] = at
                out.append((subject, "firing", at, at))
        elif (
            subject in firing
            and len(past) >= rule.clear_intervals
            and not any(past[-rule.clear_intervals :])
        ):
            out.append((subject, "resolved", firing.pop(subject), at))
    return out


def reference_price(events, rule: Rule):
    intervals = reference_intervals(events)
    conditions = []
    for i in sorted(intervals):
        for region in REGIONS:
            value = intervals[i].get(region)
            held = None if value is None else value > rule.threshold
            conditions.append((i, region, held))
    return [(rule.name, *r) for r in reference_runs(conditions, rule)]


def reference_trips(events, rule: Rule):
    intervals = reference_intervals(events)
    conditions = []
    for i in sorted(intervals):
        for fid in sorted({f for v in intervals.values() for f in v}):
            now, before = intervals[i].get(fid), intervals.get(i - 1, {}).get(fid)
            if now is None or before is None:
                held = None
            else:
                held = before >= rule.from_mw and now <= rule.to_mw
            conditions.append((i, fid, held))
    return [(rule.name, *r) for r in reference_runs(conditions, rule)]


# --- properties -------------------------------------------------------------------------------

values = st.one_of(st.none(), st.sampled_from([0.0, 50.0, 299.9, 300.0, 300.1, 1000.0]))
# Mostly moving forward, sometimes back (late) or repeating (duplicates).
steps = st.lists(st.tuples(st.integers(-2, 2), st.sampled_from(REGIONS[:3]), values), max_size=80)


def walk(raw: list[tuple[int, str, float | None]]) -> list[tuple[int, str, float | None]]:
    i, out = 0, []
    for step, ident, value in raw:
        i = max(0, i + (1 if step > 0 else step if step < -1 else 0))
        out.append((i, ident, value))
    return out


@settings(max_examples=300, deadline=None)
@given(raw=steps, for_n=st.integers(1, 3), clear_n=st.integers(1, 3))
def test_price_rules_match_the_reference(raw, for_n: int, clear_n: int) -> None:
    rule = Rule(
        "hot", "price_above", 300.0, region="*", for_intervals=for_n, clear_intervals=clear_n
    )
    events = walk(raw)
    got = run(Evaluator([rule], {}), [market(i, r, v) for i, r, v in events])
    assert [(t.rule, t.subject, t.state, t.since, t.at) for t in got] == sorted(
        reference_price(events, rule), key=lambda r: (r[4], r[1])
    )


power = st.one_of(st.none(), st.sampled_from([0.0, 4.0, 5.0, 6.0, 99.0, 100.0, 250.0]))
trip_steps = st.lists(
    st.tuples(st.integers(-2, 2), st.sampled_from(["A1", "B2"]), power), max_size=80
)


@settings(max_examples=300, deadline=None)
@given(raw=trip_steps, for_n=st.integers(1, 2), clear_n=st.integers(1, 2))
def test_trips_match_the_reference(raw, for_n: int, clear_n: int) -> None:
    rule = Rule("trip", "facility_trip", 5.0, for_intervals=for_n, clear_intervals=clear_n)
    events = walk(raw)
    fuels = {"A1": "coal", "B2": "gas"}
    got = run(Evaluator([rule], fuels), [facility(i, f, p) for i, f, p in events])
    assert [(t.rule, t.subject, t.state, t.since, t.at) for t in got] == sorted(
        reference_trips(events, rule), key=lambda r: (r[4], r[1])
    )


@settings(max_examples=200, deadline=None)
@given(raw=steps, cut=st.integers(0, 80), for_n=st.integers(1, 3), clear_n=st.integers(1, 3))
def test_a_restart_from_the_snapshot_and_the_retained_alerts_changes_nothing(
    raw, cut: int, for_n: int, clear_n: int
) -> None:
    """Stop anywhere: the snapshot plus what is firing give the same alerts, none twice."""
    rule = Rule(
        "hot", "price_above", 300.0, region="*", for_intervals=for_n, clear_intervals=clear_n
    )
    events = [market(i, r, v) for i, r, v in walk(raw)]
    whole = run(Evaluator([rule], {}), events)
    first = Evaluator([rule], {})
    before = run(first, events[:cut], flush=False)
    # The open interval's messages were never acknowledged: the broker sends them again.
    open_ts = first.streams["market"].open_ts
    resent = [e for e in events[:cut] if int(e.timestamp.timestamp()) == open_ts]
    second = Evaluator([rule], {})
    second.restore(first.snapshot(), NOW)
    second.adopt_firing(first.firing())
    after = run(second, resent + events[cut:])
    assert [key(t) for t in before + after] == [key(t) for t in whole]


# --- examples ---------------------------------------------------------------------------------


def price_rule(**kw) -> Rule:
    return Rule("hot", "price_above", 300.0, region="SA1", **kw)


def test_a_missing_value_neither_breaks_nor_extends_a_run() -> None:
    rule = price_rule(for_intervals=2)
    got = run(
        Evaluator([rule], {}),
        [market(0, "SA1", 400.0), market(1, "SA1", None), market(2, "SA1", 400.0)],
    )
    assert [(t.state, t.at) for t in got] == [("firing", E0 + 600)]
    got = run(Evaluator([rule], {}), [market(0, "SA1", 400.0), market(1, "SA1", None)])
    assert got == []


def test_a_late_or_duplicate_event_never_fires_twice_and_is_counted() -> None:
    ev = Evaluator([price_rule()], {})
    events = [market(0, "SA1", 400.0), market(0, "SA1", 10.0), market(1, "SA1", 400.0)]
    events += [market(0, "SA1", 400.0), market(1, "SA1", 10.0)]
    got = run(ev, events)
    assert [t.state for t in got] == ["firing"]
    assert ev.counts["late"] == 1 and ev.counts["duplicate"] == 2


def test_an_interval_is_evaluated_when_a_later_one_arrives_or_the_stream_settles() -> None:
    ev = Evaluator([price_rule()], {}, settle_s=10.0)
    assert ev.receive(market(0, "SA1", 400.0), NOW) == []
    assert ev.tick(NOW + 9.9) == []
    assert [t.state for t in ev.tick(NOW + 10.0)] == ["firing"]
    ev.receive(market(0, "SA1", 10.0), NOW + 11)
    assert ev.counts["late"] == 1
    # The publisher's end of pass completes the open interval at once.
    ev.receive(market(1, "SA1", 10.0), NOW + 12)
    got = ev.receive(StatusEvent(state="cooldown", client_id="p", pass_number=0), NOW + 12)
    assert [t.state for t in got] == ["resolved"]


def test_a_new_pass_resolves_what_fires_and_starts_afresh() -> None:
    ev = Evaluator([price_rule(for_intervals=2)], {})
    online = StatusEvent(state="online", client_id="p", pass_number=0)
    assert ev.receive(online, NOW) == []
    run(ev, [market(0, "SA1", 400.0), market(1, "SA1", 400.0), market(2, "SA1", 400.0)], False)
    assert ev.firing() == {("hot", "SA1"): E0 + 300}
    got = ev.receive(StatusEvent(state="online", client_id="p", pass_number=1), NOW)
    assert [(t.state, t.since, t.at) for t in got] == [("resolved", E0 + 300, E0 + 600)]
    # Afresh: earlier timestamps are not late, and a run starts from zero.
    assert run(ev, [market(0, "SA1", 400.0)]) == []
    assert ev.counts["passes"] == 1


def test_a_new_publisher_after_data_of_an_unknown_one_starts_afresh() -> None:
    # A session resumed after a crash: a stopped publisher's data of later intervals, queued
    # without its status, then a new replay from the first row. Nothing of it is late.
    ev = Evaluator([price_rule()], {})
    run(ev, [market(5, "SA1", 400.0), market(6, "SA1", 400.0)], False)
    assert ev.firing() == {("hot", "SA1"): E0 + 1500}
    got = ev.receive(online("new", 0), NOW)
    assert [(t.state, t.since, t.at) for t in got] == [("resolved", E0 + 1500, E0 + 1800)]
    got = run(ev, [market(0, "SA1", 400.0), market(1, "SA1", 10.0)])
    assert [(t.state, t.at) for t in got] == [("firing", E0), ("resolved", E0 + 300)]
    assert ev.counts["late"] == 0
    # Its own status again changes nothing; a first status before any data resets nothing.
    assert ev.receive(online("new", 0), NOW) == []
    fresh = Evaluator([price_rule()], {})
    assert fresh.receive(StatusEvent(state="live", client_id="p", pass_number=0), NOW) == []
    assert fresh.counts["passes"] == 0


def test_an_unknown_publishers_own_status_after_its_data_changes_nothing() -> None:
    # No state file, a resumed session: the live publisher's data, then its periodic status
    # at the newest interval it sent. What fires (adopted from the broker) stays firing.
    ev = Evaluator([price_rule()], {})
    ev.adopt_firing({("hot", "SA1"): E0})
    run(ev, [market(1, "SA1", 400.0), market(2, "SA1", 400.0)], False)
    live = StatusEvent(state="live", client_id="p", pass_number=0, position=ts(2).isoformat())
    assert ev.receive(live, NOW) == []
    assert ev.firing() == {("hot", "SA1"): E0} and ev.counts["passes"] == 0
    assert run(ev, [market(3, "SA1", 400.0)]) == []


def online(client_id: str, pass_number: int, row: int = 0) -> StatusEvent:
    """A replay's status at the start of a pass: its position is the first row's interval."""
    return StatusEvent(
        state="online", client_id=client_id, pass_number=pass_number, position=ts(row).isoformat()
    )


def test_stream_stale_fires_on_the_clock_and_resolves_with_the_next_interval() -> None:
    rule = Rule("stale", "stream_stale", 15.0)
    ev = Evaluator([rule], {}, settle_s=1.0)
    assert ev.tick(NOW) == []  # nothing seen yet: not stale
    ev.receive(market(0, "SA1", 1.0), NOW)
    assert [t.subject for t in ev.tick(NOW + 14 * 60)] == []
    fired = ev.tick(NOW + 15 * 60)
    assert [(t.subject, t.state, t.since) for t in fired] == [("market", "firing", E0)]
    assert ev.tick(NOW + 20 * 60) == []
    got = ev.receive(market(1, "SA1", 1.0), NOW + 21 * 60)
    assert [(t.subject, t.state, t.at) for t in got] == [("market", "resolved", E0 + 300)]


def test_a_flood_of_trips_is_rate_limited_per_rule_and_interval() -> None:
    rule = Rule("trip", "facility_trip", 5.0, rate_limit=3)
    fuels = {f"F{n}": "coal" for n in range(10)}
    ev = Evaluator([rule], fuels)
    events = [facility(0, f, 500.0) for f in fuels] + [facility(1, f, 0.0) for f in fuels]
    got = run(ev, events)
    assert [t.subject for t in got if t.state == "firing"] == ["F0", "F1", "F2"]
    assert ev.counts["rate_limited"] == 7


def test_excluded_and_unknown_facilities_never_trip() -> None:
    rule = Rule("trip", "facility_trip", 5.0)
    ev = Evaluator([rule], {"SOLAR1": "solar", "COAL1": "coal"})
    events = [facility(0, f, 500.0) for f in ("SOLAR1", "COAL1", "NEW1")]
    events += [facility(1, f, 0.0) for f in ("SOLAR1", "COAL1", "NEW1")]
    got = run(ev, events)
    assert [(t.subject, t.state) for t in got] == [("COAL1", "firing")]
    assert ev.counts["unknown"] == 2


def test_the_renewable_share_leaves_storage_and_negative_power_out() -> None:
    fuels = {"W": "wind", "C": "coal", "B": "battery", "H": "hydro", "P": "pumps"}
    values = {
        "W": (300.0, None),
        "C": (600.0, None),
        "B": (500.0, None),
        "H": (-20.0, None),
        "P": (100.0, None),
        "X": (900.0, None),  # not in the lookup
    }
    assert renewable_share(values, fuels) == 100.0 * 300 / 900
    assert renewable_share({"B": (5.0, None)}, fuels) is None


def test_renewable_share_rules_fire_on_the_nem() -> None:
    (rule,) = parse_rules(
        '[[rule]]\nname="green"\nkind="renewable_share_above"\nthreshold=50\n'
    ).rules
    ev = Evaluator([rule], {"W": "wind", "C": "coal"})
    events = [facility(0, "W", 600.0), facility(0, "C", 400.0)]
    events += [facility(1, "W", 100.0), facility(1, "C", 300.0)]
    got = run(ev, events)
    assert [(t.subject, t.state, round(t.value or 0)) for t in got] == [
        ("NEM", "firing", 60),
        ("NEM", "resolved", 25),
    ]


def test_a_market_interval_is_evaluated_once_every_region_has_reported() -> None:
    ev = Evaluator([price_rule()], {})
    got = []
    for region in REGIONS:
        got += ev.receive(market(0, region, 400.0), NOW)
    assert [(t.subject, t.state) for t in got] == [("SA1", "firing")]
    ev.receive(market(0, "SA1", 1.0), NOW)
    assert ev.counts["late"] == 1
