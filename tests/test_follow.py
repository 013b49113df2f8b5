"""Live mode end to end: ``extractor.py --follow`` against the OE simulator on a clock 60 times
faster than ours (one interval every 5 s), ``publisher.py --follow`` on a real mosquitto, and a
real subscriber. Kills, restarts and a key out of credits included."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nemlive.extract.livecache import to_naive
from nemlive.publish.checkpoint import read_live_checkpoint
from nemlive.publish.replaytable import read_replay_table
from nemlive.publish.sentlog import SentLog, plan_outgoing, table_epochs
from tests.support_follow import (
    INTERVAL_S,
    LiveSim,
    Program,
    epoch,
    extractor,
    publisher,
    query_of,
    read_meta,
)
from tests.support_mqtt import Collector, Received

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TOPIC = "follow/test"
POLL_S = 5.0  # one simulated interval at --clock-speed 60


def polls(program: Program) -> int:
    return program.count(r"INFO extractor: poll: ")


def published_everything(tmp: Path) -> bool:
    """The publisher's checkpoint holds every value of the cache (nothing left to send)."""
    try:
        checkpoint = read_live_checkpoint(tmp / "consolidate.live.checkpoint.json")
        table = read_replay_table(tmp / "consolidate.csv")
    except Exception:
        return False
    if checkpoint is None:
        return False
    return next(plan_outgoing(table, SentLog(checkpoint.sent), TOPIC), None) is None


def first_request(requests: list[dict], since: int, path_part: str) -> dict[str, list[str]]:
    records = [r for r in requests[since:] if path_part in r["path"]]
    assert records, f"no {path_part} request after {since}"
    return query_of(records[0])


def bursts(messages: list[Received], gap_s: float = 1.0) -> int:
    """Groups of messages with less than ``gap_s`` between arrivals."""
    times = sorted(m.at for m in messages)
    return sum(1 for a, b in zip([-1e9, *times], times, strict=False) if b - a >= gap_s)


# The simulated clock from a fixed noon (UTC), with credits to sweep the facilities every
# interval: the budget's cadence is the subject of the last test, and at the clock's default
# start (two days before now) it would hang on the hour of the day the test runs at.
EVERY_POLL_SWEEPS = ("--clock-start", "2026-11-30T12:00:00Z", "--credits", "100000")


def test_each_interval_comes_once_within_two_polls_across_kills_and_restarts(
    tmp_path: Path, mosquitto
) -> None:  # type: ignore[no-untyped-def]
    with LiveSim(extra=EVERY_POLL_SWEEPS) as sim, Collector(mosquitto.port, TOPIC) as sub:
        ext = extractor(tmp_path, sim).start()
        pub = publisher(tmp_path, mosquitto.port, TOPIC).start()
        try:
            assert ext.wait_for(lambda: polls(ext) >= 4)
            filled_at = time.monotonic() - 3 * POLL_S
            # A kill -9 of each: the extractor first, then the publisher once it has sent (and
            # saved that it sent) all that the cache holds.
            ext.kill()
            killed_at = time.monotonic()
            assert pub.wait_for(lambda: published_everything(tmp_path), timeout=20)
            pub.kill()
            meta = read_meta(tmp_path)
            assert meta["rows"] <= 288
            market_to = epoch(meta["follow"]["market_to"])
            facilities_to = min(epoch(t) for t in meta["follow"]["facilities_to"].values())
            seen = len(sim.requests())
            time.sleep(2 * POLL_S)  # two intervals settle while both are down
            ext.start()
            pub.start()
            before = polls(ext)
            assert ext.wait_for(lambda: polls(ext) >= before + 1)
            restarted_at = time.monotonic()
            assert ext.wait_for(lambda: polls(ext) >= before + 4)
            assert ext.stop() == 0
            stopped_at = time.monotonic()
            assert pub.wait_for(lambda: published_everything(tmp_path), timeout=20)
            assert pub.stop(signal.SIGTERM) == 0
        finally:
            ext.kill()
            pub.kill()
        events = sub.events()
        requests = sim.requests()

    # The restarted extractor asked only for what the cache did not hold.
    assert first_request(requests, seen, "/market/")["date_start"] == [
        to_naive(market_to + INTERVAL_S).isoformat()
    ]
    assert first_request(requests, seen, "/data/facilities/")["date_start"] == [
        to_naive(facilities_to + INTERVAL_S).isoformat()
    ]
    # Each (id, timestamp) exactly once, and everything the cache holds was published.
    counts = Counter(m.key for m in events)
    assert counts and max(counts.values()) == 1, [k for k, n in counts.items() if n > 1][:5]
    table = read_replay_table(tmp_path / "consolidate.csv")
    received = SentLog()
    for m in events:
        kind, ident = m.topic.split("/")[-2:]
        received.add(f"{kind}/{ident}", epoch(m.json()["timestamp"]))
    assert next(plan_outgoing(table, received, TOPIC), None) is None
    # Nothing lost across the downtime: every market interval, oldest to newest, per region,
    # up to the cache's newest row with a market (a sweep may have brought a newer row that
    # has only facility values: an interval that settled between the two requests of a poll).
    epochs = table_epochs(table)
    with_market = ~np.isnan(table.market_values).all(axis=1)
    for region in table.region_ids:
        stamps = sorted(
            epoch(m.json()["timestamp"]) for m in events if m.topic.endswith(f"market/{region}")
        )
        assert stamps == list(range(stamps[0], stamps[-1] + INTERVAL_S, INTERVAL_S))
        assert stamps[-1] == int(epochs[with_market][-1])
    # Each market interval within two polls of settling (outside the fill and the downtime).
    late = []
    for m in events:
        if "/market/" not in m.topic:
            continue
        due = sim.settled_at(epoch(m.json()["timestamp"]))
        watched = (
            filled_at < due < killed_at - POLL_S or restarted_at < due < stopped_at - 2 * POLL_S
        )
        if watched and m.at - due > 2 * POLL_S:
            late.append((m.topic, m.json()["timestamp"], round(m.at - due, 1)))
    assert not late, late
    # Facility events after each sweep that brought facility cells.
    sweeps = [int(n.replace(",", "")) for n in re.findall(r"\+([\d,]+) facility cells", ext.text())]
    facility_events = [m for m in events if "/facility/" in m.topic]
    assert bursts(facility_events) >= sum(1 for n in sweeps if n > 0) >= 4
    # The cache stays within --keep 1: at most a day of intervals, ending at the newest.
    assert len(epochs) <= 288 and int(epochs[-1] - epochs[0]) <= 86_400 - INTERVAL_S
    assert not [r for r in requests if r["status"] == 401]
    for program in (ext, pub):
        assert "Traceback" not in program.text(), program.text()
    statuses = sub.statuses()
    assert any(s["state"] == "live" and s.get("source") == "simulator" for s in statuses)


def test_a_key_out_of_credits_gets_one_line_and_a_clean_wait_until_the_reset(
    tmp_path: Path,
) -> None:
    # Simulated 23:45 UTC: the credits come back at midnight, 15 s from now.
    with LiveSim(extra=("--clock-start", "2026-11-30T23:45:00Z")) as sim:
        ext = extractor(tmp_path, sim).start()
        try:
            assert ext.wait_for(lambda: polls(ext) >= 1)
            sim.admin("credits", "POST", "?remaining=0")
            assert ext.wait_for(lambda: "credits are spent" in ext.text(), timeout=15)
            refused = len(sim.requests())
            time.sleep(3)
            assert len(sim.requests()) == refused  # waiting, not retrying
            assert ext.wait_for(lambda: "accepted again" in ext.text(), timeout=30)
            after = polls(ext)
            assert ext.wait_for(lambda: polls(ext) >= after + 1)
            assert ext.stop(signal.SIGTERM) == 0
        finally:
            ext.kill()
        requests = sim.requests()
    text = ext.text()
    line = next(li for li in text.splitlines() if "credits are spent" in li)
    assert "401 Authentication failed" in line
    assert "reset at 2026-12-01 00:00 UTC" in line
    assert text.count("credits are spent") == 1
    assert "Traceback" not in text
    assert sum(1 for r in requests if r["status"] == 401) <= 2


def test_a_community_budget_scaled_to_the_hour_left_is_never_exceeded(tmp_path: Path) -> None:
    # The last 40 simulated minutes of a COMMUNITY day, with their share of its 500 credits
    # on top of the 25 kept in reserve: 40 credits.
    with LiveSim(extra=("--clock-start", "2026-11-30T23:20:00Z")) as sim:
        sim.admin("credits", "POST", "?remaining=40")
        ext = extractor(tmp_path, sim).start()
        try:
            reset_at = sim.wall0 + (epoch("2026-12-01T00:00:00+00:00") - sim.sim0) / sim.speed
            assert ext.wait_for(lambda: time.monotonic() > reset_at - 1.5, timeout=60)
            left = next(iter(sim.admin("credits")["credits"].values()))
            before_reset = len(sim.requests())
            assert ext.wait_for(lambda: time.monotonic() > reset_at + 2 * POLL_S, timeout=30)
            assert ext.stop() == 0
        finally:
            ext.kill()
        requests = sim.requests()
    assert not [r for r in requests if r["status"] == 401]
    assert left >= 25  # the reserve was never touched
    day_one = requests[:before_reset]
    markets = [r for r in day_one if "/market/" in r["path"]]
    assert len(markets) >= 7  # the market every interval all the same
    assert len(day_one) <= 40 - 25
    # After the reset the new day's credits are read and the following goes on.
    assert any("/me" in r["path"] for r in requests[before_reset:])
    assert "Traceback" not in ext.text()
