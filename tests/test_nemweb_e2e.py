"""``extractor.py --follow --source nemweb`` end to end, on real parts: the simulator's NEMweb
face on a clock 60 times faster than ours (an interval every 5 s), ``publisher.py --follow``
on a real mosquitto, and ``recorder.py`` into PostgreSQL; kills, restarts and a 3-hour outage.
"""

from __future__ import annotations

import csv
import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from nemlive.extract.livecache import to_naive
from oesim.nemweb_publish import publish_times
from tests.support_follow import (
    INTERVAL_S,
    LiveSim,
    Program,
    cached_intervals,
    epoch,
    nemweb_extractor,
    publisher,
    read_table,
)
from tests.support_recorder import RecorderProcess

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SEED = 7
SPEED = 60.0
POLL_S = INTERVAL_S / SPEED  # one poll: one interval, 5 s of wall time
# The publisher's and the recorder's hops after the follower's write, on a loaded machine.
HOPS_S = 3.0
TOPIC = "nemweb/e2e"
START = "2026-11-30T02:00:00Z"  # noon NEM time: every kind of unit is running


def sim(*extra: str, start: str = START) -> LiveSim:
    return LiveSim(
        speed=SPEED, dataset="nem", extra=("--seed", str(SEED), "--clock-start", start, *extra)
    )


class StoreWatch:
    """When each interval's facility readings first show in PostgreSQL (time.monotonic())."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.first_seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        while not self._stop.wait(0.2):
            try:
                with psycopg.connect(self.url, connect_timeout=3) as conn:
                    rows = conn.execute("SELECT DISTINCT ts FROM facility_readings").fetchall()
            except psycopg.Error:
                continue  # the recorder has not made its tables yet
            now = time.monotonic()
            for (ts,) in rows:
                self.first_seen.setdefault(int(ts.timestamp()), now)

    def __enter__(self) -> StoreWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def store_rows(url: str) -> dict[tuple[str, int], tuple[float | None, float | None]]:
    """(facility, ts) -> (power, co2); raises if any (facility, ts) is held twice."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT facility_id, ts, power_mw, co2_tonnes FROM facility_readings"
        ).fetchall()
        dup = conn.execute(
            "SELECT count(*) - count(DISTINCT (facility_id, ts)) FROM facility_readings"
        ).fetchone()
    assert dup == (0,)
    return {(f, int(ts.timestamp())): (p, c) for f, ts, p, c in rows}


def read_lookup(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def appears_at(live: LiveSim, stamp: int) -> float:
    """time.monotonic() at which the simulator lists the files of the interval ``stamp``."""
    published = int(publish_times(SEED, np.array([stamp]))[0])
    return live.wall0 + (published - live.sim0) / SPEED


def oe_face_table(tmp: Path, live: LiveSim, first: int, last: int):  # type: ignore[no-untyped-def]
    """The same intervals through the simulator's OE face, by the one-shot extractor: those
    it has settled (10 minutes after their end; NEMweb's come 1 to 2 minutes after)."""
    settled = int(datetime.fromisoformat(live.admin("clock")["newest_settled"]).timestamp())
    last = min(last, settled)
    out = tmp / "oe"
    out.mkdir()
    argv = [
        "extractor.py",
        "--start",
        to_naive(first).strftime("%Y-%m-%dT%H:%M"),
        "--end",
        to_naive(last + INTERVAL_S).strftime("%Y-%m-%dT%H:%M"),
        "--out",
        str(out / "consolidate.csv"),
        "--facilities-out",
        str(out / "facilities.csv"),
    ]
    program = Program("oe-extractor", argv, out / "extractor.log", live.env()).start()
    assert program.proc is not None
    assert program.proc.wait(timeout=120) == 0, program.text()
    return read_table(out)


def test_every_interval_reaches_the_store_within_a_poll_once_across_kills_and_equals_the_oe_face(
    tmp_path: Path, mosquitto, postgres
) -> None:  # type: ignore[no-untyped-def]
    store_url = postgres.url()
    with sim() as live, StoreWatch(store_url) as watch:
        ext = nemweb_extractor(tmp_path, live, keep=0.05).start()
        pub = publisher(tmp_path, mosquitto.port, TOPIC)
        rec = RecorderProcess(
            [
                "--port",
                str(mosquitto.port),
                "--topic",
                TOPIC,
                "--client-id",
                "nemweb-e2e",
                "--facilities",
                str(tmp_path / "facilities.csv"),
            ],
            tmp_path / "recorder.log",
            {"NEMLIVE_STORE": store_url},
        )
        try:
            assert ext.wait_for(lambda: len(cached_intervals(tmp_path)) >= 10, timeout=60)
            rec.start()
            pub.start()
            watched_from = time.monotonic() + POLL_S  # after the fill has gone through
            time.sleep(8 * POLL_S)
            watched_to = time.monotonic() - POLL_S - HOPS_S
            # A kill -9 of each program in turn, a poll apart, each started again.
            ext.kill()
            time.sleep(2 * POLL_S)  # two intervals appear while it is down
            ext.start()
            pub.kill()
            time.sleep(POLL_S)
            pub.start()
            rec.kill()
            time.sleep(POLL_S)
            rec.start()
            time.sleep(3 * POLL_S)
            assert ext.stop(signal.SIGTERM) == 0
            newest = cached_intervals(tmp_path)[-1]
            assert pub.wait_for(lambda: newest in watch.first_seen, timeout=30)
            assert pub.stop(signal.SIGTERM) == 0
            assert rec.terminate() == 0
        finally:
            ext.kill()
            pub.kill()
            rec.stop_quietly()
        table = read_table(tmp_path)
        stored = store_rows(store_url)
        intervals = cached_intervals(tmp_path)
        oe = oe_face_table(tmp_path, live, intervals[0], intervals[-1])

    # Every interval of the cache, without a gap, across the kills.
    assert intervals == list(range(intervals[0], intervals[-1] + INTERVAL_S, INTERVAL_S))
    # Within one poll of its files appearing, each watched interval was in the store.
    lags = {
        t: seen - appears_at(live, t)
        for t, seen in watch.first_seen.items()
        if watched_from <= appears_at(live, t) <= watched_to
    }
    assert len(lags) >= 4, (watched_from, watched_to, sorted(watch.first_seen))
    late = {
        to_naive(t).isoformat(): round(lag, 1) for t, lag in lags.items() if lag > POLL_S + HOPS_S
    }
    assert not late, late
    # Each (facility, interval) of the cache once in the store, with the cache's values.
    n = len(table.facility_ids)
    expected = {}
    for row, t in enumerate(table.times):
        for i, fid in enumerate(table.facility_ids):
            power, co2 = table.values[row, i], table.values[row, n + i]
            if not (np.isnan(power) and np.isnan(co2)):
                expected[fid, int(t)] = (
                    None if np.isnan(power) else float(power),
                    None if np.isnan(co2) else float(co2),
                )
    # (The cache keeps --keep's 72 minutes; the store all it was sent.)
    assert {k: stored.get(k) for k in expected} == expected
    stamps = sorted({t for _, t in stored})
    assert stamps == list(range(stamps[0], intervals[-1] + INTERVAL_S, INTERVAL_S))
    # The facility values equal the OE face's for the same intervals (to the file's rounding).
    assert list(oe.facility_ids) == list(table.facility_ids)
    common = np.intersect1d(oe.times, table.times)
    assert len(common) >= len(table.times) - 3
    ours = table.values[np.searchsorted(table.times, common), : 2 * n]
    theirs = oe.values[np.searchsorted(oe.times, common), : 2 * n]
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    both = ~np.isnan(ours)
    assert np.abs(ours[both] - theirs[both]).max() <= 0.002
    # Emissions cover the fossil fleet: every coal and gas facility with output has some.
    fuels = {r["facility_id"]: r["fuel_groups"] for r in read_lookup(tmp_path / "facilities.csv")}
    fossil = [i for i, f in enumerate(table.facility_ids) if fuels.get(f) in ("coal", "gas")]
    assert len(fossil) >= 30
    running = ours[:, fossil] > 1.0
    assert running.sum() > 100
    assert (ours[:, [n + i for i in fossil]][running] > 0).all()
    for program in (ext, pub):
        assert "Traceback" not in program.text(), program.text()[-3000:]
    assert "Traceback" not in rec.output()


def test_a_three_hour_outage_is_filled_from_current_without_asking_twice(tmp_path: Path) -> None:
    with sim() as before:
        ext = nemweb_extractor(tmp_path, before, keep=0.25).start()
        try:
            assert ext.wait_for(lambda: len(cached_intervals(tmp_path)) >= 70, timeout=90)
            assert ext.stop(signal.SIGTERM) == 0
        finally:
            ext.kill()
        stopped = datetime.fromisoformat(before.admin("clock")["now"].replace("Z", "+00:00"))
        asked_before = {r["path"] for r in before.requests() if r["path"].endswith(".zip")}
    held = cached_intervals(tmp_path)
    # The NEM goes on for three hours while the follower is down: the simulator, whose data
    # is a pure function of the time, starts again three hours on.
    later = (stopped + timedelta(hours=3)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    with sim(start=later) as after:
        ext = nemweb_extractor(tmp_path, after, keep=0.25).start()
        try:
            target = held[-1] + 3 * 3600
            assert ext.wait_for(lambda: cached_intervals(tmp_path)[-1:] >= [target], timeout=90)
            assert ext.stop(signal.SIGTERM) == 0
        finally:
            ext.kill()
        requests = after.requests()
    now = cached_intervals(tmp_path)
    gap = [t for t in range(held[-1] + INTERVAL_S, target + INTERVAL_S, INTERVAL_S)]
    assert set(gap) <= set(now)  # the 36 intervals of the outage, and on
    assert now == list(range(now[0], now[-1] + INTERVAL_S, INTERVAL_S))
    files = [r["path"] for r in requests if r["path"].endswith(".zip")]
    assert len(files) == len(set(files))  # nothing asked twice
    assert not set(files) & asked_before  # nor anything it held before the outage
    assert not [f for f in files if "/Archive/" in f]  # three hours are in Current
    # (The facility list is asked for again: it was saved from another simulator's URL.)
    assert "Traceback" not in ext.text()


def test_the_follower_rides_out_the_sites_faults(tmp_path: Path) -> None:
    """A 403 burst at the start, then a missing interval, a replaced file, a late file and
    two cut downloads: one line for the firewall, the replacement's values kept, the late
    file taken when it comes, and the missing interval left as a listed gap."""
    with sim("--nemweb-fault", "403:2") as live:
        ext = nemweb_extractor(tmp_path, live, keep=0.05).start()
        try:
            assert ext.wait_for(lambda: "NEMweb answers again" in ext.text(), timeout=60)
            assert ext.wait_for(lambda: len(cached_intervals(tmp_path)) >= 10, timeout=60)
            # The replacement comes two intervals on, after the first version was taken.
            for kind, seconds in (("missing", ""), ("replaced", "600"), ("late", "")):
                live.admin("nemweb/faults", "POST", f"?kind={kind}&count=1&seconds={seconds}")
            live.admin("faults", "POST", "?kind=truncated&count=2&path=.zip")
            faults = {f["kind"]: epoch(f["interval_end"]) for f in live.admin("nemweb")["faults"]}
            last = max(faults.values()) + 3 * INTERVAL_S
            # The late file comes 4 simulated minutes late; the replacement a minute after.
            assert ext.wait_for(lambda: cached_intervals(tmp_path)[-1:] >= [last], timeout=90)
            time.sleep(2 * POLL_S)
            assert ext.stop(signal.SIGTERM) == 0
        finally:
            ext.kill()
        asked = [r["path"] for r in live.requests()]
        oe = oe_face_table(tmp_path, live, faults["replaced"], faults["replaced"])
    text = ext.text()
    assert text.count("NEMweb refused") == 1, text  # one line for the whole burst
    held = cached_intervals(tmp_path)
    assert faults["missing"] not in held
    assert faults["late"] in held and faults["replaced"] in held
    # Both versions of the replaced interval were taken, each once.
    stamp = f"PUBLIC_DISPATCHSCADA_{to_naive(faults['replaced']).strftime('%Y%m%d%H%M')}_"
    versions = [p for p in asked if stamp in p]
    assert len(versions) == len(set(versions)) == 2, versions
    others = [
        t for t in range(held[0], held[-1] + INTERVAL_S, INTERVAL_S) if t != faults["missing"]
    ]
    assert set(others) <= set(held)
    meta = json.loads((tmp_path / "consolidate.meta.json").read_text())
    gaps = json.dumps(meta["follow"]["nemweb"])
    assert to_naive(faults["missing"]).strftime("%Y-%m-%dT%H:%M") in gaps, gaps
    # The replaced interval holds the replacement's values (the OE face's), not the first's.
    table = read_table(tmp_path)
    n = len(table.facility_ids)
    row = int(np.searchsorted(table.times, faults["replaced"]))
    ours, theirs = table.values[row, :n], oe.values[0, :n]
    both = ~np.isnan(ours) & ~np.isnan(theirs)
    assert both.sum() > 100
    assert np.abs(ours[both] - theirs[both]).max() <= 0.002
    assert "Traceback" not in text
