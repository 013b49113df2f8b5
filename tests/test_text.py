"""Markdown escaping and the facility detail's text: data shows literally, never as Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemlive.dashboard import text as texts
from tests.support_dashboard import fed_state


@pytest.mark.parametrize(
    "text",
    [
        "Test Gas <b>&amp; Co</b>",
        "**bold** _it_ `code` [link](http://x) ![img](y)",
        ":red[coloured] :material/bolt: $x^2$ ~~gone~~",
        "# heading\n- item\n1. item > quote | cell",
        "back\\slash",
    ],
    ids=["html", "emphasis-links", "streamlit-directives", "blocks", "backslash"],
)
def test_escape_markdown_leaves_no_active_character(text: str) -> None:
    out = texts.escape_markdown(text)
    # Drop every escaped pair: what is left must hold no markdown-active character.
    rest, i = [], 0
    while i < len(out):
        if out[i] == "\\":
            assert out[i + 1] in texts.MARKDOWN_SPECIALS
            i += 2
        else:
            rest.append(out[i])
            i += 1
    assert not set(rest) & texts.MARKDOWN_SPECIALS and "\n" not in rest
    assert out.replace("\\", "").replace(" ", "").replace(texts.WORD_JOINER, "") == text.replace(
        "\\", ""
    ).replace("\n", "").replace(" ", "")


def test_facility_markdown_escapes_the_lookup_strings(tmp_path: Path) -> None:
    snap, facilities, _ = fed_state(tmp_path, intervals=3)
    text = texts.build_facility_markdown(facilities["TGAS1"], snap.facility_latest["TGAS1"])
    assert text.startswith(r"**Test Gas \<b\>\&amp; Co\</b\>** · TGAS1" + "  \n")
    assert "Victoria" in text and "Fuel: Gas (gas\\_ccgt)" in text
    assert "Capacity: 500 MW" in text and "NEM): **" in text
    assert "Latest" not in texts.build_facility_markdown(facilities["TGAS1"], None)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see http://203.0.113.9/x", "see http\\:\u2060//203\\.0\\.113\\.9/x"),
        ("HTTPS://a.b", "HTTPS\\:\u2060//a\\.b"),
        ("go to WWW.example.com", "go to WWW\u2060\\.example\\.com"),
        ("mail ops@example.com", "mail ops@\u2060example\\.com"),
        ("a: b // c, wwwx.y, ww.z", "a\\: b // c, wwwx\\.y, ww\\.z"),
    ],
    ids=["url", "upper-case", "www", "email", "look-alikes"],
)
def test_escaped_text_holds_nothing_an_autolink_finds(text: str, shown: str) -> None:
    assert texts.escape_markdown(text) == shown


def test_line_breaks_in_a_name_become_spaces() -> None:
    assert texts.escape_markdown("a\r\nb X") == "a  b X"


@pytest.mark.parametrize(
    ("price", "shown"),
    [
        (34.12, "$34.12/MWh"),
        (-7.55, "\u2212$7.55/MWh"),
        (-1000.0, "\u2212$1,000.00/MWh"),
        (17500.0, "$17,500.00/MWh"),
        (0.0, "$0.00/MWh"),
        (-0.0, "$0.00/MWh"),
        (-0.004, "$0.00/MWh"),  # rounds to zero: no sign before a zero
    ],
)
def test_a_price_has_its_sign_before_the_dollar(price: float, shown: str) -> None:
    assert texts.format_price(price) == shown


@pytest.mark.parametrize(
    ("price", "digits", "per_mwh", "shown"),
    [
        (-7.55, 0, False, "\u2212$8"),
        (-0.4, 0, False, "$0"),  # rounds to zero at the digits asked: no sign
        (-0.4, 2, True, "\u2212$0.40/MWh"),
        (17_255.0, 0, False, "$17,255"),
        (1_000.0, 1, True, "$1,000.0/MWh"),
    ],
)
def test_a_price_in_whole_dollars_or_without_its_unit(
    price: float, digits: int, per_mwh: bool, shown: str
) -> None:
    assert texts.format_price(price, digits=digits, per_mwh=per_mwh) == shown
