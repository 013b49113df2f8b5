"""make live's choices, in process: the topic, the cache folder per source, the extractor's
command. (tests/test_run.py runs the whole of make run and make live as programs.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from nemlive.devtools import run


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
