"""Recorders that share the stream (recorder.py --share-group): the flags, the shared
PostgreSQL writes, and two recorders on one real mosquitto with a kill -9 of one."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import psycopg
import pytest

from nemlive.cli import recorder
from nemlive.common.errors import StoreError
from nemlive.store import open_store
from nemlive.store.partitions import effective_cutoff
from tests.conftest import Mosquitto, Postgres
from tests.support_mqtt import run_publisher, start_publisher, write_small_csv
from tests.support_recorder import (
    RecorderProcess,
    count_store,
    expected_readings,
    read_store,
    wait_until,
    write_lookup,
)

FACILITIES = tuple(f"F{i:02d}" for i in range(20))
REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
HOUR = 3_600
T0 = 1_760_000_400 - 1_760_000_400 % HOUR  # an hour's start, October 2025


# --- flags and environment (unit) ---------------------------------------------------------


def _options(argv: list[str], **env: str) -> recorder.RecorderOptions:
    return recorder.parse_options(argv, env)


def test_the_group_comes_from_the_flag_then_the_environment() -> None:
    assert _options([]).share_group is None
    assert _options(["--client-id", "a", "--share-group", "g1"]).share_group == "g1"
    env = {"NEMLIVE_SHARE_GROUP": "g2", "NEMLIVE_RECORDER_ID": "b"}
    assert _options([], **env).share_group == "g2"
    assert _options(["--share-group", "g1"], **env).share_group == "g1"  # the flag wins
    assert _options([], NEMLIVE_SHARE_GROUP="").share_group is None


def test_cover_lists_the_other_ids_from_the_flag_then_the_environment() -> None:
    pg = ["--store", "postgresql://nem@db/nem", "--share-group", "g", "--client-id", "a"]
    assert _options(pg).cover == ()
    assert _options([*pg, "--cover", "b, c,a,b"]).cover == ("b", "c")  # own id, repeats out
    assert _options(pg, NEMLIVE_COVER="c").cover == ("c",)
    assert _options([*pg, "--cover", "b"], NEMLIVE_COVER="c").cover == ("b",)


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        pytest.param(
            ["--share-group", "g"], {}, "give each recorder of the group its own", id="no-id"
        ),
        pytest.param([], {"NEMLIVE_SHARE_GROUP": "g"}, "its own --client-id", id="env-group-no-id"),
        pytest.param(
            ["--share-group", "a/b", "--client-id", "x"], {}, "no '/', '+', '#'", id="slash"
        ),
        pytest.param(
            ["--client-id", "x"], {"NEMLIVE_SHARE_GROUP": "#"}, "NEMLIVE_SHARE_GROUP '#'", id="env"
        ),
        pytest.param(
            ["--client-id", "a", "--cover", "b", "--store", "postgresql://nem@db/nem"],
            {},
            "covering for other recorders needs --share-group",
            id="cover-no-group",
        ),
        pytest.param(
            ["--client-id", "a", "--share-group", "g"],
            {"NEMLIVE_COVER": "b"},
            "needs a PostgreSQL store",
            id="cover-sqlite",
        ),
    ],
)
def test_a_group_that_cannot_work_exits_2_in_one_line(
    argv: list[str],
    env: dict[str, str],
    needle: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert recorder.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and err.startswith("recorder.py: error: ")


def test_help_names_the_flag_and_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert recorder.main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--share-group GROUP" in out
    assert "NEMLIVE_SHARE_GROUP" in out


# --- two writers into one PostgreSQL database ---------------------------------------------


def _slow_down(url: str, table: str, when: str, seconds: float) -> None:
    """A server-side pause in every write to ``table`` (a trigger, ``when`` e.g. "BEFORE
    INSERT ... FOR EACH ROW"): it holds a writer's transaction open, so that another
    writer's lands inside it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER test_pause {when.replace('...', f'ON {table}')} "
            "EXECUTE FUNCTION test_pause()"
        )


def _wait_inside(url: str, statement: str) -> None:
    """Wait until a session of the database runs ``statement`` (a prefix)."""
    with psycopg.connect(url, autocommit=True) as conn:

        def running() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query LIKE %s",
                (statement + "%",),
            ).fetchone()
            return bool(row and row[0])

        assert wait_until(running, 20, every=0.02), f"no session ran {statement!r}"


def _write_in_thread(url: str, rows: list, errors: list[Exception]) -> threading.Thread:
    def write() -> None:
        try:
            with open_store(url) as store:
                store.write(rows, [])
        except StoreError as exc:  # what the recorder would see
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


@pytest.mark.integration
def test_two_writers_into_one_bucket_keep_its_average(postgres: Postgres) -> None:
    url = postgres.url()
    open_store(url).close()
    _slow_down(url, "facility_rollups", "AFTER INSERT OR UPDATE ... FOR EACH STATEMENT", 0.5)
    errors: list[Exception] = []
    first = _write_in_thread(url, [("F00", T0 + 300, 10.0, 1.0)], errors)
    _wait_inside(url, "INSERT INTO facility_rollups")  # the first has not committed yet
    second = _write_in_thread(url, [("F00", T0 + 600, 30.0, 3.0)], errors)
    first.join(30)
    second.join(30)
    assert not errors
    with open_store(url, create=False) as store:
        assert store.read_facilities(T0, T0 + HOUR, 3600) == {"F00": [(T0 + HOUR, 20.0, 2.0)]}
        assert store.read_facilities(T0, T0 + HOUR, 1800) == {"F00": [(T0 + 1800, 20.0, 2.0)]}


@pytest.mark.integration
def test_two_writers_of_the_same_rows_in_opposite_orders_neither_fail_nor_deadlock(
    postgres: Postgres,
) -> None:
    url = postgres.url()
    open_store(url).close()
    # Each row waits before its insert: the two writers hold one end each of the rows.
    _slow_down(url, "facility_readings", "BEFORE INSERT ... FOR EACH ROW", 0.5)
    rows = [(f, T0 + 300, 1.0 + i, 0.0) for i, f in enumerate(("F00", "F01", "F02"))]
    errors: list[Exception] = []
    first = _write_in_thread(url, rows, errors)
    _wait_inside(url, "INSERT INTO facility_readings")
    second = _write_in_thread(url, rows[::-1], errors)
    first.join(30)
    second.join(30)
    assert not errors
    assert read_store(url) == {("facility", f, ts): (a, b) for f, ts, a, b in rows}


@pytest.mark.integration
def test_two_prunes_at_once_drop_each_old_month_once(postgres: Postgres) -> None:
    url = postgres.url()
    stamps = [T0 + HOUR * i for i in range(70 * 24)]  # 70 days: three months' partitions
    with open_store(url) as store:
        store.write([(f, t, 1.0, 0.0) for f in FACILITIES for t in stamps], [])
    now = stamps[-1] + 300
    results: list[object] = []

    def prune() -> None:
        with open_store(url) as store:
            results.append(store.prune(3, now))

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bound = effective_cutoff(stamps[-1] - 3 * 86_400)  # whole months before the cutoff's
    old = sum(1 for t in stamps if t < bound) * len(FACILITIES)
    assert old > 0
    assert sorted(r.deleted for r in results) == [0, old]  # type: ignore[attr-defined]
    assert sorted(r.partitions for r in results)[0] == 0  # type: ignore[attr-defined]
    kept = read_store(url)
    assert min(ts for _k, _f, ts in kept) == min(t for t in stamps if t >= bound)
    assert len(kept) == len(FACILITIES) * len(stamps) - old


# --- two recorders on one shared subscription, one killed mid-stream ----------------------


def _shared_recorder(
    tmp_path: Path, port: int, url: str, client_id: str, run: int = 1, cover: str = ""
) -> RecorderProcess:
    lookup = tmp_path / "facilities.csv"
    if not lookup.exists():
        write_lookup(lookup, FACILITIES)
    return RecorderProcess(
        [
            *("--port", str(port), "--store", url, "--facilities", str(lookup)),
            *("--share-group", "recorders", "--client-id", client_id),
            *(("--cover", cover) if cover else ()),
        ],
        tmp_path / f"{client_id}.{run}.log",
    )


def _recorded(rec: RecorderProcess) -> int:
    """The messages a recorder says it recorded when it stopped."""
    match = re.search(r"stopped: (\d+) messages recorded", rec.output())
    assert match, rec.output()
    return int(match.group(1))


@pytest.mark.integration
def test_kill_9_of_one_of_two_sharing_recorders_then_its_restart_records_the_stream_once(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    # 150 rows x 45 messages at 2 ms: ~14 s of stream; a kill lands with up to a second of
    # received, uncommitted messages (the batch) and the broker queues the rest of the
    # killed recorder's share in its session.
    small = write_small_csv(
        tmp_path / "consolidate.csv", rows=150, facilities=FACILITIES, regions=REGIONS
    )
    messages = small.expected_messages()
    want = expected_readings(messages)
    url = postgres.url()
    a = _shared_recorder(tmp_path, mosquitto.port, url, "rec-a").start()
    b = _shared_recorder(tmp_path, mosquitto.port, url, "rec-b").start()
    pub = None
    try:
        for rec in (a, b):
            rec.wait_for_line("subscribed to")
        pub = start_publisher(
            [
                *("--csv", str(small.path), "--port", str(mosquitto.port), "--cycles", "1"),
                *("--delay", "0.002", "--cooldown", "0", "--no-embedded-broker"),
                *("--checkpoint", str(tmp_path / "ckpt.json")),
            ]
        )
        assert wait_until(lambda: count_store(url) >= 0.2 * len(want), 60)
        a.kill()
        at_kill = count_store(url)
        assert at_kill < len(want), "the stream ended before the kill: slow the publisher"
        # The survivor goes on with its share while the other is down ...
        assert wait_until(lambda: count_store(url) >= at_kill + 0.1 * len(want), 60)
        # ... and the killed one, restarted with its client id as a supervisor would, is
        # given its session back: what it had not committed and its share since the kill.
        a = _shared_recorder(tmp_path, mosquitto.port, url, "rec-a", run=2).start()
        assert pub.wait(timeout=120) == 0
        assert wait_until(lambda: count_store(url) >= len(want), 60), a.output() + b.output()
        assert a.terminate() == 0 and b.terminate() == 0
    finally:
        for rec in (a, b):
            rec.stop_quietly()
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()
    assert read_store(url) == want  # every (id, ts) of the stream, with the stream's values
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM facility_readings) + (SELECT count(*) FROM "
            "market_readings) + (SELECT count(*) FROM interchange_readings)"
        ).fetchone()
    assert row == (len(want),)
    # Shared, not doubled: the survivor recorded only part of the stream.
    assert 0 < _recorded(b) < len(messages)
    assert 0 < _recorded(a) < len(messages)
    for rec in (a, b):
        assert "Traceback" not in rec.output()


@pytest.mark.integration
def test_recorders_starting_at_once_on_an_empty_database_all_open_it(postgres: Postgres) -> None:
    url = postgres.url()
    errors: list[Exception] = []

    def open_once() -> None:
        try:
            open_store(url).close()
        except StoreError as exc:
            errors.append(exc)

    for _ in range(5):
        postgres.reset()
        threads = [threading.Thread(target=open_once) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors


@pytest.mark.integration
def test_a_recorder_that_joins_a_group_leaves_the_whole_stream_of_its_session(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    # rec-a first records alone on its persistent session (subscribed to <base>/#), then
    # comes back with --share-group: the session it resumes must not keep the old
    # subscription, or rec-a would go on receiving every message besides its share.
    url = postgres.url()
    lookup = write_lookup(tmp_path / "facilities.csv", FACILITIES)
    alone = RecorderProcess(
        [
            *("--port", str(mosquitto.port), "--store", url, "--facilities", str(lookup)),
            *("--client-id", "rec-a"),
        ],
        tmp_path / "alone.log",
    ).start()
    try:
        alone.wait_for_line("subscribed to nem/stream/#")
        assert alone.terminate() == 0
    finally:
        alone.stop_quietly()
    small = write_small_csv(tmp_path / "c.csv", rows=40, facilities=FACILITIES, regions=REGIONS)
    messages = small.expected_messages()
    a = _shared_recorder(tmp_path, mosquitto.port, url, "rec-a").start()
    b = _shared_recorder(tmp_path, mosquitto.port, url, "rec-b").start()
    try:
        for rec in (a, b):
            rec.wait_for_line("subscribed to")
        result = run_publisher(
            [
                *("--csv", str(small.path), "--port", str(mosquitto.port), "--cycles", "1"),
                *("--delay", "0", "--cooldown", "0", "--no-embedded-broker"),
                *("--checkpoint", str(tmp_path / "ckpt.json")),
            ]
        )
        assert result.returncode == 0, result.stderr
        want = expected_readings(messages)
        assert wait_until(lambda: count_store(url) >= len(want), 60)
        assert a.terminate() == 0 and b.terminate() == 0
    finally:
        for rec in (a, b):
            rec.stop_quietly()
    assert read_store(url) == want
    assert 0 < _recorded(a) < len(messages)
    assert 0 < _recorded(b) < len(messages)


@pytest.mark.integration
def test_kill_9_of_one_of_two_covering_recorders_and_the_other_records_the_whole_stream(
    tmp_path: Path, mosquitto: Mosquitto, postgres: Postgres
) -> None:
    small = write_small_csv(
        tmp_path / "consolidate.csv", rows=150, facilities=FACILITIES, regions=REGIONS
    )
    messages = small.expected_messages()
    want = expected_readings(messages)
    url = postgres.url()
    a = _shared_recorder(tmp_path, mosquitto.port, url, "rec-a", cover="rec-b").start()
    b = _shared_recorder(tmp_path, mosquitto.port, url, "rec-b", cover="rec-a").start()
    pub = None
    try:
        for rec in (a, b):
            rec.wait_for_line("covering for")
        pub = start_publisher(
            [
                *("--csv", str(small.path), "--port", str(mosquitto.port), "--cycles", "1"),
                *("--delay", "0.002", "--cooldown", "0", "--no-embedded-broker"),
                *("--checkpoint", str(tmp_path / "ckpt.json")),
            ]
        )
        assert wait_until(lambda: count_store(url) >= 0.2 * len(want), 60)
        a.kill()  # and never started again
        assert count_store(url) < len(want), "the stream ended before the kill: slow the publisher"
        assert pub.wait(timeout=120) == 0
        assert wait_until(lambda: count_store(url) >= len(want), 60), b.output()
        assert read_store(url) == want  # the survivor alone recorded the whole stream
        assert "recorder rec-a is down: recording its share on its session" in b.output()
        # The killed one, started again, is handed its session back.
        a = _shared_recorder(tmp_path, mosquitto.port, url, "rec-a", run=2, cover="rec-b").start()
        b.wait_for_line("recorder rec-a is back")
        assert a.terminate() == 0 and b.terminate() == 0
    finally:
        for rec in (a, b):
            rec.stop_quietly()
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait()
    assert read_store(url) == want
    for rec in (a, b):
        assert "Traceback" not in rec.output()
