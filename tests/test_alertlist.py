"""The Alerts part's pure helpers: tables, toasts, and a session's bounded memory."""

from __future__ import annotations

from nemlive.dashboard import alertlist
from nemlive.store import AlertRecord

SINCE = 1760486700  # 2025-10-15 10:05 NEM


def _firing(subject: str, at: int = SINCE, since: int = SINCE) -> AlertRecord:
    return AlertRecord("r", "price_above", subject, "firing", since, at, 400.0, 300.0, at)


def test_a_session_is_told_of_each_firing_once_oldest_first() -> None:
    seen: dict = {}
    new = alertlist.take_new_firing([_firing("B", SINCE + 300), _firing("A")], seen)
    assert [a.subject for a in new] == ["A", "B"]
    assert alertlist.take_new_firing([_firing("A"), _firing("B", SINCE + 300)], seen) == []
    # It fires again later (a new `since`): a new firing.
    again = _firing("A", SINCE + 900, since=SINCE + 900)
    assert alertlist.take_new_firing([again], seen) == [again]


def test_the_session_memory_is_bounded() -> None:
    seen: dict = {}
    alertlist.take_new_firing([_firing(f"F{i}") for i in range(50)], seen, max_seen=10)
    assert len(seen) == 10 and ("r", "F49", SINCE) in seen and ("r", "F0", SINCE) not in seen


def test_a_flood_makes_a_few_toasts_and_one_that_counts_the_rest() -> None:
    texts = alertlist.toast_texts([_firing(f"F{i}") for i in range(12)], max_toasts=5)
    assert len(texts) == 6 and texts[-1] == "and 7 more alerts fired: see Alerts"
    assert texts[0] == (
        "**r**: F0 fired at 2025-10-15 10:05 NEM (value \\$400\\.00/MWh, threshold \\$300\\.00/MWh)"
    )


def test_an_alert_value_is_a_price_for_a_price_rule_and_a_number_otherwise() -> None:
    assert alertlist.format_alert_value("price_below", -7.55) == "\u2212$7.55/MWh"
    assert alertlist.format_alert_value("price_above", 15_000.0) == "$15,000.00/MWh"
    assert alertlist.format_alert_value("demand_above", 12_345.0) == "12,345.00"
    assert alertlist.format_alert_value("price_above", None) == "no value"


def test_the_table_has_the_contract_columns_in_nem_time() -> None:
    table = alertlist.build_alert_table([_firing("SA1")._replace(value=None)])
    assert table.values.tolist() == [
        ["r", "SA1", "firing", "2025-10-15 10:05 NEM", "2025-10-15 10:05 NEM", None, 300.0]
    ]
    assert list(alertlist.build_alert_table([]).columns) == list(alertlist.TABLE_COLUMNS)


def test_history_s_caption_counts_what_the_range_holds_and_what_is_left_out() -> None:
    from nemlive.dashboard.history import StoredAlerts

    one = StoredAlerts((_firing("SA1"),))
    assert alertlist.history_alerts_caption(one) == (
        "1 alert state change recorded in this range, newest first."
    )
    many = StoredAlerts(tuple(_firing(f"F{i}") for i in range(500)), left_out=1234)
    assert alertlist.history_alerts_caption(many) == (
        "The newest 500 of 1,734 alert state changes recorded in this range "
        "(1,234 older left out), newest first."
    )
    assert alertlist.history_alerts_caption(StoredAlerts(())) == (
        "No alert was recorded in this range."
    )
    assert "could not be read" in alertlist.history_alerts_caption(None)
