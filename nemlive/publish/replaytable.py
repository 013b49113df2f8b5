"""consolidate.csv -> the ordered MQTT messages of each row (docs/contracts.md §2 and §3).

The file is read once with pandas, checked, and kept as two float arrays (a 420-facility
week is ~14 MB); payloads are built one row at a time, never all at once.

Time shift: pass k (0-based) moves every timestamp forward by ``k × span`` where
``span = last − first + 5 minutes`` (one interval), so pass 1 starts one interval after
pass 0 ended and no (id, timestamp) repeats across passes. The shifted timestamps keep the
file's UTC offset (``+10:00``) and its seconds precision.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from nemlive.common.columns import FACILITY_METRICS, MARKET_METRICS, TIMESTAMP, parse_column
from nemlive.common.errors import InputError
from nemlive.common.events import (
    FACILITY_ID_PATTERN,
    REGIONS,
    PayloadTemplate,
    build_facility_topic,
    build_interchange_topic,
    build_market_topic,
    format_timestamp,
)
from nemlive.common.nemtime import INTERVAL

# ISO 8601 with seconds and a numeric offset, as the OE API writes it.
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
# The publisher refuses a code that the dashboard's validation would reject.
FACILITY_ID_RE = re.compile(FACILITY_ID_PATTERN)

Message = tuple[str, bytes]


@dataclass(frozen=True)
class ReplayTable:
    """consolidate.csv in memory.

    ``facility_values[row]`` is ``[power_mw, co2_tonnes]`` per facility, flattened in
    ``facility_ids`` order; ``market_values[row]`` is ``[price_dmwh, demand_mw, imports_mw,
    exports_mw]`` per region (a file without interchange columns has them all missing).
    Missing values are NaN. ``timestamps`` are the file's strings (pass 0 sends them verbatim).
    """

    timestamps: tuple[str, ...]
    times: tuple[datetime, ...]
    facility_ids: tuple[str, ...]
    region_ids: tuple[str, ...]
    facility_values: np.ndarray
    market_values: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.timestamps)

    @property
    def span(self) -> timedelta:
        """last − first + one 5-minute interval: how far each pass moves the timestamps."""
        return self.times[-1] - self.times[0] + INTERVAL

    def messages_per_pass(self) -> int:
        """Messages one pass sends (facilities with both values missing send nothing)."""
        f = self.facility_values.reshape(self.rows, -1, 2)
        m = self.market_values.reshape(self.rows, -1, 2)  # market, interchange, per region
        return int((~np.isnan(f).all(axis=2)).sum() + (~np.isnan(m).all(axis=2)).sum())


# --- reading and checking -----------------------------------------------------------------


def _fail(name: str, problem: str, fix: str = "re-run extractor.py to rebuild it") -> InputError:
    return InputError(f"{name}: {problem}: {fix}")


def parse_header(
    name: str, header: Sequence[str]
) -> tuple[list[str], list[str], list[int], list[int]]:
    """Check a header; return facility ids, region ids and the CSV column of each value.

    The value columns are ``-1`` where the file has no such column (the value is then
    always missing). Raises InputError naming ``name`` for: no ``timestamp`` first, an
    unknown or duplicate column, an unknown region, or no facility column at all.
    """
    if not header or header[0] != TIMESTAMP:
        first = header[0] if header else "nothing"
        raise _fail(name, f"the first column must be 'timestamp', found {first!r}")
    seen: set[str] = set()
    facilities: dict[str, list[int]] = {}
    regions: dict[str, list[int]] = {}
    for index, column in enumerate(header[1:], start=1):
        if column in seen:
            raise _fail(name, f"duplicate column {column!r}")
        seen.add(column)
        try:
            metric, code = parse_column(column)
        except ValueError:
            raise _fail(
                name,
                f"column {column!r} is not power_/emissions_/price_/demand_/imports_/"
                "exports_<code>",
            ) from None
        if metric in FACILITY_METRICS:
            if not FACILITY_ID_RE.match(code):
                raise _fail(name, f"column {column!r}: facility code is not [A-Za-z0-9_-.]")
            slots = facilities.setdefault(code, [-1, -1])
            slots[FACILITY_METRICS.index(metric)] = index
        else:
            if code not in REGIONS:
                raise _fail(name, f"column {column!r}: region is not one of {', '.join(REGIONS)}")
            slots = regions.setdefault(code, [-1] * len(MARKET_METRICS))
            slots[MARKET_METRICS.index(metric)] = index
    if not facilities:
        raise _fail(name, "no power_<FACILITY> or emissions_<FACILITY> column")
    facility_cols = [i for slots in facilities.values() for i in slots]
    region_cols = [i for slots in regions.values() for i in slots]
    return list(facilities), list(regions), facility_cols, region_cols


def parse_timestamps(name: str, texts: Sequence[object]) -> list[datetime]:
    """Parse and check the timestamp column: ISO 8601 with offset, strictly increasing.

    Row numbers in errors are the file's line numbers (the header is line 1).
    """
    times: list[datetime] = []
    previous: datetime | None = None
    for line, text in enumerate(texts, start=2):
        if not isinstance(text, str) or not TIMESTAMP_RE.match(text):
            raise _fail(
                name,
                f"line {line}: timestamp {text if isinstance(text, str) else ''!r} is not "
                "ISO 8601 with offset like 2025-10-15T10:05:00+10:00",
            )
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise _fail(name, f"line {line}: timestamp {text!r} is not a valid date") from None
        if previous is not None and ts <= previous:
            problem = "duplicate" if ts == previous else "out of order"
            raise _fail(
                name,
                f"line {line}: timestamp {text} is {problem}; timestamps must be strictly increasing",
            )
        times.append(ts)
        previous = ts
    return times


def _find_bad_cell(path: Path, name: str, header: Sequence[str]) -> InputError:
    """Locate the first non-numeric cell (slow path, only after pandas refused the file)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for line, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                return _fail(
                    name, f"line {line} has {len(cells)} cells, the header has {len(header)}"
                )
            for column, cell in zip(header[1:], cells[1:], strict=True):
                if cell == "":
                    continue
                try:
                    float(cell)
                except ValueError:
                    return _fail(
                        name,
                        f"line {line}, column {column}: {cell!r} is not a number (empty = missing)",
                    )
    return _fail(name, "pandas could not read it as numbers")


def _check_row_lengths(path: Path, name: str, width: int) -> None:
    """Every line has ``width`` cells (pandas pads short rows and drops cells silently).

    Counting commas is enough: no cell of a valid file is quoted.
    """
    with path.open(encoding="utf-8") as fh:
        next(fh, None)
        for line, text in enumerate(fh, start=2):
            cells = text.count(",") + 1
            if cells != width and text.strip():
                raise _fail(name, f"line {line} has {cells} cells, the header has {width}")


def _pick(values: np.ndarray, columns: list[int]) -> np.ndarray:
    """Columns of ``values`` (CSV index − 1) in order; -1 gives a column of NaN."""
    out = np.full((values.shape[0], len(columns)), np.nan)
    for j, col in enumerate(columns):
        if col > 0:
            out[:, j] = values[:, col - 1]
    return out


def read_replay_table(path: Path) -> ReplayTable:
    """Read and check consolidate.csv; raise InputError (exit 2) with one line naming the fix."""
    name = str(path)
    if not path.is_file():
        raise InputError(f"{name} not found: run extractor.py first or pass --csv")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} cannot be read ({exc}): check the file or pass --csv") from exc
    if not header:
        raise _fail(name, "the file is empty")
    facility_ids, region_ids, facility_cols, region_cols = parse_header(name, header)
    _check_row_lengths(path, name, len(header))
    dtypes: dict[str, object] = {column: "float64" for column in header[1:]}
    dtypes[TIMESTAMP] = str
    try:
        # Only an empty cell is missing: "NA" or "null" in a value column is an error.
        frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], engine="c")
    except (ValueError, pd.errors.ParserError):
        raise _find_bad_cell(path, name, header) from None
    if frame.empty:
        raise _fail(name, "no data rows")
    texts = frame[TIMESTAMP].tolist()
    times = parse_timestamps(name, texts)
    values = frame.iloc[:, 1:].to_numpy(dtype=np.float64, copy=True)
    del frame
    if np.isinf(values).any():
        row, col = (int(x) for x in np.argwhere(np.isinf(values))[0])
        raise _fail(name, f"line {row + 2}, column {header[col + 1]}: infinite value")
    return ReplayTable(
        timestamps=tuple(texts),
        times=tuple(times),
        facility_ids=tuple(facility_ids),
        region_ids=tuple(region_ids),
        facility_values=_pick(values, facility_cols),
        market_values=_pick(values, region_cols),
    )


# --- rows -> messages ---------------------------------------------------------------------


def shift_timestamp(table: ReplayTable, row: int, pass_number: int) -> str:
    """The timestamp of ``row`` on pass ``pass_number``: moved by ``pass_number × span``."""
    if pass_number == 0:
        return table.timestamps[row]
    return format_timestamp(table.times[row] + pass_number * table.span)


class RowEncoder:
    """Builds the ordered (topic, payload) list of one row; topics and templates prebuilt."""

    def __init__(self, table: ReplayTable, base_topic: str) -> None:
        self.table = table
        self._facilities = [
            (build_facility_topic(base_topic, fid), PayloadTemplate("facility", fid))
            for fid in table.facility_ids
        ]
        # Per region: its market event, then its interchange event.
        self._regions = [
            (topic, PayloadTemplate(kind, rid))
            for rid in table.region_ids
            for kind, topic in (
                ("market", build_market_topic(base_topic, rid)),
                ("interchange", build_interchange_topic(base_topic, rid)),
            )
        ]

    def build_row_messages(self, row: int, pass_number: int) -> list[Message]:
        """Facility events, then interchange events, then market events, in column order
        (docs/contracts.md §3): the market events close the row, as the dashboard expects.

        A payload with both values missing is not sent; one missing is null.
        """
        ts = shift_timestamp(self.table, row, pass_number)
        out: list[Message] = []
        append = out.append
        # tolist(): Python floats, so repr() writes them exactly as json would.
        values = self.table.facility_values[row].tolist()
        for i, (topic, template) in enumerate(self._facilities):
            a = values[2 * i]
            b = values[2 * i + 1]
            if a != a and b != b:  # both NaN
                continue
            append((topic, template.encode(ts, a, b)))
        values = self.table.market_values[row].tolist()
        markets: list[Message] = []
        for i, (topic, template) in enumerate(self._regions):
            a = values[2 * i]
            b = values[2 * i + 1]
            if a != a and b != b:
                continue
            (markets if i % 2 == 0 else out).append((topic, template.encode(ts, a, b)))
        out += markets
        return out
