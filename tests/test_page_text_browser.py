"""Text from the wire shows as text in a real browser: a forged publisher status carrying
Markdown (an image and a link to another host, bold) is shown literally, and the page asks
nothing of any host but this machine.

mosquitto + ``streamlit run dashboard.py`` + Debian's Chromium (see test_dashboard_browser).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nemlive.common.events import StatusEvent, encode_status
from nemlive.dashboard.text import WORD_JOINER
from tests.support_dashboard import (
    publish_events,
    read_csv_events,
    wait_until,
    write_consolidate_csv,
)
from tests.support_e2e import open_browser
from tests.test_dashboard_browser import TOPIC, serve_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

OUTSIDE = "203.0.113.9"  # TEST-NET-3: never a real host
TIMEOUT_MS = 30_000


def _forged(market_to: str, facilities_to: str) -> tuple[str, bytes]:
    status = StatusEvent(
        state="live", client_id="forger", market_to=market_to, facilities_to=facilities_to
    )
    return "status", encode_status(status)


def _expect_literal(sidebar, text: str) -> None:  # type: ignore[no-untyped-def]
    """The sidebar comes to show ``text`` as typed (word joiners, shown as nothing, aside)."""

    def shown() -> str:
        return sidebar.inner_text().replace(WORD_JOINER, "")

    assert wait_until(lambda: text in shown(), timeout=TIMEOUT_MS / 1000), shown()[-600:]


def _assert_nothing_active(page) -> None:  # type: ignore[no-untyped-def]
    """No image, link or bold text made of the forged fields anywhere on the page."""
    assert page.locator(f'img[src*="{OUTSIDE}"]').count() == 0
    links = page.locator(f'a[href*="{OUTSIDE}"]')
    assert links.count() == 0, [
        links.nth(i).evaluate("e => e.outerHTML") for i in range(links.count())
    ]
    assert page.locator("strong", has_text="bold").count() == 0
    assert page.locator("strong", has_text="click").count() == 0


def test_a_forged_status_shows_its_markdown_literally(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    data = read_csv_events(write_consolidate_csv(tmp_path / "c.csv", intervals=2))
    image = f"![x](http://{OUTSIDE}/p.png)"
    link = f"**bold** [click](http://{OUTSIDE}/)"
    # Retained, so the page opens on it; then another sent live.
    publish_events(mosquitto.port, TOPIC, [*data, _forged(image, link)], retain=True)
    with serve_dashboard(mosquitto.port, tmp_path) as (url, _pid), open_browser(url) as b:
        b.expect_status("connected", TIMEOUT_MS)
        shown = f"prices to {image}, facilities to {link} NEM"
        _expect_literal(b.sidebar, shown)
        # The status reaches the figures' caption too: the live rule and its words.
        expect(b.main).to_contain_text("Live: prices to", timeout=TIMEOUT_MS)
        _assert_nothing_active(b.page)

        html_img = f'<img src="http://{OUTSIDE}/q.png"> :red[red] $x$'
        publish_events(mosquitto.port, TOPIC, [_forged(link, html_img)], retain=False)
        shown = f"prices to {link}, facilities to {html_img} NEM"
        _expect_literal(b.sidebar, shown)
        _assert_nothing_active(b.page)
        assert b.page.locator('[data-testid="stMarkdownColoredText"]').count() == 0
        assert b.page.locator(".katex").count() == 0
        b.assert_stayed_local()
        assert b.errors == [], b.errors
