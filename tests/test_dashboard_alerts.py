"""The Alerts part of dashboard.py through Streamlit's AppTest: the list, the toasts and the
map's marks, from alerts injected through the real receive path (never evaluated here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from nemlive.common.lookups import load_facilities
from nemlive.common.mqttconfig import resolve_mqtt_settings
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import LiveState
from tests.conftest import ROOT, free_port
from tests.support_dashboard import (
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
    write_regions_geojson,
)
from tests.support_state import alert_payload

APP = str(ROOT / "dashboard.py")
HUB_KEY = "nemlive_hub"
BASE = "nem/stream"


@pytest.fixture(autouse=True)
def _release_cached_hubs() -> Iterator[None]:
    yield
    st.cache_resource.clear()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    fac = write_facilities_csv(tmp_path / "facilities.csv")
    monkeypatch.setenv("NEMLIVE_FACILITIES", str(fac))
    monkeypatch.setenv("NEMLIVE_REGIONS", str(write_regions_geojson(tmp_path / "r.geojson")))
    monkeypatch.setenv("MQTT_HOST", "127.0.0.1")
    monkeypatch.setenv("MQTT_PORT", str(free_port()))  # nothing listens there
    state = LiveState(load_facilities(fac).keys())
    for suffix, payload in read_csv_events(write_consolidate_csv(tmp_path / "c.csv")):
        state.receive(BASE, f"{BASE}/{suffix}", payload)
    settings = resolve_mqtt_settings({}, host="127.0.0.1", port=free_port())
    return Hub(state, settings, autostart=False)


def _alert(hub: Hub, rule: str, subject: str, payload: bytes, retained: bool = False) -> None:
    hub.state.receive(BASE, f"{BASE}/alert/{rule}/{subject}", payload, retained)


def _layers(at: AppTest) -> dict[str, dict]:
    (deck,) = at.get("deck_gl_json_chart")
    return {layer["id"]: layer for layer in json.loads(deck.proto.json)["layers"]}


def _alert_expander(at: AppTest):  # type: ignore[no-untyped-def]
    return next(e for e in at.expander if e.label.startswith("Alerts"))


def test_firing_alerts_are_listed_toasted_once_and_marked_on_the_map(hub: Hub) -> None:
    _alert(hub, "sa-spike", "SA1", alert_payload(), retained=True)
    _alert(
        hub,
        "trip",
        "TGAS1",
        alert_payload("trip", "TGAS1", kind="facility_trip", value=0.0, threshold=5.0),
    )
    _alert(hub, "evil", "NSW1", alert_payload("evil", "NSW1").replace(b"15000.0", b"NaN"))
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    assert not at.exception
    assert _alert_expander(at).label == "Alerts: 2 firing"
    table = _alert_expander(at).dataframe[0].value
    assert list(table.columns) == ["rule", "subject", "state", "since", "at", "value", "threshold"]
    assert set(table["rule"]) == {"sa-spike", "trip"} and set(table["state"]) == {"firing"}
    assert table.loc[table["rule"] == "sa-spike", "since"].item() == "2025-10-15 10:05 NEM"
    toasts = [t.value for t in at.toast]
    assert len(toasts) == 2 and any("**sa\\-spike**: SA1 fired" in t for t in toasts)
    layers = _layers(at)
    marked = {
        f["properties"]["region_id"]
        for f in layers["regions"]["data"]["features"]
        if f["properties"]["alert"]
    }
    assert marked == {"SA1"}  # NSW1's alert was invalid: counted, never shown
    assert [d["facility_id"] for d in layers["alert_facilities"]["data"]] == ["TGAS1"]
    assert hub.state.snapshot(data=False).rejects_by_reason == {"not_finite": 1}

    at.run()  # the same alerts: no toast again in this session
    assert not at.exception and not at.toast

    _alert(hub, "sa-spike", "SA1", alert_payload(state="resolved", at="2025-10-15T10:10:00+10:00"))
    _alert(hub, "sa-spike", "SA1", b"", retained=True)
    at.run()
    assert _alert_expander(at).label == "Alerts: 1 firing"
    resolved = _alert_expander(at).dataframe[1].value
    assert resolved[["rule", "state", "at"]].values.tolist() == [
        ["sa-spike", "resolved", "2025-10-15 10:10 NEM"]
    ]
    assert not any(f["properties"]["alert"] for f in _layers(at)["regions"]["data"]["features"])


def test_a_rule_name_with_markdown_is_shown_literally_in_the_toast(hub: Hub) -> None:
    _alert(hub, "_x_y_", "SA1", alert_payload("_x_y_", "SA1"))
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    assert not at.exception
    assert "**\\_x\\_y\\_**" in at.toast[0].value


def test_without_alerts_the_part_says_none_is_firing(hub: Hub) -> None:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    assert not at.exception and not at.toast
    assert _alert_expander(at).label == "Alerts: none firing"
    assert "alert_facilities" not in _layers(at)
