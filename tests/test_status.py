"""The status panel's texts: the publisher's state, unknown facilities, the last message's age."""

from __future__ import annotations

import pytest

from nemlive.dashboard import status
from nemlive.dashboard.status import describe_age, describe_publisher, describe_unknown
from nemlive.dashboard.text import WORD_JOINER


@pytest.mark.parametrize(
    ("status", "text"),
    [
        pytest.param(
            {"state": "online", "pass_number": 0, "row": 55, "rows": 2016},
            "**online**, pass 1, 55/2,016 intervals sent",
            id="online",
        ),
        pytest.param(
            {"state": "cooldown", "pass_number": 1, "row": 0, "rows": 288},
            "**cooldown** before pass 2",
            id="cooldown",
        ),
        pytest.param({"state": "offline", "client_id": "x"}, "**offline**", id="last-will"),
    ],
)
def test_publisher_status_counts_passes_from_one(status: dict, text: str) -> None:
    assert describe_publisher(status) == text


FORGED_TEXT = "![x](http://203.0.113.9/p.png) **bold** [click](http://203.0.113.9/) <b>b</b>"


def test_a_forged_live_status_shows_its_text_literally() -> None:
    """Anyone who can publish sets the status's free-text fields: rendered as CommonMark,
    the line has the state in bold and nothing else active (no image, link, emphasis, HTML)."""
    from markdown_it import MarkdownIt

    forged = {"state": "live", "market_to": FORGED_TEXT[:64], "facilities_to": "_it_ `c` $x$"}
    text = describe_publisher(forged)
    page = MarkdownIt("commonmark").render(text)
    assert page.count("<strong>") == 1 and "<strong>live</strong>" in page
    for active in ("<img", "<a ", "<em>", "<code>", "<b>"):
        assert active not in page
    assert text.count("$") == text.count("\\$") == 2  # no unescaped LaTeX delimiter
    shown = page.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    shown = shown.replace(WORD_JOINER, "")
    assert FORGED_TEXT[:64] in shown and "_it_ `c` $x$" in shown
    assert "://" not in page  # no autolink either (GitHub's, in Streamlit, finds bare URLs)
    # a real time, whatever its offset, shows in NEM time
    real = {"state": "live", "market_to": "2026-11-30T04:35:00+00:00", "facilities_to": None}
    assert "prices to 2026-11-30 14:35, facilities to none yet NEM" in describe_publisher(real)


def test_unknown_help_lists_the_first_ids_escaped() -> None:
    assert "First seen" not in describe_unknown([], False, 0)
    text = describe_unknown(["A_1", "B-2", "C"], False, 25, show=2)
    assert text.endswith(r"First seen: A\_1, B\-2 and 1 more; 25 events")
    more = describe_unknown(["A_1", "B-2", "C"], True, 9_000, show=3)
    assert more.endswith("C (more ids than listed); 9,000 events")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "never"),
        (0.4, "0 s ago"),
        (59.4, "59 s ago"),
        (60.0, "1 min ago"),
        (3599.0, "60 min ago"),
        (3600.0, "1.0 h ago"),
        (5400.0, "1.5 h ago"),
    ],
    ids=["never", "now", "under-a-minute", "a-minute", "under-an-hour", "an-hour", "hours"],
)
def test_the_last_message_age_in_words(seconds: float | None, text: str) -> None:
    assert describe_age(seconds) == text


# --- where the data comes from, and its credits ------------------------------------------------


def test_the_credits_name_aemo_and_open_electricity_for_nemweb() -> None:
    text = status.describe_credits({"state": "live", "source": "nemweb"})
    assert "Facility and market data from AEMO's NEMweb: Source: AEMO, © AEMO" in text
    assert "Facility list from Open Electricity: Data sourced from Open Electricity" in text
    assert "CC BY-NC 4.0" in text


def test_the_credits_of_oe_data_name_both_and_simulated_data_needs_none() -> None:
    oe = status.describe_credits({"state": "live", "source": "openelectricity"})
    assert oe.startswith("Data sourced from Open Electricity, Superpower Institute")
    assert "Source: AEMO" in oe
    for simulated in ({"source": "simulator"}, {"source": "nemweb", "simulated": True}):
        assert status.describe_credits({"state": "live", **simulated}).startswith("Simulated")
    assert status.describe_credits(None) == ""
    assert status.describe_credits({"state": "online"}) == ""  # a replay says nothing


def test_the_source_in_words() -> None:
    assert status.describe_source({"source": "nemweb"}) == (
        "AEMO NEMweb (facility list from Open Electricity)"
    )
    assert status.describe_source({"source": "openelectricity"}) == "Open Electricity"
    assert status.describe_source({"source": "simulator"}) == "the simulator"
    assert status.describe_source({"state": "live"}) == ""
    assert status.describe_source(None) == ""


NEM = "Australia's National Electricity Market"
SIMULATED_NEM = "A simulated National Electricity Market"


@pytest.mark.parametrize(
    ("publisher", "text"),
    [
        pytest.param(None, f"{NEM} over MQTT.", id="no-status-yet"),
        pytest.param({"state": "online", "rows": 2016}, f"{NEM}, replayed over MQTT.", id="replay"),
        pytest.param({"state": "cooldown"}, f"{NEM}, replayed over MQTT.", id="replay-cooldown"),
        pytest.param({"state": "done"}, f"{NEM}, replayed over MQTT.", id="replay-done"),
        pytest.param({"state": "offline", "client_id": "x"}, f"{NEM} over MQTT.", id="last-will"),
        pytest.param(
            {"state": "live", "source": "nemweb", "simulated": False},
            f"{NEM}, followed live from AEMO's NEMweb over MQTT.",
            id="live-nemweb",
        ),
        pytest.param(
            {"state": "live", "source": "nemweb", "simulated": True},
            f"{SIMULATED_NEM}, followed live from the simulator's NEMweb face over MQTT.",
            id="live-nemweb-simulated",
        ),
        pytest.param(
            {"state": "live", "source": "openelectricity"},
            f"{NEM}, followed live from Open Electricity over MQTT.",
            id="live-oe",
        ),
        pytest.param(
            {"state": "live", "source": "simulator"},
            f"{SIMULATED_NEM}, followed live from the Open Electricity simulator over MQTT.",
            id="live-oe-simulator",
        ),
        pytest.param({"state": "live"}, f"{NEM}, followed live over MQTT.", id="live-no-source"),
        pytest.param(
            {"state": "offline", "source": "nemweb", "simulated": True},
            f"{SIMULATED_NEM}, followed live from the simulator's NEMweb face over MQTT.",
            id="live-publisher-stopped",
        ),
    ],
)
def test_the_sidebar_line_names_the_mode_the_status_reports(
    publisher: dict | None, text: str
) -> None:
    assert status.describe_mode(publisher) == text
