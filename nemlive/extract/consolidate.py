"""consolidate.csv and its companions: checks, byte-deterministic rendering, metadata.

Pure functions that check and render a :class:`~nemlive.extract.rollup.WideTable` into bytes; the
extractor writes those bytes with :func:`nemlive.common.atomicfile.write_files_atomically`, so a
reader (the publisher) never sees a half-written cache and a failed run leaves the previous
files as they were.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from nemlive.common.errors import TableCheckError
from nemlive.common.nemtime import INTERVAL_S, format_request_time
from nemlive.extract.rollup import (
    DECIMALS,
    NUMBER_FORMAT,
    WideTable,
)

META_SUFFIX = ".meta.json"


@dataclass(frozen=True, slots=True)
class TableStats:
    """Counts for the summary line and the meta file.

    ``missing_intervals``: 5-minute intervals of the window without a row.
    ``empty_cells``: facility and market cells without a value.
    """

    rows: int
    facilities: int
    regions: int
    columns: int
    expected_rows: int
    missing_intervals: int
    empty_cells: int


def meta_path_for(csv_path: Path) -> Path:
    """``consolidate.csv`` -> ``consolidate.meta.json`` (same folder)."""
    return csv_path.with_name(csv_path.stem + META_SUFFIX)


def check_table(table: WideTable) -> None:
    """Raise TableCheckError unless the table may be written (docs/contracts.md §2).

    Rows: at least one, timestamps strictly increasing, each on the 5-minute grid (the
    window is applied by :func:`~nemlive.extract.rollup.build_wide_table`). Columns: ``timestamp``
    first, no duplicate names, one value column each.
    """
    header = table.header
    if not header or header[0] != "timestamp":
        raise TableCheckError("the first column is not 'timestamp'")
    seen: set[str] = set()
    dupes = sorted({c for c in header if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if dupes:
        raise TableCheckError(f"duplicate columns {dupes[:5]}")
    if table.values.shape != (len(table.times), len(header) - 1):
        raise TableCheckError(
            f"{table.values.shape} values do not fit {len(table.times)} rows x "
            f"{len(header) - 1} columns"
        )
    start, end = table.window
    if len(table.times) == 0:
        raise TableCheckError(
            f"the API returned no facility data for {format_request_time(start)} to "
            f"{format_request_time(end)}; pick an earlier window with --start/--end"
        )
    times = table.times
    off_grid = times[times % INTERVAL_S != 0]
    if len(off_grid):
        raise TableCheckError(f"{len(off_grid)} timestamps are not on the 5-minute grid")
    if len(times) > 1 and not bool(np.all(np.diff(times) > 0)):
        raise TableCheckError("timestamps are not strictly increasing")


def summarise(table: WideTable) -> TableStats:
    """Row, column, gap and empty-cell counts of the table."""
    start, end = table.window
    expected = int((end - start).total_seconds()) // INTERVAL_S
    return TableStats(
        rows=len(table.times),
        facilities=len(table.facility_ids),
        regions=len(table.region_ids),
        columns=len(table.header),
        expected_rows=expected,
        missing_intervals=max(expected - len(table.times), 0),
        empty_cells=int(np.isnan(table.values).sum()),
    )


def render_csv(table: WideTable) -> bytes:
    """The CSV bytes: UTF-8, ``\\n`` line ends, no index, empty cell = no data.

    Values are rounded to 3 dp and written in their shortest form
    (``%.12g``: ``0.3``, ``12``, ``-41.0752``), so the bytes depend on the data only.
    """
    fmt = NUMBER_FORMAT.__mod__
    # Rounded again here so the bytes never depend on how the values were summed;
    # + 0.0 turns -0.0 into 0.0.
    values = np.round(table.values, DECIMALS) + 0.0
    lines = [",".join(table.header)]
    for stamp, row in zip(table.stamps, values.tolist(), strict=True):
        lines.append(stamp + "," + ",".join(["" if v != v else fmt(v) for v in row]))
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def render_facilities_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """data/facilities.csv bytes (docs/contracts.md §5); names with commas or quotes are quoted."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def build_meta(
    *,
    table: WideTable,
    stats: TableStats,
    csv_bytes: bytes,
    source: str,
    api_url: str,
    network: str,
    written_at: datetime,
    requests: Mapping[str, int],
    simulated: bool = False,
) -> dict[str, Any]:
    """consolidate.meta.json content (docs/contracts.md §2). Holds no secret: ``api_url`` must be
    the base URL without credentials. Only ``written_at`` changes between identical runs.
    ``simulated``: the key ``"simulated": true`` follows ``source`` (left out when false)."""
    start, end = table.window
    stamps = table.stamps
    meta: dict[str, Any] = {"source": source, "simulated": True} if simulated else {}
    return meta | {
        "source": source,
        "api_url": api_url,
        "network": network,
        "interval": "5m",
        "window": {
            "start": format_request_time(start),
            "end": format_request_time(end),
            "timezone": "+10:00",
            "end_exclusive": True,
        },
        "first_timestamp": stamps[0] if stamps else None,
        "last_timestamp": stamps[-1] if stamps else None,
        "facilities": stats.facilities,
        "regions": stats.regions,
        "rows": stats.rows,
        "columns": stats.columns,
        "missing_intervals": stats.missing_intervals,
        "empty_cells": stats.empty_cells,
        "csv_bytes": len(csv_bytes),
        "csv_sha256": hashlib.sha256(csv_bytes).hexdigest(),
        "requests": dict(requests),
        "written_at": written_at.isoformat(timespec="seconds"),
    }


def render_meta(meta: Mapping[str, Any]) -> bytes:
    return (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
