"""nemlive.publish.sentlog: the sent (id, timestamp) pairs as runs, and what a changed cache
still has to send, in the contract's order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from nemlive.publish.replaytable import read_replay_table
from nemlive.publish.sentlog import SentLog, plan_outgoing, stream_key, table_epochs

STEP = 300
T0 = 1_796_000_100 // STEP * STEP
HEADER = (
    "timestamp,power_A,power_B,emissions_A,emissions_B,price_NSW1,demand_NSW1,"
    "imports_NSW1,exports_NSW1\n"
)


def stamp(k: int) -> str:
    from datetime import datetime

    from nemlive.common.nemtime import NEM_TZ

    return datetime.fromtimestamp(T0 + k * STEP, NEM_TZ).isoformat(timespec="seconds")


def write_cache(path: Path, rows: list[tuple[int, str]]) -> Path:
    """Rows of (interval number, the eight value cells joined by commas)."""
    path.write_text(HEADER + "".join(f"{stamp(k)},{cells}\n" for k, cells in rows))
    return path


def test_runs_merge_as_stamps_arrive_in_any_order() -> None:
    log = SentLog()
    for k in [3, 1, 2, 7, 5, 6, 4, 0, 2]:
        log.add("facility/A", T0 + k * STEP)
    assert log.to_runs() == {"facility/A": [[T0, T0 + 7 * STEP]]}
    log.add("facility/A", T0 + 10 * STEP)
    log.add("facility/A", T0 - 3 * STEP)
    assert log.to_runs()["facility/A"] == [
        [T0 - 3 * STEP, T0 - 3 * STEP],
        [T0, T0 + 7 * STEP],
        [T0 + 10 * STEP] * 2,
    ]
    assert log.count() == 10 and log.run_count() == 3
    assert log.contains("facility/A", T0 + 7 * STEP) and not log.contains(
        "facility/A", T0 + 8 * STEP
    )
    assert not log.contains("facility/B", T0)


def test_random_adds_equal_a_set_of_pairs() -> None:
    rng = random.Random(7)
    log, expected = SentLog(), set()
    for _ in range(2000):
        key = rng.choice(["facility/A", "market/NSW1"])
        epoch = T0 + rng.randrange(200) * STEP
        log.add(key, epoch)
        expected.add((key, epoch))
    times = np.arange(T0 - 5 * STEP, T0 + 205 * STEP, STEP, dtype=np.int64)
    for key in ("facility/A", "market/NSW1"):
        want = [(key, int(t)) in expected for t in times]
        assert log.mask(key, times).tolist() == want
    assert log.count() == len(expected)
    SentLog(log.to_runs())  # what it writes, it reads back


def test_trim_forgets_what_lies_before_the_window() -> None:
    log = SentLog(
        {
            "facility/A": [[T0, T0 + 5 * STEP], [T0 + 8 * STEP, T0 + 9 * STEP]],
            "market/SA1": [[T0, T0]],
        }
    )
    log.trim(T0 + 3 * STEP)
    assert log.to_runs() == {
        "facility/A": [[T0 + 3 * STEP, T0 + 5 * STEP], [T0 + 8 * STEP, T0 + 9 * STEP]]
    }
    assert log.newest("facility") == T0 + 9 * STEP and log.newest("market") is None


@pytest.mark.parametrize(
    "runs",
    [
        pytest.param({"facility/A": [[T0 + 1, T0 + STEP]]}, id="off-grid"),
        pytest.param({"facility/A": [[T0 + STEP, T0]]}, id="reversed"),
        pytest.param(
            {"facility/A": [[T0, T0 + STEP], [T0 + 2 * STEP, T0 + 3 * STEP]]}, id="touching"
        ),
        pytest.param(
            {"facility/A": [[T0 + 5 * STEP, T0 + 6 * STEP], [T0, T0 + STEP]]}, id="unsorted"
        ),
    ],
)
def test_runs_that_no_log_writes_are_refused(runs: dict) -> None:
    with pytest.raises(ValueError, match="facility/A"):
        SentLog(runs)


def test_a_cache_is_sent_row_by_row_facilities_then_interchange_then_market(tmp_path: Path) -> None:
    path = write_cache(tmp_path / "c.csv", [(0, "1,2,0.5,,50,7000,10,0"), (1, ",,,,51,7001,,")])
    table = read_replay_table(path)
    rows = list(plan_outgoing(table, SentLog(), "t"))
    assert [r.timestamp for r in rows] == [stamp(0), stamp(1)]
    topics = [t for t, _ in rows[0].messages]
    assert topics == ["t/facility/A", "t/facility/B", "t/interchange/NSW1", "t/market/NSW1"]
    assert json.loads(rows[0].messages[0][1]) == {
        "facility_id": "A",
        "timestamp": stamp(0),
        "power_mw": 1.0,
        "co2_tonnes": 0.5,
    }
    assert json.loads(rows[0].messages[1][1])["co2_tonnes"] is None
    assert rows[0].keys == ["facility/A", "facility/B", "interchange/NSW1", "market/NSW1"]
    # Row 1 has no facility or interchange value yet: only its market event.
    assert [t for t, _ in rows[1].messages] == ["t/market/NSW1"]


def test_only_values_not_sent_go_out_including_cells_filled_in_later(tmp_path: Path) -> None:
    first = write_cache(tmp_path / "c.csv", [(0, ",,,,50,7000,,"), (1, ",,,,51,7001,,")])
    sent = SentLog()
    for row in plan_outgoing(read_replay_table(first), sent, "t"):
        for key in row.keys:
            sent.add(key, row.epoch)
    # The next version: a sweep filled A in both rows, a new market row came, row 0 is gone.
    later = write_cache(tmp_path / "c.csv", [(1, "11,,1.1,,51,7001,,"), (2, ",,,,52,7002,,")])
    table = read_replay_table(later)
    sent.trim(int(table_epochs(table)[0]))
    rows = list(plan_outgoing(table, sent, "t"))
    sent_now = [(r.timestamp, t) for r in rows for t, _ in r.messages]
    assert sent_now == [(stamp(1), "t/facility/A"), (stamp(2), "t/market/NSW1")]
    assert stream_key("market", "NSW1") == "market/NSW1"


def test_nothing_new_sends_nothing(tmp_path: Path) -> None:
    path = write_cache(tmp_path / "c.csv", [(0, "1,2,0.5,,50,7000,10,0")])
    table = read_replay_table(path)
    sent = SentLog()
    for row in plan_outgoing(table, sent, "t"):
        for key in row.keys:
            sent.add(key, row.epoch)
    assert list(plan_outgoing(table, sent, "t")) == []
