"""The page's tables as CSV that a spreadsheet opens as data, not as formulas (pure).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and
some do after a leading tab or carriage return. The tables' text comes from outside: names
from the API's facility list, ids from the wire. So, as OWASP advises against CSV injection,
a text cell that starts with one of those gets a single quote in front, which spreadsheets
show as text. Numbers stay numbers: a negative price ``-7.5`` is a number column, and a text
cell that is a plain decimal number (``-7.5``, ``+3e2``) is left as it is (a spreadsheet
reads it as that number, never as a formula).
"""

from __future__ import annotations

import re

import pandas as pd

# ASCII leads, and their full-width forms, which some spreadsheets also take for formulas.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def escape_formula(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    if text.startswith(FORMULA_LEADS) and _DECIMAL.fullmatch(text) is None:
        return "'" + text
    return text


def escape_formula_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell passed through :func:`escape_formula`;
    numbers, times and missing values are left as they are."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: escape_formula(v) if isinstance(v, str) else v)
    return out


def build_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text without its index, formula-leading text escaped."""
    return escape_formula_cells(frame).to_csv(index=False)
