"""recorder.py as a subprocess, with real mosquitto, publisher.py and both store backends."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import recorder
from nemlive.store import SCHEMA_VERSION, open_store
from tests.conftest import Mosquitto, Postgres, free_port
from tests.support_mqtt import SmallCsv, run_publisher, start_publisher, write_small_csv
from tests.support_recorder import (
    RecorderProcess,
    TcpRelay,
    count_store,
    expected_readings,
    read_store,
    run_recorder,
    wait_until,
    write_lookup,
)

pytestmark = pytest.mark.integration

FACILITIES = tuple(f"F{i:02d}" for i in range(20))
REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return request.getfixturevalue("postgres").url()


def _recorder(
    tmp_path: Path, port: int, store: str, *extra: str, name: str = "rec"
) -> RecorderProcess:
    """The recorder, with a lookup that knows the shipped facilities and the tests' own."""
    lookup = tmp_path / "facilities.csv"
    if not lookup.exists():
        write_lookup(lookup, (*FACILITIES, "ER01_X", "HPR1"))
    return RecorderProcess(
        [
            *("--port", str(port), "--store", store, "--client-id", "test-recorder"),
            *("--facilities", str(lookup), *extra),
        ],
        tmp_path / f"{name}.log",
    )


def _publisher_args(small: SmallCsv, port: int, delay: str = "0") -> list[str]:
    return [
        "--csv",
        str(small.path),
        "--port",
        str(port),
        "--cooldown",
        "0",
        "--cycles",
        "1",
        "--delay",
        delay,
        "--no-embedded-broker",
        "--checkpoint",
        str(small.path.with_suffix(".ckpt.json")),
    ]


def _wait_subscribed(rec: RecorderProcess) -> None:
    rec.wait_for_line("subscribed to")


def _assert_store_holds(url: str, want: dict, timeout: float = 60.0) -> None:
    wait_until(lambda: count_store(url) >= len(want), timeout)
    assert read_store(url) == want


# --- the happy path ---------------------------------------------------------------------------


def test_records_every_event_of_a_stream(
    tmp_path: Path, mosquitto: Mosquitto, store_url: str
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=6)
    rec = _recorder(tmp_path, mosquitto.port, store_url).start()
    try:
        _wait_subscribed(rec)
        result = run_publisher(_publisher_args(small, mosquitto.port))
        assert result.returncode == 0, result.stderr
        want = expected_readings(small.expected_messages())
        _assert_store_holds(store_url, want)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    out = rec.output()
    assert "Traceback" not in out
    kinds = ("facility", "market", "interchange")
    counts = {kind: sum(1 for k in want if k[0] == kind) for kind in kinds}
    assert counts["interchange"] > 0  # the CSV has interchange columns: they are recorded
    assert (
        f"{counts['facility']} facility, {counts['market']} market and "
        f"{counts['interchange']} interchange readings written"
    ) in out
    assert "0 rejected" in out


def test_a_replay_upserts_the_later_values(
    tmp_path: Path, mosquitto: Mosquitto, store_url: str
) -> None:
    first = write_small_csv(tmp_path / "a.csv", rows=4)
    again = write_small_csv(tmp_path / "b.csv", rows=4, gaps=False)  # same keys, filled in
    rec = _recorder(tmp_path, mosquitto.port, store_url).start()
    try:
        _wait_subscribed(rec)
        for small in (first, again):
            assert run_publisher(_publisher_args(small, mosquitto.port)).returncode == 0
        want = expected_readings(first.expected_messages() + again.expected_messages())
        assert len(want) == len(expected_readings(again.expected_messages()))
        assert wait_until(lambda: read_store(store_url) == want, 30)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()


def test_sigterm_writes_what_has_arrived_and_exits_0(
    tmp_path: Path, mosquitto: Mosquitto, store_url: str
) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    want = expected_readings(small.expected_messages())
    rec = _recorder(tmp_path, mosquitto.port, store_url).start()
    try:
        _wait_subscribed(rec)
        assert run_publisher(_publisher_args(small, mosquitto.port)).returncode == 0
        # Delivered by now, but inside the 1-second batch window: SIGTERM must commit them.
        time.sleep(0.4)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    assert "SIGTERM received: writing what has arrived" in rec.output()
    assert read_store(store_url) == want


# --- crashes and restarts -------------------------------------------------------------------


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: Mosquitto, store_url: str
) -> None:
    # 150 rows x 25 messages at 3 ms: ~11 s of stream. Each batch waits up to 1 s for its
    # commit, so a kill lands with hundreds of messages received but not yet committed. The
    # first kill must land mid-stream; on a loaded machine a slow restart can let the
    # second come after the stream's end, which still checks a restart that owes nothing.
    small = write_small_csv(
        tmp_path / "consolidate.csv", rows=150, facilities=FACILITIES, regions=REGIONS
    )
    want = expected_readings(small.expected_messages())
    rec = _recorder(tmp_path, mosquitto.port, store_url).start()
    pub = None
    try:
        _wait_subscribed(rec)
        pub = start_publisher(_publisher_args(small, mosquitto.port, delay="0.003"))
        for share in (0.2, 0.5):  # two kills, each at a different point of the stream
            assert wait_until(lambda s=share: count_store(store_url) >= s * len(want), 60)
            rec.kill()
            held = count_store(store_url)
            if share == 0.2:
                assert held < len(want), "the stream ended before the kill: slow the publisher"
            rec = _recorder(tmp_path, mosquitto.port, store_url).start()
        assert pub.wait(timeout=120) == 0
        _assert_store_holds(store_url, want)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()


def test_a_broker_restart_mid_stream_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, store_url: str
) -> None:
    small = write_small_csv(
        tmp_path / "consolidate.csv", rows=100, facilities=FACILITIES, regions=REGIONS
    )
    want = expected_readings(small.expected_messages())
    rec = _recorder(tmp_path, mosquitto.port, store_url).start()
    pub = None
    try:
        _wait_subscribed(rec)
        pub = start_publisher(_publisher_args(small, mosquitto.port, delay="0.002"))
        assert wait_until(lambda: count_store(store_url) >= 0.3 * len(want), 60)
        mosquitto.restart()
        assert pub.wait(timeout=120) == 0
        _assert_store_holds(store_url, want)
        assert count_store(store_url) == len(want)
        rec.wait_for_line("reconnected to")
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()


# --- bad input ------------------------------------------------------------------------------------


def _publish_raw(port: int, messages: list[tuple[str, bytes]], *, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_hostile_payloads_are_dropped_and_counted(tmp_path: Path, mosquitto: Mosquitto) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    good = {
        "facility_id": "BAYSW",
        "timestamp": "2025-10-15T10:05:00+10:00",
        "power_mw": 245.7,
        "co2_tonnes": 212.48,
    }
    hostile = [
        ("nem/stream/facility/BAYSW", b"{not json"),
        ("nem/stream/facility/BAYSW", json.dumps({**good, "extra": 1}).encode()),
        ("nem/stream/facility/BAYSW", json.dumps({**good, "power_mw": 1e9}).encode()),
        (
            "nem/stream/facility/BAYSW",
            json.dumps({**good, "timestamp": "2025-10-15T10:05:00"}).encode(),
        ),
        ("nem/stream/facility/OTHER", json.dumps(good).encode()),
        ("nem/stream/facility/BAYSW", b"x" * 5000),
        ("nem/stream/facility/<script>", b"{}"),
        (
            "nem/stream/facility/BAYSW",
            b'{"facility_id":"BAYSW","timestamp":"2025-10-15T10:05:00+10:00","power_mw":NaN,"co2_tonnes":1}',
        ),
        ("nem/stream/facility/BAYSW", json.dumps(good).encode()),
    ]
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    try:
        _wait_subscribed(rec)
        _publish_raw(mosquitto.port, hostile)
        assert wait_until(lambda: count_store(url) >= 1)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    assert read_store(url) == {("facility", "BAYSW", 1760486700): (245.7, 212.48)}
    out = rec.output()
    summary = next(line for line in out.splitlines() if "stopped:" in line)
    assert "8 (" in summary, summary
    for reason in (
        "bad_json",
        "extra_key",
        "out_of_range",
        "naive_timestamp",
        "id_mismatch",
        "oversize",
    ):
        assert reason in summary, summary
    assert "Traceback" not in out


def _alert_payload(state: str, at: str, value: float | None) -> bytes:
    return json.dumps(
        {
            "rule": "sa-spike",
            "kind": "price_above",
            "subject": "SA1",
            "state": state,
            "since": "2025-10-15T10:05:00+10:00",
            "at": at,
            "value": value,
            "threshold": 300.0,
        }
    ).encode()


def test_alerts_are_recorded_once_and_a_cleared_alert_is_no_event(
    tmp_path: Path, mosquitto: Mosquitto, store_url: str
) -> None:
    topic = "nem/stream/alert/sa-spike/SA1"
    firing = _alert_payload("firing", "2025-10-15T10:05:00+10:00", 15000.0)
    resolved = _alert_payload("resolved", "2025-10-15T10:10:00+10:00", 120.0)
    _publish_raw(mosquitto.port, [(topic, firing)], retain=True)  # fired before it started
    rec = _recorder(tmp_path, mosquitto.port, store_url).start()
    try:
        _wait_subscribed(rec)
        _publish_raw(
            mosquitto.port,
            [(topic, firing), (topic, resolved), ("nem/stream/alert/sa-spike/SA1", b"{")],
        )
        _publish_raw(mosquitto.port, [(topic, b"")], retain=True)  # the retained one cleared

        def alerts() -> list[tuple[str, int, float | None]]:
            with open_store(store_url, create=False) as store:
                return [(a.state, a.at, a.value) for a in store.read_alerts(0, 2**33)]

        want = [("firing", 1760486700, 15000.0), ("resolved", 1760487000, 120.0)]
        assert wait_until(lambda: alerts() == want, 30)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    assert alerts() == want  # the repeat of the firing one and the empty payload added nothing
    summary = next(line for line in rec.output().splitlines() if "stopped:" in line)
    assert "1 (bad_json 1)" in summary and "topic" not in summary, summary


# --- the store --------------------------------------------------------------------------------


def test_retention_prunes_what_is_older_than_keep_days(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    small = write_small_csv(tmp_path / "consolidate.csv", rows=8, gaps=False)  # 35 minutes
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    try:
        _wait_subscribed(rec)
        assert run_publisher(_publisher_args(small, mosquitto.port)).returncode == 0
        want = expected_readings(small.expected_messages())
        _assert_store_holds(url, want)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    # 0.01 days = 14.4 minutes before the newest reading: the last three intervals stay.
    rec = _recorder(tmp_path, mosquitto.port, url, "--keep-days", "0.01", name="rec2").start()
    try:
        # 5 intervals of 3 facilities, 2 markets and 2 interchanges.
        rec.wait_for_line("pruned 35 readings more than 0.01 days older than the newest")
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    # Most of the store went: one WARNING line says how much, up to when and from what.
    assert (
        "WARNING recorder: the prune deleted 35 of the 56 readings held (62%): every one "
        "before 2025-10-15 10:25:36 NEM time, --keep-days 0.01 counted back from the newest reading "
        "held (2025-10-15 10:40); if that is not meant, check --keep-days and this machine's clock"
    ) in rec.output()
    newest = max(ts for _k, _i, ts in want)
    assert read_store(url) == {k: v for k, v in want.items() if k[2] >= newest - 864}


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path, mosquitto: Mosquitto) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    open_store(url).close()
    import sqlite3

    with sqlite3.connect(tmp_path / "history.db") as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    result = run_recorder(["--port", str(mosquitto.port), "--store", url])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"recorder.py: error: the store {url} has schema version {SCHEMA_VERSION + 1}, newer than "
        f"this NEM Live understands ({SCHEMA_VERSION}): upgrade NEM Live, or point "
        "--store/NEMLIVE_STORE at another database"
    ]


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--store", "mysql://x@h/db"], {}, "--store has the scheme 'mysql'"),
        ([], {"NEMLIVE_STORE": "nemlive.db"}, "NEMLIVE_STORE has no scheme"),
        (["--keep-days", "-1"], {}, "--keep-days -1.0"),
    ],
    ids=["bad-scheme", "env-no-scheme", "negative-keep-days"],
)
def test_bad_settings_exit_2_in_one_line(args: list[str], env: dict[str, str], needle: str) -> None:
    result = run_recorder(args, **env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr


def test_store_settings_flag_then_env_then_default(tmp_path: Path) -> None:
    env = {"NEMLIVE_STORE": f"sqlite:///{tmp_path}/env.db", "NEMLIVE_RECORDER_ID": "env-id"}
    assert recorder.parse_options([], {}).store.display == "sqlite:///nemlive.db"
    assert recorder.parse_options([], {}).client_id == "nemlive-recorder"
    from_env = recorder.parse_options([], env)
    assert (from_env.store.target, from_env.client_id) == (f"{tmp_path}/env.db", "env-id")
    flagged = recorder.parse_options(["--store", "sqlite:///f.db", "--client-id", "f"], env)
    assert (flagged.store.target, flagged.client_id) == ("f.db", "f")


def test_an_unreachable_store_is_retried_and_nothing_unwritten_is_acknowledged(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    relay = TcpRelay((postgres.host, postgres.port)).restore()
    url = postgres.url(port=relay.port)
    first = write_small_csv(tmp_path / "a.csv", rows=5, facilities=FACILITIES, regions=REGIONS)
    later = write_small_csv(tmp_path / "b.csv", rows=5, facilities=FACILITIES[:5], regions=REGIONS)
    # b.csv: the same keys for its facilities, other values: the later values must win.
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    try:
        _wait_subscribed(rec)
        assert run_publisher(_publisher_args(first, mosquitto.port)).returncode == 0
        _assert_store_holds(postgres.url(), expected_readings(first.expected_messages()))
        relay.cut()
        assert run_publisher(_publisher_args(later, mosquitto.port)).returncode == 0
        rec.wait_for_line("PostgreSQL store postgresql://root@127.0.0.1")
        rec.wait_for_line("retrying, and acknowledging nothing until it is written")
        # The recorder dies while the store is away: had it acknowledged anything it had
        # not written, the broker would not send it again and the store would miss it.
        time.sleep(2.5)  # several retries, still one line
        out = rec.output()
        assert out.count("retrying, and acknowledging nothing") == 1, out
        rec.kill()
    finally:
        rec.stop_quietly()
    relay.restore()
    rec = _recorder(tmp_path, mosquitto.port, url, name="rec2").start()
    try:
        want = expected_readings(first.expected_messages() + later.expected_messages())
        assert wait_until(lambda: read_store(postgres.url()) == want, 30), rec.output()
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
        relay.cut()


def test_a_store_that_comes_back_is_written_without_a_restart(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    relay = TcpRelay((postgres.host, postgres.port))  # down from the start
    url = postgres.url(port=relay.port)
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    try:
        rec.wait_for_line("cannot connect to the PostgreSQL store")
        relay.restore()
        _wait_subscribed(rec)
        small = write_small_csv(tmp_path / "a.csv", rows=3)
        assert run_publisher(_publisher_args(small, mosquitto.port)).returncode == 0
        _assert_store_holds(postgres.url(), expected_readings(small.expected_messages()))
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
        relay.cut()
    out = rec.output()
    assert out.count("cannot connect to the PostgreSQL store") == 1, out
    assert "is reachable again" in out


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_a_password_in_the_store_url_never_reaches_the_output(
    form: str, tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    secret = "pw-Zq81-secret"

    def url(port: int | None = None) -> str:
        # The server trusts local connections, so the password is sent and ignored.
        if form == "userinfo":
            return postgres.url(password=secret, port=port)
        return f"{postgres.url(port=port)}?password={secret}&application_name=rec"

    shown = (
        "postgresql://root:***@127.0.0.1"
        if form == "userinfo"
        else f"/{postgres.dbname}?password=***&application_name=rec"
    )
    small = write_small_csv(tmp_path / "a.csv", rows=3)
    rec = _recorder(tmp_path, mosquitto.port, url(), "-v").start()
    try:
        _wait_subscribed(rec)
        assert run_publisher(_publisher_args(small, mosquitto.port)).returncode == 0
        _assert_store_holds(postgres.url(), expected_readings(small.expected_messages()))
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    dead = RecorderProcess(["--port", str(mosquitto.port)], tmp_path / "dead.log")
    dead.env["NEMLIVE_STORE"] = url(port=free_port())
    dead.start()
    try:
        dead.wait_for_line("cannot connect to the PostgreSQL store postgresql://root")
        assert dead.terminate() == 0  # stopped while waiting for the store: not a failure
    finally:
        dead.stop_quietly()
    for text in (rec.output(), dead.output()):
        assert secret not in text
    assert shown in rec.output() and shown in dead.output()


# --- issue 13, "done when" ------------------------------------------------------------------------


def _read_csv_day(path: Path) -> dict:
    """The CSV read on its own terms (csv module, not the publisher's reader): every
    (kind, id, epoch s) with a value, and its two values (an empty cell is None)."""
    import csv
    from datetime import datetime

    want: dict = {}
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        pairs = {
            "facility": [c.partition("_")[2] for c in header if c.startswith("power_")],
            "market": [c.partition("_")[2] for c in header if c.startswith("price_")],
            "interchange": [c.partition("_")[2] for c in header if c.startswith("imports_")],
        }
        index = {name: i for i, name in enumerate(header)}
        for row in rows:
            ts = int(datetime.fromisoformat(row[0]).timestamp())
            for kind, (first, second) in (
                ("facility", ("power", "emissions")),
                ("market", ("price", "demand")),
                ("interchange", ("imports", "exports")),
            ):
                for ident in pairs[kind]:
                    a, b = row[index[f"{first}_{ident}"]], row[index[f"{second}_{ident}"]]
                    if a or b:
                        want[kind, ident, ts] = (float(a) if a else None, float(b) if b else None)
    return want


@pytest.mark.slow
def test_issue_13_done_a_day_recorded_into_postgres_across_a_kill_9_exactly_once(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    from tests.conftest import ROOT

    day = tmp_path / "consolidate.csv"
    with (ROOT / "consolidate.csv").open(encoding="utf-8") as src:
        lines = [next(src) for _ in range(1 + 288)]
    day.write_text("".join(lines), encoding="utf-8")
    want = _read_csv_day(day)
    assert len({ts for _k, _i, ts in want}) == 288
    url = postgres.url()
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    pub = None
    try:
        _wait_subscribed(rec)
        pub = start_publisher(
            [
                *("--csv", str(day), "--port", str(mosquitto.port), "--cycles", "1"),
                *("--delay", "0", "--no-embedded-broker", "--checkpoint", str(tmp_path / "c.json")),
            ]
        )
        assert wait_until(lambda: count_store(url) >= len(want) // 2, 120)
        rec.kill()
        assert count_store(url) < len(want)
        rec = _recorder(tmp_path, mosquitto.port, url, name="rec2").start()
        assert pub.wait(timeout=180) == 0
        assert wait_until(lambda: count_store(url) >= len(want), 120), rec.output()
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()
    assert read_store(url) == want  # every (id, ts) of those rows, with the CSV's values
    import psycopg

    with psycopg.connect(url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM facility_readings), (SELECT count(*) FROM market_readings), "
            "(SELECT count(*) FROM interchange_readings)"
        ).fetchone()
    assert counts == tuple(
        sum(1 for k in want if k[0] == kind) for kind in ("facility", "market", "interchange")
    )
    assert counts[2] == 288 * 5


def test_a_broker_without_mqtt_5_is_one_line_naming_it(tmp_path: Path) -> None:
    from nemlive.publish.broker import EmbeddedBroker

    port = free_port()
    broker = EmbeddedBroker(port).start()  # amqtt: MQTT 3.1.1 only
    try:
        result = run_recorder(
            [
                "--port",
                str(port),
                "--store",
                f"sqlite:///{tmp_path}/h.db",
                "--connect-retries",
                "1",
            ],
            timeout=60,
        )
    finally:
        broker.stop(timeout=5.0)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"recorder.py: error: cannot reach the MQTT broker at localhost:{port}")
    assert "MQTT 3.1.1" in last


# --- "subscribed to" means the broker holds the subscription (make live starts on it) ----


def _read_packet(conn) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """One MQTT packet: (its type, its body)."""
    head = conn.recv(1)
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return head[0] >> 4, body


def test_subscribed_is_said_only_once_the_broker_acknowledged_the_subscription() -> None:
    """A scripted MQTT 5 broker that accepts the connection at once and answers the
    SUBSCRIBE a second later: the subscriber's connect returns (and logs "subscribed to")
    only after that SUBACK, so a publisher started on that line reaches it."""
    import socket
    import threading

    from nemlive.common.mqttconfig import resolve_mqtt_settings
    from nemlive.record.subscriber import Inbox, Subscriber

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    suback_sent: list[float] = []

    def broker() -> None:
        conn, _ = server.accept()
        with conn:
            assert _read_packet(conn)[0] == 1  # CONNECT
            conn.sendall(bytes([0x20, 3, 0, 0, 0]))  # CONNACK: no session, success, no props
            kind, body = _read_packet(conn)
            assert kind == 8  # SUBSCRIBE
            time.sleep(1.0)
            suback_sent.append(time.monotonic())
            conn.sendall(bytes([0x90, 4, *body[:2], 0, 1]))  # SUBACK: granted QoS 1
            conn.settimeout(10)
            try:
                while conn.recv(1024):
                    pass
            except OSError:
                pass

    thread = threading.Thread(target=broker, daemon=True)
    thread.start()
    settings = resolve_mqtt_settings({}, host="127.0.0.1", port=port, topic="nem/sub")
    subscriber = Subscriber(settings, "nemlive-recorder-test", Inbox())
    stop = threading.Event()
    try:
        assert subscriber.connect(1, stop)
        returned = time.monotonic()
        assert suback_sent and returned >= suback_sent[0], "connect returned before the SUBACK"
        assert subscriber.subscribed.is_set()
    finally:
        subscriber.close()
        server.close()
