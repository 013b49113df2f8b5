"""dashboard.py through Streamlit's AppTest: broker down, injected state, filters, missing lookups.

State is injected the way an embedding would: a Hub (LiveState + a not-started client) under
``page_cache.HUB_KEY`` in session state, filled through the real decode/store path.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from nemlive.common.errors import ConfigError
from nemlive.common.events import StatusEvent, encode_status
from nemlive.common.lookups import load_facilities
from nemlive.common.mqttconfig import resolve_mqtt_settings, retarget
from nemlive.dashboard.ingest import Hub
from nemlive.dashboard.livestate import LiveState
from nemlive.dashboard.status import describe_mode
from tests.conftest import ROOT, free_port
from tests.support_dashboard import (
    FIRST_TS,
    cards_in,
    expected_figure_texts,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
    write_regions_geojson,
    write_store_from_csv,
)
from tests.support_state import send

APP = str(ROOT / "dashboard.py")
HUB_KEY = "nemlive_hub"


@pytest.fixture(autouse=True)
def _release_cached_hubs() -> Iterator[None]:
    yield
    st.cache_resource.clear()  # calls on_release: stops every MQTT client the app started


@pytest.fixture
def lookups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    fac = write_facilities_csv(tmp_path / "facilities.csv")
    reg = write_regions_geojson(tmp_path / "regions.geojson")
    monkeypatch.setenv("NEMLIVE_FACILITIES", str(fac))
    monkeypatch.setenv("NEMLIVE_REGIONS", str(reg))
    monkeypatch.setenv("MQTT_HOST", "127.0.0.1")
    monkeypatch.setenv("MQTT_PORT", str(free_port()))  # nothing listens there
    return fac, reg


def _metrics(at: AppTest) -> dict[str, str]:
    return cards_in(at.main)


def _deck(at: AppTest) -> dict:
    charts_ = at.get("deck_gl_json_chart")
    assert len(charts_) == 1
    return json.loads(charts_[0].proto.json)


def _injected_hub(fac_path: Path, tmp_path: Path, intervals: int = 12) -> tuple[Hub, Path]:
    facilities = load_facilities(fac_path)
    state = LiveState(facilities.keys())
    csv_path = write_consolidate_csv(tmp_path / "c.csv", intervals=intervals)
    for suffix, payload in read_csv_events(csv_path):
        state.receive("nem/stream", f"nem/stream/{suffix}", payload)
    settings = resolve_mqtt_settings({}, host="127.0.0.1", port=free_port())
    return Hub(state, settings, autostart=False), csv_path


def test_page_renders_with_the_broker_down(lookups) -> None:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert set(_metrics(at).values()) == {"–"}
    assert any("Waiting for data" in i.value for i in at.info)
    status = " ".join(m.value for m in at.sidebar.markdown)
    assert "connecting" in status or "down" in status
    assert not at.warning  # both lookups were found
    spec = _deck(at)
    assert [layer["id"] for layer in spec["layers"]] == ["regions", "facilities"]
    assert spec["layers"][1]["data"] == []


def test_missing_lookups_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEMLIVE_FACILITIES", str(tmp_path / "nope.csv"))
    monkeypatch.setenv("NEMLIVE_REGIONS", str(tmp_path / "nope.geojson"))
    monkeypatch.setenv("MQTT_PORT", str(free_port()))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "nope.csv` not found: run `make data` (or `git checkout data/facilities.csv`" in warnings
    assert "extractor.py" not in warnings  # it needs an API key: not the first thing to try
    assert "nope.geojson` not found" in warnings
    assert [layer["id"] for layer in _deck(at)["layers"]] == ["facilities"]


def test_bad_configuration_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PORT", "70000")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "MQTT_PORT=70000 is out of range" in at.error[0].value


def test_injected_state_gives_the_figures_and_deck_layers(lookups, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub, csv_path = _injected_hub(lookups[0], tmp_path)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    assert not at.exception
    assert _metrics(at) == expected_figure_texts(csv_path)
    spec = _deck(at)
    layers = {layer["id"]: layer for layer in spec["layers"]}
    # A label placed offshore (clear of the large facilities) adds its leader lines.
    assert set(layers) - {"interchange_leaders"} == {"regions", "interchange", "facilities"}
    # Each region's net import on the map equals the CSV's last row, computed from the file.
    with open(csv_path, newline="", encoding="utf-8") as fh:
        last = list(csv.DictReader(fh))[-1]
    want = set()
    for r in ("NSW1", "QLD1", "SA1", "TAS1", "VIC1"):
        net = float(last[f"imports_{r}"]) - float(last[f"exports_{r}"])
        want.add(f"{r} {'+' if net >= 0 else '-'}{abs(net):,.0f} MW")
    assert {d["text"] for d in layers["interchange"]["data"]} == want
    region_tips = {
        f["properties"]["region_id"]: f["properties"] for f in layers["regions"]["data"]["features"]
    }
    sa_net = float(last["imports_SA1"]) - float(last["exports_SA1"])
    assert f"{abs(sa_net):,.0f} MW" in region_tips["SA1"]["t_text"]
    assert region_tips["SA1"]["fuel"].startswith(f"${float(last['price_SA1']):,.2f}/MWh")
    assert {r["facility_id"] for r in layers["facilities"]["data"]} == {
        "TCOAL1",
        "TGAS1",
        "TWIND1",
        "TSOLAR1",
        "TBATT1",
        "THYDRO1",
        "TCOAL2",
    }
    sidebar = cards_in(at.sidebar)
    assert sidebar["Received"] == f"{len(read_csv_events(csv_path)):,}"
    assert sidebar["Rejected"] == "0" and sidebar["Unknown"] == "0"


def test_filters_change_the_rows_and_the_figures(lookups, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub, csv_path = _injected_hub(lookups[0], tmp_path)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    before = _metrics(at)
    at.multiselect(key="f_regions").set_value(["VIC1"]).run()
    assert not at.exception
    rows = {layer["id"]: layer for layer in _deck(at)["layers"]}["facilities"]["data"]
    assert {r["facility_id"] for r in rows} == {"TGAS1", "TBATT1"}
    fac_table, mkt_table, most, least = (d.value for d in at.dataframe)
    assert set(fac_table["facility_id"]) == {"TGAS1", "TBATT1"}
    assert set(mkt_table["region_id"]) == {"VIC1"}
    # The utilisation tables follow the filters too (the battery is not a generator).
    assert set(most["facility_id"]) == set(least["facility_id"]) == {"TGAS1"}
    after = _metrics(at)
    assert after != before
    assert after == expected_figure_texts(csv_path, regions={"VIC1"})
    at.multiselect(key="f_groups").set_value(["battery"]).run()
    rows = {layer["id"]: layer for layer in _deck(at)["layers"]}["facilities"]["data"]
    assert [r["facility_id"] for r in rows] == ["TBATT1"]
    at.toggle(key="m_markers").set_value(False).run()
    assert "facilities" not in {layer["id"] for layer in _deck(at)["layers"]}


def test_facility_detail_from_the_select_box(lookups, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub, _ = _injected_hub(lookups[0], tmp_path)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    at.selectbox(key="live_detail").set_value("TCOAL1").run()
    assert not at.exception
    text = " ".join(m.value for m in at.main.markdown)
    assert "Test Coal One" in text and "Capacity: 2,000 MW" in text
    # A name with HTML and an entity reaches the markdown escaped (the browser test reads it).
    at.selectbox(key="live_detail").set_value("TGAS1").run()
    text = " ".join(m.value for m in at.main.markdown)
    assert r"**Test Gas \<b\>\&amp; Co\</b\>**" in text


def test_a_restart_earlier_in_time_shows_in_the_status_only_once_it_happened(
    lookups, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    hub, _ = _injected_hub(lookups[0], tmp_path)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    assert "restarted" not in " ".join(c.value for c in at.sidebar.caption)
    assert not any("No data in the window" in c.value for c in at.main.caption)
    # A new publisher replays from the first interval: the data windows are cleared.
    restart = StatusEvent(state="online", client_id="new", position="2025-10-15T10:05:00+10:00")
    assert send(hub.state, "nem/stream/status", encode_status(restart), base="nem/stream") == (
        "stored"
    )
    at.run()
    assert not at.exception
    status = " ".join(c.value for c in at.sidebar.caption)
    assert "Stream restarted: 1 (window cleared)" in status
    assert at.sidebar.caption[0].value.endswith(", replayed over MQTT.")  # a replay's words
    assert set(_metrics(at).values()) == {"–"}
    assert sum("No data in the window" in c.value for c in at.main.caption) == 6


@pytest.mark.parametrize(
    ("fields", "source", "credits"),
    [
        pytest.param(
            {"source": "nemweb"},
            "live** from AEMO NEMweb (facility list from Open Electricity)",
            ["Source: AEMO, © AEMO", "Data sourced from Open Electricity, Superpower Institute"],
            id="nemweb",
        ),
        pytest.param(
            {"source": "openelectricity"},
            "live** from Open Electricity",
            ["Data sourced from Open Electricity, Superpower Institute", "Source: AEMO"],
            id="openelectricity",
        ),
        pytest.param(
            {"source": "nemweb", "simulated": True},
            "live** from the simulator's NEMweb face",
            ["Simulated data"],
            id="nemweb-simulated",
        ),
    ],
)
def test_a_live_status_says_where_the_data_comes_from_and_credits_it(
    lookups, tmp_path: Path, fields: dict, source: str, credits: list[str]
) -> None:  # type: ignore[no-untyped-def]
    hub, _ = _injected_hub(lookups[0], tmp_path)
    live = StatusEvent(
        state="live",
        client_id="nemlive-pub-1",
        market_to="2025-10-01T01:00:00+10:00",
        facilities_to="2025-10-01T01:00:00+10:00",
        **fields,
    )
    assert send(hub.state, "nem/stream/status", encode_status(live), base="nem/stream") == (
        "stored"
    )
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.run()
    assert not at.exception
    status = " ".join(c.value for c in at.sidebar.caption)
    assert source in status, status
    # The line under the title follows the mode: a live follow is never "replayed".
    assert at.sidebar.caption[0].value == describe_mode(live.model_dump(mode="json"))
    assert "followed live" in status and "replayed" not in status, status
    for credit in credits:
        assert "Data credits: " in status and credit in status, status
    simulated = any("**Simulated data**" in c.value for c in at.main.caption)
    assert simulated == bool(fields.get("simulated"))


# --- the broker is the operator's: viewers see it, cannot steer it, never get the login ----


class _Listener:
    """A TCP listener that records every byte any client sends it (a broker someone typed)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.settimeout(2)
            try:
                while chunk := conn.recv(4096):
                    self.received += chunk
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.sock.close()


def test_viewers_see_the_broker_but_cannot_change_it_by_default(lookups) -> None:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert not at.sidebar.text_input and not at.sidebar.number_input
    assert not [b for b in at.sidebar.button if "Connect" in b.label]
    shown = " ".join(m.value for m in at.sidebar.markdown)
    assert f"Broker **127\\.0\\.0\\.1\\:{os.environ['MQTT_PORT']}**" in shown
    assert "viewers cannot change it" in " ".join(c.value for c in at.sidebar.caption)


def test_a_viewer_who_points_the_server_elsewhere_gets_no_login(
    lookups, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import time

    password = "s3cret-Pa55word-for-the-real-broker"
    monkeypatch.setenv("MQTT_USERNAME", "nem-operator")
    monkeypatch.setenv("MQTT_PASSWORD", password)
    monkeypatch.setenv("NEMLIVE_ALLOW_BROKER_CHANGE", "1")
    listener = _Listener()
    try:
        at = AppTest.from_file(APP, default_timeout=30).run()
        at.sidebar.text_input(key="broker_host").input("127.0.0.1")
        at.sidebar.number_input(key="broker_port").set_value(listener.port)
        [submit] = [b for b in at.sidebar.button if "Connect" in b.label]
        submit.click().run()
        assert not at.exception
        deadline = time.monotonic() + 10
        while not listener.received and time.monotonic() < deadline:
            time.sleep(0.05)
        # The server connected to the typed address, anonymously: a CONNECT packet without
        # the user name and password flags, and neither string anywhere in what it sent.
        assert listener.received[:1] == b"\x10", bytes(listener.received[:20])
        variable_header = bytes(listener.received[2:12])
        assert variable_header[:6] == b"\x00\x04MQTT"
        connect_flags = variable_header[7]
        assert connect_flags & 0xC0 == 0, f"user name/password flags set: {connect_flags:#x}"
        assert password.encode() not in listener.received
        assert b"nem-operator" not in listener.received
        toast = " ".join(t.value for t in at.toast)
        assert "without the login" in toast
    finally:
        listener.close()


def test_a_reconnect_keeps_the_login_and_the_window_but_another_broker_starts_empty(
    lookups, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    hub, _ = _injected_hub(lookups[0], tmp_path)
    configured = resolve_mqtt_settings(
        {"MQTT_USERNAME": "u", "MQTT_PASSWORD": "p"}, host="127.0.0.1", port=hub.settings.port
    )
    hub.settings = configured
    filled = hub.state
    try:
        hub.connect(retarget(configured, "127.0.0.1", configured.port, configured.topic))
        assert hub.state is filled and hub.settings.password == "p"
        assert hub.state.snapshot(histories=False).facility_latest
        hub.connect(retarget(configured, "127.0.0.1", free_port(), configured.topic))
        assert hub.state is not filled and hub.settings.password is None
        snap = hub.state.snapshot()
        assert snap.received == 0 and not snap.facility_latest
        # Another topic on the same broker is another stream too, and keeps the login.
        hub.connect(retarget(configured, "127.0.0.1", configured.port, "other/topic"))
        assert hub.settings.password == "p" and hub.state.snapshot().received == 0
    finally:
        hub.stop()


@pytest.mark.parametrize(
    ("host", "port", "topic", "complaint"),
    [
        ("", 1883, "nem/stream", "not a host name"),
        ("user@evil", 1883, "nem/stream", "not a host name"),
        ("a b", 1883, "nem/stream", "not a host name"),
        ("localhost", 0, "nem/stream", "out of range"),
        ("localhost", 1883, "nem/#", "not a valid base topic"),
    ],
)
def test_retarget_refuses_bad_addresses(host: str, port: int, topic: str, complaint: str) -> None:
    configured = resolve_mqtt_settings({})
    with pytest.raises(ConfigError, match=complaint):
        retarget(configured, host, port, topic)


# --- with a store: the page opens full, and looks back ------------------------------------


@pytest.fixture
def stored(lookups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    csv_path = write_consolidate_csv(tmp_path / "stored.csv", intervals=36)
    monkeypatch.setenv("NEMLIVE_STORE", write_store_from_csv(csv_path, tmp_path / "h.db"))
    return csv_path


def test_with_a_store_the_first_page_opens_full(stored: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()  # the broker is down
    assert not at.exception
    assert _metrics(at) == expected_figure_texts(stored)  # the newest interval held
    # Every chart is full, interchange included; 36 intervals of 7 facilities and 5 regions'
    # market and interchange (the solar park's gaps are no value, so not stored).
    assert sum("No data in the window" in c.value for c in at.main.caption) == 0
    assert "Opened with 603 values" in " ".join(c.value for c in at.sidebar.caption)
    _assert_map_interchange_is_the_csv_row(at, stored, row=-1)
    assert at.selectbox(key="h_range").value.live


def test_the_range_control_shows_a_past_interval_from_the_store(stored: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.selectbox(key="h_range").set_value(_choice(at, "Wed 2025-10-15")).run()
    assert not at.exception
    assert _metrics(at) == expected_figure_texts(stored)  # the slider starts at the newest
    fifth = int((FIRST_TS + timedelta(minutes=20)).timestamp())
    at.select_slider[0].set_value(fifth).run()
    assert _metrics(at) == expected_figure_texts(stored, row=4)
    _assert_map_interchange_is_the_csv_row(at, stored, row=4)  # the slider's, not the newest
    caption = " ".join(c.value for c in at.main.caption)
    assert "History: **Wed 2025-10-15**" in caption and "5-minute values from the store" in caption
    assert any("The tables list live events" in c.value for c in at.main.caption)
    at.selectbox(key="h_range").set_value(_choice(at, "Live (last 24 h)")).run()
    assert _metrics(at) == expected_figure_texts(stored) and not at.select_slider


def test_a_past_range_lists_the_alerts_the_store_recorded_newest_first(stored: Path) -> None:
    from nemlive.store import AlertRecord, open_store

    first = int(FIRST_TS.timestamp())
    wire = "SA1*_[x](http://e)"  # wire text: shown as data, never as Markdown
    with open_store(os.environ["NEMLIVE_STORE"], create=False) as store:
        store.write(
            [],
            [],
            alerts=[
                AlertRecord(
                    "hot", "price_above", wire, "firing", first, first, 400.0, 300.0, first
                ),
                AlertRecord(
                    "hot", "price_above", wire, "resolved", first, first + 600, None, 300.0, first
                ),
                AlertRecord(
                    "hot",
                    "price_above",
                    "NSW1",
                    "firing",
                    first,
                    first + 86_400 * 30,
                    1.0,
                    300.0,
                    0,
                ),
            ],
        )
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not any("Recorded alerts" in m.value for m in at.main.markdown)  # live: none
    at.selectbox(key="h_range").set_value(_choice(at, "Wed 2025-10-15")).run()
    assert not at.exception
    assert any("Recorded alerts" in m.value for m in at.main.markdown)
    captions = [c.value for c in at.main.caption]
    assert "2 alert state changes recorded in this range, newest first." in captions
    [table] = [d.value for d in at.main.dataframe if "threshold" in d.value.columns]
    assert table[["rule", "subject", "state", "since", "at"]].values.tolist() == [
        ["hot", wire, "resolved", "2025-10-15 10:05 NEM", "2025-10-15 10:15 NEM"],
        ["hot", wire, "firing", "2025-10-15 10:05 NEM", "2025-10-15 10:05 NEM"],
    ]
    assert table["value"].isna().tolist() == [True, False] and set(table["threshold"]) == {300.0}


def _assert_map_interchange_is_the_csv_row(at: AppTest, csv_path: Path, row: int) -> None:
    """The map's net-interchange figures are the CSV's row ``row``, computed from the file."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        line = list(csv.DictReader(fh))[row]
    want = set()
    for r in ("NSW1", "QLD1", "SA1", "TAS1", "VIC1"):
        net = float(line[f"imports_{r}"]) - float(line[f"exports_{r}"])
        want.add(f"{r} {'+' if net >= 0 else '-'}{abs(net):,.0f} MW")
    layers = {layer["id"]: layer for layer in _deck(at)["layers"]}
    assert {d["text"] for d in layers["interchange"]["data"]} == want


def _choice(at: AppTest, label: str) -> object:
    from nemlive.dashboard.history import LIVE, RangeChoice

    if label == LIVE.label:
        return LIVE
    [c] = [c for c in _range_choices(at) if c.label == label]
    assert isinstance(c, RangeChoice)
    return c


def _range_choices(at: AppTest) -> list:
    from nemlive.dashboard import history
    from nemlive.store import open_store

    with open_store(os.environ["NEMLIVE_STORE"], create=False) as store:
        span = store.span()
    assert span is not None
    return history.build_range_choices(span.first, span.last)


# --- the store's secrets stay off the page ---------------------------------------------------

PG_SECRET = "pw-Vx93-page-secret"


def _page_text(at: AppTest) -> str:
    """Every string of every element the page drew (bodies, labels, help, options, charts),
    without the backslashes of Markdown escapes (which would hide an escaped leak)."""

    def walk(node: object) -> Iterator[object]:
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    text = "\n".join(str(n.proto) for n in walk(at._tree) if getattr(n, "proto", None))
    return text.replace("\\", "")


@pytest.mark.integration
def test_a_postgres_store_is_named_by_kind_and_host_only(
    lookups, tmp_path: Path, postgres, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    csv_path = write_consolidate_csv(tmp_path / "stored.csv", intervals=4)
    write_store_from_csv(csv_path, None, postgres.url())
    # The server trusts local connections: the password is sent and ignored.
    url = f"{postgres.url(password=PG_SECRET)}?sslpassword={PG_SECRET}&application_name=nl-page"
    monkeypatch.setenv("NEMLIVE_STORE", url)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    text = _page_text(at)
    for leak in (PG_SECRET, "postgresql://", "root@", "root:", "sslpassword", "nl-page"):
        assert leak not in text, leak
    assert "values from PostgreSQL on 127.0.0.1:5432, to " in text


@pytest.mark.integration
def test_an_unreadable_store_says_so_without_its_user_or_password(
    lookups, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens there
    user = "nl-store-writer"
    monkeypatch.setenv(
        "NEMLIVE_STORE",
        f"postgresql://{user}:{PG_SECRET}@127.0.0.1:{port}/nem?password={PG_SECRET}x&sslmode=disable",
    )
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    text = _page_text(at)
    for leak in (PG_SECRET, user, "sslmode", "postgresql://"):
        assert leak not in text, leak
    assert f"The store (PostgreSQL on 127.0.0.1:{port}) could not be read" in text
    assert "(unreachable)" in text


def test_the_wall_view_shows_the_band_and_the_map_and_its_toggle_leaves_it(
    lookups, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """``?view=wall``: the figures in one band of seven with their changes, the map opened
    closer, no charts or tables; the page's toggle takes the address back to the full page."""
    from nemlive.dashboard import mapview

    hub, csv_path = _injected_hub(lookups[0], tmp_path)
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[HUB_KEY] = hub
    at.query_params["view"] = "wall"
    at.run()
    assert not at.exception
    bodies = [e.proto.body for e in at.main.get("html")]
    assert any("nl-cols-7" in b and b.count('data-testid="nl-card-change"') == 7 for b in bodies)
    assert _metrics(at) == expected_figure_texts(csv_path)
    assert _deck(at)["initialViewState"]["zoom"] == mapview.WALL_VIEW["zoom"]
    assert not at.get("vega_lite_chart") and not at.get("arrow_data_frame")
    assert not at.main.get("title")  # the screen is the map's
    toggle = at.toggle[0]
    assert toggle.label == "Wall view" and toggle.value is True
    toggle.set_value(False).run()
    assert not at.exception
    assert "view" not in at.query_params
    assert _deck(at)["initialViewState"]["zoom"] == mapview.INITIAL_VIEW["zoom"]
    assert at.main.get("title") and at.get("vega_lite_chart")
