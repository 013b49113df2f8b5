"""extractor.py --follow --source and --nemweb-url: the flags, the URL, the choice of source.

In process: ``main(argv)`` and the pure resolve functions, the in-process OE simulator for
``/v4/me`` and the facility list. The followers themselves are replaced by recorders: this
file tests which one is called, with what, not how they follow.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nemlive.cli import extractor as cli
from nemlive.common.errors import ConfigError
from nemlive.extract.facilitylist import CachedFacilityList
from nemlive.extract.oeclient import ClientSettings, OEClient
from oesim.testing import run_simulator  # test infrastructure; production never imports it

KEY = "nemlive-source-key-Hw52Pz"  # distinctive, so a leak is easy to find
PRO_KEY = "nemlive-source-pro-key-Lt90Xe"
NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
SIM_URL = "http://127.0.0.1:8765/v4"


def _args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("extractor.py: error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- the flags only mean something with --follow ------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["--source", "nemweb"], ["--source", "auto"], ["--nemweb-url", "https://x.org"]]
)
def test_a_follow_flag_without_follow_is_one_line_error(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", KEY)
    assert cli.main(argv) == 2
    assert "add --follow or drop --" in _error_line(capsys)


def test_source_takes_only_its_three_values(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--follow", "--source", "aemo"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --- the NEMweb URL -----------------------------------------------------------------------------


def test_the_nemweb_url_flag_beats_env_beats_default() -> None:
    env = {"NEMWEB_URL": "https://mirror.example.org/"}
    api = "https://api.openelectricity.org.au/v4"
    assert cli.resolve_nemweb_url("https://flag.example.org", env, api) == (
        "https://flag.example.org"
    )
    assert cli.resolve_nemweb_url(None, env, api) == "https://mirror.example.org"
    assert cli.resolve_nemweb_url(None, {}, api) == "https://nemweb.com.au"
    assert cli.resolve_nemweb_url(None, {"NEMWEB_URL": " "}, api) == "https://nemweb.com.au"


def test_the_simulator_api_url_gives_its_nemweb_face() -> None:
    assert cli.resolve_nemweb_url(None, {}, SIM_URL) == "http://127.0.0.1:8765"
    assert cli.resolve_nemweb_url(None, {}, "http://localhost:9/v4/") == "http://localhost:9"
    # NEMWEB_URL still wins over the simulator's face.
    assert cli.resolve_nemweb_url(None, {"NEMWEB_URL": "http://[::1]:7"}, SIM_URL) == (
        "http://[::1]:7"
    )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://nemweb.com.au", "must be http(s)"),
        ("nemweb.com.au", "must be http(s)"),
        ("https://", "must be http(s)"),
        ("https://nemweb.com.au:port", "must be http(s)"),
        ("https://user:pw-Zq81@nemweb.com.au", "no login"),
        ("https://user@nemweb.com.au", "no login"),
        ("https://nemweb.com.au/?token=abc", "query or fragment"),
        ("https://nemweb.com.au/#top", "query or fragment"),
    ],
)
def test_a_bad_nemweb_url_is_one_line_that_hides_a_password(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        cli.resolve_nemweb_url(url, {}, "https://api.openelectricity.org.au/v4")
    text = str(exc.value)
    assert words in text and "\n" not in text
    assert "pw-Zq81" not in text


def test_a_bad_nemweb_url_stops_main_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", KEY)
    monkeypatch.setenv("NEMWEB_URL", "https://u:secret-Pw77@nemweb.com.au")
    out = ["--out", str(tmp_path / "c.csv"), "--facilities-out", str(tmp_path / "f.csv")]
    assert cli.main(["--follow", *out]) == 2
    line = _error_line(capsys)
    assert "NEMWEB_URL" in line and "secret-Pw77" not in line


# --- which sources need a key -------------------------------------------------------------------


def test_nemweb_without_a_key_or_a_saved_list_says_to_set_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENELECTRICITY_API_KEY", raising=False)
    out = ["--out", str(tmp_path / "c.csv"), "--facilities-out", str(tmp_path / "f.csv")]
    assert cli.main(["--follow", "--source", "nemweb", *out]) == 2
    line = _error_line(capsys)
    assert "set OPENELECTRICITY_API_KEY" in line
    assert "facility list comes from Open Electricity, one request a day" in line


def test_nemweb_without_a_key_is_allowed_with_a_saved_list(tmp_path: Path) -> None:
    (tmp_path / "oe-facilities.json").write_text("{}")
    args = _args("--follow", "--source", "nemweb", "--facilities-out", str(tmp_path / "f.csv"))
    fc = cli.resolve_follow_config(args, {}, NOW)
    assert fc.config.api_key == ""
    assert fc.facility_cache == tmp_path / "oe-facilities.json"
    assert fc.source == "nemweb" and fc.nemweb_url == "https://nemweb.com.au"


@pytest.mark.parametrize("source", [None, "auto", "oe"])
def test_auto_and_oe_need_a_key(source: str | None, tmp_path: Path) -> None:
    (tmp_path / "oe-facilities.json").write_text("{}")
    argv = ["--follow", "--facilities-out", str(tmp_path / "f.csv")]
    args = _args(*argv, *(["--source", source] if source else []))
    with pytest.raises(ConfigError, match="OPENELECTRICITY_API_KEY is not set"):
        cli.resolve_follow_config(args, {}, NOW)


def test_the_nemweb_extraction_says_nemweb_and_simulated_for_this_machine(tmp_path: Path) -> None:
    args = _args("--follow", "--facilities-out", str(tmp_path / "f.csv"))
    env = {"OPENELECTRICITY_API_KEY": KEY, "OPENELECTRICITY_API_URL": SIM_URL}
    sim = cli.resolve_follow_config(args, env, NOW)
    assert sim.source == "auto"
    assert sim.config.extraction.source == "simulator"  # the OE face, for the facility list
    ex = sim.nemweb_extraction
    assert (ex.source, ex.api_url, ex.simulated) == ("nemweb", "http://127.0.0.1:8765", True)
    real = cli.resolve_follow_config(args, {"OPENELECTRICITY_API_KEY": KEY}, NOW)
    ex = real.nemweb_extraction
    assert (ex.source, ex.api_url, ex.simulated) == ("nemweb", "https://nemweb.com.au", False)


# --- auto: the plan chooses ---------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[Any]:
    # The simulator's clock is NOW: the plan counts the credits left until the daily reset,
    # so on the wall clock the choice would depend on the hour the test runs.
    keys = {KEY: "COMMUNITY", PRO_KEY: "PRO"}
    with run_simulator(dataset="small", keys=keys, clock=lambda: NOW) as handle:
        yield handle


def _client(sim: Any, key: str) -> OEClient:
    settings = ClientSettings(base_url=sim.url, api_key=key, max_retries=0, min_interval=0.0)
    return OEClient(settings, sleep=lambda s: None)


def _settings(tmp_path: Path) -> Any:
    args = _args("--follow", "--out", str(tmp_path / "c.csv"))
    fc = cli.resolve_follow_config(args, {"OPENELECTRICITY_API_KEY": KEY}, NOW)
    return fc.settings


@pytest.mark.parametrize(("key", "source"), [(KEY, "nemweb"), (PRO_KEY, "oe")])
def test_auto_chooses_by_the_keys_plan(
    sim: Any, key: str, source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(sim, key)
    ex = cli.resolve_config(
        _args(), {"OPENELECTRICITY_API_KEY": key, "OPENELECTRICITY_API_URL": sim.url}, NOW
    ).extraction
    facilities = CachedFacilityList(client, ex, tmp_path / "oe-facilities.json")
    with caplog.at_level(logging.INFO, logger="extractor"):
        assert cli.choose_auto_source(client, facilities, _settings(tmp_path)) == source
    lines = [r.getMessage() for r in caplog.records]
    if source == "nemweb":
        assert any(
            ln.startswith("free plan sweeps facilities every ")
            and ln.endswith(
                "following NEMweb for the 5-minute stream; Open Electricity for the facility list"
            )
            for ln in lines
        ), lines
    else:
        assert any(ln.startswith("PRO plan sweeps facilities every interval") for ln in lines)
    assert [r.path for r in sim.requests.records()] == ["/v4/me", "/v4/facilities/"]
    # The facility list is kept: choosing again within the day costs only /v4/me.
    sim.requests.clear()
    facilities = CachedFacilityList(client, ex, tmp_path / "oe-facilities.json")
    assert cli.choose_auto_source(client, facilities, _settings(tmp_path)) == source
    assert [r.path for r in sim.requests.records()] == ["/v4/me"]
    assert not any(key in ln for ln in lines)


# --- main: the call site ------------------------------------------------------------------------


class Calls:
    """Stands in for the two followers: records which one ran, with what."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def oe(self, extraction: Any, settings: Any, client: Any, stop: Any) -> int:
        self.seen.append(("oe", extraction))
        return 0

    def nemweb(self, fc: Any, facilities: Any, stop: Any) -> int:
        self.seen.append(("nemweb", (fc, facilities.lookup())))
        return 0


@pytest.mark.parametrize(
    ("key", "flag", "source"),
    [
        (KEY, None, "nemweb"),
        (PRO_KEY, None, "oe"),
        (PRO_KEY, "nemweb", "nemweb"),
        (KEY, "oe", "oe"),
    ],
)
def test_main_follows_the_chosen_source(
    sim: Any,
    key: str,
    flag: str | None,
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = Calls()
    monkeypatch.setattr(cli, "run_follow", calls.oe)
    monkeypatch.setattr(cli, "follow_nemweb", calls.nemweb)
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", key)
    monkeypatch.setenv("OPENELECTRICITY_API_URL", sim.url)
    monkeypatch.delenv("NEMWEB_URL", raising=False)
    out = ["--out", str(tmp_path / "c.csv"), "--facilities-out", str(tmp_path / "f.csv")]
    assert cli.main(["--follow", *(["--source", flag] if flag else []), *out]) == 0
    assert [s for s, _ in calls.seen] == [source]
    if source == "nemweb":
        fc, lookup = calls.seen[0][1]
        assert fc.nemweb_url == sim.root_url and fc.nemweb_extraction.simulated
        assert lookup.facility_ids
        assert (tmp_path / "oe-facilities.json").is_file()
        assert key not in (tmp_path / "oe-facilities.json").read_text()


def test_main_follows_nemweb_without_a_key_from_the_saved_list(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls()
    monkeypatch.setattr(cli, "follow_nemweb", calls.nemweb)
    monkeypatch.setenv("OPENELECTRICITY_API_URL", sim.url)
    out = ["--out", str(tmp_path / "c.csv"), "--facilities-out", str(tmp_path / "f.csv")]
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", KEY)
    ex = cli.resolve_config(
        _args(), dict(OPENELECTRICITY_API_KEY=KEY, OPENELECTRICITY_API_URL=sim.url), NOW
    ).extraction
    CachedFacilityList(_client(sim, KEY), ex, tmp_path / "oe-facilities.json").lookup()
    sim.requests.clear()
    monkeypatch.delenv("OPENELECTRICITY_API_KEY")
    assert cli.main(["--follow", "--source", "nemweb", *out]) == 0
    assert [s for s, _ in calls.seen] == ["nemweb"]
    assert sim.requests.records() == []  # a restart within the day: no request at all
