"""The NEMweb follower against a fake NEMweb over real HTTP, on a fake clock: the first fill
(Current, then Archive for older days), each new file fetched once, across a restart too, a
replaced sequence, a late interval left as a gap then filled, a 403, and the cache it
writes (the roll-up of DUIDs, source nemweb)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from nemlive.common.errors import ConfigError
from nemlive.extract import livecache, nemweb
from nemlive.extract.cachekeeper import FollowSettings
from nemlive.extract.nemwebclient import NemwebClient
from nemlive.extract.nemwebfollow import NemwebFollower, _stamp, run_nemweb_follow
from nemlive.extract.pipeline import Extraction
from tests.support_nemweb import (
    CDEII_NAME,
    FACTORS,
    T0,
    FakeClock,
    FakeNemweb,
    FakeStop,
    Server,
    StaticFacilities,
    file_name,
    mms_report,
    nem_stamp,
    price_at,
    scada_at,
    scada_csv,
    zipped,
)

START = T0 + 2 * 3600 + 100  # 02:01:40 NEM time: the 02:00 file is out since 02:01:10


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc0=float(START))


@pytest.fixture
def fake(clock: FakeClock) -> FakeNemweb:
    # Data from 18:05 the day before: the Archive day holds 72 intervals, Current 3 hours.
    return FakeNemweb(clock, delay=70.0, current_span=3 * 3600.0, start=T0 - 6 * 3600 + 300)


@pytest.fixture
def server(fake: FakeNemweb) -> Iterator[Server]:
    with Server(fake) as srv:
        yield srv


def settings_in(folder: Path, keep_days: float = 0.25, speed: float = 1.0) -> FollowSettings:
    return FollowSettings(
        out=folder / "consolidate.csv",
        facilities_out=folder / "data" / "facilities.csv",
        keep_days=keep_days,
        poll_every=None,
        api_clock_speed=speed,
    )


def follow(server: Server, clock: FakeClock, folder: Path, minutes: float, **kw: float) -> FakeStop:
    """Run the follower until the fake clock is ``minutes`` further on."""
    ex = Extraction("NEM", datetime(2030, 1, 1), datetime(2030, 1, 2), source="nemweb")
    client = NemwebClient(server.url, clock=clock.wall, wait=clock.sleep, draw=lambda: 0.0)
    stop = FakeStop(clock, clock.utc() + minutes * 60)
    status = run_nemweb_follow(
        ex,
        settings_in(folder, **kw),
        StaticFacilities(),
        client,
        stop,
        wall=clock.wall,
        utc=clock.utc,
    )
    assert status == 0
    return stop


def files_fetched(fake: FakeNemweb) -> dict[str, int]:
    return {p: n for p, n in fake.requests.items() if "PUBLIC_" in p}


def read_cache(folder: Path) -> tuple[livecache.rollup.WideTable, dict]:
    table = livecache.parse_cache((folder / "consolidate.csv").read_bytes(), "cache")
    meta = json.loads((folder / "consolidate.meta.json").read_text())
    return table, meta


def cell(table: livecache.rollup.WideTable, column: str, t: int) -> float:
    row = int(np.searchsorted(table.times, t))
    assert table.times[row] == t, f"no row {t}"
    return float(table.values[row, table.header.index(column) - 1])


def expected_power(t: int, sequence: int = 1) -> dict[str, float]:
    v = scada_at(t, sequence)
    return {
        "COAL": v["COAL1"] + v["COAL2"],
        "BATT": v["BATT1"],
        "SPLIT": v["SPLITG1"] - v["SPLITL1"],
        "PUMPH": v["PUMPH1"] - v["PUMPHP1"],
        "WIND": v["WIND1"],
        "GAS": v["GAS1"],
    }


def test_the_first_fill_takes_current_then_archive_and_writes_the_roll_up(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    follow(server, clock, tmp_path, minutes=12)
    table, meta = read_cache(tmp_path)
    fetched = files_fetched(fake)
    assert max(fetched.values()) == 1
    archive = [p for p in fetched if "/Archive/" in p]
    assert sorted(archive) == [
        "/Reports/Archive/DispatchIS_Reports/PUBLIC_DISPATCHIS_20300109.zip",
        "/Reports/Archive/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_20300109.zip",
    ]
    # Current's files are fetched one by one, never those the Archive zip held.
    current = [p for p in fetched if "/Current/" in p and "PUBLIC_DISPATCHSCADA" in p]
    assert current and all(nemweb.parse_file_name(p).interval_end > T0 for p in current)  # type: ignore[union-attr]
    # Keep 0.25 days: 72 intervals from 20:05 the day before; two polls later, 02:10.
    newest = T0 + 2 * 3600 + 600
    assert int(table.times[-1]) == newest and len(table.times) == 72
    for t in (int(table.times[0]), T0 - 3600, newest):
        for code, mw in expected_power(t).items():
            assert cell(table, f"power_{code}", t) == pytest.approx(mw), (code, t)
        assert cell(table, "emissions_COAL", t) == pytest.approx(
            (scada_at(t)["COAL1"] + scada_at(t)["COAL2"]) * FACTORS["COAL1"] / 12, abs=1e-3
        )
        assert np.isnan(cell(table, "emissions_GAS", t))
        assert cell(table, "price_SA1", t) == price_at(t)["SA1"]
        assert cell(table, "imports_SA1", t) == 100.0
    assert meta["source"] == "nemweb"
    assert meta["nemweb_url"] == server.url and meta["api_url"] == server.url
    assert meta["follow"]["market_to"] == "2030-01-10T02:10:00+10:00"
    assert set(meta["follow"]["facilities_to"]) == {"BATT", "COAL", "GAS", "PUMPH", "SPLIT", "WIND"}
    block = meta["follow"]["nemweb"]
    assert block["gaps"] == [] and block["cdeii"].startswith("CO2EII_AVAILABLE_GENERATORS")
    assert len(block["files"]["DISPATCHSCADA"]) == 72
    assert (tmp_path / "data" / "facilities.csv").read_text().startswith("facility_id,")


def test_each_new_file_comes_once_and_nothing_twice_across_a_restart(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    follow(server, clock, tmp_path, minutes=7)
    first = files_fetched(fake)
    before, _ = read_cache(tmp_path)
    clock.advance(600.0)  # down for 10 minutes
    follow(server, clock, tmp_path, minutes=16)
    fetched = files_fetched(fake)
    assert max(fetched.values()) == 1, [p for p, n in fetched.items() if n > 1]
    table, meta = read_cache(tmp_path)
    added = (int(table.times[-1]) - int(before.times[-1])) // 300
    assert added >= 5 and len(fetched) - len(first) == 2 * added  # one file a report each
    assert meta["follow"]["nemweb"]["gaps"] == []
    assert len(table.times) == 72
    # Each index is read once a poll, and conditionally: unchanged ones cost a 304.
    assert fake.requests[nemweb.current_dir(nemweb.SCADA)] <= 2 + 7


def test_a_replaced_sequence_is_fetched_and_its_values_win(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    follow(server, clock, tmp_path, minutes=2)
    t = T0 + 2 * 3600 - 600
    table, _ = read_cache(tmp_path)
    assert cell(table, "power_COAL", t) == pytest.approx(expected_power(t)["COAL"])
    fake.sequences[t] = 2
    follow(server, clock, tmp_path, minutes=6)
    table, meta = read_cache(tmp_path)
    assert cell(table, "power_COAL", t) == pytest.approx(expected_power(t, 2)["COAL"])
    replaced = [p for p in files_fetched(fake) if "0000000000000002" in p]
    assert len(replaced) == 2  # the fake replaces both reports' files
    assert any(
        n.endswith("0000000000000002.zip")
        for n in meta["follow"]["nemweb"]["files"]["DISPATCHSCADA"]
    )


def test_a_late_interval_is_reread_then_left_as_a_gap_and_filled_later(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    late = T0 + 2 * 3600 + 300  # 02:05, due 02:06:10
    fake.missing.add(late)
    caplog.set_level(logging.INFO, "extractor")
    follow(server, clock, tmp_path, minutes=6.5)
    polls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("poll:")]
    assert "0 gaps left" in polls[0] and all("1 gaps left" in p for p in polls[1:])
    # Re-read every 20 s until 110 s late: 02:06:10 + 20, 40, ... (the SCADA index alone
    # past the first poll would show the same pattern).
    reads = [p for p, _ in fake.log if p == nemweb.current_dir(nemweb.SCADA)]
    assert 5 <= len(reads) <= 8
    fake.missing.clear()
    follow(server, clock, tmp_path, minutes=6)
    table, meta = read_cache(tmp_path)
    assert meta["follow"]["nemweb"]["gaps"] == []
    assert cell(table, "power_WIND", late) == 75.25
    assert max(files_fetched(fake).values()) == 1
    assert any("1 gaps left" in r.message for r in caplog.records)


def test_a_403_is_one_warning_then_a_growing_wait(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    follow(server, clock, tmp_path, minutes=1)
    fake.forbid = 3
    caplog.set_level(logging.INFO, "extractor")
    stop = follow(server, clock, tmp_path, minutes=40)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "403" in warnings[0].getMessage()
    assert "waiting 5 min" in warnings[0].getMessage()
    assert stop.slept[:3] == [300.0, 600.0, 1200.0]
    assert any("NEMweb answers again" in r.getMessage() for r in caplog.records)
    table, _ = read_cache(tmp_path)
    assert int(table.times[-1]) >= T0 + 2 * 3600 + 35 * 60


def test_a_cache_of_another_source_is_refused(
    server: Server, clock: FakeClock, tmp_path: Path
) -> None:
    follow(server, clock, tmp_path, minutes=1)
    meta_path = tmp_path / "consolidate.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["source"] = "openelectricity"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="openelectricity, not the nemweb: move it away"):
        follow(server, clock, tmp_path, minutes=1)


def test_the_publish_delay_is_learned_from_the_index(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    follow(server, clock, tmp_path, minutes=30)
    _, meta = read_cache(tmp_path)
    block = meta["follow"]["nemweb"]
    # The index's Last-Modified is 70 s after each newest interval: 90th percentile + 10 s.
    assert len(block["delays"]) >= 3 and block["delay_s"] == pytest.approx(80.0)


def test_a_sped_up_clock_waits_in_wall_seconds(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    clock.speed = 10.0
    clock.utc0 = START - clock.wall_s * 10.0
    stop = follow(server, clock, tmp_path, minutes=30, speed=10.0)
    table, _ = read_cache(tmp_path)
    assert int(table.times[-1]) >= T0 + 2 * 3600 + 25 * 60
    # A poll every 300 feed seconds is a wait of at most 30 wall seconds.
    assert stop.slept and max(stop.slept) <= 30.0
    assert max(files_fetched(fake).values()) == 1


def test_stop_ends_the_fill_and_what_came_is_written(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    stop_at = 20.0

    def stop_soon() -> None:
        if clock.wall_s >= stop_at:
            stopper.set()

    stopper = FakeStop(clock, clock.utc() + 3600)
    clock.hooks.append(stop_soon)
    ex = Extraction("NEM", datetime(2030, 1, 1), datetime(2030, 1, 2), source="nemweb")
    client = NemwebClient(server.url, clock=clock.wall, wait=clock.sleep, draw=lambda: 0.0)
    run_nemweb_follow(
        ex,
        settings_in(tmp_path),
        StaticFacilities(),
        client,
        stopper,
        wall=clock.wall,
        utc=clock.utc,
    )
    table, _ = read_cache(tmp_path)
    assert 0 < len(table.times) < 72
    # The request under way when the stop came is the last one.
    assert client.stats.requests <= stop_at + 2


def test_the_facility_list_and_cdeii_are_read_again_after_a_day(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    ex = Extraction("NEM", datetime(2030, 1, 1), datetime(2030, 1, 2), source="nemweb")
    client = NemwebClient(server.url, clock=clock.wall, wait=clock.sleep, draw=lambda: 0.0)
    facilities = StaticFacilities()
    follower = NemwebFollower(
        ex,
        settings_in(tmp_path),
        facilities,
        client,
        FakeStop(clock, 0.0),
        wall=clock.wall,
        utc=clock.utc,
    )
    follower.start()
    assert facilities.calls == 1 and fake.requests[nemweb.CDEII_DIR] == 1
    follower.daily()
    assert facilities.calls == 1 and fake.requests[nemweb.CDEII_DIR] == 1
    clock.advance(86_400.0)
    follower.daily()
    assert facilities.calls == 2 and fake.requests[nemweb.CDEII_DIR] == 2
    # The same CDEII file: its index answered 304, the file is not fetched again.
    assert fake.requests[nemweb.CDEII_DIR + CDEII_NAME] == 1
    assert client.stats.not_modified == 1


def test_without_last_modified_the_delay_learns_only_from_files_seen_appearing(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    # Every file is out at the first poll of its interval: that says only "no later than",
    # and counting it would push the delay up poll after poll.
    fake.last_modified = False
    follow(server, clock, tmp_path, minutes=30)
    block = read_cache(tmp_path)[1]["follow"]["nemweb"]
    assert block["delays"] == [] and block["delay_s"] == 75.0
    # Files published late (100 s) are seen appearing between two reads 20 s apart.
    fake.delay = 100.0
    follow(server, clock, tmp_path, minutes=30)
    block = read_cache(tmp_path)[1]["follow"]["nemweb"]
    assert block["delays"] and all(90 <= d <= 110 for d in block["delays"])
    assert 100 <= block["delay_s"] <= 125


def test_a_cut_file_is_skipped_for_the_poll_and_fetched_on_the_next(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    follow(server, clock, tmp_path, minutes=1)
    t = T0 + 2 * 3600 + 300
    path = nemweb.current_dir(nemweb.SCADA) + file_name(nemweb.SCADA, t, 1)
    fake.truncate[path] = 3  # every try of the first poll that sees it
    caplog.set_level(logging.INFO, "extractor")
    follow(server, clock, tmp_path, minutes=10)
    table, meta = read_cache(tmp_path)
    assert fake.requests[path] == 4
    assert cell(table, "power_WIND", t) == 75.25
    assert cell(table, "price_NSW1", t) == price_at(t)["NSW1"]  # the other report came at once
    assert meta["follow"]["nemweb"]["gaps"] == []
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "trying again next poll" in warned[0] and "cut" in warned[0]


@pytest.mark.parametrize("broken", ["huge field", "five members"])
def test_an_unparsable_file_is_tried_three_times_then_left_as_a_gap(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    broken: str,
) -> None:
    t = T0 + 2 * 3600 + 300
    name = file_name(nemweb.SCADA, t, 1)
    path = nemweb.current_dir(nemweb.SCADA) + name
    if broken == "huge field":
        huge = scada_csv(t, {"COAL1": "9" * 200_000})  # type: ignore[dict-item]
        fake.bodies[path] = zipped({name.replace(".zip", ".CSV"): huge.encode()})
        message = "not CSV"
    else:  # a Current file holds one CSV: 4 members at most
        csv = scada_csv(t, scada_at(t)).encode()
        fake.bodies[path] = zipped({f"m{i}.CSV": csv for i in range(5)})
        message = "over 4 members"
    caplog.set_level(logging.INFO, "extractor")
    follow(server, clock, tmp_path, minutes=20)  # returns 0: the follower lives on
    table, meta = read_cache(tmp_path)
    assert fake.requests[path] == 3
    assert _stamp(t) in meta["follow"]["nemweb"]["gaps"]
    assert cell(table, "power_WIND", t + 300) == expected_power(t + 300)["WIND"]
    gave_up = [r.getMessage() for r in caplog.records if "stays a gap" in r.getMessage()]
    assert len(gave_up) == 1 and message in gave_up[0]


def test_rows_off_the_grid_or_of_another_interval_are_dropped_and_writes_go_on(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = T0 + 2 * 3600 + 300  # 02:05, published after the first run
    off = file_name(nemweb.SCADA, t, 1)
    other = file_name(nemweb.SCADA, t + 300, 1)
    bad_rows = scada_csv(t + 60, scada_at(t))  # 02:06: off the grid
    stray = f'D,DISPATCH,UNIT_SCADA,1,"{nem_stamp(t - 300)}",WIND1,999,x'  # 02:00, in 02:10's
    lines = scada_csv(t + 300, scada_at(t + 300)).splitlines()[1:-1]
    mixed = mms_report(nemweb.SCADA, [*lines, stray])
    current = nemweb.current_dir(nemweb.SCADA)
    fake.bodies[current + off] = zipped({off.replace(".zip", ".CSV"): bad_rows.encode()})
    fake.bodies[current + other] = zipped({other.replace(".zip", ".CSV"): mixed.encode()})
    follow(server, clock, tmp_path, minutes=1)
    caplog.set_level(logging.WARNING, "extractor")
    follow(server, clock, tmp_path, minutes=20)
    table, _ = read_cache(tmp_path)
    assert not (table.times % 300).any()
    assert int(table.times[-1]) >= t + 900  # later polls still write
    assert cell(table, "power_WIND", t - 300) == expected_power(t - 300)["WIND"]
    assert cell(table, "power_WIND", t + 300) == expected_power(t + 300)["WIND"]
    dropped = [r.getMessage() for r in caplog.records if "dropped the rows" in r.getMessage()]
    assert len(dropped) == 2 and off in dropped[0] and other in dropped[1]


def test_files_dated_ahead_are_ignored_and_never_trim_the_cache(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    follow(server, clock, tmp_path, minutes=1)
    oldest = int(read_cache(tmp_path)[0].times[0])
    t = T0 + 2 * 3600 + 300
    ahead = file_name(nemweb.SCADA, t + 12 * 3600, 1)  # 12 h ahead
    far = "PUBLIC_DISPATCHSCADA_999912312355_0000000000000001.zip"  # would be 8e8 intervals
    fake.extra = [ahead, far]
    # A Current file whose rows are 12 h ahead of its name: dropped too.
    name = file_name(nemweb.SCADA, t, 1)
    rows = scada_csv(t + 12 * 3600, scada_at(t))
    fake.bodies[nemweb.current_dir(nemweb.SCADA) + name] = zipped({"x.CSV": rows.encode()})
    caplog.set_level(logging.WARNING, "extractor")
    follow(server, clock, tmp_path, minutes=20)
    table, _ = read_cache(tmp_path)
    assert not [p for p in fake.requests if ahead in p or far in p]
    assert oldest < int(table.times[0]) <= oldest + 20 * 60  # only as the clock moved
    assert len(table.times) >= 70  # --keep 0.25 days: 72 intervals
    assert int(table.times[-1]) <= clock.utc()
    assert cell(table, "power_WIND", t + 900) == expected_power(t + 900)["WIND"]
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == 1 and "2 files dated after" in ignored[0]


def test_a_stop_during_a_retry_wait_at_the_start_ends_cleanly(
    server: Server, clock: FakeClock, fake: FakeNemweb, tmp_path: Path
) -> None:
    fake.fail[nemweb.CDEII_DIR] = 1  # one 503: a retry wait follows, and the stop comes then
    stop = threading.Event()

    def wait(seconds: float) -> bool:
        stop.set()
        return True

    client = NemwebClient(server.url, clock=clock.wall, wait=wait, draw=lambda: 0.0)
    ex = Extraction("NEM", datetime(2030, 1, 1), datetime(2030, 1, 2), source="nemweb")
    status = run_nemweb_follow(
        ex, settings_in(tmp_path), StaticFacilities(), client, stop, wall=clock.wall, utc=clock.utc
    )
    assert status == 0 and fake.requests[nemweb.CDEII_DIR] == 1


def test_a_server_date_hours_off_is_ignored_and_logged_once(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    follow(server, clock, tmp_path, minutes=1)
    fake.date_offset = 6 * 3600.0
    caplog.set_level(logging.WARNING, "extractor")
    follow(server, clock, tmp_path, minutes=12)
    table, _ = read_cache(tmp_path)
    assert len(table.times) >= 70  # --keep 0.25 days: not trimmed to the Date's window
    assert int(table.times[-1]) >= T0 + 2 * 3600 + 600  # followed on by this clock
    skewed = [r.getMessage() for r in caplog.records if "Date is" in r.getMessage()]
    assert len(skewed) == 1 and "6 h" in skewed[0] and "ahead of" in skewed[0]


def test_a_failed_archive_day_is_tried_again_hourly_then_given_up(
    server: Server,
    clock: FakeClock,
    fake: FakeNemweb,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    archive = nemweb.archive_dir(nemweb.SCADA) + nemweb.archive_name(
        nemweb.SCADA, nemweb.nem_day(T0)
    )
    fake.bodies[archive] = zipped({"a.CSV": b"not a report"})  # opens, cannot be read
    ex = Extraction("NEM", datetime(2030, 1, 1), datetime(2030, 1, 2), source="nemweb")
    client = NemwebClient(server.url, clock=clock.wall, wait=clock.sleep, draw=lambda: 0.0)
    stop = FakeStop(clock, float("inf"))
    follower = NemwebFollower(
        ex, settings_in(tmp_path), StaticFacilities(), client, stop, wall=clock.wall, utc=clock.utc
    )
    follower.start()
    follower.poll()
    follower.poll()  # within the hour: not asked again
    assert fake.requests[archive] == 1
    del fake.bodies[archive]
    clock.advance(3601)
    follower.poll()  # an hour on: asked again, and it comes
    assert fake.requests[archive] == 2
    assert nemweb.nem_day(T0) in follower.reports[nemweb.SCADA].archive_days
    # A day that keeps failing is given up after a day of hourly tries.
    state = follower.reports[nemweb.SCADA]
    day = nemweb.nem_day(T0) - timedelta(days=1)
    caplog.set_level(logging.INFO, "extractor")
    follower._archive_failed(state, day, "x.zip", nemweb.mms.MmsError("bad"))
    assert day in state.archive_retry and day not in state.archive_days
    clock.advance(86_400)
    follower._archive_failed(state, day, "x.zip", nemweb.mms.MmsError("bad"))
    assert day in state.archive_days and day not in state.archive_retry
    assert "for a day: its intervals stay gaps" in caplog.records[-1].getMessage()
