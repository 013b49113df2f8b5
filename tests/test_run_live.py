"""make live's choices, in process: the topic, the cache folder per source, the extractor's
command. (tests/test_run.py runs the whole of make run and make live as programs.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nemlive.devtools import liverecord, run


@pytest.mark.parametrize(
    ("argv", "env", "topic"),
    [
        ([], {}, "nem/stream"),
        (["--live"], {}, "nem/live"),
        (["--live"], {"MQTT_TOPIC": "site/nem"}, "site/nem"),
        ([], {"MQTT_TOPIC": "site/nem"}, "site/nem"),
        (["--live", "--topic", "mine"], {"MQTT_TOPIC": "site/nem"}, "mine"),
    ],
)
def test_make_live_has_its_own_topic_unless_one_is_set(
    argv: list[str], env: dict[str, str], topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MQTT_TOPIC", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run.parse_args(argv).topic == topic


def test_each_source_has_its_own_cache_folder() -> None:
    live = Path("live")
    assert run.live_folder(live, simulated=True) == Path("live/nemweb-simulator")
    assert run.live_folder(live, simulated=False) == Path("live/openelectricity")


def test_the_live_extractor_names_its_source() -> None:
    command = run.extractor_follow_command(Path("c.csv"), Path("f.csv"), 1.0, "nemweb")
    assert command[2:5] == ["--follow", "--source", "nemweb"]
    assert "--source" in run.extractor_follow_command(Path("c.csv"), Path("f.csv"), 1.0)
    assert run.extractor_follow_command(Path("c.csv"), Path("f.csv"), 1.0)[4] == "auto"


def test_without_a_key_the_simulators_nemweb_face_is_followed() -> None:
    env = run.simulator_env("http://127.0.0.1:43123/v4")
    assert env == {
        "OPENELECTRICITY_API_URL": "http://127.0.0.1:43123/v4",
        "OPENELECTRICITY_API_KEY": run.SIM_KEY,
        "NEMWEB_URL": "http://127.0.0.1:43123",
    }


# --- make live records into a store and on a session of its own -------------------------


def test_make_live_records_on_its_own_session_and_make_run_on_the_default() -> None:
    live = run.recorder_command(liverecord.LIVE_RECORDER_ID)
    assert live[-2:] == ["--client-id", "nemlive-recorder-live"]
    assert "--client-id" not in run.recorder_command()  # make run's: the recorder's default
    assert liverecord.LIVE_RECORDER_ID != "nemlive-recorder"


def test_make_live_has_its_own_store_unless_one_is_given(tmp_path: Path) -> None:
    folder = tmp_path / "live" / "nemweb-simulator"
    assert run.live_store(None, folder, None) == f"sqlite:///{folder}/history.db"
    assert run.live_store("sqlite:///mine.db", folder, None) == "sqlite:///mine.db"
    assert run.live_store("none", folder, None) is None


def test_make_live_never_takes_make_runs_store_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEMLIVE_STORE", "sqlite:///run.db")
    assert run.parse_args([]).store == "sqlite:///run.db"  # make run's
    live = run.parse_args(["--live"])
    assert live.store is None  # resolved per source folder in run_live
    store = run.live_store(live.store, tmp_path, None)
    env = run.live_env(live, tmp_path / "facilities.csv", store)
    assert env["NEMLIVE_STORE"] == f"sqlite:///{tmp_path}/history.db"
    assert "NEMLIVE_STORE" not in run.live_env(live, tmp_path / "facilities.csv", None)


def test_without_mosquitto_make_live_runs_without_a_recorder(tmp_path: Path) -> None:
    class Embedded:  # the embedded broker speaks MQTT 3.1.1 only: no recorder session
        pass

    assert run.live_store(None, tmp_path, Embedded()) is None  # type: ignore[arg-type]


def test_the_page_waits_for_the_fill_to_end_and_for_the_store_to_hold_it(tmp_path: Path) -> None:
    import io
    import threading

    from nemlive.store import open_store
    from tests.support_dashboard import write_consolidate_csv

    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=12)
    newest = liverecord.newest_interval(csv_path)
    assert newest is not None
    url = f"sqlite:///{tmp_path / 'history.db'}"
    with open_store(url) as store:  # the fill's first rows are in, the newest is not
        store.write([], [("SA1", newest - 3600, 90.0, 1.0)])
    fill = liverecord.LineTap(
        io.BytesIO(b"INFO extractor: poll: +12 intervals\n"), liverecord.FILL_DONE, io.BytesIO()
    )
    fill.join(timeout=5)

    def record_the_rest() -> None:
        with open_store(url) as store:
            store.write([], [("SA1", newest, 91.0, 1.0)])

    writer = threading.Timer(1.0, record_the_rest)
    writer.start()
    started = time.monotonic()
    run.wait_for_fill_recorded([], fill, url, csv_path)
    assert time.monotonic() - started >= 0.9  # not before the store held the newest row
    writer.join()
    assert liverecord.read_store_last(url) == newest


def test_a_store_that_never_holds_the_fill_opens_the_page_after_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import io

    from tests.support_dashboard import write_consolidate_csv

    monkeypatch.setattr(run, "FILL_RECORD_TIMEOUT_S", 0.6)
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=2)
    fill = liverecord.LineTap(
        io.BytesIO(b"INFO extractor: poll: +2 intervals\n"), liverecord.FILL_DONE, io.BytesIO()
    )
    fill.join(timeout=5)
    with caplog.at_level("WARNING"):
        run.wait_for_fill_recorded([], fill, f"sqlite:///{tmp_path / 'none.db'}", csv_path)
    assert "opening the page with what it holds" in caplog.text
