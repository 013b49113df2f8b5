"""publisher.py against a real mosquitto (ephemeral port) and the embedded amqtt broker."""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

import publisher
from nemlive.common.events import decode_event
from nemlive.common.nemtime import NEM_TZ
from nemlive.publish.checkpoint import read_checkpoint
from tests.conftest import Mosquitto, free_port, wait_for_port
from tests.support_mqtt import (
    Collector,
    SmallCsv,
    StderrLines,
    run_publisher,
    start_publisher,
    write_small_csv,
)
from tests.support_proxy import HoldingProxy

pytestmark = pytest.mark.integration


def _args(small: SmallCsv, port: int, *extra: str) -> list[str]:
    return [
        "--csv",
        str(small.path),
        "--port",
        str(port),
        "--cooldown",
        "0",
        "--cycles",
        "1",
        *extra,
    ]


def _wait_status(collector: Collector, state: str, timeout: float = 20.0) -> dict:
    assert collector.wait_until(
        lambda c: any(s["state"] == state for s in c.statuses()), timeout
    ), f"no {state!r} status; got {collector.statuses()}"
    return next(s for s in reversed(collector.statuses()) if s["state"] == state)


# --- wire format ------------------------------------------------------------------------------


def test_wire_format_order_qos_and_retained(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=4)
    expected = small.expected_messages()
    # Flags win over the environment: MQTT_PORT points nowhere, --port at the broker.
    monkeypatch.setenv("MQTT_PORT", str(free_port()))
    monkeypatch.setenv("MQTT_TOPIC", "elsewhere")
    with Collector(mosquitto.port) as live:
        code = publisher.main(_args(small, mosquitto.port, "--delay", "0", "--topic", "nem/stream"))
        assert code == 0
        assert live.wait_until(lambda c: len(c.events()) >= len(expected))
        events = live.events()
    assert [(m.topic, m.json()) for m in events] == expected
    assert all(m.qos == 1 for m in events)
    keys = {topic.split("/")[2]: list(payload) for topic, payload in expected}
    assert set(keys) == {"facility", "interchange", "market"}
    for m in events:
        assert list(m.json()) == keys[m.topic.split("/")[2]]
        decode_event("nem/stream", m.topic, m.payload)  # the dashboard's validator accepts it
        assert b" " not in m.payload

    # A late subscriber gets the last value of every topic, retained.
    with Collector(mosquitto.port) as late:
        last = {topic: payload for topic, payload in expected}
        assert late.wait_until(lambda c: {m.topic for m in c.events()} == set(last))
        assert all(m.retain for m in late.snapshot())
        assert {m.topic: m.json() for m in late.events()} == last
        status = _wait_status(late, "offline")
    assert status["sent"] == len(expected)
    assert status["rows"] == 4


def test_time_shift_on_later_passes(tmp_path: Path, mosquitto: Mosquitto) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    with Collector(mosquitto.port) as live:
        code = publisher.main(_args(small, mosquitto.port, "--delay", "0", "--cycles", "3"))
        assert code == 0
        want = [m for k in range(3) for m in small.expected_messages(pass_number=k)]
        assert live.wait_until(lambda c: len(c.events()) >= len(want))
        assert [(m.topic, m.json()) for m in live.events()] == want
        passes = sorted({s["pass_number"] for s in live.statuses() if s["state"] == "online"})
    assert passes == [0, 1, 2]
    # Pass 2 starts right after pass 1 ends: span = 3 rows x 5 min.
    assert want[-1][1]["timestamp"] == "2025-10-15T10:45:00+10:00"


def test_a_pass_that_would_end_ahead_of_the_clock_starts_a_new_lap(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # Twelve rows (an hour) ending on the last 5-minute mark an hour ago: pass 1 ends on that
    # mark (now or before), pass 2 an hour after it, past the 15-minute margin for as long as
    # the test runs (up to 45 minutes).
    mark = int(time.time()) // 300 * 300
    start = datetime.fromtimestamp(mark - 3600 - 55 * 60, NEM_TZ)
    small = write_small_csv(tmp_path / "consolidate.csv", rows=12, start=start)
    with Collector(mosquitto.port) as live:
        code = publisher.main(_args(small, mosquitto.port, "--delay", "0", "--cycles", "4"))
        assert code == 0
        want = [m for k in (0, 1, 0, 1) for m in small.expected_messages(pass_number=k)]
        assert live.wait_until(lambda c: len(c.events()) >= len(want))
        assert [(m.topic, m.json()) for m in live.events()] == want
        online = [s for s in live.statuses() if s["state"] == "online"]
    assert (
        max(
            decode_event("nem/stream", m.topic, m.payload).timestamp.timestamp()
            for m in live.events()
            if "/status" not in m.topic
        )
        <= mark
    )
    ids = list(dict.fromkeys(s["client_id"] for s in online))
    assert len(ids) == 2 and ids[1] == f"{ids[0]}.1"  # a new lap is a new stream to the page
    assert sorted({s["pass_number"] for s in online}) == [0, 1]


def test_delay_paces_messages_within_ten_percent(tmp_path: Path, mosquitto: Mosquitto) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=8, gaps=False, interchange=False)
    delay = 0.05
    with Collector(mosquitto.port) as live:
        assert publisher.main(_args(small, mosquitto.port, "--delay", str(delay))) == 0
        events = live.events()
    assert len(events) == 40  # 8 rows of 3 facilities and 2 regions
    per_message = (events[-1].at - events[0].at) / (len(events) - 1)
    assert per_message == pytest.approx(delay, rel=0.10)


@pytest.mark.parametrize(("every", "at_least", "at_most"), [("0.5", 8, 14), ("0", 0, 0)])
def test_progress_every_sets_the_progress_lines_and_not_the_status(
    tmp_path: Path, mosquitto: Mosquitto, every: str, at_least: int, at_most: int
) -> None:
    # 40 messages 0.16 s apart: 6.4 s, so the 5-second status goes out once within the pass.
    small = write_small_csv(tmp_path / "consolidate.csv", rows=8, gaps=False, interchange=False)
    with Collector(mosquitto.port) as live:
        result = run_publisher(
            _args(small, mosquitto.port, "--delay", "0.16", "--progress-every", every)
        )
        _wait_status(live, "offline")
        online = [s for s in live.statuses() if s["state"] == "online"]
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "messages sent," in line]
    assert at_least <= len(progress) <= at_most, result.stderr
    assert any("pass 1 done: 40 messages" in line for line in result.stderr.splitlines())
    # The pass start, then the periodic status mid-pass (whatever --progress-every says).
    assert len(online) >= 2, online
    assert 0 < online[-1]["sent"] < 40


# --- status, last will, signals -----------------------------------------------------------------


def test_status_online_then_last_will_after_a_kill(tmp_path: Path, mosquitto: Mosquitto) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=50)
    with Collector(mosquitto.port) as live:
        proc = start_publisher(_args(small, mosquitto.port, "--delay", "0.05"))
        try:
            online = _wait_status(live, "online")
            assert online["pass_number"] == 0
            assert online["position"] == small.timestamps[0]
            assert online["client_id"].startswith("nemlive-pub-")
            assert live.wait_until(lambda c: len(c.events()) >= 3)
        finally:
            proc.kill()
            proc.communicate(timeout=10)
        will = _wait_status(live, "offline")
    assert will["client_id"] == online["client_id"]
    with Collector(mosquitto.port) as late:  # retained
        assert _wait_status(late, "offline")["client_id"] == online["client_id"]


def test_sigterm_drains_what_is_in_flight_says_offline_and_exits_0(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=400)
    checkpoint = tmp_path / "ckpt.json"
    with HoldingProxy(mosquitto.port) as proxy, Collector(mosquitto.port) as live:
        proc = start_publisher(
            _args(small, proxy.port, "--delay", "0.002", "--checkpoint", str(checkpoint))
        )
        stderr_lines = StderrLines(proc)
        _wait_status(live, "online")
        assert live.wait_until(lambda c: len(c.events()) >= 50)
        # A checkpoint is written every second once the broker has acknowledged a row.
        assert live.wait_until(lambda c: read_checkpoint(checkpoint) is not None)
        proxy.hold.set()  # the broker's acknowledgements stop reaching the publisher
        held_at = len(live.events())
        assert live.wait_until(lambda c: len(c.events()) >= held_at + 20)  # still publishing
        proc.send_signal(signal.SIGTERM)
        stderr_lines.wait_for(r"waiting up to \S+ for \d+ acknowledgements")
        before_drain = read_checkpoint(checkpoint)
        proxy.release()
        stderr = stderr_lines.finish(timeout=30)
        assert proc.returncode == 0, stderr
        offline = _wait_status(live, "offline")
        sent = len(live.events())
    waited = re.search(r"waiting up to \S+ for (\d+) acknowledgements", stderr)
    assert waited and int(waited.group(1)) >= 20, stderr  # really in flight at SIGTERM
    assert "were not acknowledged" not in stderr
    # Every message sent was acknowledged and the checkpoint moved past the held ones, so
    # --resume would send none of them again.
    assert offline["sent"] == sent
    after = read_checkpoint(checkpoint)
    assert before_drain is not None and after is not None
    assert after.row > before_drain.row


def test_no_more_than_1000_messages_are_ever_unacknowledged(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    # ~2,000 messages, far more than the bound; the broker acknowledges none for 3 s.
    small = write_small_csv(tmp_path / "consolidate.csv", rows=400)
    with HoldingProxy(mosquitto.port) as proxy, Collector(mosquitto.port) as live:
        proc = start_publisher(_args(small, proxy.port, "--delay", "0"))
        stderr_lines = StderrLines(proc)
        _wait_status(live, "online")
        proxy.hold.set()
        # Time to fill the bound (1,000 take milliseconds): nothing the test can watch says
        # so, as paho keeps all but 100 of them in its queue.
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)  # the drain line says how many are outstanding
        stderr_lines.wait_for(r"waiting up to \S+ for \d+ acknowledgements")
        proxy.release()
        stderr = stderr_lines.finish(timeout=60)
    assert proc.returncode == 0, stderr
    waited = re.search(r"waiting up to \S+ for (\d+) acknowledgements", stderr)
    assert waited, stderr
    assert 900 <= int(waited.group(1)) <= 1_000, stderr  # it filled the bound and stopped


# --- broker failures ----------------------------------------------------------------------------


def test_broker_restart_mid_replay_loses_nothing(tmp_path: Path, mosquitto: Mosquitto) -> None:
    small = write_small_csv(
        tmp_path / "consolidate.csv", rows=60, facilities=("A", "B", "C", "D", "E", "F")
    )
    expected = {(topic, m["timestamp"]) for topic, m in small.expected_messages()}
    with Collector(mosquitto.port, client_id="persistent-sub", clean_session=False) as sub:
        proc = start_publisher(_args(small, mosquitto.port, "--delay", "0.005"))
        assert sub.wait_until(lambda c: len(c.events()) >= 100)
        mosquitto.restart()  # stop (persists its sessions) and start on the same port
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        assert "lost the connection" in stderr
        assert "reconnected" in stderr
        assert sub.wait_until(lambda c: c.keys() >= expected, timeout=30), (
            f"missing {sorted(expected - sub.keys())[:5]}"
        )


def test_unreachable_broker_exits_1_naming_host_and_port(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv")
    port = free_port()
    result = run_publisher(
        [
            *_args(small, port),
            "--host",
            "127.0.0.1",
            "--no-embedded-broker",
            "--connect-retries",
            "2",
        ]
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"publisher.py: error: cannot reach the MQTT broker at 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_sigterm_while_waiting_for_the_broker_exits_0(tmp_path: Path) -> None:
    # Stopping before the first connection is a stop, not "cannot reach the broker" (exit 1).
    small = write_small_csv(tmp_path / "consolidate.csv")
    args = [*_args(small, free_port()), "--no-embedded-broker", "--connect-retries", "20"]
    proc = start_publisher(args)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # the first attempt fails at once: connection refused
            seen.append(line)
            if "retrying in" in line:
                break
        assert seen and "retrying in" in seen[-1], "".join(seen)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "SIGTERM received" in stderr
    assert "error:" not in stderr and "Traceback" not in stderr


def test_password_never_reaches_the_log(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv")
    result = run_publisher(
        [*_args(small, free_port()), "--no-embedded-broker", "--connect-retries", "1", "-v"],
        MQTT_USERNAME="alice",
        MQTT_PASSWORD="s3cret-pw",
    )
    assert result.returncode == 1
    assert "s3cret-pw" not in result.stderr + result.stdout


# --- resume -------------------------------------------------------------------------------------


def test_resume_after_a_kill_sends_the_rest_not_everything(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=60)
    expected = {(topic, m["timestamp"]) for topic, m in small.expected_messages()}
    checkpoint = tmp_path / "consolidate.checkpoint.json"
    with Collector(mosquitto.port, client_id="resume-sub", clean_session=False) as everything:
        proc = start_publisher(_args(small, mosquitto.port, "--delay", "0.01"))

        def far_enough() -> bool:
            cp = read_checkpoint(checkpoint) if checkpoint.exists() else None
            return cp is not None and cp.row >= 10

        deadline = time.monotonic() + 30
        while not far_enough() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.communicate(timeout=10)
        saved = read_checkpoint(checkpoint)
        assert saved is not None and 10 <= saved.row < 59, saved

        with Collector(mosquitto.port) as second_run:
            result = run_publisher(
                _args(
                    small,
                    mosquitto.port,
                    "--delay",
                    "0",
                    "--resume",
                    "--checkpoint",
                    str(checkpoint),
                )
            )
            assert result.returncode == 0, result.stderr
            assert f"resuming after {saved.timestamp}" in result.stderr
            assert everything.wait_until(lambda c: c.keys() >= expected, timeout=30)
            resent = [m for m in second_run.events() if not m.retain]
        assert resent, "the resumed run sent nothing"
        assert all(m.json()["timestamp"] > saved.timestamp for m in resent)
        assert len(resent) < len(expected)


def test_resume_when_everything_was_sent_exits_0(tmp_path: Path, mosquitto: Mosquitto) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    assert publisher.main(_args(small, mosquitto.port, "--delay", "0")) == 0
    checkpoint = read_checkpoint(tmp_path / "consolidate.checkpoint.json")
    assert checkpoint is not None and (checkpoint.pass_number, checkpoint.row) == (0, 2)
    assert publisher.main(_args(small, mosquitto.port, "--delay", "0", "--resume")) == 0


def test_resume_with_a_checkpoint_of_another_csv_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    (tmp_path / "consolidate.checkpoint.json").write_text(
        json.dumps(
            {
                "version": 1,
                "pass_number": 0,
                "row": 1,
                "timestamp": "2024-01-01T00:05:00+10:00",
                "first_timestamp": "2024-01-01T00:00:00+10:00",
                "rows": 3,
                "topic": "nem/stream",
            }
        )
    )
    assert publisher.main(_args(small, free_port(), "--resume")) == 2
    assert (
        "belongs to another CSV or topic: delete it or run without --resume"
        in capsys.readouterr().err
    )


# --- input and configuration errors -------------------------------------------------------------


def test_missing_csv_exits_2_with_the_fix(tmp_path: Path) -> None:
    result = run_publisher(["--csv", str(tmp_path / "consolidate.csv"), "--no-embedded-broker"])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"publisher.py: error: {tmp_path / 'consolidate.csv'} not found: "
        "run extractor.py first or pass --csv"
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("power_A,timestamp\n1,2025-10-15T10:05:00+10:00\n", "first column must be 'timestamp'"),
        (
            "timestamp,power_A\n2025-10-15T10:10:00+10:00,1\n2025-10-15T10:05:00+10:00,2\n",
            "out of order",
        ),
        (
            "timestamp,power_A\n2025-10-15T10:05:00+10:00,1\n2025-10-15T10:05:00+10:00,2\n",
            "duplicate",
        ),
        ("timestamp,power_A\n2025-10-15T10:05:00+10:00,abc\n", "'abc' is not a number"),
        ("timestamp,power_A,power_A\n2025-10-15T10:05:00+10:00,1,2\n", "duplicate column"),
        ("timestamp,price_NSW1\n2025-10-15T10:05:00+10:00,1\n", "no power_<FACILITY>"),
        ("timestamp,power_A\n15/10/2025 10:05,1\n", "is not ISO 8601 with offset"),
    ],
    ids=[
        "header",
        "unsorted",
        "duplicate-ts",
        "non-numeric",
        "duplicate-col",
        "no-facility",
        "ts-format",
    ],
)
def test_bad_csv_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragment: str
) -> None:
    path = tmp_path / "consolidate.csv"
    path.write_text(content, encoding="utf-8")
    assert publisher.main(["--csv", str(path), "--no-embedded-broker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"publisher.py: error: {path}: ")
    assert fragment in err[-1]
    assert err[-1].endswith("re-run extractor.py to rebuild it")


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        (["--delay", "-1"], {}, "--delay -1.0 is negative"),
        (["--cycles", "-2"], {}, "--cycles -2 is negative"),
        ([], {"MQTT_PORT": "abc"}, "MQTT_PORT='abc' is not a port number"),
        ([], {"MQTT_TLS": "maybe"}, "MQTT_TLS='maybe' is not a boolean"),
        (["--topic", "a/#"], {}, "is not a valid base topic"),
        (["--progress-every", "-5"], {}, "--progress-every -5.0: use 0 (off) or more seconds"),
    ],
    ids=["delay", "cycles", "port-env", "tls-env", "topic", "progress-every"],
)
def test_bad_configuration_exits_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    fragment: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert publisher.main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_unknown_flag_is_a_usage_error() -> None:
    assert publisher.main(["--bogus"]) == 2


# --- embedded broker ----------------------------------------------------------------------------


def test_embedded_broker_serves_when_nothing_listens(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=40, gaps=False)  # 200 messages
    port = free_port()  # never 1883
    proc = start_publisher(_args(small, port, "--host", "127.0.0.1", "--delay", "0.02"))
    try:
        wait_for_port(port, timeout=20)
        with Collector(port) as live:
            assert live.wait_until(lambda c: len(c.events()) >= 20, timeout=30)
            _, stderr = proc.communicate(timeout=60)
            events = live.events()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert f"started an embedded amqtt broker on 127.0.0.1:{port}" in stderr
    expected = small.expected_messages()
    got = [(m.topic, m.json()) for m in events if not m.retain]
    assert got and got == expected[len(expected) - len(got) :]  # the live tail, in order
    with pytest.raises(TimeoutError):
        wait_for_port(port, timeout=1)  # stopped with the publisher


def test_no_embedded_broker_flag_exits_1(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv")
    port = free_port()
    result = run_publisher([*_args(small, port), "--no-embedded-broker", "--connect-retries", "1"])
    assert result.returncode == 1
    assert f"localhost:{port}" in result.stderr.strip().splitlines()[-1]
    assert "amqtt" not in result.stderr


def test_the_publisher_leaves_no_session_on_the_broker(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    with Collector(mosquitto.port) as live:
        result = run_publisher(_args(small, mosquitto.port, "--delay", "0"))
        assert result.returncode == 0, result.stderr
        client_id = _wait_status(live, "offline")["client_id"]
    # Connecting with its id and asking to keep the session shows whether the broker kept one.
    flags: list[bool] = []
    probe = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    probe.on_connect = lambda c, u, f, rc, p: flags.append(f.session_present)
    probe.connect("127.0.0.1", mosquitto.port)
    probe.loop_start()
    try:
        deadline = time.monotonic() + 10
        while not flags and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        probe.disconnect()
        probe.loop_stop()
    assert flags == [False]
