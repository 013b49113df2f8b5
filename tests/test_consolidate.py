"""consolidate.csv checks, byte-deterministic rendering and meta."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from nemlive.common.columns import build_header
from nemlive.common.errors import TableCheckError
from nemlive.extract import consolidate
from nemlive.extract.rollup import WideTable

T0 = int(datetime(2025, 10, 1, 0, 5).timestamp())  # any 5-minute-aligned epoch works
WINDOW = (datetime(2025, 10, 1), datetime(2025, 10, 1, 0, 20))


def table(times: list[int], values: list[list[float]] | None = None, header=None) -> WideTable:
    header = header or build_header(["A"], ["NSW1"])
    vals = np.array(values if values is not None else [[1.0, 2.0, 3.0, 4.0]] * len(times))
    if len(times) == 0:
        vals = np.empty((0, len(header) - 1))
    return WideTable(
        times=np.array(times, dtype=np.int64),
        header=header,
        values=vals,
        window=WINDOW,
        facility_ids=("A",),
        region_ids=("NSW1",),
    )


def aligned(*offsets: int) -> list[int]:
    base = T0 - T0 % 300
    return [base + o for o in offsets]


def test_a_good_table_passes() -> None:
    consolidate.check_table(table(aligned(0, 300, 600)))


@pytest.mark.parametrize(
    ("times", "message"),
    [
        pytest.param(aligned(300, 0), "strictly increasing", id="unsorted"),
        pytest.param(aligned(0, 0), "strictly increasing", id="duplicate"),
        pytest.param(aligned(0, 301), "5-minute grid", id="off-grid"),
        pytest.param([], "no facility data", id="empty"),
    ],
)
def test_bad_timestamps_are_refused(times: list[int], message: str) -> None:
    with pytest.raises(TableCheckError, match=message):
        consolidate.check_table(table(times))


def test_duplicate_columns_are_refused() -> None:
    header = ["timestamp", "power_A", "power_A", "price_NSW1", "demand_NSW1"]
    with pytest.raises(TableCheckError, match="duplicate columns"):
        consolidate.check_table(table(aligned(0), header=header))


def test_csv_is_compact_and_empty_means_missing() -> None:
    t = table(aligned(0, 300), [[0.3, np.nan, 12.0, -0.0], [1234.5678, 0.0, np.nan, 7.25]])
    text = consolidate.render_csv(t).decode()
    lines = text.split("\n")
    assert lines[0] == "timestamp,power_A,emissions_A,price_NSW1,demand_NSW1"
    assert lines[1].split(",")[1:] == ["0.3", "", "12", "0"]
    assert lines[2].split(",")[1:] == ["1234.568", "0", "", "7.25"]
    assert lines[1].split(",")[0].endswith("+10:00")
    assert text.endswith("\n") and "\r" not in text


def test_same_table_renders_the_same_bytes() -> None:
    a = consolidate.render_csv(table(aligned(0, 300)))
    b = consolidate.render_csv(table(aligned(0, 300)))
    assert a == b


def test_summary_counts_missing_intervals_and_empty_cells() -> None:
    t = table(aligned(0, 600), [[1.0, np.nan, np.nan, 4.0], [1.0, 2.0, 3.0, 4.0]])
    stats = consolidate.summarise(t)
    assert stats.expected_rows == 4
    assert stats.missing_intervals == 2
    assert stats.empty_cells == 2
    assert stats.facilities == 1 and stats.regions == 1 and stats.columns == 5


def test_meta_describes_the_csv_without_secrets() -> None:
    t = table(aligned(0))
    csv_bytes = consolidate.render_csv(t)
    meta = consolidate.build_meta(
        table=t,
        stats=consolidate.summarise(t),
        csv_bytes=csv_bytes,
        source="simulator",
        api_url="http://127.0.0.1:1234/v4",
        network="NEM",
        written_at=datetime(2025, 10, 9, tzinfo=UTC),
        requests={"facilities": 1, "facility_data": 1, "market": 1},
    )
    assert meta["csv_sha256"] == hashlib.sha256(csv_bytes).hexdigest()
    assert meta["window"]["start"] == "2025-10-01T00:00:00"
    assert meta["source"] == "simulator" and meta["network"] == "NEM"
    assert meta["rows"] == 1 and meta["facilities"] == 1
    assert json.loads(consolidate.render_meta(meta)) == meta
    assert "simulated" not in meta


def test_meta_says_simulated_only_when_it_is() -> None:
    t = table(aligned(0))
    csv_bytes = consolidate.render_csv(t)
    meta = consolidate.build_meta(
        table=t,
        stats=consolidate.summarise(t),
        csv_bytes=csv_bytes,
        source="nemweb",
        api_url="http://127.0.0.1:1234",
        network="NEM",
        written_at=datetime(2025, 10, 9, tzinfo=UTC),
        requests={},
        simulated=True,
    )
    assert list(meta)[:3] == ["source", "simulated", "api_url"]
    assert meta["source"] == "nemweb" and meta["simulated"] is True


def test_meta_path_sits_beside_the_csv() -> None:
    assert consolidate.meta_path_for(Path("x/consolidate.csv")) == Path("x/consolidate.meta.json")
