"""Each figure's change since the interval before: the arrow, the amount and its sense."""

from __future__ import annotations

import pytest

from nemlive.dashboard import changes
from nemlive.dashboard.changes import Change, describe_change
from nemlive.dashboard.charts import Figures


@pytest.mark.parametrize(
    ("now", "before", "rise", "how", "want"),
    [
        (42.5, 39.3, "bad", "price", Change("▲ $3.20/MWh", "bad")),
        (-7.55, 2.0, "bad", "price", Change("▼ $9.55/MWh", "good")),
        (0.41, 0.40, "good", "points", Change("▲ 1.0 pts", "good")),
        (0.39, 0.40, "good", "points", Change("▼ 1.0 pts", "bad")),
        (21_000.0, 20_880.0, "neutral", ",.0f MW", Change("▲ 120 MW", "neutral")),
        (20_000.0, 20_880.0, "neutral", ",.0f MW", Change("▼ 880 MW", "neutral")),
        (0.812, 0.8121, "bad", ",.3f t/MWh", Change("no change", "neutral")),
        (10.0, None, "bad", "price", None),
        (None, 10.0, "bad", "price", None),
    ],
    ids=[
        "price-up-bad",
        "price-down-good",
        "share-up-good",
        "share-down-bad",
        "generation-up-neutral",
        "demand-down-neutral",
        "rounds-to-nothing",
        "no-before",
        "no-now",
    ],
)
def test_a_change_is_an_arrow_an_amount_and_a_sense(now, before, rise, how, want) -> None:  # type: ignore[no-untyped-def]
    assert describe_change(now, before, rise, how) == want


def _figures(price: float, share: float, emissions: float) -> Figures:
    return Figures(1, 20_000.0, emissions, emissions * 12, 0.8, price, 21_000.0, share, 7, 5)


def test_every_card_has_a_sense_and_emissions_up_is_bad() -> None:
    moves = changes.figure_changes(_figures(50.0, 0.3, 100.0), _figures(40.0, 0.35, 90.0))
    assert set(moves) == set(changes.FIGURE_CHANGES)
    assert moves["Price (demand-weighted)"] == Change("▲ $10.00/MWh", "bad")
    assert moves["Renewable share"] == Change("▼ 5.0 pts", "bad")
    assert moves["Emissions"] == Change("▲ 10.0 t/5 min", "bad")
    assert moves["Emissions rate"] == Change("▲ 120 t/h", "bad")
    assert moves["Generation"] == Change("no change", "neutral")
    assert all(v is None for v in changes.figure_changes(_figures(1, 1, 1), None).values())


def test_the_interval_before_is_the_newest_market_interval_before() -> None:
    history = {"SA1": [(100, 1.0, 1.0), (400, 1.0, 1.0), (700, 1.0, 1.0)], "VIC1": [(600, 1, 1)]}
    assert changes.previous_time(history, 700) == 600
    assert changes.previous_time(history, 400) == 100
    assert changes.previous_time(history, 100) == 100 - 300
    assert changes.previous_time({}, 1_000) == 700
