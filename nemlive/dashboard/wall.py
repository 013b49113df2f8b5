"""The wall view: the page as a screen across the room shows it (pure).

``?view=wall`` (or the page's *Wall view* toggle) keeps the map and what a glance needs: the
headline figures in one band with their changes, the firing alerts in one line, the freshness
line, and the map filling the rest of the screen. No sidebar, no charts, no tables: nothing
needs a mouse, and every part refreshes itself. Fonts are sized in ``vw`` (``clamp``), so the
same page reads from 3 m at 1080p and at 4K.

The map's canvas is sized in ``vh``; deck.gl keeps its zoom whatever the canvas size, so on
screens 2,560 px wide and more the map is drawn at half the size and shown at twice it (CSS
``zoom``): the same view of the NEM as at 1080p, not a small Australia in a large sea.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard.alertlist import format_alert_value
from nemlive.store.rows import AlertRecord

VIEW_PARAM = "view"  # the query parameter: ?view=wall
WALL = "wall"
MAP_PX = 760  # the deck's height as Streamlit is told it; the CSS below sets the real one
MAX_STRIP_ALERTS = 6  # alerts named in the strip; the rest are counted

WALL_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], header[data-testid="stHeader"] {display: none !important;}
[data-testid="stMainBlockContainer"], .block-container {
  padding: 0.5vh 1vw 0 1vw !important; max-width: 100% !important;}
[data-testid="stMain"] [data-testid="stVerticalBlock"] {gap: 0.5vh;}
.nl-cards.nl-cols-7 {grid-template-columns: repeat(7, minmax(0, 1fr)); gap: 0.6vw; margin: 0;}
.nl-cols-7 .nl-card {padding: 0.4vh 0.7vw;}
.nl-cols-7 .nl-card-label {font-size: clamp(0.75rem, 0.8vw, 2.4rem);}
.nl-cols-7 .nl-card-value {font-size: clamp(1.1rem, 1.65vw, 5rem); line-height: 1.25;}
.nl-cols-7 .nl-card-change {font-size: clamp(0.7rem, 0.8vw, 2.4rem);}
.nl-wall-line {font-size: clamp(0.75rem, 0.75vw, 2.2rem); color: rgba(49,51,63,0.75);}
.nl-alert-strip {font-size: clamp(0.8rem, 0.85vw, 2.6rem); color: #991b1b;
  background: rgba(220,38,38,0.08); border-radius: 6px; padding: 0.2vh 0.6vw;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.nl-price-legend {font-size: clamp(0.72rem, 0.75vw, 2.2rem) !important;}
.nl-price-legend .nl-scale {width: clamp(16rem, 24vw, 60rem) !important;}
[data-testid="stElementContainer"]:has([data-testid="stDeckGlJsonChart"]) {height: 75vh !important;}
[data-testid="stDeckGlJsonChart"] {height: 75vh !important; min-height: 0 !important;}
@media (min-width: 2560px) {
  [data-testid="stDeckGlJsonChart"] {zoom: 2; height: 37.5vh !important;}
}
</style>
"""


def is_wall(params: Mapping[str, str]) -> bool:
    """Whether the page's query parameters ask for the wall view (``?view=wall``)."""
    return params.get(VIEW_PARAM, "").strip().lower() == WALL


def build_alert_strip_html(firing: Sequence[AlertRecord], overflow: int = 0) -> str:
    """The firing alerts in one line (``● sa-spike: SA1 $15,000.00/MWh since 10:05``), newest
    first; "" when none fires. Wire text is escaped."""
    if not firing and not overflow:
        return ""
    newest = sorted(firing, key=lambda a: (a.at, a.received_at), reverse=True)
    items = [
        f"{html.escape(a.rule)}: {html.escape(a.subject)} "
        f"{html.escape(format_alert_value(a.kind, a.value))} since "
        f"{format_nem_epoch(a.since)[-5:]}"
        for a in newest[:MAX_STRIP_ALERTS]
    ]
    more = len(newest) - len(items) + overflow
    if more > 0:
        items.append(f"and {more:,} more")
    count = len(firing) + overflow
    noun = "alert" if count == 1 else "alerts"
    return (
        f'<div class="nl-alert-strip" data-testid="nl-alert-strip">● {count:,} {noun} '
        f"firing: {' · '.join(items)}</div>"
    )


def build_wall_line_html(text: str | None) -> str:
    """The freshness line under the band (the figures' caption, its Markdown bold made
    HTML); "" without one."""
    if not text:
        return ""
    parts = html.escape(text).split("**")
    body = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    return f'<div class="nl-wall-line" data-testid="nl-wall-line">{body}</div>'
