"""The dashboard's settings from the environment: defaults, bounds, one clear error each."""

from __future__ import annotations

import pytest

from nemlive.common.errors import ConfigError
from nemlive.dashboard.config import resolve_dashboard_config


def test_defaults_refresh_the_figures_every_2_s_and_the_map_every_10_s() -> None:
    config = resolve_dashboard_config({})
    assert (config.refresh, config.refresh_s, config.visuals_every_s) == ("fragment", 2.0, 10.0)
    assert config.store is None and not config.allow_broker_change


def test_the_map_never_refreshes_faster_than_the_figures() -> None:
    assert resolve_dashboard_config({"NEMLIVE_REFRESH_S": "30"}).visuals_every_s == 30.0
    config = resolve_dashboard_config({"NEMLIVE_REFRESH_S": "1", "NEMLIVE_VISUALS_S": "1"})
    assert (config.refresh_s, config.visuals_every_s) == (1.0, 1.0)
    with pytest.raises(ConfigError, match=r"NEMLIVE_VISUALS_S=1.0 is out of range: use 2 to 600"):
        resolve_dashboard_config({"NEMLIVE_VISUALS_S": "1"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEMLIVE_REFRESH_S": "0.4"}, "NEMLIVE_REFRESH_S=0.4 is out of range: use 0.5 to 60"),
        ({"NEMLIVE_REFRESH_S": "61"}, "NEMLIVE_REFRESH_S=61.0 is out of range"),
        ({"NEMLIVE_REFRESH_S": "fast"}, "NEMLIVE_REFRESH_S is not a number: use e.g. 2"),
        ({"NEMLIVE_VISUALS_S": "601"}, "NEMLIVE_VISUALS_S=601.0 is out of range: use 2 to 600"),
        ({"NEMLIVE_VISUALS_S": "nan"}, "NEMLIVE_VISUALS_S=nan is out of range"),
        ({"NEMLIVE_VISUALS_S": "soon"}, "NEMLIVE_VISUALS_S is not a number: use e.g. 10"),
        ({"NEMLIVE_REFRESH": "sometimes"}, "NEMLIVE_REFRESH='sometimes' is not valid"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        resolve_dashboard_config(env)
