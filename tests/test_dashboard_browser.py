"""The dashboard in a real browser: mosquitto + streamlit run dashboard.py + publisher.py + Chromium.

Drives Debian's /usr/bin/chromium through Playwright (never downloads a browser). Skips when
Chromium is absent, fails instead under REQUIRE_BROWSER=1. ``SAVE_SCREENSHOT=path`` also writes
the final screenshot there (of the test lookups; the README's docs/screenshot.png is made by
tests/test_e2e.py, on the simulated NEM).
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from nemlive.dashboard import mapview
from nemlive.devtools.run import dashboard_command
from tests.conftest import PYTHON, ROOT, clean_subprocess_env, free_port, wait_for_port
from tests.support_dashboard import (
    TEST_FACILITIES,
    expected_figure_texts,
    publish_events,
    read_csv_events,
    write_consolidate_csv,
    write_facilities_csv,
    write_regions_geojson,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TOPIC = "nem/browser"
VIEWPORT = {"width": 1500, "height": 1000}

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is absent (apt-get install chromium)"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture
def dashboard(mosquitto, tmp_path: Path) -> Iterator[tuple[str, Path, int]]:  # type: ignore[no-untyped-def]
    """``streamlit run dashboard.py`` on a free port, with test lookups; yields
    (url, csv, server pid)."""
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=24)
    with serve_dashboard(mosquitto.port, tmp_path) as (url, pid):
        yield url, csv_path, pid


@contextmanager
def serve_dashboard(
    mqtt_port: int, tmp_path: Path, *, shipped: bool = False, **env: str
) -> Iterator[tuple[str, int]]:
    """The dashboard as a real server, on the test lookups (``shipped``: on its defaults,
    data/facilities.csv and data/regions.geojson); checks on the way out that it logged no
    traceback."""
    _need_chromium()
    if not shipped:
        env["NEMLIVE_FACILITIES"] = str(write_facilities_csv(tmp_path / "facilities.csv"))
        env["NEMLIVE_REGIONS"] = str(write_regions_geojson(tmp_path / "regions.geojson"))
    port = free_port()
    server_env = clean_subprocess_env(
        MQTT_HOST="127.0.0.1", MQTT_PORT=str(mqtt_port), MQTT_TOPIC=TOPIC, **env
    )
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        dashboard_command(port, python=PYTHON),
        cwd=ROOT,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}/", proc.pid
    finally:
        proc.terminate()
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(timeout=5)
        log.close()
        text = (tmp_path / "streamlit.log").read_text(errors="replace")
        assert "Traceback" not in text, text
        assert rc in (0, -15), f"streamlit exited with {rc}: {text[-2000:]}"


def _hover_until(page, canvas, lon: float, lat: float, text: str, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """Hover (lon, lat) on the deck until its tooltip shows ``text``; the tooltip locator.

    deck.gl picks on mouse moves, a deck just received draws its icons once their atlas has
    loaded, and the page above the map may still settle: the canvas is measured each time.
    """
    tooltip = page.locator(".deck-tooltip")
    deadline = time.monotonic() + timeout
    nudge = 0
    while True:
        nudge = 1 - nudge
        x, y = _screen_xy(lon, lat, _sized_box(canvas))
        page.mouse.move(x + nudge, y)
        time.sleep(0.3)
        if tooltip.is_visible() and text in tooltip.inner_text():
            return tooltip
        if time.monotonic() > deadline:
            return tooltip  # the caller's expect() says what it shows instead
        time.sleep(0.2)


def _facilities_with_data(csv_path: Path) -> int:
    """Facilities of the lookup with a value in the CSV: what the map draws once all came."""
    import csv

    known = {f[0] for f in TEST_FACILITIES}
    seen: set[str] = set()
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for col, value in row.items():
                if col.startswith("power_") and value != "" and col[6:] in known:
                    seen.add(col[6:])
    return len(seen)


def _publish(csv_path: Path, port: int, tmp_path: Path) -> None:
    """Replay the CSV once with publisher.py (or paho directly if publisher.py is absent)."""
    if not (ROOT / "publisher.py").exists():
        publish_events(port, TOPIC, read_csv_events(csv_path), retain=True)
        return
    run = subprocess.run(
        [
            PYTHON,
            str(ROOT / "publisher.py"),
            "--csv",
            str(csv_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--topic",
            TOPIC,
            "--delay",
            "0",
            "--cooldown",
            "0",
            "--cycles",
            "1",
            "--no-embedded-broker",
            "--checkpoint",
            str(tmp_path / "checkpoint.json"),
        ],
        cwd=ROOT,
        env=clean_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def _screen_xy(lon: float, lat: float, box: dict) -> tuple[float, float]:
    """Web-Mercator pixel of (lon, lat) on the deck canvas at the constant initial view."""
    view = mapview.INITIAL_VIEW
    scale = 512 * 2 ** view["zoom"] / (2 * math.pi)

    def merc(lo: float, la: float) -> tuple[float, float]:
        return math.radians(lo) * scale, -math.log(
            math.tan(math.pi / 4 + math.radians(la) / 2)
        ) * scale

    cx, cy = merc(view["longitude"], view["latitude"])
    x, y = merc(lon, lat)
    return box["x"] + box["width"] / 2 + (x - cx), box["y"] + box["height"] / 2 + (y - cy)


def _text_layer(frame: bytes) -> bool:
    """True when a websocket frame carries a deck with the facility names' text layer."""
    return re.search(rb'"id":\s*"labels"', frame) is not None


def _sized_box(canvas, timeout: float = 45.0) -> dict:  # type: ignore[no-untyped-def]
    """The canvas's box once deck.gl has given it its layout size (> 300 x 300 px); a busy
    renderer may be slow to answer, and a redrawn deck briefly has no canvas."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + timeout
    box = None
    while True:
        try:
            box = canvas.bounding_box(timeout=5_000)
        except PlaywrightTimeout:
            box = None
        if box and box["width"] > 300 and box["height"] > 300:
            return box
        assert time.monotonic() < deadline, f"the deck canvas kept its default size: {box}"
        time.sleep(0.2)


def test_dashboard_in_a_browser(dashboard, mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    url, csv_path, _ = dashboard
    off_machine: list[str] = []
    errors: list[str] = []

    def route(r) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            off_machine.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.route("**/*", route)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            frames: list[bytes] = []  # what the server sends the page over its websocket
            page.on(
                "websocket",
                lambda ws: ws.on(
                    "framereceived",
                    lambda p: frames.append(p if isinstance(p, bytes) else p.encode()),
                ),
            )
            page.goto(url)
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(sidebar.get_by_text("connected", exact=True)).to_be_visible(timeout=30_000)

            _publish(csv_path, mosquitto.port, tmp_path)

            expected = expected_figure_texts(csv_path)
            assert all(v != "–" and not v.startswith("0 ") for v in expected.values())
            for label, text in expected.items():
                metric = page.locator('[data-testid="nl-card"]', has_text=label).first
                expect(metric.locator('[data-testid="nl-card-value"]')).to_have_text(
                    text, timeout=20_000
                )

            # The map follows on its own, slower timer: wait until it draws every facility.
            drawn = _facilities_with_data(csv_path)
            expect(
                page.get_by_text(f"{drawn:,} facilities drawn at their latest value")
            ).to_be_visible(timeout=20_000)
            canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
            expect(canvas).to_be_visible(timeout=10_000)
            # deck.gl sizes its canvas after the first frame (a busy machine may take a while).
            box = _sized_box(canvas)
            shot = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
            assert len(shot.getcolors(maxcolors=1 << 20) or []) > 50, (
                "the deck.gl canvas looks blank"
            )

            # Hover the icons: the tooltip shows the facility, with its name as plain text.
            by_id = {f[0]: f for f in TEST_FACILITIES}
            for fid, name in (("TCOAL1", "Test Coal One"), ("TGAS1", "Test Gas <b>&amp; Co</b>")):
                lat, lon = by_id[fid][3], by_id[fid][4]
                tooltip = _hover_until(page, canvas, lon, lat, name)
                expect(tooltip).to_contain_text(name)
                assert "MW" in tooltip.inner_text() and "NEM" in tooltip.inner_text()
                page.mouse.move(box["x"] + 5, box["y"] + 5)

            # Names on: the deck the page receives gains a text layer with the names, and the
            # canvas draws them (deck.gl's collision filter keeps at least the largest one).
            assert not any(_text_layer(f) for f in frames), "labels before they were asked for"
            without_labels = canvas.screenshot()
            sidebar.get_by_text("Labels", exact=True).click()
            expect(page.get_by_text("names of the largest where they fit")).to_be_visible(
                timeout=30_000
            )
            # A loaded machine's rerun and redraw take seconds: poll, with a generous bound.
            deadline = time.monotonic() + 30
            while not any(_text_layer(f) for f in frames) and time.monotonic() < deadline:
                time.sleep(0.1)
            labelled = [f for f in frames if _text_layer(f)]
            assert labelled, "the page never received a text layer"
            assert b"Test Coal One" in labelled[-1] and b"Test Wind Farm" in labelled[-1]
            deadline = time.monotonic() + 20
            while canvas.screenshot() == without_labels and time.monotonic() < deadline:
                time.sleep(0.5)
            assert canvas.screenshot() != without_labels, "the labels drew nothing"

            page.mouse.move(0, 0)
            # Streamlit scrolls inside its own container: a tall viewport shows the whole page.
            page.set_viewport_size({"width": VIEWPORT["width"], "height": 2400})
            time.sleep(2)
            target = tmp_path / "screenshot.png"
            page.screenshot(path=str(target))
            if os.environ.get("SAVE_SCREENSHOT"):
                shutil.copy(target, os.environ["SAVE_SCREENSHOT"])

            # A click on an icon opens its detail; the name shows literally, as in the lookup.
            page.set_viewport_size(VIEWPORT)
            detail = page.locator('[data-testid="stExpanderDetails"]', has_text="TGAS1")

            # Clicked where the icon is now (the map lays out again after the resize); a
            # second click only if the first brought nothing in a loaded machine's rerun time.
            for attempt in range(2):
                if detail.count():
                    break
                box = _sized_box(canvas)
                page.mouse.click(*_screen_xy(by_id["TGAS1"][4], by_id["TGAS1"][3], box))
                try:
                    expect(detail).to_be_visible(timeout=20_000)
                except AssertionError:
                    if attempt:
                        raise
            expect(detail.locator("strong").first).to_have_text(
                "Test Gas <b>&amp; Co</b>", timeout=5_000
            )
        finally:
            browser.close()

    assert off_machine == [], f"requests left the machine: {off_machine}"
    assert errors == [], f"console errors: {errors}"


def test_hostile_traffic_leaves_every_page_working(dashboard, mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 9's "done when": after the traffic an attacker can send on an open broker, two
    viewers' pages show the real stream's figures and map, no part of the page failed, and the
    server's RSS grew by less than 100 MB."""
    import random

    import psutil
    from playwright.sync_api import expect, sync_playwright

    from tests.support_dashboard import publish_raw
    from tests.support_hostile import hostile_messages, take

    url, csv_path, pid = dashboard
    server = psutil.Process(pid)
    known = [f[0] for f in TEST_FACILITIES]
    rng = random.Random(9)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pages = [browser.new_page(viewport=VIEWPORT) for _ in range(2)]
            for page in pages:
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url)
                expect(
                    page.locator('[data-testid="stSidebar"]').get_by_text("connected", exact=True)
                ).to_be_visible(timeout=30_000)
            rss_before = server.memory_info().rss
            # Before the real data: everything, forged restarts and 4 MB payloads included.
            publish_raw(mosquitto.port, take(hostile_messages(TOPIC, known, rng), 20_000))
            _publish(csv_path, mosquitto.port, tmp_path)
            # After it: more of the same, but no restart (a new publisher may clear once).
            publish_raw(
                mosquitto.port,
                take(hostile_messages(TOPIC, known, rng, statuses=False, oversize=False), 5_000),
            )
            expected = expected_figure_texts(csv_path)
            for page in pages:
                for label, text in expected.items():
                    metric = page.locator('[data-testid="nl-card"]', has_text=label).first
                    expect(metric.locator('[data-testid="nl-card-value"]')).to_have_text(
                        text, timeout=30_000
                    )
                sidebar = page.locator('[data-testid="stSidebar"]')
                rejected = sidebar.locator('[data-testid="nl-card"]', has_text="Rejected").first
                assert (
                    int(
                        rejected.locator('[data-testid="nl-card-value"]')
                        .inner_text()
                        .replace(",", "")
                    )
                    > 10_000
                )
                expect(
                    page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
                ).to_be_visible()
                assert page.locator('[data-testid="stException"]').count() == 0
                assert page.get_by_text("could not be drawn").count() == 0
            rss_after = server.memory_info().rss
        finally:
            browser.close()
    assert errors == [], f"page errors: {errors}"
    grew_mb = (rss_after - rss_before) / 2**20
    assert grew_mb < 100, f"the server grew by {grew_mb:.0f} MB under hostile traffic"
    print(f"server RSS {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB ({grew_mb:+.1f} MB)")


def test_with_a_store_the_page_opens_full_and_looks_back(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: a freshly started dashboard shows the stored day on first load, and the range
    control and the slider show a past interval's figures, in a real browser."""
    from playwright.sync_api import expect, sync_playwright

    from tests.support_dashboard import write_store_from_csv

    csv_path = write_consolidate_csv(tmp_path / "stored.csv", intervals=48)
    store = write_store_from_csv(csv_path, tmp_path / "history.db")
    errors: list[str] = []
    with (
        serve_dashboard(mosquitto.port, tmp_path, NEMLIVE_STORE=store) as (url, _),
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            _expect_figures(page, expected_figure_texts(csv_path))  # nothing was published
            # Every chart is full, interchange included: the store keeps it.
            expect(page.get_by_text("Net interchange by region")).to_be_visible(timeout=10_000)
            expect(page.get_by_text("No data in the window yet.")).to_have_count(0)
            sidebar = page.locator('[data-testid="stSidebar"]')
            _pick_option(page, sidebar, "Range", "Wed 2025-10-15")
            expect(page.get_by_text("History: Wed 2025-10-15")).to_be_visible(timeout=20_000)
            _expect_figures(page, expected_figure_texts(csv_path))  # the slider ends newest
            thumb = sidebar.get_by_role("slider")
            thumb.focus()
            thumb.press("Home")  # the first interval of the day
            _expect_figures(page, expected_figure_texts(csv_path, row=0))
            # The map's interchange is the slider's interval's, read from the store.
            _expect_region_tooltip(
                page, "SA1", _interchange_text(pd.read_csv(csv_path).iloc[0], "SA1")
            )
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        finally:
            browser.close()
    assert errors == [], errors


def _pick_option(page, container, label: str, option: str, kind: str = "stSelectbox") -> None:  # type: ignore[no-untyped-def]
    """Open the selectbox (or multiselect: ``kind``) ``label`` in ``container`` and pick
    ``option``; a click that lands while the page redraws is tried again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = container.locator(f'[data-testid="{kind}"]', has_text=label)
    choice = page.get_by_role("option", name=option)
    for _ in range(6):
        try:
            box.get_by_role("combobox").click(timeout=10_000)
            choice.wait_for(timeout=5_000)
            # The list can be redrawn under the pointer (its part of the page refreshes on a
            # timer): a click that cannot land in 5 s is tried again.
            choice.click(timeout=5_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        return
    raise AssertionError(f"the {label} selectbox never offered {option!r}")


def _option_texts(page, container, label: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Open the selectbox ``label`` in ``container``, read its options and close it. Its part
    of the page is redrawn on a timer, which closes an open list: one closed before it could
    be read is opened again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = container.locator('[data-testid="stSelectbox"]', has_text=label)
    options = page.get_by_role("option")
    for _ in range(6):
        try:
            box.get_by_role("combobox").click(timeout=10_000)
            options.first.wait_for(timeout=5_000)
            texts = options.all_inner_texts()
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        page.keyboard.press("Escape")
        if texts:
            return texts
    raise AssertionError(f"the {label} selectbox never showed its options")


def _expect_figures(page, texts: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    for label, text in texts.items():
        metric = page.locator('[data-testid="nl-card"]', has_text=label).first
        expect(metric.locator('[data-testid="nl-card-value"]')).to_have_text(text, timeout=30_000)


# --- the market view: figures read off the page equal values computed from the CSV ---------------

RENEWABLE_GROUPS = {"bioenergy", "hydro", "wind", "solar"}
LOAD_GROUPS = {"battery", "pumps"}
# A point inside each test region's box (support_dashboard.REGION_BOXES) that no other box,
# facility icon or label covers, for hovering the region.
REGION_SPOTS = {
    "NSW1": (146.0, -30.5),
    "QLD1": (145.0, -20.0),
    "SA1": (134.0, -30.0),
    "TAS1": (145.2, -40.5),
    "VIC1": (148.5, -38.5),
}
REGION_LABELS = {
    "NSW1": "NSW1 · NSW + ACT",
    "QLD1": "QLD1 · Queensland",
    "SA1": "SA1 · South Australia",
    "TAS1": "TAS1 · Tasmania",
    "VIC1": "VIC1 · Victoria",
}


def _interchange_text(row: pd.Series, region: str) -> str:
    """The net interchange of ``region`` in a CSV row, as the region's tooltip words it."""
    imports, exports = row[f"imports_{region}"], row[f"exports_{region}"]
    net = imports - exports
    way = "net import" if net >= 0 else "net export"
    return f"{way} {abs(net):,.0f} MW (in {imports:,.0f}, out {exports:,.0f})"


def _facility_frame(csv_path: Path, facilities_csv: Path) -> pd.DataFrame:
    """One row per facility of the lookup: its region, dominant fuel group, capacity and latest
    output (the last value in its power column), from the two files with pandas."""
    frame = pd.read_csv(csv_path)
    table = pd.read_csv(facilities_csv).set_index("facility_id")
    table["group"] = table["fuel_groups"].str.split(";").str[0]
    table["latest_mw"] = [frame[f"power_{fid}"].dropna().iloc[-1] for fid in table.index]
    table["last_row_mw"] = [frame[f"power_{fid}"].iloc[-1] for fid in table.index]
    table["factor"] = table["latest_mw"] / table["capacity_mw"]
    return table


def _renewable_shares(table: pd.DataFrame) -> dict[str, str]:
    """Each region's renewable share of its generation in the CSV's last row, as the
    "Renewable share" figure words it ("–" for a region that generates nothing)."""
    gen = table[table["last_row_mw"] > 0]
    out = {}
    for region in REGION_SPOTS:
        mine = gen[gen["region_id"] == region]
        total = mine["last_row_mw"].sum()
        renewable = mine.loc[mine["group"].isin(RENEWABLE_GROUPS), "last_row_mw"].sum()
        out[region] = f"{renewable / total * 100:.1f} %" if total > 0 else "–"
    return out


def _eventually(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Run ``check`` until it stops raising AssertionError (the page refreshes every few
    seconds); the last failure is raised at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _expect_region_tooltip(page, region: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Hover ``region`` on the map and wait for its tooltip to say ``text``."""
    from playwright.sync_api import expect

    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    expect(canvas).to_be_visible(timeout=10_000)
    canvas.scroll_into_view_if_needed()
    tooltip = page.locator(".deck-tooltip")

    def hovered() -> None:
        box = _sized_box(canvas)
        x, y = _screen_xy(*REGION_SPOTS[region], box)
        page.mouse.move(x - 2, y)  # a move, so the deck picks again after a redraw
        page.mouse.move(x, y)
        expect(tooltip).to_contain_text(REGION_LABELS[region].split(" · ")[0], timeout=3_000)
        expect(tooltip).to_contain_text(text, timeout=3_000)

    _eventually(hovered)
    page.mouse.move(0, 0)


def _grid_rows(grid) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The rows of a st.dataframe by column header, from the accessible table that
    glide-data-grid keeps in the page for screen readers (raw values, unformatted)."""
    table = grid.locator('table[role="grid"]')
    headers = table.locator('th[role="columnheader"]').all_text_contents()
    rows = [
        row.locator('td[role="gridcell"]').all_text_contents()
        for row in table.locator('tbody tr[role="row"]').all()
    ]
    # Headers and cells read from two renders while the grid refreshes: read again.
    assert all(len(cells) == len(headers) for cells in rows), (headers, rows)
    return [dict(zip(headers, cells, strict=True)) for cells in rows]


def _expect_utilisation(page, title: str, want: list[tuple[str, float]]) -> None:  # type: ignore[no-untyped-def]
    """The (name, capacity factor) rows of the "Most/Least utilised" table ``title``."""
    column = page.locator('[data-testid="stColumn"]', has_text=title).last
    grid = column.locator('[data-testid="stDataFrame"]')
    grid.scroll_into_view_if_needed()

    def shown() -> None:
        rows = _grid_rows(grid)
        got = [(r["name"], float(r["capacity factor"])) for r in rows]
        assert [g[0] for g in got] == [w[0] for w in want], got
        for (_, g), (name, w) in zip(got, want, strict=True):
            assert math.isclose(g, w, rel_tol=1e-9), (name, g, w)

    _eventually(shown)


def _show_only_region(page, sidebar, region: str) -> None:  # type: ignore[no-untyped-def]
    """Set the sidebar's Regions filter to ``region`` alone."""
    from playwright.sync_api import expect

    box = sidebar.locator('[data-testid="stMultiSelect"]', has_text="Regions")
    box.get_by_role("button", name="Clear all").click()
    expect(box.get_by_role("button", name=re.compile("^Remove "))).to_have_count(0)
    # No region: no demand. Waiting for it lets the server take the empty filter first.
    demand = page.locator('[data-testid="nl-card"]', has_text="Demand").first
    expect(demand.locator('[data-testid="nl-card-value"]')).to_have_text("–", timeout=20_000)
    _pick_option(page, sidebar, "Regions", REGION_LABELS[region], kind="stMultiSelect")
    page.keyboard.press("Escape")
    # Focus out of the widget: "Clear all" from inside it is not sent to the server (next call).
    sidebar.get_by_text("Filters", exact=True).click()
    chips = box.get_by_role("button", name=re.compile("^Remove "))
    expect(chips).to_have_count(1, timeout=10_000)
    expect(chips).to_have_accessible_name(f"Remove {REGION_LABELS[region]}")


def test_the_market_view_read_off_the_page_equals_the_csv(
    dashboard, mosquitto, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Each region's net interchange (its tooltip), its renewable share (the figure, one
    region selected) and every facility's capacity factor (the facility detail and the
    most/least utilised tables) equal values computed here from the CSV and the lookup with
    pandas, independently of the dashboard's code."""
    from playwright.sync_api import expect, sync_playwright

    url, csv_path, _ = dashboard
    last = pd.read_csv(csv_path).iloc[-1]
    table = _facility_frame(csv_path, tmp_path / "facilities.csv")
    shares = _renewable_shares(table)
    assert len(set(shares.values())) >= 3  # 0 %, 100 % and a mixed region: a real check
    generators = table[~table["group"].isin(LOAD_GROUPS)].sort_values("factor", ascending=False)
    ranked = list(zip(generators["name"], generators["factor"], strict=True))
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(sidebar.get_by_text("connected", exact=True)).to_be_visible(timeout=30_000)
            _publish(csv_path, mosquitto.port, tmp_path)
            _expect_figures(page, expected_figure_texts(csv_path))

            for region in REGION_SPOTS:
                _expect_region_tooltip(page, region, _interchange_text(last, region))

            detail = page.locator('[data-testid="stExpander"]', has_text="Facility detail")
            detail.get_by_text("Facility detail").click()
            for fid, fac in table.iterrows():
                _pick_option(page, detail, "Facility", f"{fac['name']} ({fid})")
                cf = f"{fac['factor']:.0%}"
                meta = detail.locator('[data-testid="stMarkdownContainer"]', has_text="Location:")
                expect(meta).to_contain_text(
                    re.compile(rf"· {fid}\b.*Capacity factor: {re.escape(cf)} \(latest", re.S),
                    timeout=15_000,
                )

            page.get_by_role("tab", name="Most and least utilised").click()
            _expect_utilisation(page, "Most utilised", ranked[:10])
            _expect_utilisation(page, "Least utilised", ranked[::-1][:10])

            for region, share in shares.items():
                _show_only_region(page, sidebar, region)
                metric = page.locator('[data-testid="nl-card"]', has_text="Renewable share").first
                expect(metric.locator('[data-testid="nl-card-value"]')).to_have_text(
                    share, timeout=20_000
                )
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        finally:
            browser.close()
    assert errors == [], errors
