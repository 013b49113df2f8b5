"""make live's choices, in process: the topic, the cache folder per source, the extractor's
command. (tests/test_run.py runs the whole of make run and make live as programs.)"""

from __future__ import annotations

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
