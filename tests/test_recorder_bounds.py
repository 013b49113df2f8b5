"""The recorder under hostile traffic on a real mosquitto: invented ids, a forged future
interval, oversize payloads, and a QoS 0 flood while the store is locked."""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import recorder
from nemlive.common.events import encode_facility_event, encode_market_event
from nemlive.record.recording import ADMIT_ALL, Inbound
from nemlive.record.subscriber import INBOX_FULL, OVERSIZE, Inbox, Subscriber
from nemlive.record.writer import CHECKPOINT_EVERY_COMMITS, Recorder
from nemlive.store import open_store
from tests.conftest import Mosquitto, Postgres
from tests.support_recorder import (
    RecorderProcess,
    count_store,
    read_store,
    run_recorder,
    wait_until,
    write_lookup,
)

pytestmark = pytest.mark.integration

TS = "2025-10-15T10:05:00+10:00"
TS_NEXT = "2025-10-15T10:10:00+10:00"
EPOCH = 1760486700


def _recorder(tmp_path: Path, port: int, url: str, name: str = "rec") -> RecorderProcess:
    return RecorderProcess(
        [
            *("--port", str(port), "--store", url, "--client-id", "flood-recorder"),
            *("--facilities", str(write_lookup(tmp_path / "facilities.csv"))),
            *("--progress-every", "0.001"),  # a progress line after every batch
        ],
        tmp_path / f"{name}.log",
    )


def _publish(port: int, messages: list[tuple[str, bytes]], qos: int | list[int] = 1) -> None:
    """Publish on one connection, in order (``qos``: one for all, or one per message), and
    wait until each is sent (QoS 1: acknowledged by the broker)."""
    # A new client id each time: reusing one would make the broker drop the last connection,
    # and with it any QoS 0 messages it had not yet read.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"hostile-{uuid.uuid4().hex}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    assert client.connect("127.0.0.1", port) == mqtt.MQTT_ERR_SUCCESS
    client.loop_start()
    levels = qos if isinstance(qos, list) else [qos] * len(messages)
    infos = [
        client.publish(topic, payload, qos=level)
        for (topic, payload), level in zip(messages, levels, strict=True)
    ]
    for info in infos:
        info.wait_for_publish(30)
        assert info.is_published()
    client.disconnect()
    client.loop_stop()


def _line(output: str, text: str) -> str:
    return next(line for line in output.splitlines() if text in line)


def test_invented_ids_and_a_future_interval_never_reach_the_store(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    invented = [
        (f"nem/stream/facility/X{i:05d}", encode_facility_event(f"X{i:05d}", TS, 1.0, 0.5))
        for i in range(20_000)
    ]
    real = [
        ("nem/stream/facility/BAYSW", encode_facility_event("BAYSW", TS, 245.7, 212.5)),
        ("nem/stream/market/SA1", encode_market_event("SA1", TS, 90.0, 1500.0)),
    ]
    forged = [
        (
            "nem/stream/facility/BAYSW",
            encode_facility_event("BAYSW", "2199-01-01T10:00:00+10:00", 1.0, 1.0),
        )
    ]
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    try:
        rec.wait_for_line("subscribed to")
        _publish(mosquitto.port, invented[:10_000] + real + forged + invented[10_000:])
        assert wait_until(lambda: "20003 messages recorded" in rec.output(), 120), rec.output()
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    assert read_store(url) == {
        ("facility", "BAYSW", EPOCH): (245.7, 212.5),
        ("market", "SA1", EPOCH): (90.0, 1500.0),
    }
    out = rec.output()
    assert "Traceback" not in out
    assert "20001 (unknown 20000, future 1) rejected" in _line(out, "stopped:")
    assert "(1,000+ unknown ids)" in _line(out, "20003 messages recorded")
    names = _line(out, "not recorded, as the lookup")
    assert "1,000+ ids: X00000, X00001," in names and "and 980 more" in names
    assert "not recording 'nem/stream/facility/X00000': its id is not in the lookup" in out
    assert "future (ends 2199-01-01 10:00 NEM time, ahead of the clock)" in out


def test_oversize_payloads_are_counted_and_a_restart_does_not_get_them_again(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    big = [("nem/stream/facility/BAYSW", b"x" * 5000)] * 50
    first = ("nem/stream/facility/BAYSW", encode_facility_event("BAYSW", TS, 1.0, 1.0))
    rec = _recorder(tmp_path, mosquitto.port, url).start()
    try:
        rec.wait_for_line("subscribed to")
        # One connection, in order: the broker passes them on in that order, so once the last
        # one is stored, every oversize one before it has reached the recorder.
        _publish(mosquitto.port, [*big, *big, first], qos=[1] * 50 + [0] * 50 + [1])
        assert wait_until(lambda: count_store(url) >= 1)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    out = rec.output()
    assert "100 (oversize 100) rejected" in _line(out, "stopped:"), out
    assert "dropped a message over 1024 bytes before queueing it" in out
    # The QoS 1 ones were acknowledged once counted: the session does not send them again.
    later = (
        "nem/stream/facility/BAYSW",
        encode_facility_event("BAYSW", TS_NEXT, 2.0, 1.0),
    )
    rec = _recorder(tmp_path, mosquitto.port, url, name="rec2").start()
    try:
        rec.wait_for_line("subscribed to")
        _publish(mosquitto.port, [later])
        assert wait_until(lambda: count_store(url) >= 2)
        assert rec.terminate() == 0
    finally:
        rec.stop_quietly()
    assert "1 messages recorded" in _line(rec.output(), "stopped:")
    assert " 0 rejected" in _line(rec.output(), "stopped:"), rec.output()


def test_a_qos_0_flood_while_the_store_is_locked_stays_within_the_inbox_bound(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    path = tmp_path / "history.db"
    options = recorder.parse_options(
        [
            *("--port", str(mosquitto.port), "--store", f"sqlite:///{path}"),
            *("--client-id", "flood-thread", "--progress-every", "0"),
        ],
        {},
    )
    store = open_store(options.store)
    inbox, stop = Inbox(), threading.Event()
    subscriber = Subscriber(options.mqtt, options.client_id, inbox)
    rec = Recorder(
        options, store, subscriber, inbox, stop, admission=recorder.load_admission(options)
    )
    lock = sqlite3.connect(path, isolation_level=None)
    thread = threading.Thread(target=rec.run, daemon=True)
    payloads = [
        ("nem/stream/facility/BAYSW", encode_facility_event("BAYSW", TS, float(i % 100), 1.0))
        for i in range(5_000)
    ]
    try:
        assert subscriber.connect(3, stop)
        thread.start()
        lock.execute("BEGIN EXCLUSIVE")  # no batch can be written from now on
        for _round in range(60):  # up to 300,000 messages, until 20,000 were turned away
            _publish(mosquitto.port, payloads, qos=0)
            assert len(inbox) <= inbox.bound
            if inbox.dropped()[INBOX_FULL] >= 20_000:
                break
        assert inbox.dropped()[INBOX_FULL] >= 20_000, inbox.dropped()
        assert inbox.qos0_max <= inbox.peak <= inbox.bound
        assert rec.messages == 0 and count_store(f"sqlite:///{path}") == 0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        stop.set()
        thread.join(timeout=60)
        subscriber.close()
        store.close()
    assert not thread.is_alive()
    assert rec.all_rejects()[INBOX_FULL] >= 20_000 and OVERSIZE not in rec.all_rejects()


class _Acks:
    """A subscriber stand-in that counts acknowledgements."""

    def __init__(self) -> None:
        self.acked = 0

    def ack(self, messages: list[Inbound]) -> int:
        self.acked += len(messages)
        return len(messages)


def test_the_recorder_empties_the_sqlite_log_every_so_many_commits(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    wal = Path(f"{path}-wal")
    options = recorder.parse_options(["--store", f"sqlite:///{path}"], {})
    frozen = 1000.0  # no time passes: only the count of commits can call for a checkpoint
    acks = _Acks()
    with open_store(options.store) as store:
        rec = Recorder(
            options,
            store,
            acks,  # type: ignore[arg-type]
            Inbox(),
            threading.Event(),
            admission=ADMIT_ALL,
            clock=lambda: EPOCH + 86_400.0,
            monotonic=lambda: frozen,
        )
        for k in range(1, CHECKPOINT_EVERY_COMMITS + 1):
            ts = f"2025-10-15T{10 + k // 12:02d}:{5 * (k % 12):02d}:00+10:00"
            payload = encode_facility_event("BAYSW", ts, float(k), 1.0)
            assert rec.flush([Inbound(1, k, 1, "nem/stream/facility/BAYSW", payload)])
            rec._tick()
            if k < CHECKPOINT_EVERY_COMMITS:
                assert wal.stat().st_size > 0
        assert wal.stat().st_size == 0  # emptied after the last of them
        assert (acks.acked, rec.facility_rows) == (k, k)


@pytest.mark.integration
def test_the_recorder_prunes_postgres_by_whole_months_and_says_so(
    postgres: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    options = recorder.parse_options(["--store", postgres.url(), "--keep-days", "20"], {})
    stamps = ("2025-10-15T10:05:00+10:00", "2025-12-10T10:05:00+10:00")
    december = 1765325100  # 2025-12-10T10:05+10:00
    with open_store(options.store) as store:
        rec = Recorder(
            options,
            store,
            _Acks(),  # type: ignore[arg-type]
            Inbox(),
            threading.Event(),
            admission=ADMIT_ALL,
            clock=lambda: december + 3600.0,
        )
        for k, ts in enumerate(stamps, 1):
            payload = encode_facility_event("BAYSW", ts, 1.0, 1.0)
            assert rec.flush([Inbound(1, k, 1, "nem/stream/facility/BAYSW", payload)])
        with caplog.at_level("INFO", logger="nemlive.record.writer"):
            rec.prune()
        # 20 days before 10 December is in November: October's partitions go, November stays.
        assert (
            "pruned 1 readings more than 20 days older than the newest (whole months: 6 "
            "partitions dropped, every reading before 2025-11-01 00:00 NEM)"
        ) in caplog.text
        assert [p[0] for p in store.read_facilities(0, 2**40)["BAYSW"]] == [december]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "not found: run make data"),
        ("facility_id,name\nA,B\n", "is unreadable ("),
    ],
    ids=["missing", "missing-columns"],
)
def test_a_lookup_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    lookup = tmp_path / "facilities.csv"
    if content is not None:
        lookup.write_text(content)
    result = run_recorder(["--facilities", str(lookup)])
    assert result.returncode == 2
    assert re.fullmatch(
        rf"recorder\.py: error: facility lookup {re.escape(str(lookup))} .*\n", result.stderr
    )
    assert needle in result.stderr and "--record-all" in result.stderr


def test_the_lookup_and_record_all_flag_then_env_then_default(tmp_path: Path) -> None:
    from nemlive.common.lookups import FACILITIES_CSV

    default = recorder.parse_options([], {})
    assert (default.facilities, default.record_all) == (FACILITIES_CSV, False)
    env = {"NEMLIVE_FACILITIES": str(tmp_path / "env.csv"), "NEMLIVE_RECORD_ALL": "1"}
    from_env = recorder.parse_options([], env)
    assert (from_env.facilities, from_env.record_all) == (tmp_path / "env.csv", True)
    flagged = recorder.parse_options(["--facilities", "f.csv", "--record-all"], {})
    assert (flagged.facilities, flagged.record_all) == (Path("f.csv"), True)
    assert recorder.load_admission(from_env).facilities is None  # the file is not even read
    known = recorder.load_admission(default).facilities
    assert known is not None and "BAYSW" in known and "X00000" not in known
