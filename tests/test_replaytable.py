"""nemlive.publish.replaytable: reading and checking consolidate.csv, rows -> ordered messages, time shift."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest

from nemlive.common.columns import build_header
from nemlive.common.errors import InputError
from nemlive.common.events import PayloadTemplate, encode_facility_event, encode_market_event
from nemlive.publish.replaytable import RowEncoder, parse_header, read_replay_table, shift_timestamp
from tests.support_mqtt import write_small_csv


def test_reads_ids_values_and_missing_cells(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=4)
    table = read_replay_table(small.path)
    assert table.rows == 4
    assert table.timestamps == tuple(small.timestamps)
    assert table.facility_ids == ("BAYSW", "ER01_X", "HPR1")
    assert table.region_ids == ("NSW1", "SA1")
    # Row 0: ER01_X power empty -> NaN, its emissions kept exactly.
    assert math.isnan(table.facility_values[0][2])
    assert table.facility_values[0][3] == float(small.cells[0]["emissions_ER01_X"])
    assert table.span == timedelta(minutes=20)
    assert table.messages_per_pass() == len(small.expected_messages())


def test_row_messages_follow_the_contract_in_order(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=4)
    encoder = RowEncoder(read_replay_table(small.path), "nem/stream")
    sent = [m for row in range(4) for m in encoder.build_row_messages(row, 0)]
    expected = small.expected_messages()
    assert [topic for topic, _ in sent] == [topic for topic, _ in expected]
    for (_, payload), (_, want) in zip(sent, expected, strict=True):
        decoded = json.loads(payload)
        assert list(decoded) == list(want)  # exact keys, in the contract's order
        assert decoded == want  # values equal to the CSV's text
        assert b" " not in payload  # compact


def test_row_with_both_values_missing_sends_nothing_for_that_facility(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=4)
    encoder = RowEncoder(read_replay_table(small.path), "nem/stream")
    topics = [topic for topic, _ in encoder.build_row_messages(1, 0)]
    assert "nem/stream/facility/BAYSW" not in topics
    assert "nem/stream/facility/ER01_X" in topics


def test_csv_value_text_is_sent_as_the_same_number(tmp_path: Path) -> None:
    path = tmp_path / "consolidate.csv"
    header = build_header(["A"], ["VIC1"])
    path.write_text(
        ",".join(header) + "\n2025-10-15T10:05:00+10:00,245.7,212.48,34.12,142.0\n",
        encoding="utf-8",
    )
    (_, facility), (_, market) = RowEncoder(read_replay_table(path), "b").build_row_messages(0, 0)
    assert facility == (
        b'{"facility_id":"A","timestamp":"2025-10-15T10:05:00+10:00","power_mw":245.7,"co2_tonnes":212.48}'
    )
    assert market == (
        b'{"region_id":"VIC1","timestamp":"2025-10-15T10:05:00+10:00","price_dmwh":34.12,"demand_mw":142.0}'
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (245.7, 212.48),
        (None, 0.0),
        (float("nan"), -0.0),
        (-12.5, None),
        (1e-7, 1e16),
        (0.1 + 0.2, 5.0),
        (None, None),
    ],
    ids=["plain", "none", "nan", "negative", "exponent", "long-repr", "both-null"],
)
def test_payload_template_is_byte_identical_to_the_schema_encoders(
    a: float | None, b: float | None
) -> None:
    ts = "2025-10-15T10:05:00+10:00"
    assert PayloadTemplate("facility", "ER01_X").encode(ts, a, b) == encode_facility_event(
        "ER01_X", ts, a, b
    )
    assert PayloadTemplate("market", "QLD1").encode(ts, a, b) == encode_market_event(
        "QLD1", ts, a, b
    )


def test_pass_k_shifts_by_k_spans_and_keeps_the_offset(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    table = read_replay_table(small.path)  # 10:05, 10:10, 10:15 -> span 15 min
    assert shift_timestamp(table, 0, 0) == "2025-10-15T10:05:00+10:00"
    assert shift_timestamp(table, 0, 1) == "2025-10-15T10:20:00+10:00"
    assert shift_timestamp(table, 2, 2) == "2025-10-15T10:45:00+10:00"


def test_pass_two_messages_carry_shifted_timestamps(tmp_path: Path) -> None:
    small = write_small_csv(tmp_path / "consolidate.csv", rows=3)
    encoder = RowEncoder(read_replay_table(small.path), "nem/stream")
    sent = [json.loads(p) for row in range(3) for _, p in encoder.build_row_messages(row, 2)]
    assert sent == [want for _, want in small.expected_messages(pass_number=2)]


def _write(path: Path, header: list[str], *rows: str) -> Path:
    path.write_text("\n".join([",".join(header), *rows]) + "\n", encoding="utf-8")
    return path


# timestamp, power_A, power_B, emissions_A, emissions_B, price_NSW1, demand_NSW1
H = build_header(["A", "B"], ["NSW1"])
T1, T2 = "2025-10-15T10:05:00+10:00", "2025-10-15T10:10:00+10:00"

BAD_CSVS = {
    "timestamp-not-first": (
        ["power_A", "timestamp"],
        [f"1,{T1}"],
        "first column must be 'timestamp'",
    ),
    "unknown-column": ([*H, "volume_A"], [f"{T1},1,2,3,4,5,6,7"], "column 'volume_A'"),
    "no-code": ([*H, "power_"], [f"{T1},1,2,3,4,5,6,7"], "column 'power_'"),
    "duplicate-column": ([*H, "power_A"], [f"{T1},1,2,3,4,5,6,7"], "duplicate column 'power_A'"),
    "no-facility-columns": (["timestamp", "price_NSW1"], [f"{T1},1"], "no power_<FACILITY>"),
    "unknown-region": (
        ["timestamp", "power_A", "price_XYZ1"],
        [f"{T1},1,2"],
        "region is not one of",
    ),
    "unsorted": (H, [f"{T2},1,2,3,4,5,6", f"{T1},1,2,3,4,5,6"], "line 3: timestamp"),
    "duplicate-timestamp": (H, [f"{T1},1,2,3,4,5,6", f"{T1},1,2,3,4,5,6"], "is duplicate"),
    "non-numeric": (H, [f"{T1},1,2,x3,4,5,6"], "line 2, column emissions_A: 'x3' is not a number"),
    "na-text": (H, [f"{T1},1,2,3,NA,5,6"], "'NA' is not a number"),
    "no-offset": (H, ["2025-10-15T10:05:00,1,2,3,4,5,6"], "is not ISO 8601 with offset"),
    "date-only": (H, ["2025-10-15,1,2,3,4,5,6"], "is not ISO 8601 with offset"),
    "impossible-date": (H, ["2025-02-30T10:05:00+10:00,1,2,3,4,5,6"], "not a valid date"),
    "empty-timestamp": (H, [",1,2,3,4,5,6"], "line 2: timestamp ''"),
    "infinite": (H, [f"{T1},1,inf,3,4,5,6"], "infinite value"),
    "no-rows": (H, [], "no data rows"),
    "long-row": (H, [f"{T1},1,2,3,4,5,6,7,8"], "line 2 has 9 cells"),
    "short-row": (H, [f"{T1},1,2,3,4,5,6", f"{T2},1,2"], "line 3 has 3 cells"),
}


@pytest.mark.parametrize("case", list(BAD_CSVS), ids=list(BAD_CSVS))
def test_bad_csv_is_an_input_error_naming_the_file_and_the_fix(tmp_path: Path, case: str) -> None:
    header, rows, fragment = BAD_CSVS[case]
    path = _write(tmp_path / "consolidate.csv", header, *rows)
    with pytest.raises(InputError) as info:
        read_replay_table(path)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(str(path))
    assert "extractor.py" in message
    assert "\n" not in message


def test_missing_file_says_run_the_extractor(tmp_path: Path) -> None:
    path = tmp_path / "consolidate.csv"
    with pytest.raises(InputError, match=r"not found: run extractor\.py first or pass --csv"):
        read_replay_table(path)


def test_empty_file_is_named_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "consolidate.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="the file is empty: re-run extractor"):
        read_replay_table(path)


# The whole one-line message of each refused file: the line, the column and the problem,
# so a reader can go straight to the bad cell.
EXACT_MESSAGES = {
    "timestamp-not-first": (
        ["power_A", "timestamp"],
        [f"1,{T1}"],
        "the first column must be 'timestamp', found 'power_A'",
    ),
    "bad-facility-code": (
        ["timestamp", "power_A<b>"],
        [f"{T1},1"],
        "column 'power_A<b>': facility code is not [A-Za-z0-9_-.]",
    ),
    "unknown-region": (
        ["timestamp", "power_A", "price_XYZ1"],
        [f"{T1},1,2"],
        "column 'price_XYZ1': region is not one of NSW1, QLD1, SA1, TAS1, VIC1",
    ),
    "no-facility-columns": (
        ["timestamp", "price_NSW1"],
        [f"{T1},1"],
        "no power_<FACILITY> or emissions_<FACILITY> column",
    ),
    "unsorted": (
        H,
        [f"{T1},1,2,3,4,5,6", f"{T2},1,2,3,4,5,6", f"{T1},1,2,3,4,5,6"],
        f"line 4: timestamp {T1} is out of order; timestamps must be strictly increasing",
    ),
    "duplicate-timestamp": (
        H,
        [f"{T1},1,2,3,4,5,6", f"{T1},1,2,3,4,5,6"],
        f"line 3: timestamp {T1} is duplicate; timestamps must be strictly increasing",
    ),
    "non-numeric-after-empty-cells": (
        H,
        [f"{T1},1,2,3,4,5,6", f"{T2},,,,x,5,6"],
        "line 3, column emissions_B: 'x' is not a number (empty = missing)",
    ),
    "infinite-in-a-later-column": (
        H,
        [f"{T1},1,2,3,4,5,6", f"{T2},1,2,3,4,5,-inf"],
        "line 3, column demand_NSW1: infinite value",
    ),
    "no-rows": (H, [], "no data rows"),
    "no-offset": (
        H,
        ["2025-10-15T10:05:00,1,2,3,4,5,6"],
        "line 2: timestamp '2025-10-15T10:05:00' is not ISO 8601 with offset like "
        "2025-10-15T10:05:00+10:00",
    ),
    "a-quoted-comma-hides-a-cell": (
        ["timestamp", "power_A", "emissions_A"],
        [f'{T1},"1,2"'],
        "line 2 has 2 cells, the header has 3",
    ),
    "a-number-python-reads-but-pandas-does-not": (
        ["timestamp", "power_A"],
        [f"{T1},1_0"],
        "pandas could not read it as numbers",
    ),
}


@pytest.mark.parametrize("case", list(EXACT_MESSAGES), ids=list(EXACT_MESSAGES))
def test_bad_csv_message_names_the_line_the_column_and_the_problem(
    tmp_path: Path, case: str
) -> None:
    header, rows, problem = EXACT_MESSAGES[case]
    path = _write(tmp_path / "consolidate.csv", header, *rows)
    with pytest.raises(InputError) as info:
        read_replay_table(path)
    assert str(info.value) == f"{path}: {problem}: re-run extractor.py to rebuild it"


def test_a_header_with_no_columns_says_it_found_nothing() -> None:
    with pytest.raises(InputError) as info:
        parse_header("consolidate.csv", [])
    assert "found 'nothing'" in str(info.value)


def test_a_file_with_only_power_or_only_price_columns_sends_the_others_as_null(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path / "consolidate.csv",
        ["timestamp", "power_A", "emissions_B", "demand_NSW1", "price_SA1"],
        f"{T1},10.5,2.25,7000.0,80.0",
    )
    table = read_replay_table(path)
    assert table.messages_per_pass() == 4
    sent = [json.loads(p) for _, p in RowEncoder(table, "b").build_row_messages(0, 0)]
    assert sent == [
        {"facility_id": "A", "timestamp": T1, "power_mw": 10.5, "co2_tonnes": None},
        {"facility_id": "B", "timestamp": T1, "power_mw": None, "co2_tonnes": 2.25},
        {"region_id": "NSW1", "timestamp": T1, "price_dmwh": None, "demand_mw": 7000.0},
        {"region_id": "SA1", "timestamp": T1, "price_dmwh": 80.0, "demand_mw": None},
    ]


def test_a_silent_facility_or_region_does_not_stop_the_ones_after_it(tmp_path: Path) -> None:
    # timestamp, power_A, power_B, emissions_A, emissions_B, price_NSW1, demand_NSW1
    path = _write(tmp_path / "consolidate.csv", H, f"{T1},,3.5,,,,", f"{T2},1,,2,,,9")
    encoder = RowEncoder(read_replay_table(path), "b")
    assert [json.loads(p) for _, p in encoder.build_row_messages(0, 0)] == [
        {"facility_id": "B", "timestamp": T1, "power_mw": 3.5, "co2_tonnes": None},
    ]
    assert [json.loads(p) for _, p in encoder.build_row_messages(1, 0)] == [
        {"facility_id": "A", "timestamp": T2, "power_mw": 1.0, "co2_tonnes": 2.0},
        {"region_id": "NSW1", "timestamp": T2, "price_dmwh": None, "demand_mw": 9.0},
    ]
    assert encoder.table.messages_per_pass() == 3


def test_a_silent_region_does_not_stop_the_regions_after_it(tmp_path: Path) -> None:
    header = build_header(["A"], ["NSW1", "SA1"])  # power_A, emissions_A, price_*, demand_*
    path = _write(tmp_path / "consolidate.csv", header, f"{T1},1,2,,80,,900")
    messages = RowEncoder(read_replay_table(path), "b").build_row_messages(0, 0)
    assert [topic for topic, _ in messages] == ["b/facility/A", "b/market/SA1"]
