"""End to end on real parts: the shipped week replayed by the real publisher into a real
mosquitto, the alerter (a subprocess) running alerts.example.toml; the alerts on the bus equal
those the reference implementation computes from consolidate.csv, each announced once, also
across a ``kill -9`` and restart of the alerter mid-stream.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from nemlive.alert.rules import load_rules
from nemlive.common.events import REGIONS, encode_market_event, format_timestamp
from nemlive.common.nemtime import NEM_TZ
from tests.conftest import ROOT, Mosquitto
from tests.support_alerts import Interval, fuels_of, read_series, reference_alerts, start_alerter
from tests.support_follow import LiveSim, cached_intervals, nemweb_extractor, publisher
from tests.support_mqtt import Collector, StderrLines, start_publisher

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = "nem/stream"
LIVE_START = "2026-11-30T01:00:00Z"  # 11:00 NEM time: the sun comes up on the prices


@pytest.fixture(scope="module")
def expected() -> list[tuple[str, str, str, int, int]]:
    rules = load_rules(ROOT / "alerts.example.toml").rules
    return reference_alerts(rules, read_series(ROOT / "consolidate.csv"), fuels_of())


def announced(collector: Collector, base: str = BASE) -> list[tuple[str, str, str, int, int]]:
    """(rule, subject, state, since, at) of every alert message (not clears or markers)."""
    out = []
    for m in collector.snapshot():
        if not m.topic.startswith(f"{base}/alert/") or not m.payload or "/.sync/" in m.topic:
            continue
        if m.retain:  # a copy sent on a (re)subscription: the state, not an announcement
            continue
        a = m.json()
        since = int(datetime.fromisoformat(a["since"]).timestamp())
        at = int(datetime.fromisoformat(a["at"]).timestamp())
        assert (
            a["since"].endswith("+10:00") and m.topic == f"{base}/alert/{a['rule']}/{a['subject']}"
        )
        out.append((a["rule"], a["subject"], a["state"], since, at))
    return out


def evaluated(state: Path) -> dict | None:
    """The newest interval of each stream that the alerter's state file says it evaluated."""
    try:
        return json.loads(state.read_text())["evaluated"]
    except (OSError, ValueError, KeyError):
        return None


def caught_up(tmp_path: Path, timeout: float = 300.0) -> bool:
    """Wait until the alerter's state file says it evaluated the week's last interval."""
    last = read_series(ROOT / "consolidate.csv")[-1].ts
    path = tmp_path / "alerts.state.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if evaluated(path) == {"market": last, "facility": last}:
            return True
        time.sleep(0.1)
    return False


def alerter_args(port: int, tmp_path: Path) -> list[str]:
    return [
        "--rules",
        str(ROOT / "alerts.example.toml"),
        "--state",
        str(tmp_path / "alerts.state.json"),
        "--port",
        str(port),
        "--client-id",
        "e2e-alerts",
        "--settle",
        "30",
    ]


def replay(port: int, tmp_path: Path) -> StderrLines:
    proc = start_publisher(
        [
            "--delay",
            "0",
            "--cycles",
            "1",
            "--port",
            str(port),
            "--no-embedded-broker",
            "--checkpoint",
            str(tmp_path / "checkpoint.json"),
            "--progress-every",
            "0",
        ]
    )
    return StderrLines(proc)


def retained_alerts(port: int) -> dict[str, dict]:
    """What a newcomer sees: the retained alert of each topic."""
    with Collector(port, f"{BASE}/alert") as fresh:
        marker = f"{BASE}/alert/.sync/probe"
        fresh.client.publish(marker, b"x", qos=1)
        assert fresh.wait_until(lambda c: any(m.topic == marker for m in c.snapshot()))
        return {m.topic: m.json() for m in fresh.snapshot() if m.retain and m.payload}


def sorted_alerts(alerts: list) -> list:
    return sorted(alerts, key=lambda a: (a[4], a[0], a[1], a[2]))


def still_firing(expected: list) -> set[tuple[str, str]]:
    state: dict[tuple[str, str], str] = {}
    for rule, subject, st, _since, _at in expected:
        state[(rule, subject)] = st
    return {k for k, v in state.items() if v == "firing"}


@pytest.mark.timeout(900)  # a week of 540,000 messages; minutes on a loaded machine
def test_the_replayed_week_fires_and_resolves_each_alert_once(
    mosquitto: Mosquitto, tmp_path: Path, expected: list
) -> None:
    assert len(expected) > 50
    with Collector(mosquitto.port, f"{BASE}/alert") as collector:
        alerter = StderrLines(start_alerter(alerter_args(mosquitto.port, tmp_path)))
        try:
            alerter.wait_for(r"evaluating 6 rules")
            publisher = replay(mosquitto.port, tmp_path)
            assert publisher.finish(timeout=600) is not None
            assert publisher.proc.returncode == 0
            assert caught_up(tmp_path)
            assert collector.wait_until(lambda c: len(announced(c)) >= len(expected), timeout=60)
        finally:
            alerter.proc.send_signal(signal.SIGTERM)
            log = alerter.finish()
        got = announced(collector)
    assert sorted_alerts(got) == sorted_alerts(expected), log
    assert alerter.proc.returncode == 0, log
    firing = {(a["rule"], a["subject"]) for a in retained_alerts(mosquitto.port).values()}
    assert firing == still_firing(expected)


@pytest.mark.timeout(900)  # a week of 540,000 messages; minutes on a loaded machine
def test_a_killed_alerter_neither_loses_nor_repeats_an_alert(
    mosquitto: Mosquitto, tmp_path: Path, expected: list
) -> None:
    args = alerter_args(mosquitto.port, tmp_path)
    with Collector(mosquitto.port, f"{BASE}/alert") as collector:
        first = StderrLines(start_alerter(args))
        first.wait_for(r"evaluating 6 rules")
        publisher = replay(mosquitto.port, tmp_path)
        try:
            # Mid-stream, with alerts firing: kill -9, then start again on the same state.
            assert collector.wait_until(lambda c: len(announced(c)) >= len(expected) // 3, 120)
            first.proc.send_signal(signal.SIGKILL)
            killed = first.finish()
            second = StderrLines(start_alerter(args))
            second.wait_for(r"recovered: \d+ alerts firing")
            assert publisher.finish(timeout=600) is not None
            assert caught_up(tmp_path)
            assert collector.wait_until(lambda c: len(announced(c)) >= len(expected), timeout=60)
        finally:
            if publisher.proc.poll() is None:
                publisher.proc.kill()
            second.proc.send_signal(signal.SIGTERM)
            log = second.finish()
        got = announced(collector)
    twice = sorted({a for a in got if got.count(a) > 1})
    assert not twice, f"announced twice: {twice}; the first alerter's log:\n{killed}\n{log}"
    assert sorted_alerts(got) == sorted_alerts(expected), log
    firing = {(a["rule"], a["subject"]) for a in retained_alerts(mosquitto.port).values()}
    assert firing == still_firing(expected)


@pytest.mark.timeout(900)  # a week of 540,000 messages; minutes on a loaded machine
def test_the_replays_next_pass_resolves_what_fires_and_starts_afresh(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Two passes over the week's first 400 or so intervals: pass 1 (shifted by the span)
    gives the same alerts again, and whatever fired at the end of pass 0 resolves as it
    starts. The cut is the first from 400 intervals on at which the reference has an alert
    firing, whatever the shipped week holds."""
    lines = (ROOT / "consolidate.csv").read_text().splitlines(keepends=True)
    small = tmp_path / "small.csv"
    rules = load_rules(ROOT / "alerts.example.toml").rules
    for rows in range(400, len(lines) - 1, 6):
        small.write_text("".join(lines[: rows + 1]))
        series = read_series(small)
        first = reference_alerts(rules, series, fuels_of())
        if still_firing(first):
            break
    span = series[-1].ts - series[0].ts + 300
    expected = first + [(r, s, st, a + span, b + span) for r, s, st, a, b in first]
    expected += [
        (rule, subject, "resolved", since, series[-1].ts)
        for rule, subject, _st, since, _at in first
        if (rule, subject) in still_firing(first)
        and since == max(a[3] for a in first if a[:2] == (rule, subject))
    ]
    assert still_firing(first), "pass 0 should end with an alert firing"
    with Collector(mosquitto.port, f"{BASE}/alert") as collector:
        alerter = StderrLines(start_alerter(alerter_args(mosquitto.port, tmp_path)))
        try:
            alerter.wait_for(r"evaluating 6 rules")
            publisher = StderrLines(
                start_publisher(
                    [
                        "--csv",
                        str(small),
                        "--delay",
                        "0",
                        "--cycles",
                        "2",
                        "--cooldown",
                        "0",
                        "--port",
                        str(mosquitto.port),
                        "--no-embedded-broker",
                        "--progress-every",
                        "0",
                    ]
                )
            )
            publisher.finish(timeout=600)
            assert collector.wait_until(lambda c: len(announced(c)) >= len(expected), timeout=60)
        finally:
            alerter.proc.send_signal(signal.SIGTERM)
            log = alerter.finish()
        got = announced(collector)
    assert sorted_alerts(got) == sorted_alerts(expected), log


def test_a_resumed_session_with_a_stopped_publishers_data_does_not_blind_the_alerter(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # An alerter killed mid-run leaves its session; the publisher goes on, so the broker
    # queues its data of later intervals (without its status) for the session. A new alerter
    # on that session, then a new replay from row 1: the new replay's alerts fire at row 1.
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "any"\nkind = "price_above"\nregion = "SA1"\nthreshold = -1e4\n'
    )
    csv = tmp_path / "slice.csv"
    lines = (ROOT / "consolidate.csv").read_text().splitlines(keepends=True)
    csv.write_text("".join(lines[:4]))  # the header and three intervals
    first_ts = read_series(csv)[0].ts
    args = ["--rules", str(rules), "--port", str(mosquitto.port), "--client-id", "resumed"]
    first = StderrLines(start_alerter([*args, "--state", str(tmp_path / "a.json")]))
    first.wait_for(r"evaluating 1 rules")
    first.proc.send_signal(signal.SIGKILL)
    first.finish()
    with Collector(mosquitto.port, f"{BASE}/market") as stale:  # a stopped publisher's data
        for hour in (40, 41):
            at = format_timestamp(datetime.fromtimestamp(first_ts + hour * 3600, NEM_TZ))
            info = stale.client.publish(
                f"{BASE}/market/SA1", encode_market_event("SA1", at, 50.0, 1000.0), qos=1
            )
            info.wait_for_publish(10)
    with Collector(mosquitto.port, f"{BASE}/alert") as collector:
        second = StderrLines(start_alerter([*args, "--state", str(tmp_path / "b.json")]))
        try:
            second.wait_for(r"evaluating 1 rules")
            publisher = start_publisher(
                [
                    "--csv",
                    str(csv),
                    "--delay",
                    "0",
                    "--cycles",
                    "1",
                    "--port",
                    str(mosquitto.port),
                    "--no-embedded-broker",
                    "--checkpoint",
                    str(tmp_path / "c.json"),
                ]
            )
            assert publisher.wait(timeout=120) == 0
            assert collector.wait_until(
                lambda c: any(a[3] == first_ts for a in announced(c)), timeout=60
            ), announced(collector)
        finally:
            second.proc.send_signal(signal.SIGTERM)
            log = second.finish()
    assert "'late'" not in log, log


LIVE_RULES = """
[[rule]]
name = "dear"
kind = "price_above"
region = "*"
threshold = 60
for_intervals = 2
clear_intervals = 2
[[rule]]
name = "negative"
kind = "price_below"
region = "*"
threshold = 0
[[rule]]
name = "busy"
kind = "demand_above"
region = "*"
threshold = 2500
clear_intervals = 2
[[rule]]
name = "green"
kind = "renewable_share_above"
threshold = 45
[[rule]]
name = "trip"
kind = "facility_trip"
from_mw = 20
"""


@pytest.mark.timeout(600)
def series_on_the_bus(collector: Collector, base: str) -> list[Interval]:
    """The intervals the publisher sent, as the reference reads them: one Interval per
    timestamp with every region's price and demand and every facility's power."""
    by_ts: dict[int, Interval] = {}
    for m in collector.snapshot():
        kind = m.topic[len(base) + 1 :].split("/")[0]
        if kind not in ("market", "facility") or not m.payload:
            continue
        body = m.json()
        ts = int(datetime.fromisoformat(body["timestamp"]).timestamp())
        iv = by_ts.setdefault(ts, Interval(ts, {r: (None, None) for r in REGIONS}, {}))
        if kind == "market":
            iv.market[body["region_id"]] = (body["price_dmwh"], body["demand_mw"])
        elif body["power_mw"] is not None:
            iv.power[body["facility_id"]] = body["power_mw"]
    return [by_ts[t] for t in sorted(by_ts)]


@pytest.mark.timeout(600)
def test_a_live_stream_fires_and_resolves_as_the_reference_computes_from_the_stream(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # The simulator's NEMweb face at 60x, extractor.py --follow, publisher.py --follow: the
    # alerts on the bus equal the reference's on the intervals the publisher sent.
    rules = tmp_path / "rules.toml"
    rules.write_text(LIVE_RULES)
    topic = "live/alerts"
    live = LiveSim(speed=60.0, dataset="nem", extra=("--seed", "3", "--clock-start", LIVE_START))
    with live, Collector(mosquitto.port, topic) as collector:
        ext = nemweb_extractor(tmp_path, live, keep=0.5).start()
        pub = publisher(tmp_path, mosquitto.port, topic)
        args = ["--rules", str(rules), "--port", str(mosquitto.port), "--topic", topic]
        args += ["--facilities", str(tmp_path / "facilities.csv"), "--settle", "20"]
        alerter = None
        try:
            assert ext.wait_for(lambda: len(cached_intervals(tmp_path)) >= 20, timeout=90)
            alerter = StderrLines(start_alerter([*args, "--state", str(tmp_path / "a.json")]))
            alerter.wait_for(r"evaluating 5 rules")
            pub.start()
            first = len(cached_intervals(tmp_path))
            assert ext.wait_for(lambda: len(cached_intervals(tmp_path)) >= first + 10, 180)
            assert ext.stop(signal.SIGTERM) == 0
            series = read_series(tmp_path / "consolidate.csv")
            priced = [iv.ts for iv in series if any(p is not None for p, _ in iv.market.values())]
            done = {"market": priced[-1], "facility": cached_intervals(tmp_path)[-1]}
            state = tmp_path / "a.json"
            assert pub.wait_for(lambda: evaluated(state) == done, 90), (evaluated(state), done)
        finally:
            ext.kill()
            pub.kill()
            if alerter is not None:
                alerter.proc.send_signal(signal.SIGTERM)
                log = alerter.finish()
        got = announced(collector, topic)
        sent = series_on_the_bus(collector, topic)
    # The cache keeps --keep's window: its oldest rows may have been published, then trimmed.
    assert sent[0].ts <= series[0].ts and sent[-1].ts == series[-1].ts
    expected = reference_alerts(
        load_rules(rules).rules, sent, fuels_of(tmp_path / "facilities.csv")
    )
    assert {a[2] for a in expected} == {"firing", "resolved"}, expected
    assert len({a[0] for a in expected}) >= 3, expected
    assert sorted_alerts(got) == sorted_alerts(expected), log
    assert "'late'" not in log and "passes" not in log, log
