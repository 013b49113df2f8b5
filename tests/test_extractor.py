"""extractor.py end to end: the CLI as a subprocess, over HTTP, against the OE simulator.

One test per injected fault: either retried to the same bytes as a clean run, or a clear
one-line error with the previous cache left exactly as it was.
"""

from __future__ import annotations

import itertools
import json
import math
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import extractor
from nemlive.common.columns import build_header
from nemlive.common.errors import ConfigError
from oesim.testing import run_simulator  # test infrastructure; production never imports it
from tests.support_extractor import (
    EXTRACTOR,
    Reply,
    ScriptedServer,
    base_url,
    column,
    read_csv,
    run_extractor,
    serve,
)
from tests.support_follow import Program

pytestmark = pytest.mark.integration

KEY = "nemlive-test-key-Qx7Zr4Wp"  # distinctive, so a leak is easy to find
WEEK = ["--start", "2025-10-01", "--end", "2025-10-08"]
SPLIT = {"battery_charging", "battery_discharging"}


@pytest.fixture
def sim() -> Iterator[Any]:
    with run_simulator(dataset="small", keys=(KEY,)) as handle:
        yield handle


def extract(
    sim: Any, workdir: Path, *args: str, key: str = KEY, check: bool = False
) -> subprocess.CompletedProcess[str]:
    proc = run_extractor(
        [*WEEK, *args] if "--start" not in args else list(args),
        cwd=workdir,
        OPENELECTRICITY_API_KEY=key,
        OPENELECTRICITY_API_URL=sim.url,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The last stderr line, which must be our single error line (no traceback)."""
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("extractor.py: error: ")
    return lines[-1]


@pytest.fixture(scope="module")
def clean_week(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A clean 7-day extraction of the small catalogue: the reference for the fault tests."""
    workdir = tmp_path_factory.mktemp("clean")
    with run_simulator(dataset="small", keys=(KEY,)) as handle:
        proc = extract(handle, workdir, "--verbose", check=True)
        requests = handle.requests.records()
        facilities = handle.dataset.facilities()
        dataset = handle.dataset
    return {
        "dir": workdir,
        "proc": proc,
        "csv": (workdir / "consolidate.csv").read_bytes(),
        "requests": requests,
        "facilities": facilities,
        "dataset": dataset,
    }


# ------------------------------------------------------------------ a clean week


def test_week_is_three_requests_and_2016_rows(clean_week: dict[str, Any]) -> None:
    paths = [r.path for r in clean_week["requests"]]
    assert paths == ["/v4/facilities/", "/v4/data/facilities/NEM", "/v4/market/network/NEM"]
    header, rows = read_csv(clean_week["dir"] / "consolidate.csv")
    assert len(rows) == 2016
    stamps = column(header, rows, "timestamp")
    assert stamps[0] == "2025-10-01T00:00:00+10:00"
    assert stamps[-1] == "2025-10-07T23:55:00+10:00"
    times = [datetime.fromisoformat(s).timestamp() for s in stamps]
    assert all(b - a == 300 for a, b in itertools.pairwise(times))


def test_week_header_and_lookup_follow_the_contracts(clean_week: dict[str, Any]) -> None:
    header, _ = read_csv(clean_week["dir"] / "consolidate.csv")
    lookup_header, lookup_rows = read_csv(clean_week["dir"] / "data" / "facilities.csv")
    operational = sorted(
        f["code"]
        for f in clean_week["facilities"]
        if f["network_id"] == "NEM"
        and any(u["status_id"] in ("operating", "commissioning") for u in f["units"])
    )
    assert sorted(r[0] for r in lookup_rows) == operational
    assert header == build_header(
        operational, ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"], interchange=True
    )
    assert lookup_header[0] == "facility_id"


def test_week_power_matches_the_simulated_units(clean_week: dict[str, Any]) -> None:
    """Facility power from the simulator's own unit series, summed here independently."""
    header, rows = read_csv(clean_week["dir"] / "consolidate.csv")
    stamps = column(header, rows, "timestamp")
    times = [datetime.fromisoformat(s) for s in stamps]
    dataset = clean_week["dataset"]
    checked = 0
    for fac in clean_week["facilities"]:
        name = f"power_{fac['code']}"
        if name not in header:
            continue
        bidirectional = any(u["fueltech_id"] == "battery" for u in fac["units"])
        expected: list[float | None] = [None] * len(times)
        for u in fac["units"]:
            if u["status_id"] == "retired" or (bidirectional and u["fueltech_id"] in SPLIT):
                continue
            sign = -1.0 if u["fueltech_id"] in ("pumps", "battery_charging") else 1.0
            for i, v in enumerate(dataset.unit_power(u["code"], times)):
                if v is not None:
                    expected[i] = (expected[i] or 0.0) + sign * v
        for cell, want in zip(column(header, rows, name), expected, strict=True):
            if want is None:
                assert cell == ""
            else:
                assert float(cell) == pytest.approx(want, abs=1e-3), name
                checked += 1
    assert checked > 10_000


def test_week_market_is_joined(clean_week: dict[str, Any]) -> None:
    header, rows = read_csv(clean_week["dir"] / "consolidate.csv")
    for region in ("NSW1", "QLD1", "SA1", "TAS1", "VIC1"):
        prices = column(header, rows, f"price_{region}")
        assert sum(1 for p in prices if p != "") > 2000
        assert all(math.isfinite(float(p)) for p in prices if p)


def test_week_progress_and_summary_on_stderr(clean_week: dict[str, Any]) -> None:
    err = clean_week["proc"].stderr
    assert "facility data: batch 1/1" in err
    assert "elapsed" in err
    assert "2016 rows" in err and "missing intervals" in err and "MB" in err
    assert clean_week["proc"].stdout == ""


def test_same_inputs_give_byte_identical_csv(
    clean_week: dict[str, Any], sim: Any, tmp_path: Path
) -> None:
    extract(sim, tmp_path, check=True)
    assert (tmp_path / "consolidate.csv").read_bytes() == clean_week["csv"]
    first = json.loads((clean_week["dir"] / "consolidate.meta.json").read_text())
    second = json.loads((tmp_path / "consolidate.meta.json").read_text())
    first.pop("written_at"), second.pop("written_at")
    first.pop("api_url"), second.pop("api_url")  # another simulator, another port
    assert first == second


def test_the_key_never_reaches_output_or_files(clean_week: dict[str, Any]) -> None:
    proc = clean_week["proc"]  # run with --verbose: every request is logged
    assert "GET " in proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    for path in clean_week["dir"].rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    meta = json.loads((clean_week["dir"] / "consolidate.meta.json").read_text())
    assert meta["source"] == "simulator"
    assert meta["api_url"].startswith("http://127.0.0.1:")


def test_eight_days_are_two_windows_without_overlap(sim: Any, tmp_path: Path) -> None:
    extract(sim, tmp_path, "--start", "2025-10-01", "--end", "2025-10-09", check=True)
    data = [r for r in sim.requests if "/data/facilities/" in r.path]
    assert len(data) == 2
    assert "date_end=2025-10-08T00%3A00%3A00" in data[0].query
    assert "date_start=2025-10-08T00%3A00%3A00" in data[1].query
    header, rows = read_csv(tmp_path / "consolidate.csv")
    stamps = column(header, rows, "timestamp")
    assert len(stamps) == len(set(stamps)) == 8 * 288


def test_facilities_filter_limits_the_extraction(sim: Any, tmp_path: Path) -> None:
    extract(sim, tmp_path, *WEEK, "--facilities", "TALLAWANG,GUNYAH", check=True)
    header, _ = read_csv(tmp_path / "consolidate.csv")
    assert [c for c in header if c.startswith("power_")] == ["power_GUNYAH", "power_TALLAWANG"]


def test_unknown_facility_code_is_a_usage_error(sim: Any, tmp_path: Path) -> None:
    proc = extract(sim, tmp_path, *WEEK, "--facilities", "NOSUCH")
    assert proc.returncode == 2
    assert "NOSUCH" in one_line_error(proc)


# ------------------------------------------------------------------ faults


@pytest.fixture
def previous_cache(tmp_path: Path) -> bytes:
    content = b"timestamp,power_OLD\n2025-09-01T00:05:00+10:00,1\n"
    (tmp_path / "consolidate.csv").write_bytes(content)
    return content


def assert_untouched(workdir: Path, previous: bytes) -> None:
    assert (workdir / "consolidate.csv").read_bytes() == previous
    assert not (workdir / "consolidate.meta.json").exists()
    assert not (workdir / "data" / "facilities.csv").exists()
    assert [p.name for p in workdir.rglob("*.tmp")] == []


@pytest.mark.parametrize(
    ("kind", "count", "extra"),
    [
        pytest.param("500", 2, {}, id="500"),
        pytest.param("502", 1, {}, id="502-html"),
        pytest.param("503", 2, {}, id="503"),
        pytest.param("504", 1, {}, id="504-html"),
        pytest.param("429", 1, {"seconds": 1}, id="429-retry-after"),
        pytest.param("truncated", 1, {}, id="truncated-json"),
        pytest.param("truncated_close", 1, {}, id="truncated-connection"),
        pytest.param("slow", 1, {"seconds": 8}, id="read-timeout"),
    ],
)
def test_transient_faults_are_retried_to_the_same_bytes(
    clean_week: dict[str, Any], sim: Any, tmp_path: Path, kind: str, count: int, extra: dict
) -> None:
    sim.faults.inject(kind, count=count, path_contains="/data/", **extra)
    # A short timeout only where the fault is a slow answer: on a loaded machine a healthy
    # answer can take more than a second or two.
    timeout = "3" if kind == "slow" else "30"
    proc = extract(sim, tmp_path, "--retry-backoff", "0.05", "--timeout", timeout)
    assert proc.returncode == 0, proc.stderr
    assert "retry 1 of 5" in proc.stderr
    assert (tmp_path / "consolidate.csv").read_bytes() == clean_week["csv"]
    if kind != "slow":  # the slow request is logged only when its handler wakes up
        assert sim.requests.count("/data/facilities/") == count + 1
    if kind == "429":
        assert "in 1.0 s" in proc.stderr  # Retry-After honoured


def test_faults_on_the_market_and_facilities_routes_are_retried(
    clean_week: dict[str, Any], sim: Any, tmp_path: Path
) -> None:
    sim.faults.inject("503", count=1, path_contains="/facilities/")
    sim.faults.inject("500", count=1, path_contains="/market/")
    proc = extract(sim, tmp_path, "--retry-backoff", "0.05")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "consolidate.csv").read_bytes() == clean_week["csv"]


def test_too_many_failures_stop_with_the_previous_cache_intact(
    sim: Any, tmp_path: Path, previous_cache: bytes
) -> None:
    sim.faults.inject("503", count=10, path_contains="/data/")
    proc = extract(sim, tmp_path, "--retry-backoff", "0.01", "--max-retries", "2")
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "failed 3 times" in line and "HTTP 503 (Maintenance Mode)" in line
    assert_untouched(tmp_path, previous_cache)


def test_key_rejected_mid_run_stops_at_once(
    sim: Any, tmp_path: Path, previous_cache: bytes
) -> None:
    sim.faults.inject("401", count=1, path_contains="/data/")
    proc = extract(sim, tmp_path)
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "API key was rejected" in line and "Authentication failed" in line
    assert sim.requests.count("/data/facilities/") == 1  # no retry
    assert_untouched(tmp_path, previous_cache)
    assert KEY not in proc.stderr


def test_wrong_key_is_rejected_without_showing_it(
    sim: Any, tmp_path: Path, previous_cache: bytes
) -> None:
    wrong = "wrong-key-Jd93kLmq01"
    proc = extract(sim, tmp_path, key=wrong)
    assert proc.returncode == 1
    assert "API key was rejected (401 Invalid API key)" in one_line_error(proc)
    assert wrong not in proc.stderr + proc.stdout
    assert_untouched(tmp_path, previous_cache)


def test_legacy_416_is_an_empty_batch(sim: Any, tmp_path: Path) -> None:
    # Two windows; the first answers the legacy "no data" 416, the second has data.
    sim.faults.inject("416", count=1, path_contains="/data/")
    proc = extract(sim, tmp_path, "--start", "2025-10-01", "--end", "2025-10-09")
    assert proc.returncode == 0, proc.stderr
    header, rows = read_csv(tmp_path / "consolidate.csv")
    assert len(rows) == 288
    assert column(header, rows, "timestamp")[0] == "2025-10-08T00:00:00+10:00"
    meta = json.loads((tmp_path / "consolidate.meta.json").read_text())
    assert meta["missing_intervals"] == 7 * 288


def test_the_legacy_response_shape_gives_the_same_bytes(
    clean_week: dict[str, Any], tmp_path: Path
) -> None:
    # 4.0.x bodies: start/end, columns.network_region, UTC "Z" stamps, "total_records": null.
    with run_simulator(dataset="small", keys=(KEY,), legacy_shape=True) as legacy:
        extract(legacy, tmp_path, check=True)
    assert (tmp_path / "consolidate.csv").read_bytes() == clean_week["csv"]
    assert (tmp_path / "data" / "facilities.csv").read_bytes() == (
        clean_week["dir"] / "data" / "facilities.csv"
    ).read_bytes()


def test_no_data_at_all_fails_and_keeps_the_cache(
    sim: Any, tmp_path: Path, previous_cache: bytes
) -> None:
    sim.faults.inject("416", count=1, path_contains="/data/")  # "no data" for the only batch
    proc = extract(sim, tmp_path)
    assert proc.returncode == 1
    assert "no facility data" in one_line_error(proc)
    assert_untouched(tmp_path, previous_cache)


def test_unwritable_facilities_out_names_that_file_and_keeps_the_cache(
    sim: Any, tmp_path: Path, previous_cache: bytes
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder is needed")
    proc = extract(sim, tmp_path, "--facilities-out", "blocked/facilities.csv")
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "cannot write blocked" in line and "--facilities-out" in line
    assert_untouched(tmp_path, previous_cache)


def test_400_stops_with_the_server_message(tmp_path: Path, previous_cache: bytes) -> None:
    with run_simulator(dataset="small", keys=(KEY,), enforce_history=True) as handle:
        proc = extract(handle, tmp_path, "--start", "2020-01-01", "--end", "2020-01-02")
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "(400): Date start is too far in the past" in line
    assert_untouched(tmp_path, previous_cache)


# ------------------------------------------------------------------ CLI without a server


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_extractor(list(args), cwd=tmp_path, timeout=60, **env)


def test_missing_key_says_how_to_get_one(tmp_path: Path) -> None:
    proc = run_cli(tmp_path)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "OPENELECTRICITY_API_KEY" in line
    assert "https://platform.openelectricity.org.au" in line
    assert "python -m oesim" in line and "OPENELECTRICITY_API_URL" in line


@pytest.mark.parametrize(
    ("args", "env", "text"),
    [
        pytest.param(["--start", "01/10/2025"], {}, "is not YYYY-MM-DD", id="bad-date"),
        pytest.param(
            ["--start", "2025-10-08", "--end", "2025-10-01"], {}, "is not before", id="reversed"
        ),
        pytest.param(["--start", "2025-10-01T10:03"], {}, "5-minute grid", id="off-grid"),
        pytest.param(["--network", "WEM"], {}, "use NEM", id="network"),
        pytest.param(
            [], {"OPENELECTRICITY_API_URL": "ftp://example.org/v4"}, "not an http(s) URL", id="url"
        ),
        pytest.param(["--timeout", "0"], {}, "--timeout", id="timeout"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], text: str
) -> None:
    proc = run_cli(tmp_path, *args, OPENELECTRICITY_API_KEY=KEY, **env)
    assert proc.returncode == 2
    assert text in one_line_error(proc)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert KEY not in proc.stderr


def test_unreachable_api_exits_1(tmp_path: Path, previous_cache: bytes) -> None:
    from tests.conftest import free_port

    proc = run_cli(
        tmp_path,
        *WEEK,
        "--max-retries",
        "1",
        "--retry-backoff",
        "0.01",
        OPENELECTRICITY_API_KEY=KEY,
        OPENELECTRICITY_API_URL=f"http://127.0.0.1:{free_port()}/v4",
    )
    assert proc.returncode == 1
    assert "connection failed" in one_line_error(proc)
    assert_untouched(tmp_path, previous_cache)


def test_help_documents_the_environment(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--help")
    assert proc.returncode == 0
    for text in (
        "--start",
        "--end",
        "--network",
        "--out",
        "--facilities-out",
        "OPENELECTRICITY_API_KEY",
        "OPENELECTRICITY_API_URL",
    ):
        assert text in proc.stdout


# ------------------------------------------------------------------ configuration (pure)


def resolve(argv: list[str], env: dict[str, str], now: datetime | None = None):
    args = extractor.build_parser().parse_args(argv)
    return extractor.resolve_config(args, env, now or datetime(2025, 10, 9, 3, 0, tzinfo=UTC))


def test_default_window_is_the_week_before_the_last_nem_midnight() -> None:
    # 2025-10-08T17:30Z is 2025-10-09T03:30 in NEM time: the last NEM midnight is the 9th.
    cfg = resolve([], {"OPENELECTRICITY_API_KEY": KEY}, datetime(2025, 10, 8, 17, 30, tzinfo=UTC))
    assert (cfg.start, cfg.end) == (datetime(2025, 10, 2), datetime(2025, 10, 9))


@pytest.mark.parametrize(
    ("argv", "window"),
    [
        pytest.param(
            ["--start", "2025-10-01"], ("2025-10-01T00:00", "2025-10-08T00:00"), id="start-only"
        ),
        pytest.param(
            ["--end", "2025-10-08T12:30"], ("2025-10-01T12:30", "2025-10-08T12:30"), id="end-only"
        ),
        pytest.param(
            ["--start", "2025-10-01T10:05", "--end", "2025-10-01T11:00"],
            ("2025-10-01T10:05", "2025-10-01T11:00"),
            id="minutes",
        ),
    ],
)
def test_window_flags(argv: list[str], window: tuple[str, str]) -> None:
    cfg = resolve(argv, {"OPENELECTRICITY_API_KEY": KEY})
    assert (
        cfg.start.isoformat(timespec="minutes"),
        cfg.end.isoformat(timespec="minutes"),
    ) == window


def test_flag_beats_env_beats_default() -> None:
    env = {"OPENELECTRICITY_API_KEY": KEY}
    assert resolve([], env).api_url == "https://api.openelectricity.org.au/v4"
    env["OPENELECTRICITY_API_URL"] = "http://127.0.0.1:8080/v4/"
    assert resolve([], env).api_url == "http://127.0.0.1:8080/v4"
    assert resolve(["--api-url", "https://example.org/v4"], env).api_url == "https://example.org/v4"


@pytest.mark.parametrize(
    ("url", "source"),
    [
        pytest.param("http://127.0.0.1:5000/v4", "simulator", id="ipv4-loopback"),
        pytest.param("http://localhost:5000/v4", "simulator", id="localhost"),
        pytest.param("http://[::1]:5000/v4", "simulator", id="ipv6-loopback"),
        pytest.param("https://api.openelectricity.org.au/v4", "openelectricity", id="real"),
        pytest.param("https://10.0.0.5/v4", "openelectricity", id="lan"),
    ],
)
def test_source_is_detected_from_the_host(url: str, source: str) -> None:
    cfg = resolve(["--api-url", url], {"OPENELECTRICITY_API_KEY": KEY})
    assert cfg.source == source


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.5/v4", "http://api.openelectricity.org.au/v4", "http://example.org:80/v4"],
)
def test_plain_http_to_another_machine_is_refused_before_the_key_is_sent(url: str) -> None:
    with pytest.raises(ConfigError, match="plain http to another machine") as err:
        resolve(["--api-url", url], {"OPENELECTRICITY_API_KEY": KEY})
    assert KEY not in str(err.value) and "https://" in str(err.value)


@pytest.mark.parametrize("code", ["X;Y", 'Q"1', "a/b", "<b>", "A" * 41])
def test_facility_codes_a_csv_header_cannot_hold_are_refused_by_name(code: str) -> None:
    with pytest.raises(ConfigError, match="is not a facility code") as err:
        resolve(["--facilities", f"BAYSW,{code}"], {"OPENELECTRICITY_API_KEY": KEY})
    assert code[:20] in str(err.value)


def test_config_repr_hides_the_key() -> None:
    assert KEY not in repr(resolve([], {"OPENELECTRICITY_API_KEY": KEY}))


# --- --follow: what stops it before it starts -----------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--start", "2025-10-01"], "drop --start/--end", id="with-a-window"),
        pytest.param(["--keep", "0"], "--keep 0: use 1 to 30 days", id="keep-zero"),
        pytest.param(["--keep", "31"], "--keep 31: use 1 to 30 days", id="keep-too-long"),
        pytest.param(["--poll-every", "0"], "--poll-every 0: use more than 0", id="poll-zero"),
        pytest.param(["--api-clock-speed", "-1"], "--api-clock-speed -1", id="speed-negative"),
    ],
)
def test_follow_flags_are_checked_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    proc = run_extractor(
        ["--follow", *args],
        cwd=tmp_path,
        OPENELECTRICITY_API_KEY=KEY,
        OPENELECTRICITY_API_URL="http://127.0.0.1:9/v4",
    )
    assert proc.returncode == 2
    assert message in one_line_error(proc)


def test_follow_with_a_wrong_key_stops_at_once(sim: Any, tmp_path: Path) -> None:
    wrong = "unknown-" + "Jd93kLmq01"  # a key the simulator does not know
    proc = run_extractor(
        ["--follow", "--out", str(tmp_path / "c.csv")],
        cwd=tmp_path,
        OPENELECTRICITY_API_KEY=wrong,
        OPENELECTRICITY_API_URL=sim.url,
    )
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "401 Invalid API key" in line and "refused until its daily reset" in line
    assert wrong not in proc.stderr
    assert not (tmp_path / "c.csv").exists()


def test_follow_refuses_a_cache_from_another_source(sim: Any, tmp_path: Path) -> None:
    extract(sim, tmp_path, "--out", str(tmp_path / "c.csv"), check=True)
    meta = tmp_path / "c.meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "source": "openelectricity"}))
    before = (tmp_path / "c.csv").read_bytes()
    proc = run_extractor(
        ["--follow", "--source", "oe", "--out", str(tmp_path / "c.csv")],
        cwd=tmp_path,
        OPENELECTRICITY_API_KEY=KEY,
        OPENELECTRICITY_API_URL=sim.url,
    )
    assert proc.returncode == 2
    assert "holds data from the openelectricity, not the simulator" in one_line_error(proc)
    assert (tmp_path / "c.csv").read_bytes() == before


# --- JSON nested too deeply: one line, never a RecursionError traceback --------------------

DEEP = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError, not ValueError


def test_an_answer_nested_too_deeply_exits_1_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENELECTRICITY_API_KEY", KEY)
    with serve(ScriptedServer([], Reply(200, DEEP))) as server:
        monkeypatch.setenv("OPENELECTRICITY_API_URL", base_url(server))
        code = extractor.main([*WEEK, "--out", str(tmp_path / "c.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and KEY not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"extractor.py: error: facilities request to {base_url(server)}/")
    assert "nested too deeply" in line and "OPENELECTRICITY_API_URL" in line
    assert not (tmp_path / "c.csv").exists()


def test_follow_reads_past_a_meta_file_nested_too_deeply(sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    extract(sim, tmp_path, "--out", str(out), check=True)
    (tmp_path / "c.meta.json").write_bytes(DEEP)
    argv = [str(EXTRACTOR), "--follow", "--source", "oe", "--out", str(out)]
    argv += ["--facilities-out", str(tmp_path / "f.csv")]
    env = {"OPENELECTRICITY_API_KEY": KEY, "OPENELECTRICITY_API_URL": sim.url}
    follower = Program("extractor", argv, tmp_path / "follow.log", env).start()
    try:
        # the meta file is only a hint: without it the watermarks are read off the cache
        assert follower.wait_for(lambda: f"continuing {out}" in follower.text())
        assert follower.stop(signal.SIGTERM) == 0
    finally:
        follower.kill()
    assert "Traceback" not in follower.text()
